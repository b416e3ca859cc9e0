#include "experiments/config/yaml_params.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace rc::config {

namespace {
thread_local const std::vector<std::pair<std::string, std::string>>* t_set_origins = nullptr;
}

SetOrigins::SetOrigins(std::vector<std::pair<std::string, std::string>> origins)
    : origins_(std::move(origins)), previous_(t_set_origins) {
  t_set_origins = &origins_;
}

SetOrigins::~SetOrigins() { t_set_origins = previous_; }

std::string location(const std::string& file, const YAML::Node& node, const std::string& path) {
  if (t_set_origins)
    for (auto it = t_set_origins->rbegin(); it != t_set_origins->rend(); ++it)  // the last --set of a key wins
      if (path == it->first || path.rfind(it->first + ".", 0) == 0) return fmt::format("--set '{}': {}", it->second, path);
  // a missing key gives an undefined (or, below another missing key, invalid) node: it has no mark to read
  if (node.IsDefined() && !node.IsNull() && node.Mark().line >= 0)
    return fmt::format("{}:{}: {}", file, node.Mark().line + 1, path);
  return fmt::format("{}: {}", file, path);
}

namespace {
std::string scalar_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

bool parse_int(const YAML::Node& n, int64_t& out) {
  if (!n.IsScalar()) return false;
  try {
    size_t pos = 0;
    const std::string& s = n.Scalar();
    long long v = std::stoll(s, &pos);
    if (pos != s.size()) return false;
    out = v;
    return true;
  } catch (...) {
    return false;
  }
}
bool parse_float(const YAML::Node& n, double& out) {
  if (!n.IsScalar()) return false;
  try {
    size_t pos = 0;
    const std::string& s = n.Scalar();
    double v = std::stod(s, &pos);
    if (pos != s.size()) return false;
    out = v;
    return true;
  } catch (...) {
    return false;
  }
}
bool parse_bool(const YAML::Node& n, bool& out) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  if (s == "true" || s == "True" || s == "yes" || s == "on") return out = true, true;
  if (s == "false" || s == "False" || s == "no" || s == "off") return out = false, true;
  return false;
}
}  // namespace

ParamValue yaml_to_value(const YAML::Node& node, const ParamSpec& spec, const std::string& file,
                         const std::string& path) {
  auto bad = [&](const std::string& expected) -> ConfigError {
    return ConfigError(
        fmt::format("{}: expected {}, got '{}'", location(file, node, path), expected, scalar_text(node)));
  };
  ParamValue v;
  auto items = [&]() {
    std::vector<YAML::Node> xs;
    if (node.IsSequence())
      for (const auto& x : node) xs.push_back(x);
    else
      xs.push_back(node);
    return xs;
  };
  const std::string type = param_type_name(spec.type);
  switch (spec.type) {
    case ParamType::Int: {
      int64_t x;
      if (!parse_int(node, x)) throw bad(type);
      v = x;
      break;
    }
    case ParamType::Float: {
      double x;
      if (!parse_float(node, x)) throw bad(type);
      v = x;
      break;
    }
    case ParamType::Bool: {
      bool x;
      if (!parse_bool(node, x)) throw bad("bool (true or false)");
      v = x;
      break;
    }
    case ParamType::String:
      if (!node.IsScalar()) throw bad(type);
      v = node.Scalar();
      break;
    case ParamType::IntList: {
      std::vector<int64_t> xs;
      for (const auto& x : items()) {
        int64_t i;
        if (!parse_int(x, i)) throw bad(type);
        xs.push_back(i);
      }
      v = xs;
      break;
    }
    case ParamType::FloatList: {
      std::vector<double> xs;
      for (const auto& x : items()) {
        double d;
        if (!parse_float(x, d)) throw bad(type);
        xs.push_back(d);
      }
      v = xs;
      break;
    }
    case ParamType::StringList: {
      std::vector<std::string> xs;
      for (const auto& x : items()) {
        if (!x.IsScalar()) throw bad(type);
        xs.push_back(x.Scalar());
      }
      v = xs;
      break;
    }
  }
  std::string why = param_violation(spec, v);
  if (!why.empty()) throw bad(why);
  return v;
}

Params read_params(const YAML::Node& node, const Schema& schema, const std::string& file, const std::string& path,
                   const std::set<std::string>& extra_keys) {
  Params p = schema.defaults();
  if (!node.IsDefined() || node.IsNull()) return p;
  if (!node.IsMap())
    throw ConfigError(fmt::format("{}: expected a mapping of keys, got '{}'", location(file, node, path),
                                  scalar_text(node)));
  std::vector<std::string> known = schema.names();
  known.insert(known.end(), extra_keys.begin(), extra_keys.end());
  read_into(p, node, schema, file, path, "", known, extra_keys);
  return p;
}

bool has_section(const Schema& schema, const std::string& prefix) {
  for (const auto& s : schema.params)
    if (s.name.rfind(prefix + ".", 0) == 0) return true;
  return false;
}

