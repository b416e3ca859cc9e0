#include "framework/optim/sgd.hpp"

#include <cmath>

namespace rc::optim {

namespace {
const SGDOptions& checked(const SGDOptions& o) {
  RC_CHECK(std::isfinite(o.momentum) && o.momentum >= 0.0f, "SGD: momentum must be >= 0, got {}", o.momentum);
  RC_CHECK(std::isfinite(o.dampening), "SGD: dampening must be finite, got {}", o.dampening);
  RC_CHECK(!o.nesterov || (o.momentum > 0.0f && o.dampening == 0.0f),
           "SGD: nesterov needs momentum > 0 and dampening 0, got momentum {} and dampening {}", o.momentum,
           o.dampening);
  return o;
}
}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), checked(options).lr, options.weight_decay, {"momentum_buffer"}, "SGD"),
      options_(options) {}

SGD::SGD(std::vector<Var> params, const SGDOptions& options) : SGD(std::vector<ParamGroup>{make_group(std::move(params))}, options) {}

void SGD::update(Tensor& param, const Tensor& grad, ParamState& state, float lr, float weight_decay) {
  const float momentum = options_.momentum, damp = 1.0f - options_.dampening, wd = weight_decay;
  const bool nesterov = options_.nesterov;
  float* p = param.data();
  const float* gp = grad.data();
  if (momentum == 0.0f) {
    for_each_chunk(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float g = wd != 0.0f ? gp[i] + wd * p[i] : gp[i];
        p[i] = p[i] + (-lr) * g;
      }
    });
    return;
  }
  Tensor& buffer = state.buffers[0];
  const bool first = !buffer.defined();
  if (first) buffer = Tensor::empty(param.shape());
  float* buf = buffer.data();
  for_each_chunk(param.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float g = wd != 0.0f ? gp[i] + wd * p[i] : gp[i];
      buf[i] = first ? g : buf[i] * momentum + damp * g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
      p[i] = p[i] + (-lr) * g;
    }
  });
}

}  // namespace rc::optim
