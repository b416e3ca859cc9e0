// The axial policy (framework/attention/policies/axial.cpp): its neighbourhood, its agreement with an equivalent
// composition, both kernels against the float64 reference on random shapes, and finite differences (the reference
// in double, the float op along random directions).
#include <cmath>
#include <set>

#include "attention_cases.hpp"
#include "framework/attention/policies/axial.hpp"
#include "framework/attention/policy_params.hpp"

using namespace rc;
using namespace rc::test;

TEST_CASE("axial: query (r, c) sees row r and column c of the grid, and mask, hull and key lists agree") {
  const int64_t gh = 4, gw = 5, first = 2, n = first + gh * gw + 3;  // two tokens before the grid, three after
  const Policy p = axial_policy(gh, gw, first);
  std::vector<int64_t> all(n);
  for (int64_t j = 0; j < n; ++j) all[j] = j;
  std::vector<uint8_t> m(static_cast<size_t>(n * n));
  p.mask(all.data(), n, all.data(), n, m.data());
  const Neighbours nb = p.neighbours(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t a = i - first;
    const bool on = a >= 0 && a < gh * gw;
    std::vector<int64_t> row;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t b = j - first;
      const bool expect = on && b >= 0 && b < gh * gw && (a / gw == b / gw || a % gw == b % gw);
      REQUIRE(p.allowed(i, j) == expect);
      REQUIRE(static_cast<bool>(m[i * n + j]) == expect);
      if (expect) row.push_back(j);
    }
    CHECK(static_cast<int64_t>(row.size()) == (on ? gh + gw - 1 : 0));
    REQUIRE(std::vector<int64_t>(nb.col_idx.begin() + nb.row_ptr[i], nb.col_idx.begin() + nb.row_ptr[i + 1]) == row);
    for (int64_t q1 = i + 1; q1 <= std::min(n, i + 9); ++q1) {  // block hulls hold every key of their queries
      auto [lo, hi] = p.key_hull(i, q1, n);
      for (int64_t q = i; q < q1; ++q)
        for (int64_t j = 0; j < n; ++j)
          if (p.allowed(q, j)) REQUIRE((j >= lo && j < hi));
    }
  }
  CHECK(p.count_edges(n) == gh * gw * (gh + gw - 1));
  CHECK(p.describe() == "axial(grid=4x5, first=2)");
  CHECK_THROWS_WITH(axial_policy(0, 3), "axial policy: grid must be positive, got 0x3");
  CHECK_THROWS_WITH(p.validate(20), Catch::Contains("axial grid 4x5 starting at token 2 needs 22 tokens"));
}

TEST_CASE("axial: equals the union of a full-row and a full-column window2d, with the same 2-D bias") {
  const int64_t gh = 5, gw = 7;
  AttnCase a;
  a.policy = axial_policy(gh, gw);
  a.B = 2, a.H = 3, a.N = gh * gw, a.D = 8;
  a.bias_T = (2 * gh - 1) * (2 * gw - 1);
  AttnCase u = a;
  u.policy = Policy::window2d(grid(gh, gw, 1, gw)) | Policy::window2d(grid(gh, gw, gh, 1));
  for (int64_t i = 0; i < a.N; ++i)
    for (int64_t j = 0; j < a.N; ++j) REQUIRE(a.policy.allowed(i, j) == u.policy.allowed(i, j));
  REQUIRE(u.policy.grid_offsets().has_value());
  CHECK(u.policy.grid_offsets()->radius_h == gh - 1);
  CHECK(u.policy.grid_offsets()->radius_w == gw - 1);
  const AttnData d = make_data(a, 5);
  const std::vector<RefD> ra = run_ref(a, d), ru = run_ref(u, d);
  for (size_t t = 0; t < ra.size(); ++t)
    for (int64_t e = 0; e < ra[t].numel(); ++e) REQUIRE(ra[t][e] == Approx(ru[t][e]).margin(1e-12));
  for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
    a.kernel = u.kernel = k;
    check_against_ref(run_fast(a, d), ra, a.rel_tol);
    check_against_ref(run_fast(u, d), ra, u.rel_tol);
  }
}

