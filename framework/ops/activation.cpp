#include "framework/ops/activation.hpp"

#include <unsupported/Eigen/SpecialFunctions>

#include <cmath>

#include "framework/core/parallel.hpp"
#include "framework/ops/chunked.hpp"

namespace rc {

namespace {
constexpr int64_t kPointwiseGrain = 1 << 15;

// y[i] = f(x[i]) over contiguous data, in parallel chunks
template <class F>
Tensor map_pointwise(const Tensor& x_in, F f) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.numel(), kPointwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) yp[i] = f(xp[i]);
  });
  return y;
}

// dx[i] = g(a[i], dy[i])
template <class G>
Tensor map_backward(const Tensor& a_in, const Tensor& dy_in, G g) {
  Tensor a = a_in.contiguous(), dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(a.shape());
  const float* ap = a.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  parallel_for(a.numel(), kPointwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dxp[i] = g(ap[i], dyp[i]);
  });
  return dx;
}

// Like map_pointwise/map_backward for kernels written as Eigen array expressions over a chunk:
// f(n, inputs..., output) with Eigen maps of length n. The chunk boundaries are fixed (parallel_chunks), so
// the vectorized body and scalar tail of each chunk, and with them the bits of the result, do not depend on
// the thread count.
using ConstSeg = Eigen::Map<const Eigen::ArrayXf>;
using Seg = Eigen::Map<Eigen::ArrayXf>;

template <class F>
Tensor map_eigen(const Tensor& a_in, F f) {
  Tensor a = a_in.contiguous();
  Tensor y = Tensor::empty(a.shape());
  const float* ap = a.data();
  float* yp = y.data();
  parallel_chunks(a.numel(), kPointwiseGrain, [&](int64_t, int64_t b, int64_t e) {
    Seg out(yp + b, e - b);
    f(ConstSeg(ap + b, e - b), out);
  });
  return y;
}

template <class G>
Tensor map_eigen_backward(const Tensor& a_in, const Tensor& dy_in, G g) {
  Tensor a = a_in.contiguous(), dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(a.shape());
  const float* ap = a.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  parallel_chunks(a.numel(), kPointwiseGrain, [&](int64_t, int64_t b, int64_t e) {
    Seg out(dxp + b, e - b);
    g(ConstSeg(ap + b, e - b), ConstSeg(dyp + b, e - b), out);
  });
  return dx;
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
}  // namespace

Var relu(const Var& x) {
  Tensor y = map_pointwise(x.value(), [](float v) { return v > 0.0f ? v : 0.0f; });
  // forward was y = max(x, 0): dx = dy where y > 0 (save the output, not the input)
  return make_result(y, {&x}, "relu", [x, y](const Tensor& dy) {
    accumulate_grad(x, map_backward(y, dy, [](float out, float g) { return out > 0.0f ? g : 0.0f; }));
  });
}

Var gelu(const Var& x) {
  Tensor y = map_eigen(x.value(), [](const ConstSeg& v, Seg& out) {
    out = 0.5f * v * (1.0f + (v * kInvSqrt2).erf());
  });
  // forward was y = x Φ(x), so dx = dy (Φ(x) + x φ(x)) with φ(x) = exp(-x²/2) / √(2π)
  return make_result(y, {&x}, "gelu", [x](const Tensor& dy) {
    accumulate_grad(x, map_eigen_backward(x.value(), dy, [](const ConstSeg& v, const ConstSeg& g, Seg& out) {
      out = g * (0.5f * (1.0f + (v * kInvSqrt2).erf()) + v * kInvSqrt2Pi * (-0.5f * v.square()).exp());
    }));
  });
}

Var elu(const Var& x, float alpha) {
  RC_CHECK(std::isfinite(alpha), "elu: alpha must be finite, got {}", alpha);
  Tensor y = map_pointwise(x.value(), [alpha](float v) { return v > 0.0f ? v : alpha * std::expm1(v); });
  // forward was y = x (x > 0) or alpha (exp(x) - 1), so dx = dy (x > 0) or dy alpha exp(x)
  return make_result(y, {&x}, "elu", [x, alpha](const Tensor& dy) {
    accumulate_grad(x, map_backward(x.value(), dy, [alpha](float v, float g) {
      return v > 0.0f ? g : g * alpha * std::exp(v);
    }));
  });
}

Var leaky_relu(const Var& x, float negative_slope) {
  RC_CHECK(std::isfinite(negative_slope), "leaky_relu: negative_slope must be finite, got {}", negative_slope);
  const float s = negative_slope;
  Tensor y = map_pointwise(x.value(), [s](float v) { return v > 0.0f ? v : s * v; });
  // forward was y = x (x > 0) or s x, so dx = dy (x > 0) or s dy (saves x: with s < 0 the sign of y says nothing)
  return make_result(y, {&x}, "leaky_relu", [x, s](const Tensor& dy) {
    accumulate_grad(x, map_backward(x.value(), dy, [s](float v, float g) { return v > 0.0f ? g : s * g; }));
  });
}

}  // namespace rc
