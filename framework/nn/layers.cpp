#include "framework/nn/layers.hpp"

#include <cmath>

#include "framework/nn/init.hpp"
#include "framework/ops/dropout.hpp"
#include "framework/ops/matmul.hpp"
#include "framework/ops/norm.hpp"
#include "framework/ops/shape.hpp"

namespace rc::nn {

Linear::Linear(int64_t in, int64_t out, Generator& gen, bool bias, bool transformer_init)
    : in_features(in), out_features(out) {
  RC_CHECK(in > 0 && out > 0, "Linear: in = {} and out = {} must be positive", in, out);
  Tensor w = Tensor::empty({out, in});
  if (transformer_init)
    init::trunc_normal_(w, gen, 0.0f, 0.02f, -0.04f, 0.04f);
  else
    init::kaiming_uniform_(w, gen, std::sqrt(5.0f));
  weight_ = register_parameter("weight", w);
  if (bias) {
    Tensor b = Tensor::zeros({out});
    if (!transformer_init) init::uniform_(b, gen, -1.0f / std::sqrt(float(in)), 1.0f / std::sqrt(float(in)));
    bias_ = register_parameter("bias", b, /*no_weight_decay=*/true);
  }
}

Var Linear::forward(const Var& x) const { return linear(x, weight_, bias_); }

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, Generator& gen, int64_t stride, int64_t padding, bool bias,
               int64_t dilation) {
  RC_CHECK(in > 0 && out > 0 && kernel > 0, "Conv2d: in = {}, out = {}, kernel = {} must be positive", in, out,
           kernel);
  Tensor w = Tensor::empty({out, in, kernel, kernel});
  init::kaiming_normal_(w, gen, 0.0f, init::FanMode::fan_out, init::Nonlinearity::relu);
  weight_ = register_parameter("weight", w);
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}), true);
  options_.stride = {stride, stride};
  options_.padding = {padding, padding};
  options_.dilation = {dilation, dilation};
}

Var Conv2d::forward(const Var& x) const { return conv2d(x, weight_, bias_, options_); }

BatchNorm::BatchNorm(int64_t channels, float momentum, float eps) : momentum_(momentum), eps_(eps) {
  gamma_ = register_parameter("weight", Tensor::ones({channels}), true);
  beta_ = register_parameter("bias", Tensor::zeros({channels}), true);
  running_mean_ = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = register_buffer("running_var", Tensor::ones({channels}));
}

Var BatchNorm::forward(const Var& x) {
  return batch_norm(x, gamma_, beta_, running_mean_, running_var_, is_training(), momentum_, eps_);
}

Var BatchNorm::forward_relu(const Var& x) {
  return batch_norm(x, gamma_, beta_, running_mean_, running_var_, is_training(), momentum_, eps_, true);
}

Var BatchNorm::forward_tokens(const Var& x) {
  RC_CHECK(x.ndim() == 3, "BatchNorm::forward_tokens: x of shape {} is not (B, N, C)", shape_str(x.shape()));
  const int64_t b = x.dim(0), n = x.dim(1), c = x.dim(2);
  return reshape(forward(reshape(x, {b * n, c})), {b, n, c});
}

LayerNorm::LayerNorm(int64_t dim, float eps) : eps_(eps) {
  gamma_ = register_parameter("weight", Tensor::ones({dim}), true);
  beta_ = register_parameter("bias", Tensor::zeros({dim}), true);
}

Var LayerNorm::forward(const Var& x) const { return layer_norm(x, gamma_, beta_, eps_); }

Dropout::Dropout(float p, uint64_t seed) : p_(p), seed_(seed) {
  RC_CHECK(p >= 0 && p < 1, "Dropout: p = {} must be in [0, 1)", p);
}

Var Dropout::forward(const Var& x) {
  if (!is_training() || p_ == 0.0f) return x;
  return dropout(x, p_, true, mix_seed(seed_, calls_++));
}

}  // namespace rc::nn
