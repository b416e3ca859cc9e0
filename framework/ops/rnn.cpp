#include "framework/ops/rnn.hpp"

#include <algorithm>
#include <cstring>

#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"
#include "framework/ops/rnn_kernels.hpp"

namespace rc {

int64_t rnn_gate_count(RnnCell cell) { return cell == RnnCell::lstm ? 4 : 3; }

// Tasks of at least 16 rows (the per-step products get less efficient with fewer rows: oneDNN's sgemm ran
// (16, 128)·(128, 512) at about 50 GFLOP/s against 65 for 32 rows on the project's Zen 3 core), at most 8 tasks,
// rows spread evenly. From B alone, never the thread count: B = 32 runs as two tasks of 16 rows.
int64_t rnn_rows_per_task(int64_t batch) {
  const int64_t tasks = std::clamp<int64_t>(batch / 16, 1, 8);
  return (batch + tasks - 1) / tasks;
}

namespace {
using rnn_detail::Dims;

struct RnnArgs {
  const Var &x, &w_ih, &w_hh, &b_ih, &b_hh, &h0, &c0;
};

void check_rnn_args(const char* op, RnnCell cell, const RnnArgs& a) {
  RC_CHECK(a.x.defined() && a.w_ih.defined() && a.w_hh.defined(), "{}: x, w_ih or w_hh is undefined", op);
  const int64_t G = rnn_gate_count(cell);
  RC_CHECK(a.x.ndim() == 3 && a.x.value().numel() > 0, "{}: x must be (B, T, I) with B, T, I >= 1, got shape {}", op,
           shape_str(a.x.shape()));
  RC_CHECK(a.w_hh.ndim() == 2 && a.w_hh.dim(1) >= 1 && a.w_hh.dim(0) == G * a.w_hh.dim(1),
           "{}: w_hh must be ({}·H, H) with H >= 1, got shape {}", op, G, shape_str(a.w_hh.shape()));
  const int64_t B = a.x.dim(0), I = a.x.dim(2), H = a.w_hh.dim(1);
  RC_CHECK(a.w_ih.shape() == Shape({G * H, I}), "{}: w_ih must be ({}, {}) for x {} and w_hh {}, got shape {}", op,
           G * H, I, shape_str(a.x.shape()), shape_str(a.w_hh.shape()), shape_str(a.w_ih.shape()));
  for (auto [b, name] : {std::pair{&a.b_ih, "b_ih"}, std::pair{&a.b_hh, "b_hh"}})
    RC_CHECK(!b->defined() || b->shape() == Shape({G * H}), "{}: {} must be ({}) for w_hh {}, got shape {}", op, name,
             G * H, shape_str(a.w_hh.shape()), shape_str(b->shape()));
  for (auto [s, name] : {std::pair{&a.h0, "h0"}, std::pair{&a.c0, "c0"}})
    RC_CHECK(!s->defined() || s->shape() == Shape({B, H}), "{}: {} must be (B, H) = ({}, {}), got shape {}", op, name,
             B, H, shape_str(s->shape()));
}

// Bias of the input projections: b_ih, + b_hh for the LSTM (the GRU adds b_hh to W_hh h_prev in each step, as
// its n block sits inside r ⊙ (W_hn h + b_hn)). Undefined when there is no bias to add.
Tensor input_bias(RnnCell cell, const Var& b_ih, const Var& b_hh, int64_t H) {
  const bool fold = cell == RnnCell::lstm && b_hh.defined();
  if (!b_ih.defined() && !fold) return Tensor();
  const int64_t GH = rnn_gate_count(cell) * H;
  Tensor bias = b_ih.defined() ? b_ih.value().contiguous().clone() : Tensor::zeros({GH});
  if (fold) {
    const Tensor bh = b_hh.value().contiguous();
    for (int64_t k = 0; k < GH; ++k) bias.data()[k] += bh.data()[k];
  }
  return bias;
}

// A result of the op: `shape` elements of the op's flat buffer from `offset`, as a view; its gradient is added
// into the buffer's gradient at the same place.
Var view_of(const Var& packed, int64_t offset, const Shape& shape) {
  const int64_t n = shape_numel(shape);
  Tensor v = packed.value().slice(0, offset, offset + n).reshape(shape);
  return make_result(v, {&packed}, "rnn_result", [packed, offset, n, shape](const Tensor& g) {
    accumulate_grad_in_place(packed, [&](Tensor& pg) { pg.slice(0, offset, offset + n).reshape(shape).add_(g); });
  });
}

// What the backward needs; tensors the forward made (gates and aux are overwritten by the backward).
struct Saved {
  Dims d;
  Tensor x, w_ih, w_hh, h0, c0, gates, aux, packed;
};

// dst (B, H) = rows of src (B, T, H) at time t
void copy_time(const Dims& d, const float* src, int64_t t, float* dst) {
  for (int64_t b = 0; b < d.B; ++b)
    std::memcpy(dst + b * d.H, src + (b * d.T + t) * d.H, sizeof(float) * static_cast<size_t>(d.H));
}

// h_prev for every (b, t) as a (B·T, H) matrix: h0 at the first step, else the output of the step before
Tensor previous_states(const Saved& s) {
  const Dims& d = s.d;
  Tensor hp = Tensor::empty({d.B * d.T, d.H});
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t step = 0; step < d.T; ++step) {
      const float* src = step == 0 ? s.h0.data() + b * d.H : s.packed.data() + (b * d.T + d.time(step - 1)) * d.H;
      std::memcpy(hp.data() + (b * d.T + d.time(step)) * d.H, src, sizeof(float) * static_cast<size_t>(d.H));
    }
  return hp;
}

// Gradients of x, w_ih and b_ih from those of the input-side pre-activations, held as two column blocks:
// `first` (cols_a columns of a (B·T, ld_a) matrix: gate rows 0..cols_a of w_ih) and, for the GRU, `second`
// (the n block, (B·T, H)). dx = Σ da·W_ih, dW_ih = daᵀ x, db_ih = Σ_rows da; each one GEMM per block.
void input_side_grads(const Saved& s, const RnnArgs& a, const float* first, int64_t cols_a, int64_t ld_a,
                      const float* second) {
  const Dims& d = s.d;
  const int64_t BT = d.B * d.T, I = d.I, H = d.H, GH = d.G * H;
  if (a.w_ih.requires_grad()) {
    Tensor dw = Tensor::empty({GH, I});
    gemm(Op::T, Op::N, cols_a, I, BT, 1.0f, first, ld_a, s.x.data(), I, 0.0f, dw.data(), I);
    if (second) gemm(Op::T, Op::N, H, I, BT, 1.0f, second, H, s.x.data(), I, 0.0f, dw.data() + cols_a * I, I);
    accumulate_grad(a.w_ih, dw);
  }
  if (a.b_ih.defined() && a.b_ih.requires_grad()) {
    Tensor db = Tensor::empty({GH});
    column_sums(BT, cols_a, first, ld_a, db.data());
    if (second) column_sums(BT, H, second, H, db.data() + cols_a);
    accumulate_grad(a.b_ih, db);
  }
  if (a.x.requires_grad()) {
    Tensor dx = Tensor::empty({d.B, d.T, I});
    gemm(Op::N, Op::N, BT, I, cols_a, 1.0f, first, ld_a, s.w_ih.data(), I, 0.0f, dx.data(), I);
    if (second) gemm(Op::N, Op::N, BT, I, H, 1.0f, second, H, s.w_ih.data() + cols_a * I, I, 1.0f, dx.data(), I);
    accumulate_grad(a.x, dx);
  }
}

// dW_hh = daᵀ h_prev and db_hh = Σ_rows da over all B·T rows, da being the hidden-side pre-activation gradients
void hidden_side_grads(const Saved& s, const RnnArgs& a) {
  const Dims& d = s.d;
  const int64_t BT = d.B * d.T, H = d.H, GH = d.G * H;
  if (a.w_hh.requires_grad()) {
    const Tensor hp = previous_states(s);
    Tensor dw = Tensor::empty({GH, H});
    gemm(Op::T, Op::N, GH, H, BT, 1.0f, s.gates.data(), GH, hp.data(), H, 0.0f, dw.data(), H);
    accumulate_grad(a.w_hh, dw);
  }
  if (a.b_hh.defined() && a.b_hh.requires_grad()) {
    Tensor db = Tensor::empty({GH});
    column_sums(BT, GH, s.gates.data(), GH, db.data());
    accumulate_grad(a.b_hh, db);
  }
}

void rnn_backward(Saved& s, const RnnArgs& a, const Tensor& grad_in) {
  const Dims& d = s.d;
  const bool lstm = d.cell == RnnCell::lstm;
  const int64_t out = d.B * d.T * d.H, state = d.B * d.H;
  const Tensor grad = grad_in.contiguous();
  Tensor dh0 = Tensor::empty({d.B, d.H}), dc0 = lstm ? Tensor::empty({d.B, d.H}) : Tensor();
  rnn_detail::BackwardBuffers bb{s.w_hh.data(),
                                 s.h0.data(),
                                 lstm ? s.c0.data() : nullptr,
                                 s.packed.data(),
                                 grad.data(),
                                 grad.data() + out,
                                 lstm ? grad.data() + out + state : nullptr,
                                 s.gates.data(),
                                 s.aux.data(),
                                 dh0.data(),
                                 lstm ? dc0.data() : nullptr};
  const int64_t rows = rnn_rows_per_task(d.B);
  parallel_for(num_chunks(d.B, rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) rnn_detail::backward_rows(d, bb, c * rows, std::min(d.B, (c + 1) * rows));
  });
  // the LSTM's input- and hidden-side gradients are the same (a = W_ih x + b_ih + W_hh h + b_hh); the GRU's
  // differ in the n block, which backward_rows left in aux
  if (lstm)
    input_side_grads(s, a, s.gates.data(), d.G * d.H, d.G * d.H, nullptr);
  else
    input_side_grads(s, a, s.gates.data(), 2 * d.H, d.G * d.H, s.aux.data());
  hidden_side_grads(s, a);
  accumulate_grad(a.h0, dh0);
  if (lstm) accumulate_grad(a.c0, dc0);
}

