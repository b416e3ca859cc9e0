#pragma once
// YAML → typed Params against a Schema, with errors that give file:line, the key's full path, the value and
// what was expected (plus "did you mean" for misspelled keys); and `--set a.b.c=value` overrides.
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "framework/core/error.hpp"
#include "framework/core/params.hpp"

namespace rc::config {

struct ConfigError : Error {
  using Error::Error;
};

// "file:line: path" for messages (line from the node's mark when known); for a key path that a --set argument
// gave (see SetOrigins), "--set 'key=value': path" instead.
std::string location(const std::string& file, const YAML::Node& node, const std::string& path);

// While alive (on this thread), location() names the --set argument for the key paths given here (and those
// below them): {key path as applied, e.g. "experiments.1.train.epochs"; the argument, "train.epochs=x"}.
class SetOrigins {
 public:
  explicit SetOrigins(std::vector<std::pair<std::string, std::string>> origins);
  ~SetOrigins();
  SetOrigins(const SetOrigins&) = delete;
  SetOrigins& operator=(const SetOrigins&) = delete;

 private:
  std::vector<std::pair<std::string, std::string>> origins_;
  const std::vector<std::pair<std::string, std::string>>* previous_;
};

// Converts one YAML value to the spec's type (ints accepted for floats, a scalar for a one-element list).
ParamValue yaml_to_value(const YAML::Node& node, const ParamSpec& spec, const std::string& file,
                         const std::string& path);

// Reads the mapping `node` against `schema`: every key must be in the schema (or in `extra_keys`, which the
// caller handles), every value must fit its spec; missing keys take their defaults.
Params read_params(const YAML::Node& node, const Schema& schema, const std::string& file, const std::string& path,
                   const std::set<std::string>& extra_keys = {});

// The loop of read_params: keys under `prefix` (a nested section such as `policy:` maps to schema names
// "policy.kind", "policy.kernel", ...).
void read_into(Params& p, const YAML::Node& node, const Schema& schema, const std::string& file,
               const std::string& path, const std::string& prefix, const std::vector<std::string>& known,
               const std::set<std::string>& extra_keys);

// "a.b.c" -> {"a", "b", "c"}
std::vector<std::string> split_key_path(const std::string& key);

// Whether `schema` has parameters below `prefix.` (a nested section such as policy: {kind, kernel}).
bool has_section(const Schema& schema, const std::string& prefix);

// Throws a ConfigError naming the file, the line of the second occurrence and the key path when a mapping
// anywhere below `root` holds a key twice (yaml-cpp keeps both entries and lookups return the first).
void check_duplicate_keys(const YAML::Node& root, const std::string& file);

// The text of a scalar node; anything else is a ConfigError naming file:line: path and `what` was expected.
std::string scalar_of(const YAML::Node& node, const std::string& file, const std::string& path, const char* what);

// Applies "a.b.c=value" to root (value parsed as YAML, so `[3, 5]` is a list); creates missing maps.
void apply_override(YAML::Node& root, const std::string& assignment);

}  // namespace rc::config
