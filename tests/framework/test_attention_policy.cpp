// Policies on their own (neighbourhoods, masks, hulls, CSR lists) and bad input to policies and attention().
#include <cmath>
#include <limits>

#include "attention_cases.hpp"

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
