// Dilated 1-D windows (window1d with dilation d): keys at offsets that are multiples of d within [-left·d, right·d].
// The policy's mask, hull and neighbour lists agree with the definition; both kernels match the float64
// reference (itself checked against finite differences) on random shapes, alone and in compositions, with and
// without a relative-position bias; the bias indexes offsets in steps of d, so a dilated window is, residue class
// by residue class, an undilated window over every d-th token with the same bias table.
#include <random>

#include "attention_cases.hpp"
#include "framework/attention/policy_params.hpp"

using namespace rc;
using namespace rc::test;

namespace {

bool in_window(int64_t i, int64_t j, int64_t l, int64_t r, int64_t d) {
  const int64_t off = j - i;
  return off % d == 0 && off >= -l * d && off <= r * d;
}

// mask(), key_hull() and neighbours() of p agree with the definition of window1d(l, r, causal, d).
void check_definition(const Policy& p, int64_t l, int64_t r, bool causal, int64_t d, int64_t n) {
  INFO(p.describe() << " n=" << n);
  if (causal) r = 0;
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) all[static_cast<size_t>(j)] = j;
  std::vector<uint8_t> m(static_cast<size_t>(n * n));
  p.mask(all.data(), n, all.data(), n, m.data());
  const Neighbours nb = p.neighbours(n);
  int64_t edges = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto [lo, hi] = p.key_hull(i, i + 1, n);
    std::vector<int64_t> row;
    for (int64_t j = 0; j < n; ++j) {
      const bool want = in_window(i, j, l, r, d);
      REQUIRE(p.allowed(i, j) == want);
      REQUIRE(static_cast<bool>(m[static_cast<size_t>(i * n + j)]) == want);
      if (want) {
        REQUIRE((j >= lo && j < hi));
        row.push_back(j);
      }
    }
    edges += static_cast<int64_t>(row.size());
    REQUIRE(std::vector<int64_t>(nb.col_idx.begin() + nb.row_ptr[i], nb.col_idx.begin() + nb.row_ptr[i + 1]) == row);
  }
  CHECK(p.count_edges(n) == edges);
}

int64_t in(Generator& g, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }

}  // namespace

TEST_CASE("window1d dilation: neighbourhoods, describe, config keys and errors") {
  Generator g(5);
  for (int t = 0; t < 40; ++t) {
    const int64_t l = in(g, 0, 6), r = in(g, 0, 6), d = in(g, 1, 5), n = in(g, 1, 60);
    const bool causal = t % 3 == 0;
    check_definition(Policy::window1d(l, r, causal, d), l, r, causal, d, n);
  }
  // dilation 1 is the undilated window, described as before
  CHECK(Policy::window1d(4, 2, false, 1).describe() == "window1d(left=4, right=2, causal=false)");
  CHECK(Policy::window1d(4, 2, true, 3).describe() == "window1d(left=4, right=0, causal=true, dilation=3)");
  const Policy p = Policy::window1d(2, 1, false, 3);  // offsets -6, -3, 0, 3
  CHECK(p.allowed(10, 4));
  CHECK(!p.allowed(10, 5));
  CHECK(!p.allowed(10, 1));
  CHECK(p.allowed(10, 13));
  CHECK(!p.allowed(10, 16));
  CHECK_THROWS_WITH(Policy::window1d(2, 2, false, 0), Catch::Contains("dilation must be >= 1, got 0"));
  // config keys: policy.dilation applies to window1d
  PolicyContext ctx;
  ctx.tokens = 30, ctx.owner = "sequence_transformer";
  Params params;
  params.set("policy.kind", std::string("window1d & causal"));
  params.set("policy.radius", int64_t{3});
  params.set("policy.dilation", int64_t{4});
  CHECK(policy_from_params(params, ctx, "policy.").describe() ==
        "(window1d(left=3, right=3, causal=false, dilation=4) & causal)");
  params.set("policy.dilation", int64_t{0});
  CHECK_THROWS_WITH(policy_from_params(params, ctx, "policy."), Catch::Contains("policy.dilation = 0"));
}

TEST_CASE("window1d dilation: the relative-position bias counts offsets in steps of the dilation") {
  const Policy p = Policy::window1d(3, 2, false, 4);
  BiasIndex bi = make_bias_index(p, BiasGrid{}, 7);  // 2·max(3, 2) + 1
  CHECK(bi.index(20, 20) == 3);
  CHECK(bi.index(20, 8) == 0);    // offset -12 = -3 steps
  CHECK(bi.index(20, 28) == 5);   // +2 steps
  CHECK(bi.index(20, 21) == -1);  // not on the dilation's lattice (e.g. a global token): no bias
  CHECK_THROWS_WITH(make_bias_index(p, BiasGrid{}, 9), Catch::Contains("(2*0+1)*(2*3+1) = 7"));
  // undilated windows keep any odd table (offsets clamped to its radius)
  CHECK(make_bias_index(Policy::window1d(3, 2), BiasGrid{}, 9).index(20, 28) == 8);
}

