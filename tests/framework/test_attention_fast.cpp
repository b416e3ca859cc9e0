// The fast attention op (both kernels) against the dense float64 reference: output and every gradient, on
// every policy and score type, odd sizes (N not a multiple of any block), D in {1, 7, 16, 64}, 1..8 heads
// (test_attention_random.cpp draws all of these at random).
#include <cmath>

#include "attention_cases.hpp"
#include "framework/core/parallel.hpp"

using namespace rc;
using namespace rc::test;

namespace {

// A predicate with rows that have no allowed key at all (every 5th query).
bool sparse_pred(int64_t i, int64_t j) { return i % 5 != 0 && (i + 2 * j) % 3 == 0; }

std::vector<AttnCase> policy_cases() {
  static const Csr g100 = random_graph(100, 4.0, 5);
  std::vector<AttnCase> cs;
  auto add = [&](std::string name, Policy p, int64_t B, int64_t H, int64_t N, int64_t D) {
    AttnCase c;
    c.name = std::move(name);
    c.policy = std::move(p);
    c.B = B, c.H = H, c.N = N, c.D = D;
    cs.push_back(c);
  };
  add("full small", Policy::full(), 2, 3, 50, 7);
  add("full tiles", Policy::full(), 1, 2, 150, 16);
  add("full D=1", Policy::full(), 1, 8, 67, 1);
  add("causal", Policy::causal(), 2, 2, 130, 16);
  add("window1d", Policy::window1d(5, 3), 1, 8, 133, 1);
  add("window1d causal", Policy::window1d(10, 0, true), 1, 1, 90, 64);
  add("window1d wide", Policy::window1d(70, 20), 1, 2, 201, 7);
  add("window2d dilated", Policy::window2d(grid(11, 13, 3, 5, 1, 2)), 2, 2, 143, 7);
  add("window2d 7x7", Policy::window2d(grid(19, 17, 7, 7)), 1, 3, 323, 16);
  add("window2d + class token", Policy::window2d(grid(9, 10, 7, 5, 1, 1, 1)) | Policy::global(0, 1), 1, 2, 91, 16);
  add("graph", Policy::graph(g100.view(), true), 2, 4, 100, 8);
  add("graph no self loops", Policy::graph(g100.view(), false), 1, 1, 100, 64);
  add("union", Policy::window1d(2, 2) | Policy::global(0, 2), 1, 4, 77, 16);
  add("intersection", Policy::causal() & Policy::window1d(8, 8), 1, 5, 99, 7);
  add("predicate with empty rows", Policy::predicate(sparse_pred), 2, 2, 71, 16);
  return cs;
}

}  // namespace

TEST_CASE("attention: both kernels match the reference on every policy (dot scores)") {
  for (AttnCase c : policy_cases())
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
      c.kernel = k;
      check_fast_vs_ref(c);
    }
}

TEST_CASE("attention: additive (GAT) scores match the reference, including a_q and a_k gradients") {
  for (AttnCase c : policy_cases()) {
    c.score = ScoreKind::Additive;
    check_fast_vs_ref(c);
    c.kernel = AttentionKernel::Edges;
    check_fast_vs_ref(c);
  }
}

TEST_CASE("attention: relative-position bias (1-D, 2-D window, 2-D grid) and its gradient") {
  std::vector<AttnCase> cs(6);
  cs[0].name = "1-D window", cs[0].policy = Policy::window1d(6, 4), cs[0].bias_T = 13;
  cs[1].name = "1-D causal clipped", cs[1].policy = Policy::causal(), cs[1].bias_T = 9;
  cs[2].name = "2-D window2d", cs[2].policy = Policy::window2d(grid(10, 9, 3, 5, 2, 1)), cs[2].bias_T = 5 * 9;
  cs[3].name = "2-D grid full", cs[3].policy = Policy::full(), cs[3].grid = {8, 9, 1}, cs[3].bias_T = 15 * 17;
  cs[4].name = "2-D window2d + class token";
  cs[4].policy = Policy::window2d(grid(8, 9, 3, 3, 1, 1, 1)) | Policy::global(0, 1), cs[4].bias_T = 25;
  // grid rows of 21 queries: backward adds the bias gradient in runs of at most 16 consecutive pairs
  cs[5].name = "2-D grid full, rows longer than a run", cs[5].policy = Policy::full();
  cs[5].grid = {3, 21, 0}, cs[5].bias_T = 5 * 41;  // (tokens 63-72 are off the grid: no bias)
  for (AttnCase c : cs) {
    c.B = 2, c.H = 3, c.N = 73, c.D = 16;
    if (c.grid.h == 0 && c.policy.find_window2d()) c.N = c.policy.find_window2d()->first + 90;
    for (ScoreKind s : {ScoreKind::Dot, ScoreKind::Additive})
      for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
        c.score = s, c.kernel = k;
        check_fast_vs_ref(c);
      }
  }
}

