#pragma once
// AdamW (decoupled weight decay, Loshchilov & Hutter), PyTorch's torch.optim.AdamW update at step t >= 1:
//   p   = p * (1 - lr * weight_decay)
//   m   = m + (1 - beta1) * (g - m)                    (m, v start at 0)
//   v   = beta2 * v + (1 - beta2) * g * g
//   p   = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Scalars (bias corrections, step size) are computed in double, as PyTorch does in Python.
// State buffers: "exp_avg" (m), "exp_avg_sq" (v).
#include "framework/optim/optimizer.hpp"

namespace rc::optim {

struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 1e-2f;
  // false: Adam with L2 weight decay (torch.optim.Adam): g = g + weight_decay * p before the moments, and no
  // decoupled decay. The GCN and GAT papers train this way.
  bool decoupled = true;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options);
  AdamW(std::vector<Var> params, const AdamWOptions& options);
  const AdamWOptions& options() const { return options_; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, float lr, float weight_decay) override;

 private:
  AdamWOptions options_;
};

}  // namespace rc::optim
