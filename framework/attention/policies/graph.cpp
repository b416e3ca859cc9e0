// Kind `graph`: j in row i of a CSR adjacency (graph attention), plus (i, i) with self_loops. The edge kernel
// runs it (PlanHint::edge_kernel) and reads its CSR directly.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {
class Graph final : public PolicyRule {
 public:
  Graph(Neighbours g, bool self_loops) : g_(std::move(g)), self_loops_(self_loops) {}
  const std::string& name() const override {
    static const std::string n = "graph";
    return n;
  }
  std::string describe() const override {
    return fmt::format("graph(nodes={}, edges={}, self_loops={})", g_.n, g_.edges(), self_loops_);
  }
  bool allowed(int64_t i, int64_t j) const override {
    if (i < 0 || i >= g_.n) return false;
    auto b = g_.col_idx.begin() + g_.row_ptr[i], e = g_.col_idx.begin() + g_.row_ptr[i + 1];
    return std::binary_search(b, e, j);
  }
  void validate(int64_t n) const override {
    RC_CHECK(g_.n == n, "attention: graph policy has {} nodes but the sequence has N = {} tokens", g_.n, n);
  }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t) const override {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t r = q0; r < std::min(q1, g_.n); ++r) {
      int64_t b = g_.row_ptr[r], e = g_.row_ptr[r + 1];
      if (b == e) continue;
      lo = std::min(lo, g_.col_idx[b]);
      hi = std::max(hi, g_.col_idx[e - 1] + 1);
    }
    return lo < hi ? std::pair{lo, hi} : std::pair<int64_t, int64_t>{0, 0};
  }
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    std::fill_n(out, nq * nk, uint8_t{0});
    for (int64_t a = 0; a < nq; ++a) {
      int64_t i = queries[a];
      if (i < 0 || i >= g_.n) continue;
      const int64_t* c = g_.col_idx.data() + g_.row_ptr[i];
      const int64_t* ce = g_.col_idx.data() + g_.row_ptr[i + 1];
      int64_t b = 0;
      while (c < ce && b < nk) {  // merge two sorted lists
        if (*c < keys[b]) ++c;
        else if (*c > keys[b]) ++b;
        else out[a * nk + b++] = 1, ++c;
      }
    }
  }
  std::optional<Neighbours> own_neighbours(int64_t n) const override {
    if (g_.n == n) return g_;
    return std::nullopt;
  }
  PlanHint plan_hint() const override { return {.edge_kernel = true}; }

 private:
  Neighbours g_;  // self-loops already merged
  bool self_loops_;
};
}  // namespace

Policy Policy::graph(const CsrView& csr, bool self_loops) {
  check_csr(csr, "graph policy");
  Neighbours g = self_loops ? merge_self_loops(csr) : to_csr(csr);
  return from_rule(std::make_shared<const Graph>(std::move(g), self_loops));
}

// Config key: self_loops; the adjacency comes from the context (a graph model's, `receptive attention --degree`).
PolicyKindSpec graph_kind() {
  return {"graph", "neighbours in a CSR adjacency (graph attention)", {"self_loops"}, false, false,
          [](const PolicyArgs& a) {
            RC_CHECK(a.ctx.graph != nullptr, "{} graph needs an adjacency, and {} has none", a.key("kind"),
                     a.ctx.owner);
            return Policy::graph(*a.ctx.graph, a.get_bool("self_loops"));
          }};
}

}  // namespace rc
