#include "framework/optim/sgd.hpp"

#include <Eigen/Core>

#include <algorithm>
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
  const bool nesterov = options_.nesterov, decays = wd != 0.0f, has_momentum = momentum != 0.0f;
  Tensor& buffer = state.buffers[0];
  const bool first = has_momentum && !buffer.defined();
  if (first) buffer = Tensor::empty(param.shape());
  float* p = param.data();
  float* buf = has_momentum ? buffer.data() : nullptr;
  const float* gp = grad.data();
  // L1-sized tiles, one vectorized Eigen pass per line, branches outside the loops
  constexpr int64_t kTile = 1024;
  for_each_chunk(param.numel(), [&](int64_t b, int64_t e) {
    Eigen::ArrayXf g_tile(kTile);
    for (int64_t t0 = b; t0 < e; t0 += kTile) {
      const int64_t len = std::min(kTile, e - t0);
      Eigen::Map<Eigen::ArrayXf> P(p + t0, len);
      auto G = g_tile.head(len);
      G = Eigen::Map<const Eigen::ArrayXf>(gp + t0, len);
      if (decays) G += wd * P;  // g = grad + wd * p
      if (has_momentum) {
        Eigen::Map<Eigen::ArrayXf> B(buf + t0, len);
        if (first)
          B = G;
        else
          B = B * momentum + damp * G;
        if (nesterov)
          G += momentum * B;
        else
          G = B;
      }
      P += (-lr) * G;
    }
  });
}

}  // namespace rc::optim