void read_into(Params& p, const YAML::Node& node, const Schema& schema, const std::string& file,
               const std::string& path, const std::string& prefix, const std::vector<std::string>& known,
               const std::set<std::string>& extra_keys) {
  for (const auto& kv : node) {
    const std::string key = prefix + scalar_of(kv.first, file, path.empty() ? "config" : path, "a key (text)");
    const std::string key_path = path.empty() ? key : path + "." + key;
    if (prefix.empty() && extra_keys.count(key)) continue;
    if (!schema.find(key) && has_section(schema, key) && kv.second.IsMap()) {
      read_into(p, kv.second, schema, file, path, key + ".", known, extra_keys);  // nested section, e.g. policy:
      continue;
    }
    const ParamSpec* spec = schema.find(key);
    if (!spec) {
      std::string hint = did_you_mean(key, known);
      throw ConfigError(fmt::format("{}: unknown key '{}'{}; expected one of: {}", location(file, kv.first, key_path),
                                    key, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                    fmt::join(known, ", ")));
    }
    p.set(key, yaml_to_value(kv.second, *spec, file, key_path));
  }
}

namespace {
void duplicate_keys_below(const YAML::Node& node, const std::string& file, const std::string& path) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      duplicate_keys_below(node[i], file, path.empty() ? std::to_string(i) : path + "." + std::to_string(i));
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : scalar_text(kv.first);
    const std::string key_path = path.empty() ? key : path + "." + key;
    auto [it, added] = first_line.emplace(key, kv.first.Mark().line + 1);
    if (!added)
      throw ConfigError(fmt::format("{}: duplicate key '{}' (first given on line {}); each key may appear once",
                                    location(file, kv.first, key_path), key, it->second));
    duplicate_keys_below(kv.second, file, key_path);
  }
}
}  // namespace

void check_duplicate_keys(const YAML::Node& root, const std::string& file) { duplicate_keys_below(root, file, ""); }

std::string scalar_of(const YAML::Node& node, const std::string& file, const std::string& path, const char* what) {
  if (!node.IsScalar())
    throw ConfigError(fmt::format("{}: expected {}, got {}", location(file, node, path), what,
                                  !node.IsDefined() || node.IsNull() ? std::string("nothing")
                                                                      : "'" + scalar_text(node) + "'"));
  return node.Scalar();
}

std::vector<std::string> split_key_path(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("--set '{}': expected key.path=value", assignment));
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("--set '{}': cannot parse the value: {}", assignment, e.what()));
  }
  std::vector<std::string> parts = split_key_path(key);
  // below sweep.grid, the rest of the path is one key that itself holds dots: sweep.grid.models.cnn.dropout=[0, 0.1]
  for (size_t g = 1; g + 2 < parts.size(); ++g)
    if (parts[g - 1] == "sweep" && parts[g] == "grid") {
      std::string axis = parts[g + 1];
      for (size_t i = g + 2; i < parts.size(); ++i) axis += "." + parts[i];
      parts.resize(g + 1);
      parts.push_back(axis);
      break;
    }
  if (root.IsDefined() && !root.IsNull() && !root.IsMap())
    throw ConfigError(fmt::format("--set '{}': the config is not a mapping of keys, so it has no '{}'", assignment,
                                  parts[0]));
  // yaml-cpp nodes are handles: walk with reset() so that assignment does not overwrite parents
  YAML::Node cur;
  cur.reset(root);
  // a list element is addressed by its index: experiments.0.train.epochs=1
  auto list_index = [&](const std::string& part) -> size_t {
    size_t idx = 0;
    bool digits = !part.empty() && part.size() < 10;
    for (char ch : part) digits = digits && ch >= '0' && ch <= '9', idx = idx * 10 + size_t(ch - '0');
    if (!digits || idx >= cur.size())
      throw ConfigError(fmt::format("--set '{}': '{}' is not an index of a list of {}", assignment, part, cur.size()));
    return idx;
  };
  // a list index into a mapping (models.0.type=gcn where models is a mapping of names) would silently add a new
  // entry named "0": only an existing key may be all digits
  auto check_not_index = [&](size_t i) {
    const std::string& part = parts[i];
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || !cur.IsMap() || cur[part]) return;
    std::vector<std::string> keys;
    for (const auto& kv : cur) keys.push_back(kv.first.IsScalar() ? kv.first.Scalar() : "?");
    throw ConfigError(fmt::format("--set '{}': '{}' is a mapping (keys: {}), not a list; '{}' is not one of its keys",
                                  assignment, i == 0 ? std::string("the config") : parts[i - 1], fmt::join(keys, ", "),
                                  part));
  };
  auto check_container = [&](size_t i) {
    if (cur.IsDefined() && !cur.IsNull() && !cur.IsMap() && !cur.IsSequence())
      throw ConfigError(fmt::format("--set '{}': '{}' is a value, not a mapping or a list", assignment, parts[i - 1]));
  };
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) throw ConfigError(fmt::format("--set '{}': empty key in the path", assignment));
    if (i > 0) check_container(i);
    YAML::Node next;
    if (cur.IsSequence()) {
      next = cur[list_index(parts[i])];
    } else {
      if (cur[parts[i]] && !cur[parts[i]].IsMap() && !cur[parts[i]].IsSequence())
        throw ConfigError(fmt::format("--set '{}': '{}' is not a mapping", assignment, parts[i]));
      check_not_index(i);
      if (!cur[parts[i]]) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = cur[parts[i]];
    }
    cur.reset(next);
  }
  if (parts.size() > 1) check_container(parts.size() - 1);
  if (cur.IsSequence()) {
    cur[list_index(parts.back())] = value;
  } else {
    if (parts.back().empty()) throw ConfigError(fmt::format("--set '{}': empty key in the path", assignment));
    check_not_index(parts.size() - 1);
    cur[parts.back()] = value;
  }
}

}  // namespace rc::config
