#pragma once
// Multi-layer, optionally bidirectional LSTM and GRU modules over the recurrent ops (framework/ops/rnn.hpp),
// with torch.nn.LSTM / torch.nn.GRU's parameters (batch_first = True):
//   weight_ih_l{k}[_reverse] (G·H, I_k), weight_hh_l{k}[_reverse] (G·H, H), bias_ih_l{k}[_reverse] (G·H),
//   bias_hh_l{k}[_reverse] (G·H); I_0 = input_size, I_k = D·H above (D = 2 when bidirectional, else 1);
//   registered in PyTorch's order (layer by layer, the forward direction before the reverse one, and within
//   one: weight_ih, weight_hh, bias_ih, bias_hh), each drawn from U(−1/√H, 1/√H) in that order, as PyTorch does.
// Layer k reads the output of layer k − 1; a bidirectional layer's output is the forward direction's output
// and the reverse direction's output concatenated along the features. With dropout p > 0, in training mode each
// layer's output except the last one's goes through dropout (PyTorch's `dropout` argument); the masks come from
// the module's seed and a call counter, so a run is reproducible from its seed.
#include <vector>

#include "framework/core/random.hpp"
#include "framework/nn/call_counter.hpp"
#include "framework/nn/module.hpp"
#include "framework/ops/rnn.hpp"

namespace rc::nn {

struct RecurrentOptions {
  int64_t layers = 1;  // >= 1
  bool bidirectional = false;
  bool bias = true;
  float dropout = 0.0f;  // in [0, 1): between layers, training mode only
  uint64_t seed = 0;     // of the dropout masks
};

struct RecurrentOutput {
  Var output;  // (B, T, D·H): the last layer's states
  Var h_n;     // (layers·D, B, H): each layer's and direction's last state (index k·D + direction), as PyTorch
  Var c_n;     // (layers·D, B, H): the LSTM's last cell states (undefined for the GRU)
};

class Recurrent : public Module, public CallCounted {
 public:
  Recurrent(RnnCell cell, int64_t input_size, int64_t hidden_size, Generator& gen, const RecurrentOptions& options);
  // x: (B, T, input_size); h0 and c0 (LSTM only): (layers·D, B, H) or undefined for zeros.
  RecurrentOutput forward(const Var& x, const Var& h0 = Var(), const Var& c0 = Var()) const;

  RnnCell cell() const { return cell_; }
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  int64_t layers() const { return options_.layers; }
  int64_t directions() const { return options_.bidirectional ? 2 : 1; }
  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  struct Weights {
    Var w_ih, w_hh, b_ih, b_hh;
  };
  RnnCell cell_;
  int64_t input_size_, hidden_size_;
  RecurrentOptions options_;
  std::vector<Weights> weights_;  // index layer·D + direction
  mutable uint64_t calls_ = 0;    // forward calls that drew dropout masks
  const char* name() const { return cell_ == RnnCell::lstm ? "LSTM" : "GRU"; }
  void check_state(const Var& s, const char* arg, int64_t B) const;
};

class LSTM : public Recurrent {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, Generator& gen, const RecurrentOptions& options = {})
      : Recurrent(RnnCell::lstm, input_size, hidden_size, gen, options) {}
};

class GRU : public Recurrent {
 public:
  GRU(int64_t input_size, int64_t hidden_size, Generator& gen, const RecurrentOptions& options = {})
      : Recurrent(RnnCell::gru, input_size, hidden_size, gen, options) {}
};

}  // namespace rc::nn
