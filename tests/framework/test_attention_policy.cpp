// Policies on their own (neighbourhoods, masks, hulls, CSR lists) and bad input to policies and attention().
#include <atomic>
#include <cmath>
#include <limits>

#include "attention_cases.hpp"
#include "framework/attention/policy_params.hpp"

using namespace rc;
using namespace rc::test;

namespace {
// mask(), key_hull() and neighbours() must all agree with allowed().
void check_consistent(const Policy& p, int64_t n) {
  INFO(p.describe());
  std::vector<int64_t> all(n);
  for (int64_t j = 0; j < n; ++j) all[j] = j;
  std::vector<uint8_t> m(static_cast<size_t>(n * n));
  p.mask(all.data(), n, all.data(), n, m.data());
  Neighbours nb = p.neighbours(n);
  for (int64_t i = 0; i < n; ++i) {
    auto [lo, hi] = p.key_hull(i, i + 1, n);
    std::vector<int64_t> row;
    for (int64_t j = 0; j < n; ++j) {
      bool a = p.allowed(i, j);
      REQUIRE(static_cast<bool>(m[i * n + j]) == a);
      if (a) {
        REQUIRE(j >= lo);
        REQUIRE(j < hi);
        row.push_back(j);
      }
    }
    REQUIRE(std::vector<int64_t>(nb.col_idx.begin() + nb.row_ptr[i], nb.col_idx.begin() + nb.row_ptr[i + 1]) == row);
  }
}
}  // namespace

TEST_CASE("policy: window2d follows NATTEN semantics (windows shift at the border)") {
  // 5x5 grid, 3x3 kernel: the corner (0, 0) sees rows 0..2 and columns 0..2; the centre (2, 2) rows/cols 1..3
  Policy p = Policy::window2d(grid(5, 5, 3, 3));
  auto count = [&](int64_t i) {
    int64_t c = 0;
    for (int64_t j = 0; j < 25; ++j) c += p.allowed(i, j);
    return c;
  };
  for (int64_t i = 0; i < 25; ++i) CHECK(count(i) == 9);
  CHECK(p.allowed(0, 2 * 5 + 2));
  CHECK(!p.allowed(0, 3));
  CHECK(p.allowed(12, 6));
  CHECK(!p.allowed(12, 0));
  // dilation 2 along columns: (0, 0) sees columns 0, 2, 4 only
  Policy d = Policy::window2d(grid(3, 6, 1, 3, 1, 2));
  CHECK(d.allowed(0, 4));
  CHECK(!d.allowed(0, 1));
  CHECK(d.allowed(1, 5));
}

TEST_CASE("policy: mask, key hull and neighbour lists agree with allowed(i, j)") {
  static const Csr g = random_graph(40, 5.0, 3);
  check_consistent(Policy::full(), 40);
  check_consistent(Policy::causal(), 40);
  check_consistent(Policy::window1d(3, 7), 40);
  check_consistent(Policy::window1d(3, 7, true), 40);
  check_consistent(Policy::window2d(grid(6, 6, 3, 5, 2, 1, 2)), 40);
  check_consistent(Policy::global(3, 2), 40);
  check_consistent(Policy::graph(g.view(), true), 40);
  check_consistent(Policy::graph(g.view(), false), 40);
  check_consistent(Policy::window2d(grid(6, 6, 3, 3, 1, 1, 1)) | Policy::global(0, 1), 40);
  check_consistent(Policy::causal() & Policy::graph(g.view()), 40);
  check_consistent(Policy::predicate([](int64_t i, int64_t j) { return (i * j) % 7 == 1; }), 40);
}

TEST_CASE("policy: graph self-loops are merged in sorted order and describe() names the parameters") {
  Csr g;
  g.n = 3, g.row_ptr = {0, 1, 3, 3}, g.col_idx = {2, 0, 1};
  Neighbours nb = Policy::graph(g.view(), true).neighbours(3);
  CHECK(nb.row_ptr == std::vector<int64_t>{0, 2, 4, 5});
  CHECK(nb.col_idx == std::vector<int64_t>{0, 2, 0, 1, 2});
  CHECK(Policy::window1d(4, 2).describe() == "window1d(left=4, right=2, causal=false)");
  CHECK((Policy::causal() | Policy::global(0, 1)).describe() == "(causal | global(first=0, count=1))");
}

