#include "framework/ops/activation.hpp"

#include <unsupported/Eigen/SpecialFunctions>

#include <cmath>

#include "framework/ops/pointwise.hpp"

namespace rc {

namespace {
// Eigen array views of one chunk, for kernels written as Eigen expressions (vectorized erf and exp)
using ConstSeg = Eigen::Map<const Eigen::ArrayXf>;
using Seg = Eigen::Map<Eigen::ArrayXf>;

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
}  // namespace

Var relu(const Var& x) {
  Tensor y = map_pointwise(x.value(), [](float v) { return v > 0.0f ? v : 0.0f; });
  // forward was y = max(x, 0): dx = dy where y > 0 (save the output, not the input)
  return make_result(y, {&x}, "relu", [x, y](const Tensor& dy) {
    accumulate_grad(x, map_pointwise(y, dy, [](float out, float g) { return out > 0.0f ? g : 0.0f; }));
  });
}

Var gelu(const Var& x) {
  Tensor y = map_chunks(x.value(), [](const float* xp, float* yp, int64_t n) {
    ConstSeg v(xp, n);
    Seg(yp, n) = 0.5f * v * (1.0f + (v * kInvSqrt2).erf());
  });
  // forward was y = x Φ(x), so dx = dy (Φ(x) + x φ(x)) with φ(x) = exp(-x²/2) / √(2π)
  return make_result(y, {&x}, "gelu", [x](const Tensor& dy) {
    accumulate_grad(x, map_chunks(x.value(), dy, [](const float* xp, const float* gp, float* dxp, int64_t n) {
      ConstSeg v(xp, n), g(gp, n);
      Seg(dxp, n) = g * (0.5f * (1.0f + (v * kInvSqrt2).erf()) + v * kInvSqrt2Pi * (-0.5f * v.square()).exp());
    }));
  });
}

Var elu(const Var& x, float alpha) {
  RC_CHECK(std::isfinite(alpha), "elu: alpha must be finite, got {}", alpha);
  Tensor y = map_pointwise(x.value(), [alpha](float v) { return v > 0.0f ? v : alpha * std::expm1(v); });
  // forward was y = x (x > 0) or alpha (exp(x) - 1), so dx = dy (x > 0) or dy alpha exp(x)
  return make_result(y, {&x}, "elu", [x, alpha](const Tensor& dy) {
    accumulate_grad(x, map_pointwise(x.value(), dy, [alpha](float v, float g) {
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
    accumulate_grad(x, map_pointwise(x.value(), dy, [s](float v, float g) { return v > 0.0f ? g : s * g; }));
  });
}

}  // namespace rc
