#pragma once
// The framework's one graph representation: a CSR adjacency, as a non-owning view (CsrView: what operators and
// policies take) and as owned arrays (Csr: what they return and keep). Row i's neighbours are
// col_idx[row_ptr[i] .. row_ptr[i+1]), sorted and unique. Storage-side graphs (datasets/graph: Boost.Graph) convert
// to it; CsrMatrix (framework/ops/sparse.hpp) adds values on the same layout. Self-loops are merged in one place,
// merge_self_loops, for the graph policy, the GCN's normalised adjacency and the datasets alike.
#include <cstdint>
#include <string>
#include <vector>

namespace rc {

// A non-owning view of a CSR adjacency: row i's neighbours are col_idx[row_ptr[i] .. row_ptr[i+1]).
struct CsrView {
  int64_t n = 0;
  const int64_t* row_ptr = nullptr;  // n + 1 entries, row_ptr[0] = 0, non-decreasing
  const int64_t* col_idx = nullptr;  // row_ptr[n] entries in [0, n), strictly increasing within a row
  int64_t edges() const { return row_ptr ? row_ptr[n] : 0; }
};

// An owned CSR adjacency (per-node sorted neighbour lists).
struct Csr {
  int64_t n = 0;
  std::vector<int64_t> row_ptr, col_idx;
  int64_t edges() const { return static_cast<int64_t>(col_idx.size()); }
  CsrView view() const { return {n, row_ptr.data(), col_idx.data()}; }
};

// Throws an rc::Error starting with `who` when the view is not a valid CSR adjacency: n < 0, a null array, row_ptr
// not starting at 0 or decreasing, a column outside [0, n), a row not strictly increasing.
void check_csr(const CsrView& g, const std::string& who);

// A copy of the view's arrays.
Csr to_csr(const CsrView& g);

// The adjacency with (i, i) added to every row that lacks it, rows kept sorted (existing self-loops stay once).
// The view must be valid (check_csr).
Csr merge_self_loops(const CsrView& g);

}  // namespace rc
