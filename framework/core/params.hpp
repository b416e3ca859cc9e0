#pragma once
// Typed parameters with a schema: what models, datasets and policies accept, with defaults, ranges and
// docs. The experiments layer turns YAML into Params through a Schema; `receptive list` prints Schemas.
// (No YAML here: the framework depends on no file format for configs.)
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rc {

enum class ParamType { Int, Float, Bool, String, IntList, FloatList, StringList };
const char* param_type_name(ParamType t);

using ParamValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>, std::vector<double>,
                                std::vector<std::string>>;
std::string param_value_str(const ParamValue& v);

// When a parameter means something: only when a word of another parameter's value is one of `any_of` (e.g. a
// window's radius only when policy.kind names window1d; "window1d & causal" has the words window1d and causal).
struct ParamCondition {
  std::string key;
  std::vector<std::string> any_of;
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  ParamValue default_value;
  std::string doc;
  std::optional<double> min, max;    // inclusive bounds for numbers (and each list element)
  std::vector<std::string> choices;  // allowed strings, when non-empty
  std::optional<ParamCondition> when = std::nullopt;  // applies only under this condition (always when empty)
};

class Params {
 public:
  void set(const std::string& name, ParamValue v) { values_[name] = std::move(v); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;  // ints convert
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  std::vector<int64_t> get_int_list(const std::string& name) const;
  std::vector<double> get_float_list(const std::string& name) const;
  std::vector<std::string> get_string_list(const std::string& name) const;
  const std::map<std::string, ParamValue>& values() const { return values_; }

 private:
  const ParamValue& get(const std::string& name) const;
  std::map<std::string, ParamValue> values_;
};

struct Schema {
  std::vector<ParamSpec> params;
  const ParamSpec* find(const std::string& name) const;
  Params defaults() const;
  std::vector<std::string> names() const;
};

// Whether `spec` applies to a section read as `p` (its condition, with the key's schema default when p lacks
// it); a saved resolved config lists only the parameters that apply.
bool param_applies(const Schema& schema, const ParamSpec& spec, const Params& p);

// Checks a value against its spec (type, bounds, choices); returns "" or what was expected.
std::string param_violation(const ParamSpec& spec, const ParamValue& v);

// The closest candidate by edit distance when it is close enough to be a likely typo, else "".
std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace rc