TEST_CASE("axial: both kernels match the float64 reference on random shapes, scores, biases and class tokens") {
  Generator gen(4242);
  auto in = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); };
  const int64_t dims[] = {1, 7, 16, 64};
  std::set<int64_t> seen_d;
  for (int t = 0; t < 24; ++t) {
    AttnCase c;
    const int64_t gh = in(1, 9), gw = in(1, 11), first = in(0, 2);
    c.policy = axial_policy(gh, gw, first);
    if (first > 0 && t % 2) c.policy = c.policy | Policy::global(0, first);  // class tokens
    c.N = first + gh * gw + in(0, 3);
    c.B = in(1, 2), c.H = in(1, 8), c.D = dims[t % 4];
    c.score = t % 3 == 0 ? ScoreKind::Additive : ScoreKind::Dot;
    if (t % 4 >= 2) c.bias_T = (2 * gh - 1) * (2 * gw - 1);  // 2-D offsets on the axial grid
    if (t % 5 == 0) c.dropout = 0.2f;
    c.abs_tol = 1e-6;  // rows with one key: see close_to_ref
    seen_d.insert(c.D);
    INFO("draw " << t << ": " << c.policy.describe() << " B=" << c.B << " H=" << c.H << " N=" << c.N << " D=" << c.D
                 << " score " << int(c.score) << " T=" << c.bias_T << " dropout " << c.dropout);
    const AttnData d = make_data(c, 300 + t);
    const std::vector<RefD> ref = run_ref(c, d);
    for (AttentionKernel k : {AttentionKernel::Auto, AttentionKernel::Tiled, AttentionKernel::Edges}) {
      c.kernel = k;
      check_against_ref(run_fast(c, d), ref, c.rel_tol, c.abs_tol);
    }
  }
  CHECK(seen_d.size() == 4);
}

TEST_CASE("axial: the reference passes finite differences in double, and the float op along random directions") {
  AttnCase c;
  c.policy = axial_policy(3, 4, 1) | Policy::global(0, 1);
  c.B = 2, c.H = 2, c.N = 14, c.D = 3, c.bias_T = 5 * 7;
  CHECK(reference_fd_error(c) < 1e-6);
  c.score = ScoreKind::Additive;
  CHECK(reference_fd_error(c) < 1e-6);
  // the float op: (L(x + hU) - L(x - hU)) / 2h against <dL/dx, U>, L = sum(out * dout) in double (dot scores, both
  // kernels; test_attention_fd.cpp explains the step and the tolerance)
  c.score = ScoreKind::Dot;
  for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
    c.kernel = k;
    const AttnData d = make_data(c, 77);
    const std::vector<Tensor> x = op_inputs(c, d);
    const OpRun analytic = run_fast(c, d);
    auto loss = [&](const std::vector<Tensor>& in) {
      NoGradGuard no_grad;
      AttentionOptions o = base_options(c);
      o.rel_bias = Var(in[3]);
      const Tensor out = attention(Var(in[0]), Var(in[1]), Var(in[2]), c.policy, o).value();
      double s = 0;
      for (int64_t i = 0; i < out.numel(); ++i) s += double(out.data()[i]) * d.dout.data()[i];
      return s;
    };
    const double h = 1e-2;
    for (size_t a = 0; a < x.size(); ++a) {
      INFO("kernel " << int(k) << " input " << a);
      const Tensor dir = random_tensor(x[a].shape(), 900 + a);
      std::vector<Tensor> plus = x, minus = x;
      plus[a] = x[a].clone(), minus[a] = x[a].clone();
      double directional = 0;
      for (int64_t i = 0; i < dir.numel(); ++i) {
        plus[a].data()[i] = static_cast<float>(x[a].data()[i] + h * dir.data()[i]);
        minus[a].data()[i] = static_cast<float>(x[a].data()[i] - h * dir.data()[i]);
        directional += double(analytic.grads[a].data()[i]) * (double(plus[a].data()[i]) - minus[a].data()[i]);
      }
      directional /= 2 * h;
      const double numeric = (loss(plus) - loss(minus)) / (2 * h);
      INFO("numeric " << numeric << " analytic " << directional);
      REQUIRE(std::fabs(numeric) > 1e-3);
      CHECK(std::fabs(numeric - directional) <= 5e-3 * (std::fabs(numeric) + std::fabs(directional)) + 1e-4);
    }
  }
}

TEST_CASE("axial: reachable from policy_from_params, with a class token joined as a global token") {
  Params p;
  p.set("policy.kind", std::string("axial"));
  PolicyContext ctx;
  ctx.grid_h = 3, ctx.grid_w = 4, ctx.first = 1, ctx.tokens = 13;
  CHECK(policy_from_params(p, ctx, "policy.").describe() == "(axial(grid=3x4, first=1) | global(first=0, count=1))");
  ctx.grid_h = ctx.grid_w = 0;
  CHECK_THROWS_WITH(policy_from_params(p, ctx, "policy."), Catch::Contains("axial needs a token grid"));
}
