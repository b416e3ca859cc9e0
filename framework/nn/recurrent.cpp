#include "framework/nn/recurrent.hpp"

#include <cmath>
#include <string>

#include "framework/nn/init.hpp"
#include "framework/ops/dropout.hpp"
#include "framework/ops/shape.hpp"

namespace rc::nn {

Recurrent::Recurrent(RnnCell cell, int64_t input_size, int64_t hidden_size, Generator& gen,
                     const RecurrentOptions& options)
    : cell_(cell), input_size_(input_size), hidden_size_(hidden_size), options_(options) {
  RC_CHECK(input_size >= 1 && hidden_size >= 1 && options.layers >= 1,
           "{}: input_size = {}, hidden_size = {} and layers = {} must be >= 1", name(), input_size, hidden_size,
           options.layers);
  RC_CHECK(options.dropout >= 0.0f && options.dropout < 1.0f, "{}: dropout = {} must be in [0, 1)", name(),
           options.dropout);
  const int64_t H = hidden_size, GH = rnn_gate_count(cell) * H, D = directions();
  const float bound = 1.0f / std::sqrt(static_cast<float>(H));
  auto draw = [&](const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    init::uniform_(t, gen, -bound, bound);
    return t;
  };
  for (int64_t layer = 0; layer < options.layers; ++layer)
    for (int64_t dir = 0; dir < D; ++dir) {
      const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      const int64_t in = layer == 0 ? input_size : D * H;
      Weights w;
      w.w_ih = register_parameter("weight_ih" + suffix, draw({GH, in}));
      w.w_hh = register_parameter("weight_hh" + suffix, draw({GH, H}));
      if (options.bias) {
        w.b_ih = register_parameter("bias_ih" + suffix, draw({GH}), /*no_weight_decay=*/true);
        w.b_hh = register_parameter("bias_hh" + suffix, draw({GH}), /*no_weight_decay=*/true);
      }
      weights_.push_back(w);
    }
}

void Recurrent::check_state(const Var& s, const char* arg, int64_t B) const {
  if (!s.defined()) return;
  const Shape want{layers() * directions(), B, hidden_size_};
  RC_CHECK(s.shape() == want, "{}: {} must be (layers·directions, B, H) = {}, got shape {}", name(), arg,
           shape_str(want), shape_str(s.shape()));
}

RecurrentOutput Recurrent::forward(const Var& x, const Var& h0, const Var& c0) const {
  RC_CHECK(x.defined() && x.ndim() == 3 && x.dim(2) == input_size_,
           "{}: x must be (B, T, input_size = {}), got shape {}", name(), input_size_,
           x.defined() ? shape_str(x.shape()) : "undefined");
  RC_CHECK(cell_ == RnnCell::lstm || !c0.defined(), "GRU: c0 is given but a GRU has no cell state");
  const int64_t B = x.dim(0), H = hidden_size_, D = directions();
  check_state(h0, "h0", B);
  check_state(c0, "c0", B);
  auto initial = [&](const Var& s, int64_t k) { return s.defined() ? reshape(slice(s, 0, k, k + 1), {B, H}) : Var(); };
  Var in = x;
  std::vector<Var> hs, cs;
  for (int64_t layer = 0; layer < layers(); ++layer) {
    std::vector<Var> outs;
    for (int64_t dir = 0; dir < D; ++dir) {
      const int64_t k = layer * D + dir;
      const Weights& w = weights_[static_cast<size_t>(k)];
      const RnnOutput r = cell_ == RnnCell::lstm
                              ? lstm(in, w.w_ih, w.w_hh, w.b_ih, w.b_hh, initial(h0, k), initial(c0, k), dir == 1)
                              : gru(in, w.w_ih, w.w_hh, w.b_ih, w.b_hh, initial(h0, k), dir == 1);
      outs.push_back(r.output);
      hs.push_back(reshape(r.h_last, {1, B, H}));
      if (r.c_last.defined()) cs.push_back(reshape(r.c_last, {1, B, H}));
    }
    in = D == 1 ? outs[0] : concat(outs, 2);
    if (layer + 1 < layers() && options_.dropout > 0.0f && is_training())
      in = dropout(in, options_.dropout, true, mix_seed(options_.seed, calls_ * layers() + layer));
  }
  if (options_.dropout > 0.0f && is_training() && layers() > 1) ++calls_;
  return {in, concat(hs, 0), cs.empty() ? Var() : concat(cs, 0)};
}

}  // namespace rc::nn
