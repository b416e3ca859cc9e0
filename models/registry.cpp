#include "models/registry.hpp"

#include <fmt/format.h>

#include "framework/core/error.hpp"

namespace rc::models {

namespace {
std::vector<ModelType>& types() {
  static std::vector<ModelType> t;
  return t;
}
}  // namespace

const char* domain_name(Domain d) {
  switch (d) {
    case Domain::Image: return "image";
    case Domain::Graph: return "graph";
    case Domain::Sequence: return "sequence";
  }
  return "?";
}

void register_model(ModelType type) {
  for (auto& t : types())
    if (t.type == type.type) {
      t = std::move(type);
      return;
    }
  types().push_back(std::move(type));
}

const std::vector<ModelType>& model_types() {
  register_builtin_models();
  return types();
}

const ModelType& model_type(const std::string& type) {
  std::vector<std::string> names;
  for (const auto& t : model_types()) {
    if (t.type == type) return t;
    names.push_back(t.type);
  }
  std::string hint = did_you_mean(type, names);
  fail("unknown model type '{}'{}; known types: {}", type, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
       fmt::join(names, ", "));
}

}  // namespace rc::models
