#include <cmath>
#include <numbers>

#include "framework/nn/init.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::nn::init;

namespace {

struct Stats {
  double mean = 0, std = 0, min = 0, max = 0;
};
Stats stats(const Tensor& t) {
  auto v = t.to_vector();
  Stats s{0, 0, v[0], v[0]};
  for (float x : v) {
    s.mean += x;
    s.min = std::min<double>(s.min, x);
    s.max = std::max<double>(s.max, x);
  }
  s.mean /= v.size();
  for (float x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / v.size());
  return s;
}

// With n = 10^6 samples the sample mean is within 5 sigma / 1000 and the sample std within 1 % (its own
// relative standard error is about 1 / sqrt(2n) = 0.07 %).
void check_uniform(const Tensor& t, double bound) {
  Stats s = stats(t);
  CHECK(s.min >= -bound);
  CHECK(s.max <= bound);
  CHECK(s.min < -0.999 * bound);
  CHECK(s.max > 0.999 * bound);
  CHECK(std::fabs(s.mean) < 5 * bound / 1000);
  CHECK(s.std == Approx(bound / std::sqrt(3.0)).epsilon(0.01));
}
void check_normal(const Tensor& t, double sd) {
  Stats s = stats(t);
  CHECK(std::fabs(s.mean) < 5 * sd / 1000);
  CHECK(s.std == Approx(sd).epsilon(0.01));
}

double pdf(double x) { return std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi); }
double cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

}  // namespace

TEST_CASE("init: fans of linear and convolution weights, gains") {
  CHECK(compute_fans({30, 20}).fan_in == 20);
  CHECK(compute_fans({30, 20}).fan_out == 30);
  // (O, C, kh, kw) = (64, 32, 3, 5): fan_in = 32 * 15 = 480, fan_out = 64 * 15 = 960
  CHECK(compute_fans({64, 32, 3, 5}).fan_in == 480);
  CHECK(compute_fans({64, 32, 3, 5}).fan_out == 960);
  CHECK_THROWS_WITH(compute_fans({7}), Catch::Contains("at least 2 dimensions, got shape (7)"));
  CHECK(calculate_gain(Nonlinearity::linear) == 1.0f);
  CHECK(calculate_gain(Nonlinearity::relu) == Approx(std::sqrt(2.0)));
  CHECK(calculate_gain(Nonlinearity::tanh) == Approx(5.0 / 3.0));
  // leaky_relu with slope 0.2: sqrt(2 / 1.04) = 1.38675
  CHECK(calculate_gain(Nonlinearity::leaky_relu, 0.2f) == Approx(1.38675).epsilon(1e-5));
}

TEST_CASE("init: xavier uniform and normal match their formulas on large tensors") {
  Generator gen(1);
  Tensor w = Tensor::empty({1000, 1000});
  // bound = sqrt(6 / 2000) = 0.0547723
  xavier_uniform_(w, gen);
  check_uniform(w, std::sqrt(6.0 / 2000));
  // gain 2, (500, 2000): std = 2 * sqrt(2 / 2500) = 0.0565685
  Tensor w2 = Tensor::empty({500, 2000});
  xavier_normal_(w2, gen, 2.0f);
  check_normal(w2, 2 * std::sqrt(2.0 / 2500));
}

TEST_CASE("init: kaiming uniform and normal, fan_in / fan_out, relu / leaky_relu / linear gains") {
  Generator gen(2);
  Tensor conv = Tensor::empty({250, 160, 5, 5});  // fan_in 4000, fan_out 6250, 10^6 elements
  // PyTorch defaults (a = 0, fan_in, leaky_relu): gain sqrt(2), bound = sqrt(2) * sqrt(3 / 4000)
  kaiming_uniform_(conv, gen);
  check_uniform(conv, std::sqrt(2.0) * std::sqrt(3.0 / 4000));
  // relu, fan_out: std = sqrt(2) / sqrt(6250)
  kaiming_normal_(conv, gen, 0.0f, FanMode::fan_out, Nonlinearity::relu);
  check_normal(conv, std::sqrt(2.0 / 6250));
  // leaky_relu slope 0.2, fan_in: std = sqrt(2 / 1.04) / sqrt(4000)
  kaiming_normal_(conv, gen, 0.2f, FanMode::fan_in, Nonlinearity::leaky_relu);
  check_normal(conv, std::sqrt(2.0 / 1.04) / std::sqrt(4000.0));
  // linear (gain 1), fan_out: bound = sqrt(3 / 6250)
  kaiming_uniform_(conv, gen, 0.0f, FanMode::fan_out, Nonlinearity::linear);
  check_uniform(conv, std::sqrt(3.0 / 6250));
}

