#pragma once
// Options declared once: a table of {key, doc, bounds, member pointer} gives both the Schema (validation, docs,
// `receptive list`) and the struct filled from Params. The parameter's type follows the member's type and its
// default is the struct's own member initialiser, so neither is spelled a second time.
//
//   const ParamBinding<Opts>& binding() {
//     static const auto b = ParamBinding<Opts>()
//                                .field(&Opts::epochs, "epochs", "passes over the training set", 1.0)
//                                .field(&Opts::schedule, "schedule", "learning-rate schedule", {}, {}, {"cosine", "step"});
//     return b;
//   }
//   Schema s = binding().schema();          Opts o = binding().from(params);
//
// A prefix nests the options below a section: schema("csbm.") declares "csbm.nodes", from(p, "csbm.") reads it.
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "framework/core/params.hpp"

namespace rc {

template <class S>
class ParamBinding {
 public:
  template <class T>
  ParamBinding& field(T S::*member, std::string name, std::string doc, std::optional<double> min = {},
                      std::optional<double> max = {}, std::vector<std::string> choices = {}) {
    ParamSpec spec{std::move(name), type_of<T>(), ParamValue(S{}.*member), std::move(doc), min, max,
                   std::move(choices)};
    fields_.push_back({std::move(spec), [member](S& s, const Params& p, const std::string& key) {
                         s.*member = get<T>(p, key);
                       }});
    return *this;
  }

  // The last field applies only when a word of `key`'s value is one of `any_of` (ParamCondition).
  ParamBinding& when(std::string key, std::vector<std::string> any_of) {
    fields_.back().spec.when = ParamCondition{std::move(key), std::move(any_of)};
    return *this;
  }

  Schema schema(const std::string& prefix = "") const {
    Schema s;
    for (const auto& f : fields_) {
      s.params.push_back(f.spec);
      s.params.back().name = prefix + f.spec.name;
      if (f.spec.when) s.params.back().when->key = prefix + f.spec.when->key;
    }
    return s;
  }

  // Every bound member of `s` from p (which must hold every key, as Params read against schema() do).
  void fill(S& s, const Params& p, const std::string& prefix = "") const {
    for (const auto& f : fields_) f.read(s, p, prefix + f.spec.name);
  }
  S from(const Params& p, const std::string& prefix = "") const {
    S s{};
    fill(s, p, prefix);
    return s;
  }

 private:
  template <class T>
  static constexpr ParamType type_of() {
    if constexpr (std::is_same_v<T, bool>) return ParamType::Bool;
    else if constexpr (std::is_same_v<T, int64_t>) return ParamType::Int;
    else if constexpr (std::is_same_v<T, double>) return ParamType::Float;
    else if constexpr (std::is_same_v<T, std::string>) return ParamType::String;
    else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return ParamType::IntList;
    else if constexpr (std::is_same_v<T, std::vector<double>>) return ParamType::FloatList;
    else {
      static_assert(std::is_same_v<T, std::vector<std::string>>,
                    "a bound member is bool, int64_t, double, std::string or a vector of int64_t, double or string");
      return ParamType::StringList;
    }
  }
  template <class T>
  static T get(const Params& p, const std::string& key) {
    if constexpr (std::is_same_v<T, bool>) return p.get_bool(key);
    else if constexpr (std::is_same_v<T, int64_t>) return p.get_int(key);
    else if constexpr (std::is_same_v<T, double>) return p.get_float(key);
    else if constexpr (std::is_same_v<T, std::string>) return p.get_string(key);
    else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return p.get_int_list(key);
    else if constexpr (std::is_same_v<T, std::vector<double>>) return p.get_float_list(key);
    else return p.get_string_list(key);
  }

  struct Field {
    ParamSpec spec;
    std::function<void(S&, const Params&, const std::string&)> read;
  };
  std::vector<Field> fields_;
};

// The parameters of several schemas, in order (a dataset's own options after its domain's).
inline Schema concat_schemas(std::initializer_list<Schema> parts) {
  Schema s;
  for (const auto& part : parts) s.params.insert(s.params.end(), part.params.begin(), part.params.end());
  return s;
}

}  // namespace rc
