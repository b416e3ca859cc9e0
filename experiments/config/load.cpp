// The command line's changes to a config: `receptive run --set` (load_experiment) and `--only` (keep_only).
#include <fmt/format.h>

#include <algorithm>

#include "experiments/config/experiment.hpp"
#include "experiments/config/yaml_params.hpp"

namespace rc::exp {

using config::ConfigError;

namespace {
// The model's name as written under `models:`: the run's model without its grid variant ("local[...]" -> "local").
std::string base_model(const std::string& model) { return model.substr(0, model.find('[')); }

bool selects(const std::string& selector, const RunSpec& r) {
  const size_t slash = selector.find('/');
  if (slash != std::string::npos)
    return selector.substr(0, slash) == r.part &&
           (selector.substr(slash + 1) == r.model || selector.substr(slash + 1) == base_model(r.model));
  return selector == r.part || selector == r.model || selector == base_model(r.model);
}

// One --set. In a config with several experiments, a key that is not a top-level one (name, experiments.N...)
// goes to the experiments that accept it: all of them when all do, the one when only one does; otherwise the
// error lists the experiments.N.<key> paths that fit (or why none does).
// `applied` gets the key paths the value went to, with the argument.
void apply_set(YAML::Node& root, const std::string& assignment, const std::string& file,
               std::vector<std::pair<std::string, std::string>>& applied) {
  const size_t eq = assignment.find('=');
  const std::string key = assignment.substr(0, eq);
  const bool multi = root.IsMap() && root["experiments"] && root["experiments"].IsSequence();
  if (!multi || eq == std::string::npos || key == "name" || key.rfind("experiments", 0) == 0) {
    config::apply_override(root, assignment);
    applied.emplace_back(key, assignment);
    return;
  }
  const size_t n = root["experiments"].size();
  std::vector<size_t> fits;
  std::vector<std::string> why;
  for (size_t i = 0; i < n; ++i) {
    YAML::Node trial = YAML::Clone(root);
    std::vector<std::pair<std::string, std::string>> origins = applied;
    origins.emplace_back(fmt::format("experiments.{}.{}", i, key), assignment);
    config::SetOrigins named(origins);
    try {
      config::apply_override(trial, fmt::format("experiments.{}.{}", i, assignment));
      parse_experiment(trial, file);
      fits.push_back(i);
    } catch (const ConfigError& e) {
      why.push_back(fmt::format("  {}", e.what()));
    }
  }
  if (fits.size() == n || fits.size() == 1) {
    for (size_t i : fits) {
      config::apply_override(root, fmt::format("experiments.{}.{}", i, assignment));
      applied.emplace_back(fmt::format("experiments.{}.{}", i, key), assignment);
    }
    return;
  }
  if (fits.empty())
    throw ConfigError(fmt::format("--set '{}': this config has {} experiments and none accepts '{}':\n{}", assignment, n,
                                  key, fmt::join(why, "\n")));
  std::vector<std::string> paths;
  for (size_t i : fits) paths.push_back(fmt::format("experiments.{}.{}", i, key));
  throw ConfigError(fmt::format("--set '{}': '{}' fits {} of the {} experiments ({}); set each one you mean, e.g. "
                                "--set {}={}", assignment, key, fits.size(), n, fmt::join(paths, ", "), paths[0],
                                assignment.substr(eq + 1)));
}
}  // namespace

void keep_only(Experiment& e, const std::vector<std::string>& selectors) {
  for (const auto& s : selectors) {
    if (std::any_of(e.runs.begin(), e.runs.end(), [&](const RunSpec& r) { return selects(s, r); })) continue;
    std::vector<std::string> parts, models;
    for (const auto& r : e.runs) {
      if (!r.part.empty() && std::find(parts.begin(), parts.end(), r.part) == parts.end()) parts.push_back(r.part);
      const std::string m = r.part.empty() ? base_model(r.model) : r.part + "/" + base_model(r.model);
      if (std::find(models.begin(), models.end(), m) == models.end()) models.push_back(m);
    }
    throw ConfigError(fmt::format("--only '{}' names no part of {}: {}models are {}", s, e.file,
                                  parts.empty() ? "" : fmt::format("experiments are {}; ", fmt::join(parts, ", ")),
                                  fmt::join(models, ", ")));
  }
  // Copies into a new vector, never assigns one RunSpec over another (as erase_if would): assigning a YAML::Node
  // rebinds the node it shares, so the kept runs' resolved configs would get mixed up.
  std::vector<RunSpec> kept;
  for (const auto& r : e.runs)
    if (std::any_of(selectors.begin(), selectors.end(), [&](const std::string& s) { return selects(s, r); }))
      kept.push_back(r);
  e.runs = std::move(kept);
}

Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(fmt::format("{}: cannot read the config file", path));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: YAML syntax error: {}", path, e.mark.line + 1, e.msg));
  }
  config::check_duplicate_keys(root, path);  // yaml-cpp keeps both; the first would silently win
  std::vector<std::pair<std::string, std::string>> applied;
  for (const auto& o : overrides) {
    config::SetOrigins origins(applied);  // a --set that fails in a trial parse names the earlier ones it met
    apply_set(root, o, path, applied);
  }
  config::SetOrigins origins(applied);  // errors in a value a --set gave name the argument, not line 1 of the file
  return parse_experiment(root, path);
}

}  // namespace rc::exp
