#pragma once
// An experiment config (YAML): one dataset, training settings, named models, and sweep axes. It expands into
// a list of runs (model variant × training size × seed), each fully resolved, before anything trains; every
// key is validated first (path, value, what was expected, "did you mean").
//
//   name: quickstart
//   dataset: {name: fashion-mnist, root: "", val_fraction: 0.1, ...}        (the dataset's schema)
//   train:   {epochs: 10, lr: 1e-3, ...}                                     (train_schema)
//   models:
//     cnn:   {type: cnn, channels: [32, 64, 128], train: {lr: 3e-3}}        (the model type's schema)
//   sweep:
//     train_size: [0.01, 0.1, 1.0]   images: fraction (<= 1) of the training pool, or a count (> 1);
//                                    graphs: labelled nodes per class (random split)
//     seeds: [0, 1, 2]
//     grid: {models.local.policy.kernel: [3, 5, 7], train.lr: [1e-3, 3e-4]}
//
// Several datasets in one config: `name` plus `experiments:`, a list of sections shaped like the above (each
// with its own name); their runs share one results folder and their ids start with the section's name.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "framework/core/params.hpp"

namespace rc::exp {

// The `dataset:` section at `path`, read against the schema of the dataset it names (datasets/registry.hpp);
// errors name file:line, the key and what was expected.
Params read_dataset_params(const YAML::Node& node, const std::string& file, const std::string& path);

struct RunSpec {
  std::string id;           // unique, filesystem-safe: [<part>__]<model>__<size>__s<seed>
  std::string part;         // the experiment's name in a multi-dataset config, else ""
  Params dataset;           // the dataset section, resolved
  std::string model;        // model name from the config, with the grid variant: "local[policy.kernel=5]"
  std::string model_type;
  Params model_params, train_params;
  double train_size = 1.0;  // as given in the sweep
  int64_t seed = 0;
  YAML::Node resolved;      // the run's complete config (saved beside its results)
};

struct Experiment {
  std::string name, file;
  YAML::Node root;          // after --set overrides
  std::vector<RunSpec> runs;
};

// Loads, applies overrides ("a.b=value"), validates and expands. Errors are ConfigError with file:line.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});
// Same from YAML text (tests).
Experiment parse_experiment(const YAML::Node& root, const std::string& file);

// `receptive run --only`: keeps the runs that one of `selectors` names: an experiment's name (a config with
// several experiments), a model's name as written under `models:` (with a grid, all its variants; or one variant
// by its full name, "local[policy.kernel=5]"), or EXPERIMENT/MODEL. A selector that names nothing is a
// ConfigError listing the valid experiment and model names.
void keep_only(Experiment& e, const std::vector<std::string>& selectors);

}  // namespace rc::exp
