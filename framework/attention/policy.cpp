// Policy: the value users hold; every question is forwarded to its kind's rule (policy_rule.hpp). The kinds live in
// framework/attention/policies/<kind>.cpp.
#include "framework/attention/policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

// Derived data memoized on a policy (see Policy::memo), shared by all copies of the policy value.
struct PolicyMemo {
  struct Entry {
    int tag;
    int64_t n;
    Policy::MemoPtr value;
  };
  std::mutex mutex;
  std::vector<Entry> entries;
};

struct Policy::Impl {
  std::shared_ptr<const PolicyRule> rule;
  std::shared_ptr<PolicyMemo> memo = std::make_shared<PolicyMemo>();
};

void PolicyRule::mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const {
  for (int64_t a = 0; a < nq; ++a)
    for (int64_t b = 0; b < nk; ++b) out[a * nk + b] = allowed(queries[a], keys[b]);
}

Policy Policy::from_rule(std::shared_ptr<const PolicyRule> rule) {
  RC_CHECK(rule != nullptr, "policy: the rule is null");
  auto impl = std::make_shared<Impl>();
  impl->rule = std::move(rule);
  return Policy(std::move(impl));
}

Policy operator|(const Policy& a, const Policy& b) { return Policy::union_of({a, b}); }
Policy operator&(const Policy& a, const Policy& b) { return Policy::intersection_of({a, b}); }

const PolicyRule& Policy::rule() const { return *impl_->rule; }
const std::string& Policy::kind() const { return impl_->rule->name(); }
bool Policy::allowed(int64_t i, int64_t j) const { return impl_->rule->allowed(i, j); }
void Policy::validate(int64_t n) const { impl_->rule->validate(n); }
std::string Policy::describe() const { return impl_->rule->describe(); }
std::optional<GridOffsets> Policy::grid_offsets() const { return impl_->rule->grid_offsets(); }

const std::vector<Policy>& Policy::parts() const {
  static const std::vector<Policy> none;
  const std::vector<Policy>* p = impl_->rule->parts();
  return p ? *p : none;
}

const Window2d* Policy::find_window2d() const {
  if (const Window2d* w = impl_->rule->window2d()) return w;
  const Window2d* found = nullptr;
  for (const Policy& p : parts())
    if (const Window2d* w = p.find_window2d()) {
      if (found) return nullptr;  // several
      found = w;
    }
  return found;
}

std::pair<int64_t, int64_t> Policy::key_hull(int64_t q0, int64_t q1, int64_t n) const {
  q0 = std::max<int64_t>(q0, 0);
  q1 = std::min(q1, n);
  if (q0 >= q1) return {0, 0};
  return impl_->rule->key_hull(q0, q1, n);
}

void Policy::mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const {
  impl_->rule->mask(queries, nq, keys, nk, out);
}

Neighbours Policy::neighbours(int64_t n) const {
  if (std::optional<Neighbours> own = impl_->rule->own_neighbours(n)) return std::move(*own);
  Neighbours g;
  g.n = n;
  g.row_ptr.assign(1, 0);
  std::vector<int64_t> keys;
  std::vector<uint8_t> m;
  for (int64_t i = 0; i < n; ++i) {  // scan the hull of each query with the block mask
    auto [lo, hi] = key_hull(i, i + 1, n);
    if (lo < hi) {
      keys.resize(static_cast<size_t>(hi - lo));
      for (int64_t j = lo; j < hi; ++j) keys[j - lo] = j;
      m.resize(keys.size());
      mask(&i, 1, keys.data(), hi - lo, m.data());
      for (int64_t j = lo; j < hi; ++j)
        if (m[j - lo]) g.col_idx.push_back(j);
    }
    g.row_ptr.push_back(g.edges());
  }
  return g;
}

int64_t Policy::count_edges(int64_t n) const {
  if (impl_->rule->plan_hint().all_pairs) return n * n;
  return neighbours(n).edges();
}

Policy::MemoPtr Policy::memo(int tag, int64_t n, const std::function<MemoPtr()>& make) const {
  PolicyMemo& m = *impl_->memo;
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    for (const PolicyMemo::Entry& e : m.entries)
      if (e.tag == tag && e.n == n) return e.value;
  }
  MemoPtr value = make();  // outside the lock: make() may run parallel work; a concurrent duplicate is harmless
  std::lock_guard<std::mutex> lock(m.mutex);
  for (const PolicyMemo::Entry& e : m.entries)
    if (e.tag == tag && e.n == n) return e.value;
  if (static_cast<int>(m.entries.size()) >= kMemoEntries) m.entries.erase(m.entries.begin());
  m.entries.push_back({tag, n, value});
  return value;
}

}  // namespace rc
