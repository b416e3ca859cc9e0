// The framework's one CSR adjacency (framework/core/csr.hpp): validation and self-loop merging, written once and
// used by the graph policy, the GCN's normalised adjacency and the datasets.
#include <catch2/catch.hpp>

#include "framework/attention/policy.hpp"
#include "framework/core/csr.hpp"
#include "framework/core/error.hpp"

using namespace rc;

TEST_CASE("csr: merge_self_loops adds (i, i) in sorted position, keeps existing ones once") {
  // row 0: {1, 2} -> {0, 1, 2}; row 1: {1} already has it; row 2: {} -> {2}; row 3: {0, 1} -> {0, 1, 3}
  const Csr g{4, {0, 2, 3, 3, 5}, {1, 2, 1, 0, 1}};
  const Csr m = merge_self_loops(g.view());
  CHECK(m.n == 4);
  CHECK(m.row_ptr == std::vector<int64_t>{0, 3, 4, 5, 8});
  CHECK(m.col_idx == std::vector<int64_t>{0, 1, 2, 1, 2, 0, 1, 3});
  CHECK(m.edges() == 8);
  CHECK(to_csr(g.view()).col_idx == g.col_idx);
  // the graph policy's neighbours are exactly that merge (and the copy without self-loops)
  const Csr with = Policy::graph(g.view(), true).neighbours(4), without = Policy::graph(g.view(), false).neighbours(4);
  CHECK(with.row_ptr == m.row_ptr);
  CHECK(with.col_idx == m.col_idx);
  CHECK(without.col_idx == g.col_idx);
  // an empty graph
  const Csr empty{0, {0}, {}};
  CHECK(merge_self_loops(empty.view()).row_ptr == std::vector<int64_t>{0});
}

TEST_CASE("csr: check_csr names what is wrong") {
  const Csr ok{2, {0, 1, 2}, {1, 0}};
  CHECK_NOTHROW(check_csr(ok.view(), "t"));
  const Csr unsorted{2, {0, 2, 2}, {1, 0}};
  CHECK_THROWS_WITH(check_csr(unsorted.view(), "t"), Catch::Contains("t: row 0 is not sorted/unique"));
  const Csr out{2, {0, 1, 1}, {5}};
  CHECK_THROWS_WITH(check_csr(out.view(), "graph policy"), Catch::Contains("graph policy: col_idx[0] = 5"));
  const Csr decreasing{2, {0, 1, 0}, {1}};
  CHECK_THROWS_WITH(check_csr(decreasing.view(), "t"), Catch::Contains("row_ptr decreases at row 1"));
  CHECK_THROWS_WITH(check_csr(CsrView{1, nullptr, nullptr}, "t"), Catch::Contains("row_ptr is null"));
  CHECK_THROWS_AS(Policy::graph(unsorted.view()), Error);
}
