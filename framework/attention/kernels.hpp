#pragma once
// Internal interface between attention() and its two float kernels:
//   tiled: query block x key tile small GEMMs with an online softmax (full, causal, windows, compositions);
//   edges: a CSR gather over per-query key lists (graphs and other very sparse policies).
// Both compute the formula of attention.hpp on packed (B, H, N, D) buffers. Additive scores arrive as the
// per-token terms eq = a_q[h] . q_i and ek = a_k[h] . k_j (the wrapper turns deq/dek into dq, dk, da_q, da_k).
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "framework/attention/policy.hpp"
#include "framework/attention/score.hpp"

namespace rc::attn {

struct Problem {
  int64_t B = 0, H = 0, N = 0, D = 0;
  const float *q = nullptr, *k = nullptr, *v = nullptr;  // (B, H, N, D)
  ScoreKind score = ScoreKind::Dot;
  float scale = 1.0f, slope = 0.2f;
  const float *eq = nullptr, *ek = nullptr;  // additive: (B, H, N)
  const float* bias = nullptr;                // (H, T) or null
  BiasIndex bias_index;
  float dropout = 0.0f;  // > 0: active
  uint64_t seed = 0;
  const Policy* policy = nullptr;

  int64_t bh_offset(int64_t bh) const { return bh * N * D; }  // first element of head bh in (B, H, N, D)

  // The score of one pair with its bias (masking is the caller's business).
  float pair_score(int64_t bh, int64_t i, int64_t j) const {
    float s;
    if (score == ScoreKind::Dot) {
      const float *a = q + (bh * N + i) * D, *b = k + (bh * N + j) * D;
      float acc = 0;
      for (int64_t d = 0; d < D; ++d) acc += a[d] * b[d];
      s = scale * acc;
    } else {
      float pre = eq[bh * N + i] + ek[bh * N + j];
      s = pre > 0 ? pre : slope * pre;
    }
    if (bias) {
      int64_t t = bias_index.index(i, j);
      if (t >= 0) s += bias[(bh % H) * bias_index.table_size + t];
    }
    return s;
  }
  // The factor dropout applies to p_ij: 1 without dropout, else keep ? 1/(1-p) : 0.
  float keep_factor(int64_t bh, int64_t i, int64_t j) const {
    if (dropout <= 0) return 1.0f;
    return dropout_keep(seed, bh, i, j, N, dropout) ? 1.0f / (1.0f - dropout) : 0.0f;
  }
};

// Gradient outputs. Dot scores fill dq, dk; additive scores fill deq, dek (B, H, N). The kernels write every row
// of dk, dv, dek, and of dq for the queries in the plan (tiled) or every row (edges); the caller zero-fills dq for
// a tiled plan that does not cover every query, deq and dbias.
struct Grads {
  float *dq = nullptr, *dk = nullptr, *dv = nullptr;
  float* dbias = nullptr;  // (H, T) when the problem has a bias
  float *deq = nullptr, *dek = nullptr;
};

// The tiled kernel's plan for a policy and length: query blocks, their non-empty key tiles and (within a memory
// budget) the masks of partial tiles. Built once per forward and reused by the backward.
struct TiledPlan;
std::shared_ptr<const TiledPlan> make_tiled_plan(const Policy& policy, int64_t n);
// True when every query is in a block: the tiled kernels then write every row of out and dq (no zero-fill needed).
bool tiled_writes_every_row(const TiledPlan& plan);

// out: (B, H, N, D) zero-filled; row_lse: (B, H, N) receives log-sum-exp (-inf for rows without keys).
void tiled_forward(const Problem& p, const TiledPlan& plan, float* out, float* row_lse);
void tiled_backward(const Problem& p, const TiledPlan& plan, const float* out, const float* row_lse, const float* dout, const Grads& g);
// The edge kernel's lists: per-query keys (CSR) and their transpose (for key j, its edges in query order).
struct EdgeLists {
  Neighbours rows;
  std::vector<int64_t> t_ptr, t_edge, t_row;  // t_ptr: N + 1; t_edge, t_row: edges
  std::vector<int64_t> e_row;                 // the query of each edge
};
std::shared_ptr<const EdgeLists> make_edge_lists(const Policy& policy, int64_t n);

// probs: (B, H, E) receives p_e = softmax weight of edge e (before dropout), followed, when dropout is active, by
// another (B, H, E) of the edges' dropout factors; backward reads both instead of recomputing scores and hashes.
void edges_forward(const Problem& p, const EdgeLists& el, float* out, float* row_lse, float* probs);
void edges_backward(const Problem& p, const EdgeLists& el, const float* out, const float* probs, const float* dout,
                    const Grads& g);

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Grows a per-thread scratch vector to at least n elements (never shrinks) and returns its data.
template <class V>
auto* sized(V& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

}  // namespace rc::attn
