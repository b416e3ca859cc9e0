// Kind `causal`: query i sees keys j <= i (masked attention).
#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"

namespace rc {

namespace {
class Causal final : public PolicyRule {
 public:
  const std::string& name() const override {
    static const std::string n = "causal";
    return n;
  }
  std::string describe() const override { return "causal"; }
  bool allowed(int64_t i, int64_t j) const override { return j <= i; }
  std::pair<int64_t, int64_t> key_hull(int64_t, int64_t q1, int64_t) const override { return {0, q1}; }
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    for (int64_t a = 0; a < nq; ++a)
      for (int64_t b = 0; b < nk; ++b) out[a * nk + b] = keys[b] <= queries[a];
  }
};
}  // namespace

Policy Policy::causal() { return from_rule(std::make_shared<const Causal>()); }

PolicyKindSpec causal_kind() {
  return {"causal", "query i sees keys j <= i (masked attention)", {}, false, false,
          [](const PolicyArgs&) { return Policy::causal(); }};
}

}  // namespace rc