// Several heads in one call add the bias from a per-head table of values cached for the call (one vector add per
// tile); one head of one item has no cache and adds it pair by pair from the indices. Both must give the same
// output to the bit: the cached value of a pair without bias is 0, and adding 0 changes no score.
TEST_CASE("attention: a cached bias gives the same output to the bit as one head at a time") {
  std::vector<AttnCase> cs(3);
  cs[0].policy = Policy::full(), cs[0].grid = {7, 7, 0}, cs[0].bias_T = 13 * 13;
  cs[1].policy = Policy::window2d(grid(7, 7, 3, 3)), cs[1].bias_T = 5 * 5;
  cs[2].policy = Policy::window2d(grid(6, 8, 3, 5, 1, 1, 1)) | Policy::global(0, 1), cs[2].bias_T = 5 * 9;
  for (AttnCase c : cs) {
    c.B = 3, c.H = 2, c.N = 49, c.D = 16, c.kernel = AttentionKernel::Tiled;
    for (ScoreKind score : {ScoreKind::Dot, ScoreKind::Additive}) {
      c.score = score;
      INFO(c.policy.describe() << " score " << int(score));
      const AttnData d = make_data(c, 31);
      AttentionOptions o = base_options(c);
      o.rel_bias = Var(d.bias);
      if (score == ScoreKind::Additive) o.a_q = Var(d.aq), o.a_k = Var(d.ak);
      NoGradGuard no_grad;
      const Tensor all = attention(Var(d.q), Var(d.k), Var(d.v), c.policy, o).value();
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t h = 0; h < c.H; ++h) {
          auto one = [&](const Tensor& t) { return t.slice(0, b, b + 1).slice(1, h, h + 1).contiguous(); };
          AttentionOptions oh = o;
          oh.rel_bias = Var(d.bias.slice(0, h, h + 1).contiguous());
          if (score == ScoreKind::Additive)
            oh.a_q = Var(d.aq.slice(0, h, h + 1).contiguous()), oh.a_k = Var(d.ak.slice(0, h, h + 1).contiguous());
          const Tensor single = attention(Var(one(d.q)), Var(one(d.k)), Var(one(d.v)), c.policy, oh).value();
          CHECK(single.to_vector() == one(all).to_vector());
        }
    }
  }
}

TEST_CASE("attention: dropout is deterministic and matches the reference's masks") {
  AttnCase c;
  c.B = 2, c.H = 2, c.N = 140, c.D = 16, c.dropout = 0.3f;
  for (Policy p : {Policy::full(), Policy::window1d(9, 9)}) {
    c.policy = p;
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
      c.kernel = k;
      check_fast_vs_ref(c);
    }
  }
}

TEST_CASE("attention: explicit scale overrides 1/sqrt(D)") {
  AttnCase c;
  c.B = 1, c.H = 2, c.N = 40, c.D = 16, c.scale = 0.7f;
  check_fast_vs_ref(c);
}

TEST_CASE("attention: a query with no allowed key gives zeros and zero gradients, not NaN") {
  AttnCase c;
  c.policy = Policy::predicate(sparse_pred);
  c.B = 1, c.H = 2, c.N = 30, c.D = 7;
  for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
    c.kernel = k;
    AttnData d = make_data(c, 3);
    OpRun r = run_fast(c, d);
    for (float x : r.out.to_vector()) REQUIRE(std::isfinite(x));
    for (const Tensor& g : r.grads)
      for (float x : g.to_vector()) REQUIRE(std::isfinite(x));
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < c.N; i += 5)
        for (int64_t e = 0; e < c.D; ++e) {
          CHECK(r.out.at({0, h, i, e}) == 0.0f);
          CHECK(r.grads[0].at({0, h, i, e}) == 0.0f);
        }
  }
}

