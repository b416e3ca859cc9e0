// Kind `full`: every query sees every key (a Transformer layer).
#include <algorithm>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"

namespace rc {

namespace {
class Full final : public PolicyRule {
 public:
  const std::string& name() const override {
    static const std::string n = "full";
    return n;
  }
  std::string describe() const override { return "full"; }
  bool allowed(int64_t, int64_t) const override { return true; }
  std::pair<int64_t, int64_t> key_hull(int64_t, int64_t, int64_t n) const override { return {0, n}; }
  void mask(const int64_t*, int64_t nq, const int64_t*, int64_t nk, uint8_t* out) const override {
    std::fill_n(out, nq * nk, uint8_t{1});
  }
  PlanHint plan_hint() const override { return {.all_pairs = true}; }
};
}  // namespace

Policy Policy::full() { return from_rule(std::make_shared<const Full>()); }

PolicyKindSpec full_kind() {
  return {"full", "every query sees every key (Transformer)", {}, false, false,
          [](const PolicyArgs&) { return Policy::full(); }};
}

}  // namespace rc
