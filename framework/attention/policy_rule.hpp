#pragma once
// What one policy kind implements. A kind is one type derived from PolicyRule, in its own file
// framework/attention/policies/<kind>.cpp: its neighbourhood rule (allowed), key hull, block mask, description,
// validation and planner hints. Policy (policy.hpp) is the value users hold; it forwards to its rule.
// Compositions (union, intersection) are rules too, holding their parts as data.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "framework/attention/policy.hpp"

namespace rc {

// How the kernels should treat a policy (a hint: results are exact either way, only speed and layout change).
struct PlanHint {
  bool all_pairs = false;             // every (i, j) is allowed: the tiled planner stores no masks (full)
  bool edge_kernel = false;           // AttentionKernel::Auto runs the CSR edge kernel (graphs, axial)
  const Window2d* patches = nullptr;  // the tiled planner groups queries in 2-D patches of this window
};

class PolicyRule {
 public:
  virtual ~PolicyRule() = default;
  virtual const std::string& name() const = 0;  // the kind: "window2d", "union", ...
  virtual std::string describe() const = 0;     // with parameters: "window1d(left=4, right=4, causal=false)"
  virtual bool allowed(int64_t i, int64_t j) const = 0;
  // Checks that the policy fits n tokens; throws naming the values.
  virtual void validate(int64_t n) const {}
  // [lo, hi) holding every allowed key of queries [q0, q1); called with 0 <= q0 < q1 <= n.
  virtual std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const = 0;
  // out[a * nk + b] = allowed(queries[a], keys[b]) (keys increasing). Default: allowed() pair by pair.
  virtual void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const;
  // The per-query key lists when the kind has them at hand (a graph's CSR, a union's merged parts); default none:
  // Policy::neighbours() then scans each query's key hull with mask().
  virtual std::optional<Neighbours> own_neighbours(int64_t n) const { return std::nullopt; }
  virtual PlanHint plan_hint() const { return {}; }
  virtual std::optional<GridOffsets> grid_offsets() const { return std::nullopt; }
  virtual const Window2d* window2d() const { return nullptr; }         // the window of a window2d rule
  virtual const std::vector<Policy>* parts() const { return nullptr; }  // a composition's parts
};

}  // namespace rc
