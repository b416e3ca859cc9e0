// Equivalences between policies, run through the fast op: output and all gradients must agree.
#include "attention_cases.hpp"

using namespace rc;
using namespace rc::test;

namespace {

// Runs the same data through two policies and compares output and gradients (relative error).
void check_same(const Policy& a, const Policy& b, int64_t N, ScoreKind score = ScoreKind::Dot,
                double tol = 1e-5) {
  AttnCase ca;
  ca.B = 2, ca.H = 3, ca.N = N, ca.D = 16, ca.score = score, ca.policy = a;
  AttnCase cb = ca;
  cb.policy = b;
  INFO(a.describe() << " vs " << b.describe());
  AttnData d = make_data(ca, 13);
  OpRun ra = run_fast(ca, d), rb = run_fast(cb, d);
  CHECK(rel_error(ra.out.to_vector(), rb.out.to_vector()) < tol);
  for (size_t i = 0; i < ra.grads.size(); ++i) CHECK(rel_error(ra.grads[i].to_vector(), rb.grads[i].to_vector()) < tol);
}

}  // namespace

TEST_CASE("attention equivalence: window1d with radius >= N equals full") {
  check_same(Policy::window1d(200, 200), Policy::full(), 150);
  check_same(Policy::window1d(149, 149), Policy::full(), 150, ScoreKind::Additive);
}

TEST_CASE("attention equivalence: window2d covering the whole grid equals full") {
  Window2d w;
  w.grid_h = 9, w.grid_w = 11, w.kernel_h = 9, w.kernel_w = 11;
  check_same(Policy::window2d(w), Policy::full(), 99);
}

TEST_CASE("attention equivalence: graph on the complete graph equals full") {
  const int64_t n = 70;
  Csr g;
  g.n = n;
  g.row_ptr.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      if (j != i) g.col_idx.push_back(j);
    g.row_ptr.push_back(static_cast<int64_t>(g.col_idx.size()));
  }
  check_same(Policy::graph(g.view(), true), Policy::full(), n);
  check_same(Policy::graph(g.view(), true), Policy::full(), n, ScoreKind::Additive);
}

TEST_CASE("attention equivalence: causal equals window1d(left = N, right = 0)") {
  check_same(Policy::causal(), Policy::window1d(130, 0), 130);
  check_same(Policy::causal(), Policy::window1d(130, 7, true), 130);
}

TEST_CASE("attention equivalence: a predicate reproducing a built-in policy gives the same result") {
  check_same(Policy::predicate([](int64_t i, int64_t j) { return j <= i; }), Policy::causal(), 140);
  check_same(Policy::predicate([](int64_t i, int64_t j) { return j >= i - 4 && j <= i + 9; }),
             Policy::window1d(4, 9), 140);
  Window2d w;
  w.grid_h = 10, w.grid_w = 12, w.kernel_h = 3, w.kernel_w = 5, w.dilation_w = 2;
  Policy win = Policy::window2d(w);
  check_same(Policy::predicate([win](int64_t i, int64_t j) { return win.allowed(i, j); }), win, 120);
}

TEST_CASE("attention equivalence: union and intersection behave as set operations") {
  // causal | anti-causal = full; window1d(3, 3) & causal = window1d(3, 0)
  Policy anti = Policy::predicate([](int64_t i, int64_t j) { return j >= i; });
  check_same(Policy::causal() | anti, Policy::full(), 90);
  check_same(Policy::window1d(3, 3) & Policy::causal(), Policy::window1d(3, 0), 90);
}
