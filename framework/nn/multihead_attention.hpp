#pragma once
// Multi-head dot-product self-attention (Vaswani et al. 2017) whose neighbourhood is a policy:
//   [q | k | v] = x W_qkvᵀ + b_qkv,  split into H heads of D = E / H channels,
//   y_h = attention(q_h, k_h, v_h; policy, relative-position bias, attention dropout)   (attention.hpp),
//   out = concat_h(y_h) W_oᵀ + b_o.
// Parameters: qkv (one fused Linear (3E, E), transformer init, bias optional), out (Linear (E, E)) and, when
// bias_table > 0, rel_bias (H, bias_table), zeros, no weight decay; its indexing follows the policy (window2d
// offsets) or bias_grid (2-D offsets on a grid for other policies), see score.hpp.
// Learnable locality (options.locality, ops/locality.hpp): the bias table is not a free parameter but a Gaussian
// per head over the table's 2-D offsets, b_h(Δ) = −softplus(α_h)‖Δ − μ_h‖² (Cordonnier et al. 2020), with
// parameters locality_alpha (H) and locality_mu (H, 2) (no weight decay). Additive: the bias is added to the
// content scores. Gated (ConViT's GPSA): out = (1 − g_h)·attn(q, k, v) + g_h·attn(0, 0, v; bias) with
// g_h = sigmoid(locality_gate_h), the positional attention being softmax over the bias alone. Needs a 2-D table
// (bias_table and bias_grid, or a window2d policy). Initialised local: widths `init_width` (grid cells) and
// centres spread over the neighbouring offsets as in ConViT (a ceil(√H)-sided lattice of step `init_spread`
// centred at 0: 4 heads -> (±½, ±½)·spread).
// Additive (GAT-style) scores are not offered here: GAT shares one projection for queries, keys and values and
// has no output projection, so models/gnn.cpp calls the attention operator with ScoreKind::Additive directly.
#include <array>
#include <memory>
#include <vector>

#include "framework/attention/attention.hpp"
#include "framework/nn/call_counter.hpp"
#include "framework/nn/layers.hpp"

namespace rc::nn {

enum class Locality { None, Additive, Gated };

struct LocalityOptions {
  Locality mode = Locality::None;
  double init_width = 0.7;   // initial σ_h = 1/sqrt(2 softplus(α_h)) in grid cells
  double init_spread = 1.0;  // step of the lattice of initial centres μ_h
  double init_gate = 1.0;    // Gated: initial λ_h (sigmoid(1) = 0.73 positional)
};

// The learned receptive field of a locality layer, per head (empty vectors without locality).
struct LocalityState {
  std::vector<double> width;                  // σ_h
  std::vector<std::array<double, 2>> centre;  // μ_h (rows, columns)
  std::vector<double> gate;                   // Gated: sigmoid(λ_h)
};

// The initial centres μ (H, 2): ConViT's lattice (see above).
Tensor locality_initial_centres(int64_t heads, double spread);

struct MultiHeadAttentionOptions {
  int64_t dim = 64, heads = 4;  // E and H; H must divide E
  int64_t bias_table = 0;       // entries per head of the relative-position bias table (0 = none)
  BiasGrid bias_grid;           // for 2-D bias under non-window2d policies
  float attention_dropout = 0.0f;
  bool qkv_bias = true;
  LocalityOptions locality;     // learnable-locality bias instead of a free table (needs a 2-D bias table)
};

class MultiHeadAttention : public Module, public CallCounted {
 public:
  // Draws W_qkv then W_o from gen; `seed` seeds the attention-dropout masks (one per call, from a counter).
  MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen, uint64_t seed);
  // x: (B, N, E) -> (B, N, E). weights: optional request for the attention probabilities (see attention.hpp).
  Var forward(const Var& x, const Policy& policy, AttentionWeights* weights = nullptr);
  const MultiHeadAttentionOptions& options() const { return options_; }
  LocalityState locality_state() const;
  // The dropout-mask call counter: a diagnostic forward saves and restores it, so it leaves training unchanged.
  uint64_t calls() const { return calls_; }
  void set_calls(uint64_t calls) { calls_ = calls; }
  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  MultiHeadAttentionOptions options_;
  std::shared_ptr<Linear> qkv_, out_;
  Var rel_bias_;
  Var loc_alpha_, loc_mu_, loc_gate_;  // learnable locality

  Var locality_table(const Policy& policy) const;
  Var gated_forward(const Var& q, const Var& k, const Var& v, const Policy& policy, AttentionOptions ao,
                    AttentionWeights* weights);
  uint64_t seed_, calls_ = 0;
};

}  // namespace rc::nn
