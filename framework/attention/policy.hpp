#pragma once
// Neighbourhood policies: which keys j each query i may attend to (N(i) in the attention formula).
//
// A Policy is a small immutable value (cheap to copy; graphs and predicates are shared). It answers
//   allowed(i, j)                       one pair (the reference implementation uses only this),
//   key_hull(q0, q1, n)                 a key range [lo, hi) containing every key of queries [q0, q1),
//   mask(queries, keys, out)            a query-block x key-block mask (tiles: empty / partial / full),
//   neighbours(n)                       per-query key lists as CSR (O(edges), never N x N),
// so kernels never materialize an N x N matrix for sparse policies.
//
// Kinds and their neighbourhoods (tokens are 0..n-1):
//   full                 every j
//   causal               j <= i
//   window1d(l, r, c, d) i - l·d <= j <= i + r·d and d divides j - i   (c = causal: r is forced to 0; d = dilation,
//                        default 1; a dilated window's 1-D relative-position bias counts offsets in steps of d)
//   window2d(grid)       tokens first .. first + gh*gw - 1 form a gh x gw grid (row-major). Query (r, c) sees a
//                        kh x kw block of keys on the same dilation sub-grid (rows ≡ r mod dil_h, columns ≡ c
//                        mod dil_w). On that sub-grid of length L the window starts at clamp(p - k/2, 0, L - k)
//                        where p = r / dil_h (NATTEN semantics: windows shift at the border, so every query
//                        sees exactly kh*kw keys). Requires kh*dil_h <= gh and kw*dil_w <= gw. Tokens off the
//                        grid have no neighbours and are nobody's neighbour (add them by composition).
//   global(first, count) tokens in [first, first+count) see every token and are seen by every token
//                        (e.g. a class token: window2d(first=1) | global(0, 1)).
//   graph(csr, sl)       j in row i of the CSR adjacency (sorted, in-range column indices), plus i when sl =
//                        self_loops (default true, as for the models' `self_loops` key and `receptive attention`).
//   a | b, a & b         union / intersection
//   predicate(f, keys)   f(i, j); keys(i, n) optionally bounds query i's keys (a planner hint)
//   axial(grid)          same row or same column of a gh x gw grid (framework/attention/policies/axial.hpp)
// Each kind is one type in framework/attention/policies/<kind>.cpp (policy_rule.hpp is what it implements);
// policy_params.hpp builds policies from config keys and lists them for `receptive list`.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/csr.hpp"

namespace rc {

// CsrView and Csr (the one CSR adjacency) are in framework/core/csr.hpp; the per-query key lists are one.
using Neighbours = Csr;

struct Window2d {
  int64_t grid_h = 0, grid_w = 0;  // the token grid
  int64_t kernel_h = 3, kernel_w = 3;  // the policy schema's default (policy_params.hpp: `kernel`)
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t first = 0;  // index of the grid's first token (e.g. 1 after a class token)
};

// Window2d along one axis: position x (of n, kernel k, dilation dil) sees positions ≡ x (mod dil) whose index on
// that sub-grid, p' = y / dil, lies in [window2d_start(x / dil, len, k), ... + k), len the sub-grid length.
inline int64_t window2d_start(int64_t p, int64_t len, int64_t k) {
  int64_t s = p - k / 2;
  return s < 0 ? 0 : (s > len - k ? len - k : s);
}

// A 2-D token grid with offset radii, for relative-position bias (score.hpp): tokens first .. first + h*w - 1 form
// an h x w grid; offsets are counted in dilation steps and clamped to [-radius_h, radius_h] x [-radius_w, radius_w].
struct GridOffsets {
  int64_t grid_h = 0, grid_w = 0, first = 0, dil_h = 1, dil_w = 1, radius_h = 0, radius_w = 0;
  bool same_grid(const GridOffsets& o) const {
    return grid_h == o.grid_h && grid_w == o.grid_w && first == o.first && dil_h == o.dil_h && dil_w == o.dil_w;
  }
};

class PolicyRule;  // what one kind implements: framework/attention/policy_rule.hpp

class Policy {
 public:
  using Predicate = std::function<bool(int64_t, int64_t)>;
  // For a predicate: the key range [lo, hi) that holds every allowed key of query i (of n tokens). With it,
  // planning and neighbours() cost O(sum of the ranges); without it, O(n^2) calls of the predicate.
  using KeyRange = std::function<std::pair<int64_t, int64_t>(int64_t i, int64_t n)>;