TEST_CASE("policy: bad parameters are clear errors naming the values") {
  CHECK_THROWS_WITH(Policy::window2d(grid(5, 6, 7, 3)),
                    Catch::Contains("kernel 7x3 with dilation 1x1 is larger than the 5x6 grid"));
  CHECK_THROWS_WITH(Policy::window2d(grid(8, 8, 3, 3, 3, 1)), Catch::Contains("kernel 3x3 with dilation 3x1"));
  CHECK_THROWS_WITH(Policy::window1d(-1, 2), Catch::Contains("left = -1"));
  Csr g;
  g.n = 3, g.row_ptr = {0, 1, 2, 3}, g.col_idx = {1, 5, 0};
  CHECK_THROWS_WITH(Policy::graph(g.view()), Catch::Contains("col_idx[1] = 5 (row 1) is out of range [0, 3)"));
  g.row_ptr = {0, 2, 2, 3}, g.col_idx = {2, 1, 0};
  CHECK_THROWS_WITH(Policy::graph(g.view()), Catch::Contains("row 0 is not sorted/unique: col_idx[1] = 1 after 2"));
  g.row_ptr = {0, 2, 1, 3};
  CHECK_THROWS_WITH(Policy::graph(g.view()), Catch::Contains("row_ptr decreases at row 1: 2 then 1"));
}

TEST_CASE("attention: bad input is a clear error naming the argument and the values") {
  Var q(random_tensor({2, 3, 10, 4}, 1)), k(random_tensor({2, 3, 10, 4}, 2)), v(random_tensor({2, 3, 10, 4}, 3));
  Var k_bad(random_tensor({2, 3, 11, 4}, 2));
  CHECK_THROWS_WITH(attention(q, k_bad, v, Policy::full()),
                    "attention: k has shape (2, 3, 11, 4) but q has shape (2, 3, 10, 4); both must be (B, H, N, D)");
  Var v_bad(random_tensor({2, 3, 10, 5}, 2));
  CHECK_THROWS_WITH(attention(q, k, v_bad, Policy::full()),
                    "attention: v has shape (2, 3, 10, 5) but q has shape (2, 3, 10, 4); v must be (B, H, N, D)");
  Var q3(random_tensor({3, 10, 4}, 1));
  CHECK_THROWS_WITH(attention(q3, q3, q3, Policy::full()), "attention: q must have 4 dimensions, got shape (3, 10, 4)");
  CHECK_THROWS_WITH(attention(q, q3, v, Policy::full()), "attention: k must have 4 dimensions, got shape (3, 10, 4)");
  Var v5(random_tensor({1, 2, 3, 10, 4}, 3));
  CHECK_THROWS_WITH(attention(q, k, v5, Policy::full()),
                    "attention: v must have 4 dimensions, got shape (1, 2, 3, 10, 4)");
  CHECK_THROWS_WITH(attention(q, k, v, Policy::window2d(grid(3, 4, 3, 3))),
                    Catch::Contains("window2d grid 3x4 starting at token 0 needs 12 tokens but the sequence has N = 10"));
  Csr g = random_graph(7, 2.0, 1);
  CHECK_THROWS_WITH(attention(q, k, v, Policy::graph(g.view())),
                    Catch::Contains("graph policy has 7 nodes but the sequence has N = 10"));
  AttentionOptions o;
  o.score = ScoreKind::Additive;
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), o), Catch::Contains("additive scores need a_q and a_k"));
  o.a_q = Var(random_tensor({3, 5}, 1));
  o.a_k = Var(random_tensor({3, 4}, 1));
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), o), Catch::Contains("a_q has shape (3, 5) but must be (3, 4)"));
  AttentionOptions ob;
  ob.rel_bias = Var(random_tensor({3, 8}, 1));
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), ob), Catch::Contains("odd number 2R+1 of entries per head, got 8"));
  ob.rel_bias = Var(random_tensor({2, 9}, 1));
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), ob), Catch::Contains("rel_bias has shape (2, 9) but must be (3, T)"));
  ob.rel_bias = Var(random_tensor({3, 10}, 1));
  CHECK_THROWS_WITH(attention(q, k, v, Policy::window2d(grid(2, 5, 2, 2)), ob),
                    Catch::Contains("rel_bias has 10 entries per head but the 2-D offsets of the window2d kernel need "
                                    "(2*1+1)*(2*1+1) = 9"));
  AttentionOptions od;
  od.dropout = 1.0f;
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), od), Catch::Contains("dropout must be in [0, 1), got 1"));
  Tensor qn = random_tensor({2, 3, 10, 4}, 1);
  qn.data()[17] = std::numeric_limits<float>::quiet_NaN();
  AttentionOptions oc;
  oc.check_finite = true;
  CHECK_THROWS_WITH(attention(Var(qn), k, v, Policy::full(), oc),
                    Catch::Contains("q of shape (2, 3, 10, 4) has a non-finite value nan at flat index 17"));
  Tensor vi = random_tensor({2, 3, 10, 4}, 3);
  vi.data()[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(attention(q, k, Var(vi), Policy::full(), oc), Catch::Contains("v of shape (2, 3, 10, 4) has a non-finite value inf"));
  Tensor kn = random_tensor({2, 3, 10, 4}, 2);
  kn.data()[239] = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(attention(q, Var(kn), v, Policy::full(), oc),
                    "attention: k of shape (2, 3, 10, 4) has a non-finite value -inf at flat index 239");
  // the tables: a_q, a_k (additive scores) and the relative-position bias
  AttentionOptions oa = oc;
  oa.score = ScoreKind::Additive;
  Tensor aq = random_tensor({3, 4}, 4), ak = random_tensor({3, 4}, 5), bias = random_tensor({3, 9}, 6);
  Tensor aq_bad = aq.clone(), ak_bad = ak.clone(), bias_bad = bias.clone();
  aq_bad.data()[5] = std::numeric_limits<float>::quiet_NaN();
  ak_bad.data()[11] = std::numeric_limits<float>::infinity();
  bias_bad.data()[20] = std::numeric_limits<float>::quiet_NaN();
  oa.a_q = Var(aq_bad), oa.a_k = Var(ak);
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), oa),
                    "attention: a_q of shape (3, 4) has a non-finite value nan at flat index 5");
  oa.a_q = Var(aq), oa.a_k = Var(ak_bad);
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), oa),
                    "attention: a_k of shape (3, 4) has a non-finite value inf at flat index 11");
  oa.a_k = Var(ak), oa.rel_bias = Var(bias_bad);
  CHECK_THROWS_WITH(attention(q, k, v, Policy::full(), oa),
                    "attention: rel_bias of shape (3, 9) has a non-finite value nan at flat index 20");
  oa.rel_bias = Var(bias);
  CHECK_NOTHROW(attention(q, k, v, Policy::full(), oa));
  oa.check_finite = false;  // the check is opt-in (it costs a pass over the inputs)
  oa.rel_bias = Var(bias_bad);
  CHECK_NOTHROW(attention(q, k, v, Policy::full(), oa));
}

