#pragma once
// One description of an attention case, shared by the tests (tests/framework/attention_cases.hpp adds the runners)
// and the benchmark (bench/bench_attention.cpp): shape, policy and score options, the tolerance of the fast op
// against the float64 reference, and the edge and FLOP counts, which come from the policy itself
// (Policy::count_edges). No Catch here, so the benchmark can include it.
#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "framework/attention/attention.hpp"
#include "framework/attention/policies/axial.hpp"
#include "framework/core/random.hpp"

namespace rc::test {

struct AttnCase {
  std::string name;
  Policy policy = Policy::full();
  int64_t B = 1, H = 1, N = 8, D = 4;
  ScoreKind score = ScoreKind::Dot;
  int64_t bias_T = 0;  // entries per head of a relative-position bias table (0: none)
  BiasGrid grid;
  float dropout = 0.0f;
  AttentionKernel kernel = AttentionKernel::Auto;
  std::optional<float> scale;
  bool forward_only = false;  // inference: no autograd graph, no backward (benchmarks)
  // fast op vs float64 reference, output and every gradient: ||f - r|| <= rel (||f|| + ||r||) + abs sqrt(numel)
  double rel_tol = 2e-5, abs_tol = 0;

  int64_t edges() const { return policy.count_edges(N); }  // allowed pairs (i, j) per head
  // The useful work: per edge and head dim, QK^T and PV forward (4 flops), dV, dP, dQ, dK backward (8 more);
  // the backward's recomputation of the probabilities is not counted.
  double flops() const { return (forward_only ? 4.0 : 12.0) * static_cast<double>(edges()) * D * B * H; }
  // The float64 reference's work in the same units (dense: every pair of every row is scored, then masked).
  double reference_pairs() const { return static_cast<double>(N) * N * B * H; }
};

using Csr = rc::Csr;  // the framework's one CSR adjacency (framework/core/csr.hpp)

// A random directed graph on n nodes with about avg_degree sorted, unique neighbours per node (no self-loops).
inline Csr random_graph(int64_t n, double avg_degree, uint64_t seed) {
  Generator gen(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Csr g;
  g.n = n;
  g.row_ptr.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      if (j != i && u(gen) < avg_degree / n) g.col_idx.push_back(j);
    g.row_ptr.push_back(static_cast<int64_t>(g.col_idx.size()));
  }
  return g;
}

// A random undirected graph with Cora's size: 2708 nodes, 13264 directed edges including one self-loop per node
// (the self-loops come from the policy), with skewed degrees.
inline const Csr& cora_like_graph() {
  static const Csr g = [] {
    const int64_t n = 2708, target = 13264 - n;
    std::mt19937_64 gen(7);
    std::vector<std::vector<int64_t>> adj(n);
    int64_t edges = 0;
    std::uniform_int_distribution<int64_t> node(0, n - 1);
    std::geometric_distribution<int> extra(0.5);
    while (edges < target) {  // undirected pairs, skewed degrees via preferential-ish repeats
      int64_t a = node(gen), reps = 1 + extra(gen);
      for (int r = 0; r < reps && edges < target; ++r) {
        int64_t b = node(gen);
        if (a == b || std::find(adj[a].begin(), adj[a].end(), b) != adj[a].end()) continue;
        adj[a].push_back(b);
        adj[b].push_back(a);
        edges += 2;
      }
    }
    Csr c;
    c.n = n;
    c.row_ptr.assign(1, 0);
    for (auto& r : adj) {
      std::sort(r.begin(), r.end());
      c.col_idx.insert(c.col_idx.end(), r.begin(), r.end());
      c.row_ptr.push_back(static_cast<int64_t>(c.col_idx.size()));
    }
    return c;
  }();
  return g;
}

// A window2d on a gh × gw grid with a kh × kw kernel (dilation dh × dw, grid starting at token `first`).
inline Window2d grid(int64_t gh, int64_t gw, int64_t kh, int64_t kw, int64_t dh = 1, int64_t dw = 1, int64_t first = 0) {
  Window2d w;
  w.grid_h = gh, w.grid_w = gw, w.kernel_h = kh, w.kernel_w = kw, w.dilation_h = dh, w.dilation_w = dw;
  w.first = first;
  return w;
}

// The benchmark's cases (bench_attention times each, fast kernel and float64 reference; test_attention_cases
// checks each against the reference where that fits a test's time).
inline std::vector<AttnCase> bench_cases() {
  std::vector<AttnCase> cs;
  auto add = [&](std::string name, Policy p, int64_t B, int64_t H, int64_t N, int64_t D) -> AttnCase& {
    AttnCase c;
    c.name = std::move(name);
    c.policy = std::move(p);
    c.B = B, c.H = H, c.N = N, c.D = D;
    cs.push_back(c);
    return cs.back();
  };
  const Policy cora = Policy::graph(cora_like_graph().view(), true);
  add("case1_full_B128_N50", Policy::full(), 128, 4, 50, 16);
  // The patch-attention classifiers' layer (7×7 patches of a 28×28 image, mean pooling, dim 64 in 4 heads) with
  // its learned relative-position bias (13×13 offsets), under full attention and under a 3×3 window.
  AttnCase& vit_bias = add("case1_full_bias_B128_N49", Policy::full(), 128, 4, 49, 16);
  vit_bias.grid.h = vit_bias.grid.w = 7, vit_bias.bias_T = 13 * 13;
  add("case1_window2d_k3_bias_B128_N49", Policy::window2d(grid(7, 7, 3, 3)), 128, 4, 49, 16).bias_T = 5 * 5;
  // The first stage of the hierarchical patch-attention models (merge_after; 2×2-pixel patches, a 14×14 grid, width
  // 32 in 4 heads of 8): full attention with a bias over the grid's 27×27 offsets (the learnable-locality model),
  // and a 3×3 window with its 5×5 relative bias.
  AttnCase& hier_bias = add("hier_full_bias_B128_N196_D8", Policy::full(), 128, 4, 196, 8);
  hier_bias.grid.h = hier_bias.grid.w = 14, hier_bias.bias_T = 27 * 27;
  add("hier_window2d_k3_bias_B128_N196_D8", Policy::window2d(grid(14, 14, 3, 3)), 128, 4, 196, 8).bias_T = 5 * 5;
  add("case2_full_N4096", Policy::full(), 1, 4, 4096, 32);
  add("case3_window1d_r64_N4096", Policy::window1d(64, 64), 1, 4, 4096, 32);
  add("case4_window2d_56x56_k7", Policy::window2d(grid(56, 56, 7, 7)), 1, 4, 3136, 32);
  // The full-attention graph Transformer layer on Cora (all 2708 nodes, hidden 64 in 4 heads), without and with
  // its attention dropout 0.1: what the dropout mask costs on the tiled kernel.
  add("cora_full_H4_D16", Policy::full(), 1, 4, 2708, 16);
  add("cora_full_H4_D16_dropout", Policy::full(), 1, 4, 2708, 16).dropout = 0.1f;
  add("case5_cora_dot", cora, 1, 8, 2708, 8);
  add("case5_cora_additive", cora, 1, 8, 2708, 8).score = ScoreKind::Additive;
  AttnCase& gat = add("case5_cora_additive_dropout", cora, 1, 8, 2708, 8);  // the GAT layer as trained
  gat.score = ScoreKind::Additive, gat.dropout = 0.6f;
  AttnCase& out = add("case5_cora_gat_output_layer", cora, 1, 1, 2708, 7);  // GAT's second layer: 7 classes
  out.score = ScoreKind::Additive, out.dropout = 0.6f;
  add("case5_cora_dot_forward", cora, 1, 8, 2708, 8).forward_only = true;
  AttnCase& af = add("case5_cora_additive_forward", cora, 1, 8, 2708, 8);
  af.score = ScoreKind::Additive, af.forward_only = true;
  add("axial_56x56", axial_policy(56, 56), 1, 4, 3136, 32);
  return cs;
}

}  // namespace rc::test
