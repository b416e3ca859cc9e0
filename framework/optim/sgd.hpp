#pragma once
// SGD with momentum, dampening, Nesterov and (coupled, L2) weight decay; PyTorch's torch.optim.SGD update:
//   g = grad + weight_decay * p
//   if momentum != 0:
//     buf = g                                      on the first step
//     buf = momentum * buf + (1 - dampening) * g   afterwards
//     g   = nesterov ? g + momentum * buf : buf
//   p = p - lr * g
// State buffer: "momentum_buffer" (only when momentum != 0).
#include "framework/optim/optimizer.hpp"

namespace rc::optim {

struct SGDOptions {
  float lr = 1e-3f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  SGD(std::vector<Var> params, const SGDOptions& options);
  const SGDOptions& options() const { return options_; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, float lr, float weight_decay) override;

 private:
  SGDOptions options_;
};

}  // namespace rc::optim