TEST_CASE("policy: negative and duplicate CSR column indices are errors naming the position and values") {
  Csr g;
  g.n = 3, g.row_ptr = {0, 2, 3, 3}, g.col_idx = {-1, 2, 0};
  CHECK_THROWS_WITH(Policy::graph(g.view()), "graph policy: col_idx[0] = -1 (row 0) is out of range [0, 3)");
  g.col_idx = {1, 2, -4};
  CHECK_THROWS_WITH(Policy::graph(g.view(), false), "graph policy: col_idx[2] = -4 (row 1) is out of range [0, 3)");
  g.row_ptr = {0, 1, 3, 3}, g.col_idx = {2, 0, 0};
  CHECK_THROWS_WITH(Policy::graph(g.view()), "graph policy: row 1 is not sorted/unique: col_idx[2] = 0 after 0");
  // a duplicate of the self-loop that self_loops would add is still a duplicate
  g.col_idx = {2, 1, 1};
  CHECK_THROWS_WITH(Policy::graph(g.view(), true), "graph policy: row 1 is not sorted/unique: col_idx[2] = 1 after 1");
  g.col_idx = {2, 0, 1};
  CHECK_NOTHROW(Policy::graph(g.view()));
}

TEST_CASE("policy: a union of window2d parts on one grid keeps 2-D bias offsets, and on different grids it is an error") {
  // the trap this replaces: two window2d parts made the bias fall back to 1-D raster offsets without a word
  const Policy same = Policy::window2d(grid(6, 7, 3, 1)) | Policy::window2d(grid(6, 7, 1, 5));
  REQUIRE(same.grid_offsets().has_value());
  CHECK(same.grid_offsets()->radius_h == 2);
  CHECK(same.grid_offsets()->radius_w == 4);
  const BiasIndex bi = make_bias_index(same, {}, 5 * 9);
  CHECK(bi.mode == BiasIndex::Mode::Offset2d);
  CHECK(bi.index(0, 7 + 1) == (1 + 2) * 9 + (1 + 4));  // one row down, one column right
  AttnCase c;
  c.policy = same | Policy::global(0, 1);
  c.B = 2, c.H = 2, c.N = 42, c.D = 8, c.bias_T = 5 * 9;
  for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
    c.kernel = k;
    check_fast_vs_ref(c);
  }
  // different grids (or dilations): no common 2-D offsets, a clear error rather than a silent switch to 1-D
  const Policy other = Policy::window2d(grid(6, 7, 3, 3)) | Policy::window2d(grid(6, 7, 3, 3, 2, 2));
  CHECK_THROWS_WITH(make_bias_index(other, {}, 25),
                    Catch::Contains("relative-position bias under") && Catch::Contains("different 2-D grids") &&
                        Catch::Contains("dilation=2x2"));
  Var q(random_tensor({1, 1, 42, 4}, 1));
  AttentionOptions o;
  o.rel_bias = Var(random_tensor({1, 25}, 2));
  CHECK_THROWS_WITH(attention(q, q, q, other, o), Catch::Contains("different 2-D grids"));
  o.bias_grid = {6, 7, 0};  // an explicit grid resolves it
  o.rel_bias = Var(random_tensor({1, 11 * 13}, 2));
  CHECK_NOTHROW(attention(q, q, q, other, o));
  CHECK_NOTHROW(attention(q, q, q, other));  // without a bias the policy is fine
}