TEST_CASE("attention: returned weights (dense rows and per-edge) match the reference, every score, bias and kernel") {
  static const Csr g = random_graph(60, 5.0, 8);
  struct PolicyBias {
    Policy policy;
    int64_t bias_T;  // for the bias runs: 1-D, or 2-D under window2d
  };
  const PolicyBias policies[] = {{Policy::window1d(4, 6), 9},
                                 {Policy::graph(g.view(), true), 11},
                                 {Policy::full(), 9},
                                 {Policy::window2d(grid(6, 10, 3, 5)), 5 * 9}};
  for (const PolicyBias& pb : policies)
    for (ScoreKind score : {ScoreKind::Dot, ScoreKind::Additive})
      for (bool bias : {false, true})
        for (AttentionKernel kernel : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
          AttnCase c;
          c.policy = pb.policy, c.B = 2, c.H = 3, c.N = 60, c.D = 8;
          c.score = score, c.bias_T = bias ? pb.bias_T : 0, c.kernel = kernel;
          INFO(c.policy.describe() << " score " << int(score) << " bias T " << c.bias_T << " kernel " << int(kernel));
          AttnData d = make_data(c, 5);
          AttentionWeights w;
          w.queries = {0, 17, 59};
          w.edges = true;
          run_fast(c, d, &w);
          RefD ref_w = ref::attention_weights(ref_inputs(d), c.policy, base_options(c));
          REQUIRE(w.dense.shape() == Shape({2, 3, 3, 60}));
          for (int64_t bh = 0; bh < 6; ++bh)
            for (int64_t a = 0; a < 3; ++a) {
              double row = 0;
              for (int64_t j = 0; j < 60; ++j) {
                const float x = w.dense.data()[(bh * 3 + a) * 60 + j];
                CHECK(x == Approx(ref_w[(bh * 60 + w.queries[a]) * 60 + j]).margin(1e-6));
                row += x;
              }
              CHECK(row == Approx(1.0).epsilon(1e-5));  // every requested query has keys here
            }
          const Neighbours& nb = w.edge_index;
          REQUIRE(w.edge_values.shape() == Shape({2, 3, nb.edges()}));
          for (int64_t bh = 0; bh < 6; ++bh)
            for (int64_t i = 0; i < 60; ++i) {
              double row = 0;
              for (int64_t e = nb.row_ptr[i]; e < nb.row_ptr[i + 1]; ++e) {
                CHECK(w.edge_values.data()[bh * nb.edges() + e] ==
                      Approx(ref_w[(bh * 60 + i) * 60 + nb.col_idx[e]]).margin(1e-6));
                row += w.edge_values.data()[bh * nb.edges() + e];
              }
              CHECK(row == Approx(1.0).epsilon(1e-5));
            }
        }
}

TEST_CASE("attention: results are identical to the bit for 1 and 2 threads") {
  static const Csr g = random_graph(300, 6.0, 9);
  std::vector<AttnCase> cs(4);
  cs[0].policy = Policy::full(), cs[0].N = 700, cs[0].D = 16;
  cs[1].policy = Policy::window2d(grid(20, 21, 5, 5)), cs[1].N = 420, cs[1].D = 8, cs[1].bias_T = 81;
  cs[2].policy = Policy::graph(g.view(), true), cs[2].N = 300, cs[2].D = 8, cs[2].score = ScoreKind::Additive;
  cs[3].policy = Policy::causal(), cs[3].N = 500, cs[3].D = 7, cs[3].B = 3, cs[3].H = 1, cs[3].dropout = 0.2f;
  for (const AttnCase& c : cs) {
    INFO(c.policy.describe());
    AttnData d = make_data(c, 11);
    set_num_threads(1);
    OpRun one = run_fast(c, d);
    set_num_threads(2);
    OpRun two = run_fast(c, d);
    set_num_threads(0);
    CHECK(max_abs_diff(one.out, ref::to_ref<double>(two.out)) == 0.0);
    CHECK(one.out.to_vector() == two.out.to_vector());
    for (size_t i = 0; i < one.grads.size(); ++i) CHECK(one.grads[i].to_vector() == two.grads[i].to_vector());
  }
}

TEST_CASE("attention: the benchmark's cases match the float64 reference (one head), with their edge counts") {
  int checked = 0;
  for (AttnCase c : bench_cases()) {
    c.B = 1, c.H = 1;  // one head: the reference is dense plain loops
    const int64_t edges = c.edges();
    if (static_cast<double>(edges) * c.D > 2e7) continue;  // dense full attention at N >= 2708: minutes in double
    INFO("bench case " << c.name << " " << c.policy.describe());
    int64_t counted = 0;
    for (int64_t i = 0; i < c.N; ++i)
      for (int64_t j = 0; j < c.N; ++j) counted += c.policy.allowed(i, j);
    CHECK(edges == counted);
    CHECK(c.flops() == (c.forward_only ? 4.0 : 12.0) * double(edges) * c.D);
    c.forward_only = false;  // the test checks the gradients too
    check_fast_vs_ref(c);
    ++checked;
  }
  CHECK(checked >= 10);
}
