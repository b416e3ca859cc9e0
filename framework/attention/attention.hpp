#pragma once
// The attention operator: one op, any receptive field (the policy).
//
// For batch b, head h and query i with neighbourhood N(i) (from the policy):
//   s_ij   = score(q_i, k_j) + bias_h(i, j)                 (score: scaled dot product or GAT additive)
//   p_ij   = exp(s_ij - lse_i),  lse_i = log sum_{j in N(i)} exp(s_ij)
//   out_i  = sum_{j in N(i)} dropout(p_ij) v_j,  dropout(p) = p * keep_ij / (1 - dropout)  (training only)
// A query with no allowed key gives out_i = 0 and zero gradients.
//
// Memory: the forward saves the output and the per-row log-sum-exp (O(B*H*N)); backward recomputes the
// probabilities tile by tile. Sparse policies cost O(edges), full attention O(N) per head beyond the inputs.
// Results are identical for any thread count.
#include <cstdint>
#include <optional>
#include <vector>

#include "framework/attention/policy.hpp"
#include "framework/attention/score.hpp"
#include "framework/autograd/var.hpp"

namespace rc {

enum class AttentionKernel { Auto, Tiled, Edges };  // Auto: Edges when the policy hints it (graph, axial), else Tiled

struct AttentionOptions {
  ScoreKind score = ScoreKind::Dot;
  std::optional<float> scale;  // Dot: defaults to 1/sqrt(D)
  float leaky_slope = 0.2f;    // Additive
  Var a_q, a_k;                // Additive: (H, D) each, receive gradients
  Var rel_bias;                // optional (H, T) relative-position bias table (indexing: see score.hpp)
  BiasGrid bias_grid;          // 2-D bias grid for non-window2d policies (h = 0: 1-D offsets)
  float dropout = 0.0f;        // attention dropout probability, applied when training
  uint64_t seed = 0;           // dropout seed (deterministic masks)
  bool training = true;
  bool check_finite = false;   // check inputs for NaN/Inf (costs a pass over them)
  AttentionKernel kernel = AttentionKernel::Auto;
};

// Optional output of the attention probabilities p_ij (before dropout), filled by attention():
//   queries non-empty -> dense: (B, H, queries.size(), N), zero where j is not allowed;
//   edges = true      -> sparse: the policy's per-query key lists (row_ptr, col_idx) and values (B, H, E).
struct AttentionWeights {
  std::vector<int64_t> queries;  // request: dense rows for these queries
  bool edges = false;            // request: per-edge weights
  Tensor dense;                  // result for `queries`
  Neighbours edge_index;         // result for `edges`
  Tensor edge_values;            // (B, H, edge_index.edges())
};

// q, k, v: (B, H, N, D); result: (B, H, N, D).
Var attention(const Var& q, const Var& k, const Var& v, const Policy& policy, const AttentionOptions& options = {},
              AttentionWeights* weights = nullptr);

}  // namespace rc