TEST_CASE("policy: a predicate with a key range plans in O(sum of ranges), and equals one without") {
  auto band = [](int64_t i, int64_t j) { return j <= i && i - j <= 6 && (i + j) % 3 != 0; };
  std::atomic<int64_t> calls_plain{0}, calls_ranged{0};
  const Policy plain = Policy::predicate([&](int64_t i, int64_t j) { return ++calls_plain, band(i, j); }, "band");
  const Policy ranged = Policy::predicate([&](int64_t i, int64_t j) { return ++calls_ranged, band(i, j); }, "band",
                                          [](int64_t i, int64_t) { return std::pair<int64_t, int64_t>{i - 6, i + 1}; });
  const int64_t n = 300;
  const Neighbours a = plain.neighbours(n), b = ranged.neighbours(n);
  CHECK(a.row_ptr == b.row_ptr);
  CHECK(a.col_idx == b.col_idx);
  CHECK(calls_plain == n * n);
  CHECK(calls_ranged <= 7 * n);
  check_consistent(ranged, 40);
  // the range is part of the definition: pairs outside it are not allowed, whatever the function says
  const Policy clipped = Policy::predicate([](int64_t, int64_t) { return true; }, "all",
                                           [](int64_t i, int64_t) { return std::pair<int64_t, int64_t>{i, i + 2}; });
  CHECK(clipped.allowed(3, 4));
  CHECK(!clipped.allowed(3, 5));
  CHECK(clipped.count_edges(10) == 19);
  AttnCase c;
  c.policy = ranged;
  c.N = 77, c.H = 2, c.D = 7;
  check_fast_vs_ref(c);
}

