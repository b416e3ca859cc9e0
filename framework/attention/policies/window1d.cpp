// Kind `window1d`: keys j with j - i in [-left·d, right·d] and a multiple of the dilation d (truncated attention
// for long sequences; d > 1 is a dilated window: `left` and `right` count keys, not tokens); causal forces
// right = 0.
#include <fmt/format.h>

#include <algorithm>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {

// A dilated window's relative-position offsets are a one-row grid's column offsets in dilation steps: pairs whose
// offset is not a multiple of d (e.g. with a global token) get no bias; the row is long enough for any sequence.
constexpr int64_t kLine = int64_t{1} << 40;

class Window1d final : public PolicyRule {
 public:
  Window1d(int64_t left, int64_t right, bool causal, int64_t dilation)
      : left_(left), right_(causal ? 0 : right), dil_(dilation), causal_(causal) {}
  const std::string& name() const override {
    static const std::string n = "window1d";
    return n;
  }
  std::string describe() const override {
    const std::string dil = dil_ == 1 ? std::string() : fmt::format(", dilation={}", dil_);
    return fmt::format("window1d(left={}, right={}, causal={}{})", left_, right_, causal_, dil);
  }
  bool allowed(int64_t i, int64_t j) const override {
    const int64_t off = j - i;
    return off >= -left_ * dil_ && off <= right_ * dil_ && off % dil_ == 0;
  }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const override {
    return {std::max<int64_t>(0, q0 - left_ * dil_), std::min(n, q1 + right_ * dil_)};
  }
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    for (int64_t a = 0; a < nq; ++a) {
      const int64_t lo = queries[a] - left_ * dil_, hi = queries[a] + right_ * dil_;
      if (dil_ == 1) {
        for (int64_t b = 0; b < nk; ++b) out[a * nk + b] = keys[b] >= lo && keys[b] <= hi;
      } else {
        for (int64_t b = 0; b < nk; ++b)
          out[a * nk + b] = keys[b] >= lo && keys[b] <= hi && (keys[b] - queries[a]) % dil_ == 0;
      }
    }
  }
  // Undilated: none (the default 1-D bias, offset j - i clamped to the table's radius). Dilated: offsets in
  // dilation steps, radius max(left, right): the bias table must have 2·max(left, right) + 1 entries per head.
  std::optional<GridOffsets> grid_offsets() const override {
    if (dil_ == 1) return std::nullopt;
    return GridOffsets{1, kLine, 0, 1, dil_, 0, std::max(left_, right_)};
  }

 private:
  int64_t left_, right_, dil_;
  bool causal_;
};
}  // namespace

Policy Policy::window1d(int64_t left, int64_t right, bool causal, int64_t dilation) {
  RC_CHECK(left >= 0 && right >= 0, "window1d policy: radii must be >= 0, got left = {}, right = {}", left, right);
  RC_CHECK(dilation >= 1, "window1d policy: dilation must be >= 1, got {}", dilation);
  return from_rule(std::make_shared<const Window1d>(left, right, causal, dilation));
}

// Config keys: radius (both sides), left / right (-1: radius), causal, dilation.
PolicyKindSpec window1d_kind() {
  return {"window1d",
          "|i - j| within a radius (truncated attention for long sequences; raster order on a grid); dilation d: "
          "keys at multiples of d, radius counted in keys",
          {"radius", "left", "right", "causal", "dilation"}, false, true, [](const PolicyArgs& a) {
            const int64_t r = a.get_int("radius"), l = a.get_int("left"), rr = a.get_int("right");
            return Policy::window1d(l < 0 ? r : l, rr < 0 ? r : rr, a.get_bool("causal"), a.get_int("dilation"));
          }};
}

}  // namespace rc
