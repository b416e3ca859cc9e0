#pragma once
// LSTM and GRU layers (one layer, one direction) as autograd ops, forward and backward through time, with
// PyTorch's gate order and parameter layout, so weights compare one to one with torch.nn.LSTM / torch.nn.GRU.
//
// Shapes (batch first): x (B, T, I) -> output (B, T, H), h_last (B, H) [, c_last (B, H) for the LSTM].
// G = 4 gates for the LSTM (i, f, g, o), 3 for the GRU (r, z, n), stacked along the rows of the weights:
//   w_ih (G·H, I), w_hh (G·H, H), b_ih (G·H) and b_hh (G·H), each bias optional (undefined Var = none).
//   h0 (B, H) and c0 (B, H): the initial state, optional (undefined Var = zeros).
// Steps run t = 0 .. T−1, or T−1 .. 0 with `reverse` (the backward half of a bidirectional layer); h_{prev} is
// the state of the previous step in that order and h_last the state after the last one (t = T−1, or t = 0).
//
// LSTM, with a_t = W_ih x_t + b_ih + W_hh h_{prev} + b_hh cut into four blocks of H:
//   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o);  c_t = f ⊙ c_{prev} + i ⊙ g;  h_t = o ⊙ tanh(c_t)
// GRU:
//   r = σ(W_ir x_t + b_ir + W_hr h_{prev} + b_hr),  z = σ(W_iz x_t + b_iz + W_hz h_{prev} + b_hz)
//   n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{prev} + b_hn));  h_t = (1 − z) ⊙ n + z ⊙ h_{prev}
// output[:, t] = h_t.
//
// Cost: the input projections of all steps are one GEMM (B·T, I)·(I, G·H); the recurrence is T dependent steps,
// each a (rows, H)·(H, G·H) product and the gate arithmetic, parallel over fixed blocks of the batch (each block
// runs all its steps as one task); backward is the same in reverse, and the weight gradients are one GEMM each
// over all B·T rows. Blocks depend on B only, so results are bit-identical at any thread count.
#include "framework/autograd/var.hpp"

namespace rc {

enum class RnnCell { lstm, gru };
int64_t rnn_gate_count(RnnCell cell);  // 4 or 3

// The results. They are views into one buffer of the op; gradients of any of them flow back through it.
struct RnnOutput {
  Var output;  // (B, T, H)
  Var h_last;  // (B, H)
  Var c_last;  // (B, H), LSTM only (undefined for the GRU)
};

RnnOutput lstm(const Var& x, const Var& w_ih, const Var& w_hh, const Var& b_ih, const Var& b_hh, const Var& h0 = Var(),
               const Var& c0 = Var(), bool reverse = false);
RnnOutput gru(const Var& x, const Var& w_ih, const Var& w_hh, const Var& b_ih, const Var& b_hh, const Var& h0 = Var(),
              bool reverse = false);

// Batch rows per task of the recurrence (depends on B only; exposed for tests).
int64_t rnn_rows_per_task(int64_t batch);

}  // namespace rc
