#pragma once
// Shared test support for the attention tests: one case description drives the fast op and the reference.
#include <string>
#include <vector>

#include "framework/attention/attention.hpp"
#include "framework/attention/attention_ref.hpp"
#include "support/gradcheck.hpp"

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
};

struct AttnData {
  Tensor q, k, v, bias, aq, ak, dout;
};

inline AttnData make_data(const AttnCase& c, uint64_t seed) {
  AttnData d;
  Shape s{c.B, c.H, c.N, c.D};
  d.q = random_tensor(s, seed + 1);
  d.k = random_tensor(s, seed + 2);
  d.v = random_tensor(s, seed + 3);
  d.dout = random_tensor(s, seed + 4);
  if (c.bias_T) d.bias = random_tensor({c.H, c.bias_T}, seed + 5);
  if (c.score == ScoreKind::Additive) {
    d.aq = random_tensor({c.H, c.D}, seed + 6);
    d.ak = random_tensor({c.H, c.D}, seed + 7);
  }
  return d;
}

// Options without the Vars (the reference takes the tables explicitly).
inline AttentionOptions base_options(const AttnCase& c) {
  AttentionOptions o;
  o.score = c.score;
  o.scale = c.scale;
  o.bias_grid = c.grid;
  o.dropout = c.dropout;
  o.seed = 99;
  o.kernel = c.kernel;
  o.leaky_slope = 0.2f;
  return o;
}

// The inputs in the order the gradients come back: q, k, v, [a_q, a_k], [bias].
inline std::vector<Tensor> op_inputs(const AttnCase& c, const AttnData& d) {
  std::vector<Tensor> in{d.q, d.k, d.v};
  if (c.score == ScoreKind::Additive) in.push_back(d.aq), in.push_back(d.ak);
  if (c.bias_T) in.push_back(d.bias);
  return in;
}

inline OpRun run_fast(const AttnCase& c, const AttnData& d, AttentionWeights* w = nullptr) {
  return run_op(
      [&](const std::vector<Var>& v) {
        AttentionOptions o = base_options(c);
        size_t next = 3;
        if (c.score == ScoreKind::Additive) o.a_q = v[next++], o.a_k = v[next++];
        if (c.bias_T) o.rel_bias = v[next++];
        return attention(v[0], v[1], v[2], c.policy, o, w);
      },
      op_inputs(c, d), d.dout);
}

inline ref::AttentionInputs<double> ref_inputs(const AttnData& d) {
  ref::AttentionInputs<double> r;
  r.q = ref::to_ref<double>(d.q);
  r.k = ref::to_ref<double>(d.k);
  r.v = ref::to_ref<double>(d.v);
  if (d.bias.defined()) r.rel_bias = ref::to_ref<double>(d.bias);
  if (d.aq.defined()) r.a_q = ref::to_ref<double>(d.aq), r.a_k = ref::to_ref<double>(d.ak);
  return r;
}

// Reference output and gradients in op_inputs order.
inline std::vector<RefD> run_ref(const AttnCase& c, const AttnData& d) {
  auto in = ref_inputs(d);
  AttentionOptions o = base_options(c);
  std::vector<RefD> r{ref::attention(in, c.policy, o)};
  auto g = ref::attention_backward(in, c.policy, o, ref::to_ref<double>(d.dout));
  r.push_back(g.dq), r.push_back(g.dk), r.push_back(g.dv);
  if (c.score == ScoreKind::Additive) r.push_back(g.da_q), r.push_back(g.da_k);
  if (c.bias_T) r.push_back(g.drel_bias);
  return r;
}

// Fast and reference tensors agree: ||f - r|| <= rel (||f|| + ||r||) + abs sqrt(numel). The absolute part (per-entry
// rounding scale) matters only where the exact value is ~0, e.g. gradients through rows with one key, where
// ds = p (dp - sum p dp) is 0 in exact arithmetic but the float kernels leave rounding residue of ~1e-7.
inline bool close_to_ref(const Tensor& f, const RefD& r, double rel, double abs) {
  REQUIRE(f.shape() == r.shape);
  const std::vector<float> v = f.to_vector();
  double num = 0, nf = 0, nr = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    num += (v[i] - r.data[i]) * (v[i] - r.data[i]);
    nf += double(v[i]) * v[i];
    nr += r.data[i] * r.data[i];
  }
  UNSCOPED_INFO("relative error " << rel_error(f, r) << ", rms difference "
                                  << std::sqrt(num / std::max<size_t>(1, v.size())));
  return std::sqrt(num) <= rel * (std::sqrt(nf) + std::sqrt(nr)) + abs * std::sqrt(static_cast<double>(v.size()));
}

// One fast run vs the reference's output and gradients (run_ref order), each within `rel` relative error (plus
// `abs` per entry, see close_to_ref).
inline void check_against_ref(const OpRun& f, const std::vector<RefD>& r, double rel, double abs = 0) {
  const char* names[] = {"out", "dq", "dk", "dv", "g4", "g5", "g6"};
  REQUIRE(f.grads.size() + 1 == r.size());
  CHECK(close_to_ref(f.out, r[0], rel, abs));
  for (size_t i = 0; i < f.grads.size(); ++i) {
    INFO("gradient " << names[i + 1]);
    REQUIRE(f.grads[i].defined());
    CHECK(close_to_ref(f.grads[i], r[i + 1], rel, abs));
  }
}

// Fast op vs reference: output and every gradient within `tol` relative error.
inline void check_fast_vs_ref(const AttnCase& c, double tol = 2e-5, uint64_t seed = 7) {
  INFO("case " << c.name << " " << c.policy.describe() << " B=" << c.B << " H=" << c.H << " N=" << c.N << " D=" << c.D);
  AttnData d = make_data(c, seed);
  check_against_ref(run_fast(c, d), run_ref(c, d), tol);
}

}  // namespace rc::test

namespace rc::test {

// A random directed graph on n nodes with about avg_degree sorted, unique neighbours per node (no self-loops).
using Csr = rc::Csr;  // framework/core/csr.hpp
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

// A window2d on a gh × gw grid with a kh × kw kernel (dilation dh × dw, grid starting at token `first`).
inline Window2d grid(int64_t gh, int64_t gw, int64_t kh, int64_t kw, int64_t dh = 1, int64_t dw = 1, int64_t first = 0) {
  Window2d w;
  w.grid_h = gh, w.grid_w = gw, w.kernel_h = kh, w.kernel_w = kw, w.dilation_h = dh, w.dilation_w = dw;
  w.first = first;
  return w;
}

}  // namespace rc::test
