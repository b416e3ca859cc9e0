#include "framework/optim/adamw.hpp"

#include <Eigen/Core>

#include <algorithm>
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
  const bool decays = weight_decay != 0.0f && options_.decoupled;
  const bool l2 = weight_decay != 0.0f && !options_.decoupled;
  float* p = param.data();
  float* m = m_t.data();
  float* v = v_t.data();
  const float* gp = grad.data();
  // Tiles that stay in L1 let each line below be one vectorized Eigen pass (a scalar loop does not vectorize
  // because of std::sqrt's errno path); the arithmetic is elementwise in PyTorch's order either way.
  constexpr int64_t kTile = 1024;
  for_each_chunk(param.numel(), [&](int64_t b, int64_t e) {
    for (int64_t t0 = b; t0 < e; t0 += kTile) {
      const int64_t len = std::min(kTile, e - t0);
      Eigen::Map<Eigen::ArrayXf> P(p + t0, len), M(m + t0, len), V(v + t0, len);
      Eigen::Map<const Eigen::ArrayXf> G0(gp + t0, len);
      Eigen::ArrayXf G_l2;
      if (l2) G_l2 = G0 + weight_decay * P;  // Adam: L2 term joins the gradient
      const Eigen::Ref<const Eigen::ArrayXf> G = l2 ? Eigen::Ref<const Eigen::ArrayXf>(G_l2) : Eigen::Ref<const Eigen::ArrayXf>(G0);
      if (decays) P *= decay;
      if (w1 < 0.5f)  // lerp(m, g, w1) as PyTorch evaluates it
        M += w1 * (G - M);
      else
        M = G - (G - M) * (1.0f - w1);
      V = V * b2 + (w2 * G) * G;
      P += (-step_size) * (M / (V.sqrt() / bc2_sqrt + eps));
    }
  });
}

}  // namespace rc::optim