Tensor state_or_zeros(const Var& v, int64_t B, int64_t H) {
  return v.defined() ? v.value().contiguous() : Tensor::zeros({B, H});
}

RnnOutput run_rnn(const char* op, RnnCell cell, const RnnArgs& a, bool reverse) {
  check_rnn_args(op, cell, a);
  const bool lstm = cell == RnnCell::lstm;
  Saved s;
  s.d = Dims{cell, a.x.dim(0), a.x.dim(1), a.x.dim(2), a.w_hh.dim(1), rnn_gate_count(cell), reverse};
  const Dims& d = s.d;
  const int64_t GH = d.G * d.H, out = d.B * d.T * d.H, state = d.B * d.H;
  s.x = a.x.value().contiguous();
  s.w_ih = a.w_ih.value().contiguous();
  s.w_hh = a.w_hh.value().contiguous();
  s.h0 = state_or_zeros(a.h0, d.B, d.H);
  if (lstm) s.c0 = state_or_zeros(a.c0, d.B, d.H);
  // the input projections of every step: one (B·T, I)·(I, G·H) product
  const Tensor bias = input_bias(cell, a.b_ih, a.b_hh, d.H);
  s.gates = Tensor::empty({d.B, d.T, GH});
  gemm(Op::N, Op::T, d.B * d.T, GH, d.I, 1.0f, s.x.data(), d.I, s.w_ih.data(), d.I, 0.0f, s.gates.data(), GH,
       bias.defined() ? bias.data() : nullptr);
  // the recurrence, one task per block of batch rows; then h_last (and c_last) after the output in one buffer
  const Tensor b_hh = !lstm && a.b_hh.defined() ? a.b_hh.value().contiguous() : Tensor();
  s.aux = Tensor::empty({d.B, d.T, d.H});
  s.packed = Tensor::empty({out + (lstm ? 2 : 1) * state});
  const rnn_detail::ForwardBuffers fb{s.w_hh.data(),  b_hh.defined() ? b_hh.data() : nullptr,
                                      s.h0.data(),    lstm ? s.c0.data() : nullptr,
                                      s.gates.data(), s.aux.data(),
                                      s.packed.data()};
  const int64_t rows = rnn_rows_per_task(d.B);
  parallel_for(num_chunks(d.B, rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) rnn_detail::forward_rows(d, fb, c * rows, std::min(d.B, (c + 1) * rows));
  });
  copy_time(d, s.packed.data(), d.time(d.T - 1), s.packed.data() + out);
  if (lstm) copy_time(d, s.aux.data(), d.time(d.T - 1), s.packed.data() + out + state);

  Var x = a.x, w_ih = a.w_ih, w_hh = a.w_hh, b_ih = a.b_ih, b_hh_v = a.b_hh, h0 = a.h0, c0 = a.c0;
  Var packed = make_result(s.packed, {&x, &w_ih, &w_hh, &b_ih, &b_hh_v, &h0, &c0}, op,
                           [s, x, w_ih, w_hh, b_ih, b_hh_v, h0, c0](const Tensor& g) mutable {
                             rnn_backward(s, RnnArgs{x, w_ih, w_hh, b_ih, b_hh_v, h0, c0}, g);
                           });
  return {view_of(packed, 0, {d.B, d.T, d.H}), view_of(packed, out, {d.B, d.H}),
          lstm ? view_of(packed, out + state, {d.B, d.H}) : Var()};
}
}  // namespace

RnnOutput lstm(const Var& x, const Var& w_ih, const Var& w_hh, const Var& b_ih, const Var& b_hh, const Var& h0,
               const Var& c0, bool reverse) {
  return run_rnn("lstm", RnnCell::lstm, RnnArgs{x, w_ih, w_hh, b_ih, b_hh, h0, c0}, reverse);
}

RnnOutput gru(const Var& x, const Var& w_ih, const Var& w_hh, const Var& b_ih, const Var& b_hh, const Var& h0,
              bool reverse) {
  const Var no_c0;
  return run_rnn("gru", RnnCell::gru, RnnArgs{x, w_ih, w_hh, b_ih, b_hh, h0, no_c0}, reverse);
}

}  // namespace rc
