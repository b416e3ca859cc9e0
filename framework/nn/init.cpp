#include "framework/nn/init.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <tuple>
#include <utility>

namespace rc::nn::init {

namespace {

// Fills t (any strides) with values drawn one by one in row-major order, so views get the same values a
// contiguous tensor of that shape would.
template <class Draw>
void fill_with(Tensor& t, Draw draw) {
  RC_CHECK(t.defined(), "init: tensor is undefined");
  Tensor packed = Tensor::empty(t.shape());
  float* p = packed.data();
  for (int64_t i = 0; i < packed.numel(); ++i) p[i] = static_cast<float>(draw());
  t.copy_(packed);
}

double fan_for(const Shape& shape, FanMode mode, const char* op) {
  Fans f = compute_fans(shape);
  int64_t fan = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  RC_CHECK(fan > 0, "{}: fan is 0 for a tensor of shape {}", op, shape_str(shape));
  return static_cast<double>(fan);
}

// Standard normal CDF, accurate in the lower tail.
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

// Inverse of the standard normal CDF for p in (0, 1): Acklam's rational approximation (relative error
// 1.15e-9) refined by one Halley step on normal_cdf, which brings it to about double precision.
double normal_icdf(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  constexpr double p_low = 0.02425;
  double x;
  if (p < p_low) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - p_low) {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double e = normal_cdf(x) - p;
  double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

}  // namespace

Fans compute_fans(const Shape& shape) {
  RC_CHECK(shape.size() >= 2, "init: fans need a weight of at least 2 dimensions, got shape {}", shape_str(shape));
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

float calculate_gain(Nonlinearity nl, float negative_slope) {
  switch (nl) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid: return 1.0f;
    case Nonlinearity::tanh: return 5.0f / 3.0f;
    case Nonlinearity::relu: return static_cast<float>(std::sqrt(2.0));
    case Nonlinearity::leaky_relu: {
      double s = negative_slope;
      return static_cast<float>(std::sqrt(2.0 / (1.0 + s * s)));
    }
    case Nonlinearity::selu: return 0.75f;
  }
  fail("calculate_gain: unknown nonlinearity {}", static_cast<int>(nl));
}

void uniform_(Tensor t, Generator& gen, float lo, float hi) {
  RC_CHECK(lo <= hi, "uniform_: lo {} > hi {}", lo, hi);
  std::uniform_real_distribution<double> dist(lo, hi);
  fill_with(t, [&] { return dist(gen); });
}

void normal_(Tensor t, Generator& gen, float mean, float std) {
  RC_CHECK(std >= 0.0f, "normal_: std must be >= 0, got {}", std);
  if (std == 0.0f) return constant_(t, mean);
  std::normal_distribution<double> dist(mean, std);
  fill_with(t, [&] { return dist(gen); });
}

void xavier_uniform_(Tensor t, Generator& gen, float gain) {
  Fans f = compute_fans(t.shape());
  RC_CHECK(f.fan_in + f.fan_out > 0, "xavier_uniform_: empty weight of shape {}", shape_str(t.shape()));
  double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform_(t, gen, static_cast<float>(-bound), static_cast<float>(bound));
}

void xavier_normal_(Tensor t, Generator& gen, float gain) {
  Fans f = compute_fans(t.shape());
  RC_CHECK(f.fan_in + f.fan_out > 0, "xavier_normal_: empty weight of shape {}", shape_str(t.shape()));
  double std = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  normal_(t, gen, 0.0f, static_cast<float>(std));
}

void kaiming_uniform_(Tensor t, Generator& gen, float a, FanMode mode, Nonlinearity nl) {
  double fan = fan_for(t.shape(), mode, "kaiming_uniform_");
  double bound = calculate_gain(nl, a) * std::sqrt(3.0 / fan);
  uniform_(t, gen, static_cast<float>(-bound), static_cast<float>(bound));
}

void kaiming_normal_(Tensor t, Generator& gen, float a, FanMode mode, Nonlinearity nl) {
  double fan = fan_for(t.shape(), mode, "kaiming_normal_");
  double std = calculate_gain(nl, a) / std::sqrt(fan);
  normal_(t, gen, 0.0f, static_cast<float>(std));
}

void trunc_normal_(Tensor t, Generator& gen, float mean, float std, float a, float b) {
  RC_CHECK(std > 0.0f, "trunc_normal_: std must be > 0, got {}", std);
  RC_CHECK(a < b, "trunc_normal_: need a < b, got a = {}, b = {}", a, b);
  // Standardized bounds; if the window lies mostly above the mean, sample its mirror image below the mean
  // and negate, so that the CDF values stay small and keep their precision.
  double alpha = (static_cast<double>(a) - mean) / std, beta = (static_cast<double>(b) - mean) / std;
  const bool mirror = alpha + beta > 0;
  if (mirror) std::tie(alpha, beta) = std::pair(-beta, -alpha);
  std::uniform_real_distribution<double> dist(normal_cdf(alpha), normal_cdf(beta));
  fill_with(t, [&] {
    double p = dist(gen);
    double z = (p > 0.0 && p < 1.0) ? normal_icdf(p) : (p <= 0.0 ? alpha : beta);
    z = std::min(std::max(z, alpha), beta);  // guards the last rounding only; samples are inside by construction
    if (mirror) z = -z;
    double x = mean + std * z;
    return std::min(std::max(x, static_cast<double>(a)), static_cast<double>(b));
  });
}

void zeros_(Tensor t) { constant_(t, 0.0f); }
void ones_(Tensor t) { constant_(t, 1.0f); }
void constant_(Tensor t, float value) {
  RC_CHECK(t.defined(), "constant_: tensor is undefined");
  t.fill_(value);
}

}  // namespace rc::nn::init
