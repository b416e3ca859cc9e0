// Kind `global`: tokens [first, first + count) see every token and are seen by every token (a class token:
// window2d(first = 1) | global(0, 1)).
#include <fmt/format.h>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {
class Global final : public PolicyRule {
 public:
  Global(int64_t first, int64_t count) : first_(first), count_(count) {}
  const std::string& name() const override {
    static const std::string n = "global";
    return n;
  }
  std::string describe() const override { return fmt::format("global(first={}, count={})", first_, count_); }
  bool allowed(int64_t i, int64_t j) const override { return in(i) || in(j); }
  void validate(int64_t n) const override {
    RC_CHECK(first_ + count_ <= n, "attention: global tokens [{}, {}) exceed the sequence length N = {}", first_,
             first_ + count_, n);
  }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const override {
    if (q0 < first_ + count_ && q1 > first_) return {0, n};
    return {first_, first_ + count_};
  }

 private:
  bool in(int64_t t) const { return t >= first_ && t < first_ + count_; }
  int64_t first_, count_;
};
}  // namespace

Policy Policy::global(int64_t first, int64_t count) {
  RC_CHECK(first >= 0 && count >= 0, "global policy: first = {} and count = {} must be >= 0", first, count);
  return from_rule(std::make_shared<const Global>(first, count));
}

// Config keys: global_first, global_count.
PolicyKindSpec global_kind() {
  return {"global", "tokens [global_first, global_first + global_count) see and are seen by all (class token)",
          {"global_first", "global_count"}, false, false,
          [](const PolicyArgs& a) { return Policy::global(a.get_int("global_first"), a.get_int("global_count")); }};
}

}  // namespace rc
