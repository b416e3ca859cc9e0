#pragma once
// Multi-head self-attention module: owns W_qkv (one fused (3E, E) projection), W_o, the optional
// relative-position bias table (H, T) and, for additive (GAT-style) scores, a_q and a_k (H, D); calls the
// attention operator with a policy.
#include <memory>
#include <optional>

#include "framework/attention/attention.hpp"
#include "framework/nn/layers.hpp"

namespace rc::nn {

struct MultiHeadAttentionOptions {
  int64_t dim = 64, heads = 4;
  ScoreKind score = ScoreKind::Dot;
  int64_t bias_table = 0;  // entries per head of the relative-position bias table (0 = none)
  BiasGrid bias_grid;      // for 2-D bias under non-window2d policies
  float attention_dropout = 0.0f;
  bool qkv_bias = true;
};

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen, uint64_t seed);
  // x: (B, N, E) -> (B, N, E). weights: optional request for the attention probabilities (see attention.hpp).
  Var forward(const Var& x, const Policy& policy, AttentionWeights* weights = nullptr);
  const MultiHeadAttentionOptions& options() const { return options_; }

 private:
  MultiHeadAttentionOptions options_;
  std::shared_ptr<Linear> qkv_, out_;
  Var rel_bias_, a_q_, a_k_;
  uint64_t seed_, calls_ = 0;
};

}  // namespace rc::nn