  static Policy full();
  static Policy causal();
  static Policy window1d(int64_t left, int64_t right, bool causal = false, int64_t dilation = 1);
  static Policy window2d(const Window2d& w);
  static Policy global(int64_t first, int64_t count);
  // Copies the CSR (validated: sizes, ranges, sorted rows). self_loops adds (i, i) where missing; it defaults to
  // true everywhere (here, the models' `self_loops` config key, `receptive attention --self-loops`, `receptive list`).
  static Policy graph(const CsrView& csr, bool self_loops = true);
  // f(i, j); `keys` (optional) bounds each query's keys (see KeyRange): planning is then not O(n^2).
  static Policy predicate(Predicate f, std::string name = "predicate", KeyRange keys = {});
  static Policy union_of(std::vector<Policy> parts);
  static Policy intersection_of(std::vector<Policy> parts);
  // A policy of any kind (framework/attention/policies/<kind>.cpp builds its rule and calls this).
  static Policy from_rule(std::shared_ptr<const PolicyRule> rule);

  const std::string& kind() const;  // "full", "window2d", "union", ... (the rule's name)
  bool allowed(int64_t i, int64_t j) const;
  // Checks that the policy fits n tokens (graph size, grid inside the sequence); throws naming the values.
  void validate(int64_t n) const;
  // A key range [lo, hi) that contains every allowed key of the queries [q0, q1) (may be empty: lo >= hi).
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const;
  // out[a * nk + b] = allowed(queries[a], keys[b]); keys must be increasing.
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const;
  // Every allowed pair as per-query sorted key lists (O(edges) memory; time O(sum of the per-query key hulls),
  // which is O(n^2) only for a predicate without a KeyRange).
  Neighbours neighbours(int64_t n) const;
  // The number of allowed pairs (i, j) for n tokens (FLOP counts of benchmarks and tests); the cost of neighbours().
  int64_t count_edges(int64_t n) const;

  std::string describe() const;  // e.g. "window1d(left=64, right=64, causal=false)"
  const PolicyRule& rule() const;

  // Memoizes data derived from this policy for sequence length n (a kernel's plan, transposed key lists): make()
  // runs once per (tag, n) and its result is shared by every copy of the policy; thread-safe. At most
  // kMemoEntries results are kept per policy (the oldest is dropped).
  using MemoPtr = std::shared_ptr<const void>;
  static constexpr int kMemoEntries = 4;
  MemoPtr memo(int tag, int64_t n, const std::function<MemoPtr()>& make) const;

  const std::vector<Policy>& parts() const;  // children of a union / intersection (else empty)
  // The window2d inside this policy (itself, or the unique window2d among union/intersection parts), or null
  // (none, or several: see grid_offsets() for their common grid).
  const Window2d* find_window2d() const;
  // The 2-D grid of relative-position offsets (window2d: its grid, dilation and radii kernel - 1; axial: its grid,
  // radii side - 1; a composition: its parts' common grid with the largest radii), or none (1-D offsets). Parts on
  // different grids are an error naming them (a 2-D bias would not know which grid to use).
  std::optional<GridOffsets> grid_offsets() const;

  struct Impl;

 private:
  explicit Policy(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

Policy operator|(const Policy& a, const Policy& b);
Policy operator&(const Policy& a, const Policy& b);

}  // namespace rc
