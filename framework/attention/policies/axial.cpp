// Kind `axial` (see axial.hpp): same row or same column of the token grid.
#include "framework/attention/policies/axial.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {
class Axial final : public PolicyRule {
 public:
  Axial(int64_t gh, int64_t gw, int64_t first) : gh_(gh), gw_(gw), first_(first) {}
  const std::string& name() const override {
    static const std::string n = "axial";
    return n;
  }
  std::string describe() const override { return fmt::format("axial(grid={}x{}, first={})", gh_, gw_, first_); }
  bool allowed(int64_t i, int64_t j) const override {
    const int64_t a = i - first_, b = j - first_;
    if (!on_grid(a) || !on_grid(b)) return false;
    return a / gw_ == b / gw_ || a % gw_ == b % gw_;
  }
  void validate(int64_t n) const override {
    RC_CHECK(first_ + gh_ * gw_ <= n,
             "attention: axial grid {}x{} starting at token {} needs {} tokens but the sequence has N = {}", gh_, gw_,
             first_, first_ + gh_ * gw_, n);
  }
  // Rows of the queries, and their columns from the top row to the bottom one.
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t) const override {
    const int64_t a0 = std::max(q0 - first_, int64_t{0}), a1 = std::min(q1 - first_, gh_ * gw_);
    if (a0 >= a1) return {0, 0};
    int64_t cmin = gw_, cmax = -1;
    for (int64_t a = a0; a < std::min(a1, a0 + gw_); ++a) cmin = std::min(cmin, a % gw_), cmax = std::max(cmax, a % gw_);
    const int64_t lo = std::min((a0 / gw_) * gw_, cmin), hi = std::max((a1 - 1) / gw_ * gw_ + gw_, (gh_ - 1) * gw_ + cmax + 1);
    return {first_ + lo, first_ + hi};
  }
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    for (int64_t a = 0; a < nq; ++a) {
      const int64_t qa = queries[a] - first_;
      uint8_t* row = out + a * nk;
      if (!on_grid(qa)) {
        std::fill_n(row, nk, uint8_t{0});
        continue;
      }
      const int64_t r = qa / gw_, c = qa % gw_;
      for (int64_t b = 0; b < nk; ++b) {
        const int64_t kb = keys[b] - first_;
        row[b] = on_grid(kb) && (kb / gw_ == r || kb % gw_ == c);
      }
    }
  }
  // N (gh + gw - 1) edges, while a block of consecutive queries spans the whole grid through its columns
  PlanHint plan_hint() const override { return {.edge_kernel = true}; }
  std::optional<GridOffsets> grid_offsets() const override { return GridOffsets{gh_, gw_, first_, 1, 1, gh_ - 1, gw_ - 1}; }

 private:
  bool on_grid(int64_t a) const { return a >= 0 && a < gh_ * gw_; }
  int64_t gh_, gw_, first_;
};
}  // namespace

Policy axial_policy(int64_t grid_h, int64_t grid_w, int64_t first) {
  RC_CHECK(grid_h > 0 && grid_w > 0, "axial policy: grid must be positive, got {}x{}", grid_h, grid_w);
  RC_CHECK(first >= 0, "axial policy: first token index must be >= 0, got {}", first);
  return Policy::from_rule(std::make_shared<const Axial>(grid_h, grid_w, first));
}

// No keys of its own: the grid comes from the context (a model's patch grid, `receptive attention --grid-h --grid-w`).
PolicyKindSpec axial_kind() {
  return {"axial", "same row or same column of the token grid (axial attention)", {}, true, true,
          [](const PolicyArgs& a) { return axial_policy(a.ctx.grid_h, a.ctx.grid_w, a.ctx.first); }};
}

}  // namespace rc
