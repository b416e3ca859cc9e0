// Kind `window1d`: i - left <= j <= i + right (truncated attention for long sequences); causal forces right = 0.
#include <fmt/format.h>

#include <algorithm>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {
class Window1d final : public PolicyRule {
 public:
  Window1d(int64_t left, int64_t right, bool causal) : left_(left), right_(causal ? 0 : right), causal_(causal) {}
  const std::string& name() const override {
    static const std::string n = "window1d";
    return n;
  }
  std::string describe() const override {
    return fmt::format("window1d(left={}, right={}, causal={})", left_, right_, causal_);
  }
  bool allowed(int64_t i, int64_t j) const override { return j >= i - left_ && j <= i + right_; }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const override {
    return {std::max<int64_t>(0, q0 - left_), std::min(n, q1 + right_)};
  }
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    for (int64_t a = 0; a < nq; ++a) {
      const int64_t lo = queries[a] - left_, hi = queries[a] + right_;
      for (int64_t b = 0; b < nk; ++b) out[a * nk + b] = keys[b] >= lo && keys[b] <= hi;
    }
  }

 private:
  int64_t left_, right_;
  bool causal_;
};
}  // namespace

Policy Policy::window1d(int64_t left, int64_t right, bool causal) {
  RC_CHECK(left >= 0 && right >= 0, "window1d policy: radii must be >= 0, got left = {}, right = {}", left, right);
  return from_rule(std::make_shared<const Window1d>(left, right, causal));
}

// Config keys: radius (both sides), left / right (-1: radius), causal.
PolicyKindSpec window1d_kind() {
  return {"window1d", "|i - j| within a radius (truncated attention for long sequences; raster order on a grid)",
          {"radius", "left", "right", "causal"}, false, true, [](const PolicyArgs& a) {
            const int64_t r = a.get_int("radius"), l = a.get_int("left"), rr = a.get_int("right");
            return Policy::window1d(l < 0 ? r : l, rr < 0 ? r : rr, a.get_bool("causal"));
          }};
}

}  // namespace rc
