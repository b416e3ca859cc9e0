#pragma once
// One vocabulary for attention policies, shared by model configs (a model's `policy:` section), the
// `receptive attention` command and `receptive list`: one schema with one set of defaults (policy_schema), the
// kinds (policy_kinds: each kind's file registers its keys and how to build it), and policy_from_params.
//
// `kind` names a kind or a composition: `a | b` is a union, `a & b` an intersection (& binds tighter), e.g.
// `window2d | global`, `window1d & causal`, `axial | window2d`. Every part reads the same keys. A key that does
// not apply to the chosen kinds is an error unless it holds its default (resolved configs list every default).
// Where the tokens come from is the caller's context: the grid of window2d and axial (a model's patch grid,
// `--grid-h --grid-w`), the tokens before the grid (a class token), the adjacency of graph.
#include <functional>
#include <string>
#include <vector>

#include "framework/attention/policy.hpp"
#include "framework/core/params.hpp"

namespace rc {

struct PolicyContext {
  int64_t tokens = 0;              // sequence length N
  int64_t grid_h = 0, grid_w = 0;  // the token grid of window2d and axial (0 x 0: none)
  int64_t first = 0;               // the grid's first token; tokens [0, first) come before it (a class token)
  const CsrView* graph = nullptr;  // the adjacency of kind graph (null: none)
  std::string grid_name = "grid";  // in messages: "patch grid"
  std::string owner = "this caller";  // in messages: "patch_attention", "receptive attention"
};

// The keys of a policy section (without prefix) with their defaults and docs.
const Schema& policy_schema();

// Reads a key of a policy section: the value in the Params (under the prefix) or the schema default.
struct PolicyArgs {
  const Params& params;
  const PolicyContext& ctx;
  std::string prefix;  // "policy." in model configs, "" on the command line
  int64_t get_int(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::string key(const std::string& k) const { return prefix + k; }  // the name users see
};

// One kind: its name, a line for `receptive list`, the schema keys it reads, and how to build it.
struct PolicyKindSpec {
  std::string name, description;
  std::vector<std::string> keys;  // policy_schema() keys this kind reads
  bool grid = false;              // lives on the context's token grid (needs grid_h x grid_w)
  bool local = false;             // tokens before the grid (a class token) are joined as global tokens
  std::function<Policy(const PolicyArgs&)> make;
};
const std::vector<PolicyKindSpec>& policy_kinds();  // in `receptive list` order

// The policy a section describes, for the context. Throws rc::Error naming the key, its value and what was
// expected: an unknown kind, a key that does not apply to the kinds (with a non-default value), a window larger
// than the grid, a grid kind without a grid, graph without an adjacency.
// Local kinds (window1d, window2d, axial) get the tokens before the grid as global tokens: with a class token,
// `window2d` is window2d(first = 1) | global(0, 1), unless the expression names `global` itself.
Policy policy_from_params(const Params& p, const PolicyContext& ctx, const std::string& prefix = "");
// The same checks without the policy: "" or the message.
std::string check_policy_params(const Params& p, const PolicyContext& ctx, const std::string& prefix = "");
// The keys that apply to a kind expression (throws for an unknown kind, naming it as `key`).
std::vector<std::string> policy_keys_for(const std::string& kind_expression, const std::string& key = "kind");
// The kinds an expression names, in order (throws for an unknown kind).
std::vector<std::string> policy_kind_names(const std::string& kind_expression, const std::string& key = "kind");
// Whether the expression has a kind that lives on the grid (window2d, axial).
bool policy_uses_grid(const std::string& kind_expression, const std::string& key = "kind");

// Adds the kinds with their keys and defaults to the catalog section "policies" (for `receptive list`).
void register_policies();

}  // namespace rc
