#include "framework/optim/adamw.hpp"

#include <cmath>

namespace rc::optim {

namespace {
const AdamWOptions& checked(const AdamWOptions& o) {
  RC_CHECK(o.beta1 >= 0.0f && o.beta1 < 1.0f, "AdamW: beta1 must be in [0, 1), got {}", o.beta1);
  RC_CHECK(o.beta2 >= 0.0f && o.beta2 < 1.0f, "AdamW: beta2 must be in [0, 1), got {}", o.beta2);
  RC_CHECK(std::isfinite(o.eps) && o.eps >= 0.0f, "AdamW: eps must be >= 0, got {}", o.eps);
  return o;
}
}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
    : Optimizer(std::move(groups), checked(options).lr, options.weight_decay, {"exp_avg", "exp_avg_sq"}, "AdamW"),
      options_(options) {}

AdamW::AdamW(std::vector<Var> params, const AdamWOptions& options)
    : AdamW(std::vector<ParamGroup>{make_group(std::move(params))}, options) {}

void AdamW::update(Tensor& param, const Tensor& grad, ParamState& state, float lr, float weight_decay) {
  Tensor& m_t = state.buffers[0];
  Tensor& v_t = state.buffers[1];
  if (!m_t.defined()) m_t = Tensor::zeros(param.shape());
  if (!v_t.defined()) v_t = Tensor::zeros(param.shape());
  const double t = static_cast<double>(state.step);
  const double beta1 = options_.beta1, beta2 = options_.beta2;
  const float decay = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
  const float w1 = static_cast<float>(1.0 - beta1), w2 = static_cast<float>(1.0 - beta2);
  const float b2 = options_.beta2, eps = options_.eps;
  const float step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
  const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
  const bool decays = weight_decay != 0.0f;
  float* p = param.data();
  float* m = m_t.data();
  float* v = v_t.data();
  const float* gp = grad.data();
  for_each_chunk(param.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = gp[i];
      if (decays) p[i] = p[i] * decay;
      // lerp(m, g, w1) as PyTorch evaluates it
      m[i] = w1 < 0.5f ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1);
      v[i] = v[i] * b2 + w2 * g * g;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      p[i] = p[i] + (-step_size) * (m[i] / denom);
    }
  });
}

}  // namespace rc::optim
