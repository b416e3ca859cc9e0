#include "framework/core/params.hpp"

#include <cctype>
#include <fmt/format.h>

#include <algorithm>

#include "framework/core/error.hpp"

namespace rc {

const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::Bool: return "bool";
    case ParamType::String: return "string";
    case ParamType::IntList: return "list of int";
    case ParamType::FloatList: return "list of float";
    case ParamType::StringList: return "list of string";
  }
  return "?";
}

std::string param_value_str(const ParamValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) return fmt::format("{}", x);
        else return fmt::format("[{}]", fmt::join(x, ", "));
      },
      v);
}

const ParamValue& Params::get(const std::string& name) const {
  auto it = values_.find(name);
  RC_CHECK(it != values_.end(), "parameter '{}' is not set", name);
  return it->second;
}

int64_t Params::get_int(const std::string& name) const {
  const auto& v = get(name);
  RC_CHECK(std::holds_alternative<int64_t>(v), "parameter '{}' = {} is not an int", name, param_value_str(v));
  return std::get<int64_t>(v);
}
double Params::get_float(const std::string& name) const {
  const auto& v = get(name);
  if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
  RC_CHECK(std::holds_alternative<double>(v), "parameter '{}' = {} is not a number", name, param_value_str(v));
  return std::get<double>(v);
}
bool Params::get_bool(const std::string& name) const {
  const auto& v = get(name);
  RC_CHECK(std::holds_alternative<bool>(v), "parameter '{}' = {} is not a bool", name, param_value_str(v));
  return std::get<bool>(v);
}
const std::string& Params::get_string(const std::string& name) const {
  const auto& v = get(name);
  RC_CHECK(std::holds_alternative<std::string>(v), "parameter '{}' = {} is not a string", name, param_value_str(v));
  return std::get<std::string>(v);
}
std::vector<int64_t> Params::get_int_list(const std::string& name) const {
  const auto& v = get(name);
  if (std::holds_alternative<int64_t>(v)) return {std::get<int64_t>(v)};
  RC_CHECK(std::holds_alternative<std::vector<int64_t>>(v), "parameter '{}' = {} is not a list of int", name,
           param_value_str(v));
  return std::get<std::vector<int64_t>>(v);
}
std::vector<double> Params::get_float_list(const std::string& name) const {
  const auto& v = get(name);
  if (std::holds_alternative<std::vector<int64_t>>(v)) {
    const auto& i = std::get<std::vector<int64_t>>(v);
    return std::vector<double>(i.begin(), i.end());
  }
  RC_CHECK(std::holds_alternative<std::vector<double>>(v), "parameter '{}' = {} is not a list of float", name,
           param_value_str(v));
  return std::get<std::vector<double>>(v);
}
std::vector<std::string> Params::get_string_list(const std::string& name) const {
  const auto& v = get(name);
  RC_CHECK(std::holds_alternative<std::vector<std::string>>(v), "parameter '{}' = {} is not a list of string", name,
           param_value_str(v));
  return std::get<std::vector<std::string>>(v);
}

const ParamSpec* Schema::find(const std::string& name) const {
  for (const auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

Params Schema::defaults() const {
  Params p;
  for (const auto& s : params) p.set(s.name, s.default_value);
  return p;
}

std::vector<std::string> Schema::names() const {
  std::vector<std::string> n;
  for (const auto& p : params) n.push_back(p.name);
  return n;
}

namespace {
std::string bounds_str(const ParamSpec& s) {
  if (s.min && s.max) return fmt::format(" in [{}, {}]", *s.min, *s.max);
  if (s.min) return fmt::format(" >= {}", *s.min);
  if (s.max) return fmt::format(" <= {}", *s.max);
  return "";
}
bool in_bounds(const ParamSpec& s, double x) { return (!s.min || x >= *s.min) && (!s.max || x <= *s.max); }
}  // namespace

bool param_applies(const Schema& schema, const ParamSpec& spec, const Params& p) {
  if (!spec.when) return true;
  std::string text;
  if (auto it = p.values().find(spec.when->key); it != p.values().end()) text = param_value_str(it->second);
  else if (const ParamSpec* k = schema.find(spec.when->key)) text = param_value_str(k->default_value);
  else return true;  // a condition on a key this schema lacks: not ours to judge
  std::string word;
  auto matches = [&] {
    const bool m = std::find(spec.when->any_of.begin(), spec.when->any_of.end(), word) != spec.when->any_of.end();
    word.clear();
    return m;
  };
  for (char ch : text) {
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') word += ch;
    else if (!word.empty() && matches()) return true;
  }
  return !word.empty() && matches();
}

std::string param_violation(const ParamSpec& s, const ParamValue& v) {
  const std::string expected = fmt::format("{}{}", param_type_name(s.type), bounds_str(s));
  switch (s.type) {
    case ParamType::Int:
      if (!std::holds_alternative<int64_t>(v) || !in_bounds(s, double(std::get<int64_t>(v)))) return expected;
      return "";
    case ParamType::Float: {
      double x;
      if (std::holds_alternative<int64_t>(v)) x = double(std::get<int64_t>(v));
      else if (std::holds_alternative<double>(v)) x = std::get<double>(v);
      else return expected;
      return in_bounds(s, x) ? "" : expected;
    }
    case ParamType::Bool: return std::holds_alternative<bool>(v) ? "" : expected;
    case ParamType::String:
      if (!std::holds_alternative<std::string>(v)) return expected;
      if (!s.choices.empty() &&
          std::find(s.choices.begin(), s.choices.end(), std::get<std::string>(v)) == s.choices.end())
        return fmt::format("one of {}", fmt::join(s.choices, " | "));
      return "";
    case ParamType::IntList:
      if (std::holds_alternative<std::vector<int64_t>>(v)) {
        for (int64_t x : std::get<std::vector<int64_t>>(v))
          if (!in_bounds(s, double(x))) return expected;
        return "";
      }
      return expected;
    case ParamType::FloatList: {
      std::vector<double> xs;
      if (std::holds_alternative<std::vector<int64_t>>(v))
        for (int64_t x : std::get<std::vector<int64_t>>(v)) xs.push_back(double(x));
      else if (std::holds_alternative<std::vector<double>>(v))
        xs = std::get<std::vector<double>>(v);
      else
        return expected;
      for (double x : xs)
        if (!in_bounds(s, x)) return expected;
      return "";
    }
    case ParamType::StringList: return std::holds_alternative<std::vector<std::string>>(v) ? "" : expected;
  }
  return expected;
}

std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = distance(key, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  return best_d <= limit ? best : "";
}

}  // namespace rc
