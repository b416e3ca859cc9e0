// Kind `predicate`: a user function f(i, j) (C++ API only). Planning asks f about every pair in each query's key
// range: with the optional KeyRange hint that is O(sum of the ranges); without it the range is all n keys, so the
// tiled plan and neighbours() cost O(n^2) calls of f (n = 4096: 16.8 M calls per plan, memoized per policy and n).
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {
class PredicateRule final : public PolicyRule {
 public:
  PredicateRule(Policy::Predicate f, std::string name, Policy::KeyRange keys)
      : f_(std::move(f)), name_(std::move(name)), keys_(std::move(keys)) {}
  const std::string& name() const override {
    static const std::string n = "predicate";
    return n;
  }
  std::string describe() const override { return fmt::format("predicate({})", name_); }
  // The key range is part of the definition: a pair outside it is not allowed, whatever f says.
  bool allowed(int64_t i, int64_t j) const override {
    if (keys_) {
      auto [lo, hi] = keys_(i, std::numeric_limits<int64_t>::max());
      if (j < lo || j >= hi) return false;
    }
    return f_(i, j);
  }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const override {
    if (!keys_) return {0, n};
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t i = q0; i < q1; ++i) {
      auto [a, b] = keys_(i, n);
      a = std::max<int64_t>(a, 0), b = std::min(b, n);
      if (a >= b) continue;
      lo = std::min(lo, a), hi = std::max(hi, b);
    }
    return lo < hi ? std::pair{lo, hi} : std::pair<int64_t, int64_t>{0, 0};
  }

 private:
  Policy::Predicate f_;
  std::string name_;
  Policy::KeyRange keys_;
};
}  // namespace

Policy Policy::predicate(Predicate f, std::string name, KeyRange keys) {
  RC_CHECK(static_cast<bool>(f), "predicate policy '{}': the function is empty", name);
  return from_rule(std::make_shared<const PredicateRule>(std::move(f), std::move(name), std::move(keys)));
}

}  // namespace rc
