#pragma once
// The recurrence of the LSTM and GRU ops (rnn.hpp) on one block of batch rows: forward through all steps and
// backward through time. Each call is one task; blocks of rows are independent, so the caller runs them in
// parallel. Layouts are batch first and packed: row (b, t) of a (B, T, n) buffer starts at (b·T + t)·n.
#include <cstdint>

#include "framework/ops/rnn.hpp"

namespace rc::rnn_detail {

struct Dims {
  RnnCell cell;
  int64_t B, T, I, H, G;
  bool reverse;
  int64_t time(int64_t step) const { return reverse ? T - 1 - step : step; }  // step s runs at time t
};

struct ForwardBuffers {
  const float* w_hh;  // (G·H, H)
  const float* b_hh;  // GRU: (G·H) or nullptr (the LSTM's b_hh is folded into the input projections)
  const float* h0;    // (B, H), zeros when the op has no h0
  const float* c0;    // LSTM (B, H), zeros when the op has no c0
  float* gates;       // (B, T, G·H) in: W_ih x_t + biases; out: the activated gates (i, f, g, o or r, z, n)
  float* aux;         // (B, T, H) out: LSTM c_t; GRU W_hn h_prev + b_hn
  float* y;           // (B, T, H) out: h_t
};

// Runs all T steps for batch rows [b0, b1).
void forward_rows(const Dims& d, const ForwardBuffers& f, int64_t b0, int64_t b1);

struct BackwardBuffers {
  const float* w_hh;     // (G·H, H)
  const float* h0;       // (B, H)
  const float* c0;       // LSTM (B, H)
  const float* y;        // (B, T, H)
  const float* dy;       // (B, T, H)
  const float* dh_last;  // (B, H)
  const float* dc_last;  // LSTM (B, H)
  float* gates;          // in: activated gates; out: gradients of the hidden-side pre-activations W_hh h_prev + b_hh
                         // (for the LSTM also those of the input side; for the GRU those of r and z)
  float* aux;            // in: LSTM c_t / GRU W_hn h_prev + b_hn; out: GRU the gradient of W_in x_t + b_in
  float* dh0;            // (B, H) out
  float* dc0;            // LSTM (B, H) out
};

// Backpropagation through time for batch rows [b0, b1).
void backward_rows(const Dims& d, const BackwardBuffers& b, int64_t b0, int64_t b1);

}  // namespace rc::rnn_detail