TEST_CASE("window1d dilation: both kernels match the float64 reference on random shapes and compositions") {
  Generator g(20261130);
  for (int t = 0; t < 48; ++t) {
    AttnCase c;
    const int64_t l = in(g, 0, 7), r = in(g, 0, 7), d = in(g, 2, 9);
    const bool causal = t % 5 == 0;
    const Policy w = Policy::window1d(l, r, causal, d);
    c.N = in(g, 2, 150);
    if (c.N % 8 == 0) ++c.N;
    switch (t % 4) {
      case 0: c.name = "dilated", c.policy = w; break;
      case 1: c.name = "dilated | global", c.policy = w | Policy::global(0, 1); break;
      case 2: c.name = "dilated & causal", c.policy = w & Policy::causal(); break;
      default: c.name = "dilated | window1d(1, 1)", c.policy = w | Policy::window1d(1, 1); break;
    }
    c.B = in(g, 1, 2), c.H = in(g, 1, 4);
    const int64_t dims[] = {1, 7, 16, 64};
    c.D = dims[t % 4 == 0 ? (t / 4) % 4 : in(g, 0, 3)];
    if (t % 2 == 1) c.bias_T = 2 * std::max(l, causal ? 0 : r) + 1;
    if (t % 3 == 0) c.score = ScoreKind::Additive;
    if (t % 7 == 0) c.dropout = 0.2f;
    c.abs_tol = 1e-6;
    INFO("draw " << t << ": " << c.name << " " << c.policy.describe() << " B=" << c.B << " H=" << c.H << " N=" << c.N
                 << " D=" << c.D << " T=" << c.bias_T);
    AttnData data = make_data(c, 500 + t);
    const std::vector<RefD> ref = run_ref(c, data);
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges, AttentionKernel::Auto}) {
      INFO("kernel " << int(k));
      c.kernel = k;
      check_against_ref(run_fast(c, data), ref, c.rel_tol, c.abs_tol);
    }
  }
}

TEST_CASE("window1d dilation: the float64 reference's gradients match finite differences") {
  std::vector<AttnCase> cs(4);
  cs[0].name = "dilated", cs[0].policy = Policy::window1d(2, 3, false, 3);
  cs[1].name = "dilated + bias", cs[1].policy = Policy::window1d(2, 1, false, 2), cs[1].bias_T = 5;
  cs[2].name = "dilated causal | global + bias", cs[2].policy = Policy::window1d(3, 3, true, 4) | Policy::global(0, 1);
  cs[2].bias_T = 7;
  cs[3].name = "additive dilated + bias", cs[3].policy = Policy::window1d(1, 2, false, 5), cs[3].bias_T = 5;
  cs[3].score = ScoreKind::Additive;
  for (AttnCase& c : cs) {
    c.B = 2, c.H = 2, c.N = 23, c.D = 5;
    INFO(c.name);
    CHECK(reference_fd_error(c) < 1e-6);
  }
}

TEST_CASE("window1d dilation: each residue class is an undilated window over every d-th token, same bias") {
  const int64_t B = 2, H = 3, N = 61, D = 8, d = 4, l = 3, r = 2, T = 2 * 3 + 1;
  AttnCase c;
  c.B = B, c.H = H, c.N = N, c.D = D, c.bias_T = T, c.policy = Policy::window1d(l, r, false, d);
  AttnData data = make_data(c, 77);
  NoGradGuard no_grad;
  AttentionOptions o = base_options(c);
  o.rel_bias = Var(data.bias);
  const Tensor whole = attention(Var(data.q), Var(data.k), Var(data.v), c.policy, o).value();
  for (int64_t res = 0; res < d; ++res) {
    const int64_t n = (N - res + d - 1) / d;
    auto gather = [&](const Tensor& x) {  // rows res, res + d, ... of (B, H, N, D)
      Tensor y = Tensor::empty({B, H, n, D});
      for (int64_t bh = 0; bh < B * H; ++bh)
        for (int64_t p = 0; p < n; ++p)
          std::copy_n(x.data() + (bh * N + res + p * d) * D, D, y.data() + (bh * n + p) * D);
      return y;
    };
    const Tensor part = attention(Var(gather(data.q)), Var(gather(data.k)), Var(gather(data.v)),
                                  Policy::window1d(l, r), o).value();
    INFO("residue " << res);
    CHECK(rel_error(part.to_vector(), gather(whole).to_vector()) < 1e-6);
  }
}
