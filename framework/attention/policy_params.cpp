// The policy vocabulary (policy_params.hpp): one schema, the list of kinds, and policy_from_params.
#include "framework/attention/policy_params.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "framework/core/catalog.hpp"
#include "framework/core/error.hpp"

namespace rc {

// Every kind, in `receptive list` order. A new kind is its file in policies/ and one line here (and its
// declaration just below).
PolicyKindSpec full_kind();
PolicyKindSpec causal_kind();
PolicyKindSpec window1d_kind();
PolicyKindSpec window2d_kind();
PolicyKindSpec axial_kind();
PolicyKindSpec global_kind();
PolicyKindSpec graph_kind();

const std::vector<PolicyKindSpec>& policy_kinds() {
  static const std::vector<PolicyKindSpec> kinds = {full_kind(),  causal_kind(), window1d_kind(), window2d_kind(),
                                                    axial_kind(), global_kind(), graph_kind()};
  return kinds;
}

const Schema& policy_schema() {
  static const Schema s = [] {
    std::vector<std::string> names;
    for (const PolicyKindSpec& k : policy_kinds()) names.push_back(k.name);
    Schema s;
    s.params = {
        {"kind", ParamType::String, std::string("full"),
         fmt::format("a kind, or a composition: a | b (union), a & b (intersection), e.g. window2d | global [{}]",
                     fmt::join(names, " | ")),
         {}, {}, {}},
        {"radius", ParamType::Int, int64_t{4}, "window1d: keys on each side (raster order on a grid)", 0.0, {}, {}},
        {"left", ParamType::Int, int64_t{-1}, "window1d: keys before the query (-1: radius)", -1.0, {}, {}},
        {"right", ParamType::Int, int64_t{-1}, "window1d: keys after the query (-1: radius)", -1.0, {}, {}},
        {"causal", ParamType::Bool, false, "window1d: no keys after the query (right = 0)", {}, {}, {}},
        {"kernel", ParamType::Int, int64_t{3}, "window2d: kernel side in tokens (odd or even)", 1.0, {}, {}},
        {"kernel_h", ParamType::Int, int64_t{0}, "window2d: kernel rows (0: kernel)", 0.0, {}, {}},
        {"kernel_w", ParamType::Int, int64_t{0}, "window2d: kernel columns (0: kernel)", 0.0, {}, {}},
        {"dilation", ParamType::Int, int64_t{1},
         "window1d, window2d: dilation in tokens (window1d: keys at multiples of it, radius counted in keys)", 1.0, {},
         {}},
        {"dilation_h", ParamType::Int, int64_t{0}, "window2d: row dilation (0: dilation)", 0.0, {}, {}},
        {"dilation_w", ParamType::Int, int64_t{0}, "window2d: column dilation (0: dilation)", 0.0, {}, {}},
        {"global_first", ParamType::Int, int64_t{0}, "global: first global token", 0.0, {}, {}},
        {"global_count", ParamType::Int, int64_t{1}, "global: number of global tokens", 0.0, {}, {}},
        {"self_loops", ParamType::Bool, true, "graph: adds (i, i) where missing", {}, {}, {}},
    };
    for (ParamSpec& spec : s.params) {  // a key applies when the expression names a kind that reads it
      if (spec.name == "kind") continue;
      ParamCondition c{"kind", {}};
      for (const PolicyKindSpec& k : policy_kinds())
        if (std::find(k.keys.begin(), k.keys.end(), spec.name) != k.keys.end()) c.any_of.push_back(k.name);
      spec.when = std::move(c);
    }
    return s;
  }();
  return s;
}

namespace {

const ParamSpec& spec_of(const std::string& key) {
  const ParamSpec* s = policy_schema().find(key);
  RC_CHECK(s != nullptr, "policy: '{}' is not a policy key", key);
  return *s;
}

const ParamValue& value_of(const PolicyArgs& a, const std::string& key) {
  const ParamSpec& s = spec_of(key);
  auto it = a.params.values().find(a.prefix + key);
  return it == a.params.values().end() ? s.default_value : it->second;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t from = 0;
  for (size_t at; (at = s.find(sep, from)) != std::string::npos; from = at + 1) out.push_back(trim(s.substr(from, at - from)));
  out.push_back(trim(s.substr(from)));
  return out;
}

// A kind expression: a union of intersections of kinds.
using Expr = std::vector<std::vector<const PolicyKindSpec*>>;

Expr parse_kind(const std::string& text, const std::string& key) {
  std::vector<std::string> names;
  for (const PolicyKindSpec& k : policy_kinds()) names.push_back(k.name);
  Expr e;
  for (const std::string& term : split(text, '|')) {
    e.emplace_back();
    for (const std::string& atom : split(term, '&')) {
      auto it = std::find_if(policy_kinds().begin(), policy_kinds().end(),
                             [&](const PolicyKindSpec& k) { return k.name == atom; });
      if (it == policy_kinds().end()) {
        const std::string hint = did_you_mean(atom, names);
        fail("{} = '{}': unknown policy kind '{}'{}; expected one of {}, or a composition such as 'window2d | "
             "global' or 'window1d & causal'",
             key, text, atom, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), fmt::join(names, ", "));
      }
      e.back().push_back(&*it);
    }
  }
  return e;
}

std::vector<std::string> keys_of(const Expr& e) {
  std::vector<std::string> keys;
  for (const auto& term : e)
    for (const PolicyKindSpec* k : term)
      for (const std::string& key : k->keys)
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  return keys;
}

// Every key under the prefix fits its spec; a key no kind of the expression reads holds its default.
void check_keys(const PolicyArgs& a, const Expr& e, const std::string& kind) {
  const std::vector<std::string> used = keys_of(e);
  for (const ParamSpec& s : policy_schema().params) {
    auto it = a.params.values().find(a.prefix + s.name);
    if (it == a.params.values().end()) continue;
    const std::string bad = param_violation(s, it->second);
    RC_CHECK(bad.empty(), "{} = {}: {}", a.key(s.name), param_value_str(it->second), bad);
    if (s.name == "kind" || std::find(used.begin(), used.end(), s.name) != used.end()) continue;
    RC_CHECK(param_value_str(it->second) == param_value_str(s.default_value),
             "{} = {} does not apply to {} = '{}' ({})", a.key(s.name), param_value_str(it->second), a.key("kind"),
             kind,
             used.empty() ? std::string("it takes no other keys")
                          : fmt::format("it takes {}", fmt::join(used, ", ")));
  }
}

}  // namespace

