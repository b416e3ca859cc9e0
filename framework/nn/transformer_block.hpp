#pragma once
// Pre-LayerNorm Transformer block (Vaswani et al. 2017 with the norm before each branch, as in ViT):
//   h = x + drop(MHA(LN₁(x); policy))                      (multihead_attention.hpp)
//   y = h + drop(W₂ gelu(W₁ LN₂(h) + b₁) + b₂)
// x: (B, N, E) -> y: (B, N, E). The policy sets each token's neighbourhood (full, causal, window, graph, ...);
// a relative-position bias, when options.attention.bias_table > 0, is added to the scores of every head.
// With options.batch_norm the two norms are BatchNorm over the B·N tokens (per channel) instead of LayerNorm.
// Children, in registration (and initialisation) order: ln1, attn (qkv, out, rel_bias), ln2, fc1 (hidden, E),
// fc2 (E, hidden), drop. From `gen`: W_qkv, W_o, W₁ (and b₁ unless transformer_init), W₂ (and b₂).
// Residual dropout (on both branches, training only) takes its masks either from the block's own seed and a
// call counter (as nn::Dropout), or from two seeds the caller passes per forward (a model that derives every
// mask of one forward from one per-call seed).
#include <memory>
#include <optional>

#include "framework/nn/layers.hpp"
#include "framework/nn/multihead_attention.hpp"

namespace rc::nn {

struct TransformerBlockOptions {
  MultiHeadAttentionOptions attention;  // E = attention.dim, heads, bias table, attention dropout
  int64_t mlp_hidden = 0;               // W₁'s output width; 0 = 2 E
  float dropout = 0.0f;                 // residual dropout on both branches
  // fc1 and fc2: trunc_normal(std 0.02) weights and zero biases (ViT); false: PyTorch's Linear defaults
  bool transformer_init = true;
  // the two pre-branch norms: LayerNorm per token (false), or BatchNorm per channel over the batch's B·N tokens
  // (true; children bn1, bn2 in place of ln1, ln2; batch statistics in training, running ones in evaluation)
  bool batch_norm = false;
};

// Masks of one forward's two residual dropouts, given by the caller.
struct ResidualDropoutSeeds {
  uint64_t attention = 0, mlp = 0;
};

class TransformerBlock : public Module {
 public:
  // `seed` seeds the attention dropout (MHA) and, with seed + 7, the block's own residual-dropout masks.
  TransformerBlock(const TransformerBlockOptions& options, Generator& gen, uint64_t seed);
  // x: (B, N, E) -> (B, N, E). weights: optional request for the attention probabilities (attention.hpp).
  Var forward(const Var& x, const Policy& policy, AttentionWeights* weights = nullptr,
              std::optional<ResidualDropoutSeeds> seeds = std::nullopt);
  const TransformerBlockOptions& options() const { return options_; }
  const MultiHeadAttention& attention() const { return *attn_; }
  MultiHeadAttention& attention() { return *attn_; }

 private:
  TransformerBlockOptions options_;
  std::shared_ptr<LayerNorm> ln1_, ln2_;
  std::shared_ptr<BatchNorm> bn1_, bn2_;  // instead of ln1_, ln2_ with options.batch_norm
  std::shared_ptr<MultiHeadAttention> attn_;
  std::shared_ptr<Linear> fc1_, fc2_;
  std::shared_ptr<Dropout> drop_;

  Var residual_dropout(const Var& branch, std::optional<uint64_t> seed);
  Var norm(int which, const Var& x);  // ln1/bn1 (1) or ln2/bn2 (2) of x: (B, N, E)
};

}  // namespace rc::nn
