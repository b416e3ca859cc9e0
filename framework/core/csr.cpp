#include "framework/core/csr.hpp"

#include "framework/core/error.hpp"

namespace rc {

void check_csr(const CsrView& g, const std::string& who) {
  RC_CHECK(g.n >= 0, "{}: number of nodes must be >= 0, got {}", who, g.n);
  RC_CHECK(g.row_ptr != nullptr, "{}: row_ptr is null", who);
  RC_CHECK(g.row_ptr[0] == 0, "{}: row_ptr[0] must be 0, got {}", who, g.row_ptr[0]);
  for (int64_t r = 0; r < g.n; ++r)
    RC_CHECK(g.row_ptr[r + 1] >= g.row_ptr[r], "{}: row_ptr decreases at row {}: {} then {}", who, r, g.row_ptr[r],
             g.row_ptr[r + 1]);
  RC_CHECK(g.row_ptr[g.n] == 0 || g.col_idx != nullptr, "{}: col_idx is null", who);
  for (int64_t r = 0; r < g.n; ++r)
    for (int64_t e = g.row_ptr[r]; e < g.row_ptr[r + 1]; ++e) {
      const int64_t c = g.col_idx[e];
      RC_CHECK(c >= 0 && c < g.n, "{}: col_idx[{}] = {} (row {}) is out of range [0, {})", who, e, c, r, g.n);
      RC_CHECK(e == g.row_ptr[r] || g.col_idx[e - 1] < c, "{}: row {} is not sorted/unique: col_idx[{}] = {} after {}",
               who, r, e, c, g.col_idx[e - 1]);
    }
}

Csr to_csr(const CsrView& g) {
  Csr c;
  c.n = g.n;
  c.row_ptr.assign(g.row_ptr, g.row_ptr + g.n + 1);
  c.col_idx.assign(g.col_idx, g.col_idx + g.edges());
  return c;
}

Csr merge_self_loops(const CsrView& g) {
  Csr c;
  c.n = g.n;
  c.row_ptr.assign(1, 0);
  c.row_ptr.reserve(static_cast<size_t>(g.n) + 1);
  c.col_idx.reserve(static_cast<size_t>(g.edges() + g.n));
  for (int64_t r = 0; r < g.n; ++r) {
    bool self_done = false;
    for (int64_t e = g.row_ptr[r]; e < g.row_ptr[r + 1]; ++e) {
      const int64_t col = g.col_idx[e];
      if (!self_done && col >= r) {
        if (col != r) c.col_idx.push_back(r);
        self_done = true;
      }
      c.col_idx.push_back(col);
    }
    if (!self_done) c.col_idx.push_back(r);
    c.row_ptr.push_back(c.edges());
  }
  return c;
}

}  // namespace rc
