#pragma once
// Multi-head dot-product self-attention (Vaswani et al. 2017) whose neighbourhood is a policy:
//   [q | k | v] = x W_qkvᵀ + b_qkv,  split into H heads of D = E / H channels,
//   y_h = attention(q_h, k_h, v_h; policy, relative-position bias, attention dropout)   (attention.hpp),
//   out = concat_h(y_h) W_oᵀ + b_o.
// Parameters: qkv (one fused Linear (3E, E), transformer init, bias optional), out (Linear (E, E)) and, when
// bias_table > 0, rel_bias (H, bias_table), zeros, no weight decay; its indexing follows the policy (window2d
// offsets) or bias_grid (2-D offsets on a grid for other policies), see score.hpp.
// Additive (GAT-style) scores are not offered here: GAT shares one projection for queries, keys and values and
// has no output projection, so models/gnn.cpp calls the attention operator with ScoreKind::Additive directly.
#include <memory>

#include "framework/attention/attention.hpp"
#include "framework/nn/call_counter.hpp"
#include "framework/nn/layers.hpp"

namespace rc::nn {

struct MultiHeadAttentionOptions {
  int64_t dim = 64, heads = 4;  // E and H; H must divide E
  int64_t bias_table = 0;       // entries per head of the relative-position bias table (0 = none)
  BiasGrid bias_grid;           // for 2-D bias under non-window2d policies
  float attention_dropout = 0.0f;
  bool qkv_bias = true;
};

class MultiHeadAttention : public Module, public CallCounted {
 public:
  // Draws W_qkv then W_o from gen; `seed` seeds the attention-dropout masks (one per call, from a counter).
  MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen, uint64_t seed);
  // x: (B, N, E) -> (B, N, E). weights: optional request for the attention probabilities (see attention.hpp).
  Var forward(const Var& x, const Policy& policy, AttentionWeights* weights = nullptr);
  const MultiHeadAttentionOptions& options() const { return options_; }
  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  MultiHeadAttentionOptions options_;
  std::shared_ptr<Linear> qkv_, out_;
  Var rel_bias_;
  uint64_t seed_, calls_ = 0;
};

}  // namespace rc::nn
