// Compositions: union (a | b) and intersection (a & b) of any policies, held as data (the list of parts). Each
// question is answered from the parts' answers; a union's key lists merge its parts' lists.
#include <fmt/format.h>

#include <algorithm>

#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {
class Compose final : public PolicyRule {
 public:
  Compose(bool is_union, std::vector<Policy> parts) : union_(is_union), parts_(std::move(parts)) {
    grid_ = common_grid();
  }
  const std::string& name() const override {
    static const std::string u = "union", i = "intersection";
    return union_ ? u : i;
  }
  std::string describe() const override {
    std::vector<std::string> s;
    for (const Policy& c : parts_) s.push_back(c.describe());
    return fmt::format("({})", fmt::join(s, union_ ? " | " : " & "));
  }
  bool allowed(int64_t i, int64_t j) const override {
    for (const Policy& c : parts_)
      if (c.allowed(i, j) == union_) return union_;
    return !union_;
  }
  void validate(int64_t n) const override {
    for (const Policy& c : parts_) c.validate(n);
  }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const override {
    int64_t lo = union_ ? n : 0, hi = union_ ? 0 : n;
    for (const Policy& c : parts_) {
      auto [a, b] = c.key_hull(q0, q1, n);
      if (union_) {
        if (a >= b) continue;
        lo = std::min(lo, a), hi = std::max(hi, b);
      } else {
        lo = std::max(lo, a), hi = std::min(hi, b);
      }
    }
    return {lo, hi};
  }
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    parts_[0].mask(queries, nq, keys, nk, out);
    std::vector<uint8_t> tmp(static_cast<size_t>(nq * nk));
    for (size_t c = 1; c < parts_.size(); ++c) {
      parts_[c].mask(queries, nq, keys, nk, tmp.data());
      for (int64_t t = 0; t < nq * nk; ++t) out[t] = union_ ? (out[t] | tmp[t]) : (out[t] & tmp[t]);
    }
  }
  std::optional<Neighbours> own_neighbours(int64_t n) const override {
    if (!union_) return std::nullopt;
    std::vector<Neighbours> lists;  // merge the parts' lists row by row
    for (const Policy& c : parts_) lists.push_back(c.neighbours(n));
    Neighbours g;
    g.n = n;
    g.row_ptr.assign(1, 0);
    std::vector<int64_t> merged;
    for (int64_t i = 0; i < n; ++i) {
      merged.clear();
      for (const Neighbours& l : lists)
        merged.insert(merged.end(), l.col_idx.begin() + l.row_ptr[i], l.col_idx.begin() + l.row_ptr[i + 1]);
      std::sort(merged.begin(), merged.end());
      merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
      g.col_idx.insert(g.col_idx.end(), merged.begin(), merged.end());
      g.row_ptr.push_back(g.edges());
    }
    return g;
  }
  std::optional<GridOffsets> grid_offsets() const override {
    if (!grid_error_.empty()) fail("{}", grid_error_);
    return grid_;
  }
  const std::vector<Policy>* parts() const override { return &parts_; }

 private:
  // The parts' common 2-D grid (largest radii), or none; parts on different grids leave an error for later: the
  // policy itself is fine, only a 2-D relative-position bias over it is ambiguous.
  std::optional<GridOffsets> common_grid() {
    std::optional<GridOffsets> g;
    std::string first_part;
    for (const Policy& c : parts_) {
      std::optional<GridOffsets> o;
      try {
        o = c.grid_offsets();
      } catch (const Error& e) {
        grid_error_ = e.what();
        return std::nullopt;
      }
      if (!o) continue;
      if (!g) {
        g = o, first_part = c.describe();
      } else if (!g->same_grid(*o)) {
        grid_error_ = fmt::format(
            "attention: relative-position bias under {} is ambiguous: its parts {} and {} lie on different 2-D "
            "grids (grid, first token or dilation differ); give AttentionOptions::bias_grid, or use parts on one grid",
            describe(), first_part, c.describe());
        return std::nullopt;
      } else {
        g->radius_h = std::max(g->radius_h, o->radius_h), g->radius_w = std::max(g->radius_w, o->radius_w);
      }
    }
    return g;
  }

  bool union_;
  std::vector<Policy> parts_;
  std::optional<GridOffsets> grid_;
  std::string grid_error_;
};
}  // namespace

Policy Policy::union_of(std::vector<Policy> parts) {
  RC_CHECK(!parts.empty(), "union policy: needs at least one part");
  return from_rule(std::make_shared<const Compose>(true, std::move(parts)));
}

Policy Policy::intersection_of(std::vector<Policy> parts) {
  RC_CHECK(!parts.empty(), "intersection policy: needs at least one part");
  return from_rule(std::make_shared<const Compose>(false, std::move(parts)));
}

}  // namespace rc