int64_t PolicyArgs::get_int(const std::string& k) const {
  const ParamValue& v = value_of(*this, k);
  RC_CHECK(std::holds_alternative<int64_t>(v), "{} = {}: expected an int", key(k), param_value_str(v));
  return std::get<int64_t>(v);
}
bool PolicyArgs::get_bool(const std::string& k) const {
  const ParamValue& v = value_of(*this, k);
  RC_CHECK(std::holds_alternative<bool>(v), "{} = {}: expected true or false", key(k), param_value_str(v));
  return std::get<bool>(v);
}
std::string PolicyArgs::get_string(const std::string& k) const {
  const ParamValue& v = value_of(*this, k);
  RC_CHECK(std::holds_alternative<std::string>(v), "{} = {}: expected a string", key(k), param_value_str(v));
  return std::get<std::string>(v);
}

Policy policy_from_params(const Params& p, const PolicyContext& ctx, const std::string& prefix) {
  const PolicyArgs a{p, ctx, prefix};
  const std::string kind = a.get_string("kind");
  const Expr e = parse_kind(kind, a.key("kind"));
  check_keys(a, e, kind);
  bool local = false, names_global = false;
  std::vector<Policy> terms;
  for (const auto& term : e) {
    std::vector<Policy> parts;
    for (const PolicyKindSpec* k : term) {
      RC_CHECK(!k->grid || (ctx.grid_h > 0 && ctx.grid_w > 0), "{} = '{}': {} needs a token grid, and {} has none",
               a.key("kind"), kind, k->name, ctx.owner);
      local = local || k->local;
      names_global = names_global || k->name == "global";
      parts.push_back(k->make(a));
    }
    terms.push_back(parts.size() == 1 ? parts[0] : Policy::intersection_of(std::move(parts)));
  }
  Policy policy = terms.size() == 1 ? terms[0] : Policy::union_of(std::move(terms));
  if (local && !names_global && ctx.first > 0) policy = policy | Policy::global(0, ctx.first);
  return policy;
}

std::string check_policy_params(const Params& p, const PolicyContext& ctx, const std::string& prefix) {
  try {
    policy_from_params(p, ctx, prefix);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> policy_keys_for(const std::string& kind_expression, const std::string& key) {
  return keys_of(parse_kind(kind_expression, key));
}

std::vector<std::string> policy_kind_names(const std::string& kind_expression, const std::string& key) {
  std::vector<std::string> names;
  for (const auto& term : parse_kind(kind_expression, key))
    for (const PolicyKindSpec* k : term) names.push_back(k->name);
  return names;
}

bool policy_uses_grid(const std::string& kind_expression, const std::string& key) {
  for (const auto& term : parse_kind(kind_expression, key))
    for (const PolicyKindSpec* k : term)
      if (k->grid) return true;
  return false;
}

void register_policies() {
  for (const PolicyKindSpec& k : policy_kinds()) {
    std::vector<CatalogParam> params;
    for (const std::string& key : k.keys) {
      const ParamSpec& s = spec_of(key);
      params.push_back({key, param_value_str(s.default_value), s.doc});
    }
    std::string what = k.description;
    if (k.grid) what += "; grid: the model's patch grid, or --grid-h x --grid-w";
    catalog_add("policies", {k.name, what, params});
  }
  catalog_add("policies", {"union / intersection",
                           "kind: a | b, a & b (& binds tighter), e.g. window2d | global, window1d & causal; every "
                           "part reads the same keys",
                           {}});
  catalog_add("policies", {"predicate", "a user function (i, j) -> bool, optionally with a key range per query "
                                        "(C++ API only)",
                           {}});
}

}  // namespace rc