TEST_CASE("policy_from_params: one schema and one set of defaults, compositions, rectangular kernels, clear errors") {
  PolicyContext ctx;
  ctx.grid_h = 7, ctx.grid_w = 7, ctx.tokens = 49, ctx.grid_name = "patch grid", ctx.owner = "patch_attention";
  auto make = [&](std::vector<std::pair<std::string, ParamValue>> kv) {
    Params p;
    for (auto& [k, v] : kv) p.set("policy." + k, v);
    return policy_from_params(p, ctx, "policy.").describe();
  };
  CHECK(make({}) == "full");
  CHECK(make({{"kind", std::string("window2d")}}) == "window2d(grid=7x7, kernel=3x3, dilation=1x1, first=0)");
  CHECK(make({{"kind", std::string("window1d")}}) == "window1d(left=4, right=4, causal=false)");
  CHECK(make({{"kind", std::string("window1d")}, {"left", int64_t{2}}, {"causal", true}}) ==
        "window1d(left=2, right=0, causal=true)");
  CHECK(make({{"kind", std::string("window2d")}, {"kernel_h", int64_t{1}}, {"kernel_w", int64_t{5}},
              {"dilation_w", int64_t{1}}}) == "window2d(grid=7x7, kernel=1x5, dilation=1x1, first=0)");
  CHECK(make({{"kind", std::string("window2d | global")}, {"global_count", int64_t{2}}}) ==
        "(window2d(grid=7x7, kernel=3x3, dilation=1x1, first=0) | global(first=0, count=2))");
  CHECK(make({{"kind", std::string("window1d & causal | global")}}) ==
        "((window1d(left=4, right=4, causal=false) & causal) | global(first=0, count=1))");
  // a class token before the grid: local kinds see it as a global token (what patch_attention always did)
  ctx.first = 1, ctx.tokens = 50;
  CHECK(make({{"kind", std::string("window2d")}}) ==
        "(window2d(grid=7x7, kernel=3x3, dilation=1x1, first=1) | global(first=0, count=1))");
  CHECK(make({{"kind", std::string("window1d")}}) == "(window1d(left=4, right=4, causal=false) | global(first=0, count=1))");
  CHECK(make({{"kind", std::string("causal")}}) == "causal");
  CHECK(make({{"kind", std::string("full")}}) == "full");
  // keys that do not apply, unknown kinds, impossible windows, missing context
  CHECK_THROWS_WITH(make({{"kind", std::string("full")}, {"kernel", int64_t{5}}}),
                    "policy.kernel = 5 does not apply to policy.kind = 'full' (it takes no other keys)");
  CHECK_NOTHROW(make({{"kind", std::string("full")}, {"kernel", int64_t{3}}}));  // a resolved config's default
  CHECK_THROWS_WITH(make({{"kind", std::string("window1d")}, {"kernel", int64_t{5}}}),
                    Catch::Contains("policy.kernel = 5 does not apply to policy.kind = 'window1d' (it takes radius, "
                                    "left, right, causal, dilation)"));
  CHECK(make({{"kind", std::string("window1d")}, {"dilation", int64_t{2}}}) ==
        "(window1d(left=4, right=4, causal=false, dilation=2) | global(first=0, count=1))");
  CHECK_THROWS_WITH(make({{"kind", std::string("windw2d")}}),
                    Catch::Contains("unknown policy kind 'windw2d' (did you mean 'window2d'?)"));
  CHECK_THROWS_WITH(make({{"kind", std::string("window2d | ")}}), Catch::Contains("unknown policy kind ''"));
  CHECK_THROWS_WITH(make({{"kind", std::string("window2d")}, {"kernel", int64_t{9}}}),
                    "policy.kernel 9×9 with dilation 1×1 is larger than the 7×7 patch grid");
  CHECK_THROWS_WITH(make({{"kind", std::string("window1d")}, {"radius", int64_t{-2}}}),
                    Catch::Contains("policy.radius = -2"));
  CHECK_THROWS_WITH(make({{"kind", std::string("graph")}}),
                    "policy.kind graph needs an adjacency, and patch_attention has none");
  ctx.grid_h = ctx.grid_w = 0;
  CHECK_THROWS_WITH(make({{"kind", std::string("window2d")}}),
                    "policy.kind = 'window2d': window2d needs a token grid, and patch_attention has none");
  // the defaults are the schema's, listed once
  const Schema& s = policy_schema();
  CHECK(std::get<int64_t>(s.find("kernel")->default_value) == 3);
  CHECK(std::get<int64_t>(s.find("radius")->default_value) == 4);
  CHECK(std::get<bool>(s.find("self_loops")->default_value));
  CHECK(policy_keys_for("window2d | axial") ==
        std::vector<std::string>{"kernel", "kernel_h", "kernel_w", "dilation", "dilation_h", "dilation_w"});
}

TEST_CASE("policy: count_edges counts the allowed pairs of every kind") {
  static const Csr g = random_graph(40, 5.0, 3);
  for (const Policy& p : {Policy::full(), Policy::causal(), Policy::window1d(3, 7), Policy::window2d(grid(6, 6, 3, 5, 2, 1, 2)),
                          Policy::global(3, 2), Policy::graph(g.view(), true), Policy::causal() & Policy::graph(g.view()),
                          Policy::window2d(grid(6, 6, 3, 3, 1, 1, 1)) | Policy::global(0, 1)}) {
    INFO(p.describe());
    int64_t e = 0;
    for (int64_t i = 0; i < 40; ++i)
      for (int64_t j = 0; j < 40; ++j) e += p.allowed(i, j);
    CHECK(p.count_edges(40) == e);
  }
}

TEST_CASE("policy: the C++ Window2d default kernel is the schema's (3)") {
  CHECK(Window2d{}.kernel_h == std::get<int64_t>(policy_schema().find("kernel")->default_value));
  CHECK(Window2d{}.kernel_w == 3);
}