TEST_CASE("init: truncated normal has the truncated mean and std and stays inside [a, b]") {
  // standard normal on [-2, 2]: mean 0, std 0.87963 (the classic value); plus an asymmetric window, a window
  // in the far upper tail (exercises the mirrored inverse CDF) and the ViT-style N(0, 0.02) cut at +-2 std.
  struct Case {
    float mean, std, a, b;
  };
  Generator gen(3);
  for (Case c : {Case{0.0f, 1.0f, -2.0f, 2.0f}, Case{0.5f, 2.0f, -1.0f, 3.0f}, Case{0.0f, 1.0f, 3.0f, 5.0f},
                 Case{0.0f, 0.02f, -0.04f, 0.04f}}) {
    // mean = mu + s (phi(al) - phi(be)) / Z, var = s^2 (1 + (al phi(al) - be phi(be)) / Z - ((phi(al) - phi(be)) / Z)^2)
    const double al = (c.a - c.mean) / double(c.std), be = (c.b - c.mean) / double(c.std);
    const double z = cdf(be) - cdf(al), d = (pdf(al) - pdf(be)) / z;
    const double want_mean = c.mean + c.std * d;
    const double want_std = c.std * std::sqrt(1 + (al * pdf(al) - be * pdf(be)) / z - d * d);
    Tensor t = Tensor::empty({1000000});
    trunc_normal_(t, gen, c.mean, c.std, c.a, c.b);
    Stats s = stats(t);
    INFO("mean " << c.mean << " std " << c.std << " on [" << c.a << ", " << c.b << "]");
    CHECK(s.min >= c.a);
    CHECK(s.max <= c.b);
    CHECK(std::fabs(s.mean - want_mean) < 5 * want_std / 1000);
    CHECK(s.std == Approx(want_std).epsilon(0.01));
  }
  const double z2 = cdf(2) - cdf(-2);  // the formula itself, on the classic case
  CHECK(std::sqrt(1 - 2 * 2 * pdf(2) / z2) == Approx(0.87963).epsilon(1e-4));
}

TEST_CASE("init: the same seed gives the same values, views and constants") {
  Tensor a = Tensor::empty({64, 33}), b = Tensor::empty({64, 33}), c = Tensor::empty({64, 33});
  Generator g1(7), g2(7), g3(8);
  trunc_normal_(a, g1, 0.0f, 0.02f);
  trunc_normal_(b, g2, 0.0f, 0.02f);
  trunc_normal_(c, g3, 0.0f, 0.02f);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());
  kaiming_uniform_(a, g1);
  kaiming_uniform_(b, g2);
  CHECK(a.to_vector() == b.to_vector());

  // a transposed view gets the values a packed tensor of its shape would get, written through the view
  Tensor base = Tensor::zeros({33, 64});
  Tensor view = base.transpose(0, 1);  // shape (64, 33), not contiguous
  Tensor packed = Tensor::empty({64, 33});
  Generator g4(9), g5(9);
  xavier_normal_(view, g4);
  xavier_normal_(packed, g5);
  CHECK(view.contiguous().to_vector() == packed.to_vector());

  constant_(a, 0.5f);
  CHECK(a.to_vector() == std::vector<float>(64 * 33, 0.5f));
  ones_(a);
  CHECK(stats(a).min == 1.0);
  zeros_(a);
  CHECK(stats(a).max == 0.0);
}

TEST_CASE("init: bad arguments give errors naming the values") {
  Generator gen(1);
  Tensor t = Tensor::empty({4, 4});
  CHECK_THROWS_WITH(trunc_normal_(t, gen, 0.0f, 1.0f, 2.0f, -2.0f), Catch::Contains("need a < b, got a = 2, b = -2"));
  CHECK_THROWS_WITH(trunc_normal_(t, gen, 0.0f, 0.0f), Catch::Contains("std must be > 0, got 0"));
  Tensor empty_fan = Tensor::empty({4, 0});
  CHECK_THROWS_WITH(kaiming_uniform_(empty_fan, gen), Catch::Contains("fan is 0 for a tensor of shape (4, 0)"));
  Tensor bias = Tensor::empty({4});
  CHECK_THROWS_WITH(xavier_uniform_(bias, gen), Catch::Contains("got shape (4)"));
}
