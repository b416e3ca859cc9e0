#include "experiments/config/experiment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "datasets/registry.hpp"
#include "experiments/config/yaml_params.hpp"
#include "experiments/results.hpp"
#include "experiments/train/settings.hpp"
#include "models/registry.hpp"

namespace rc::exp {

using config::ConfigError;
using config::location;

Params read_dataset_params(const YAML::Node& node, const std::string& file, const std::string& path) {
  // the name picks the schema: read it first (a missing section or name is the default dataset)
  const ParamSpec name_spec = data::dataset_name_spec();
  std::string name = std::get<std::string>(name_spec.default_value);
  if (node && node.IsMap() && node["name"]) {
    const ParamValue v = config::yaml_to_value(node["name"], name_spec, file, path + ".name");
    name = std::get<std::string>(v);
  }
  return config::read_params(node, data::dataset_schema(data::dataset_type(name)), file, path);
}

namespace {
const std::vector<std::string> kTopKeys{"name", "dataset", "train", "models", "sweep"};

std::string fmt_size(double v) {
  if (v == 0) return "split";
  if (v == std::floor(v) && v >= 1) return fmt::format("{}", int64_t(v));
  return fmt::format("{:g}", v);
}

struct GridAxis {
  std::string key;  // models.<name>.<param> or train.<param>
  YAML::Node key_node;  // for the line number in errors
  std::vector<YAML::Node> values;
};

YAML::Node clone(const YAML::Node& n) { return YAML::Clone(n); }

std::string flow_text(const YAML::Node& v) {
  if (v.IsScalar()) return v.Scalar();
  YAML::Emitter em;
  em << YAML::Flow << v;
  return em.c_str();
}

// Throws a ConfigError naming the line of the second of two items with the same key(item).
template <class Key>
void check_unique(const std::vector<YAML::Node>& items, Key key, const std::string& file, const std::string& path) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string k = key(items[i]);
    auto [it, added] = seen.emplace(k, i);
    if (!added)
      throw ConfigError(fmt::format("{}: the value {} is listed twice (items {} and {}); every value must be distinct, "
                                    "or two runs would get the same id",
                                    location(file, items[i], path), flow_text(items[i]), it->second, i));
  }
}

// Sets the dotted path below `root` (creating maps).
void set_path(YAML::Node root, const std::vector<std::string>& parts, size_t from, const YAML::Node& value) {
  YAML::Node cur;
  cur.reset(root);
  for (size_t i = from; i + 1 < parts.size(); ++i) {
    if (!cur[parts[i]] || !cur[parts[i]].IsMap()) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next = cur[parts[i]];
    cur.reset(next);
  }
  cur[parts.back()] = value;
}

}  // namespace

namespace {
void check_top_keys(const YAML::Node& root, const std::string& file, const std::string& path,
                    const std::vector<std::string>& allowed) {
  if (!root.IsMap())
    throw ConfigError(fmt::format("{}: expected a mapping with keys {}",
                                  location(file, root, path.empty() ? "config" : path), fmt::join(allowed, ", ")));
  for (const auto& kv : root) {
    const std::string key = config::scalar_of(kv.first, file, path.empty() ? "config" : path, "a key (text)");
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string hint = did_you_mean(key, allowed);
      const std::string key_path = path.empty() ? key : path + "." + key;
      throw ConfigError(fmt::format("{}: unknown key '{}'{}; expected one of: {}", location(file, kv.first, key_path),
                                    key, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                    fmt::join(allowed, ", ")));
    }
  }
}

// What parsing one part (one dataset) of a config needs: where it is, its dataset, and its sweep axes.
struct PartContext {
  const YAML::Node& root;
  const std::string& file;
  std::string path, part;  // key-path prefix in messages ("experiments.1"); run-id prefix ("" for one dataset)
  Params dataset;
  const data::DatasetType* dataset_type = nullptr;
  bool graph = false;
  std::vector<double> sizes;
  std::vector<int64_t> seeds{0};
  std::vector<GridAxis> grid;
  std::string at(const std::string& key) const { return path.empty() ? key : path + "." + key; }
};

const char* domain_of(const models::ModelType& mt) {
  return models::domain_name(mt.domain);
}

// sweep.train_size and sweep.seeds: read, no value listed twice, sizes that fit the dataset's domain.
void read_sizes_and_seeds(PartContext& c, const YAML::Node& sweep) {
  Schema ss;
  ss.params = {{"train_size", ParamType::FloatList, std::vector<double>{1.0}, "", {}, {}, {}},
               {"seeds", ParamType::IntList, std::vector<int64_t>{0}, "", 0.0, {}, {}}};
  Params sp = config::read_params(sweep, ss, c.file, c.at("sweep"), {"grid"});
  if (sweep["train_size"]) c.sizes = sp.get_float_list("train_size");
  c.seeds = sp.get_int_list("seeds");
  // every run id is model × size × seed: a value listed twice would name two runs alike
  for (const char* axis : {"train_size", "seeds"}) {
    const YAML::Node list = sweep[axis];
    if (!list) continue;
    std::vector<YAML::Node> items;
    if (list.IsSequence())
      for (const auto& x : list) items.push_back(x);
    if (list.IsSequence() && items.empty())
      throw ConfigError(fmt::format("{}: lists no values; expected a non-empty list",
                                    location(c.file, list, c.at(std::string("sweep.") + axis))));
    check_unique(items, [&](const YAML::Node& x) { return fmt::format("{}", std::stod(x.Scalar())); }, c.file,
                 c.at(std::string("sweep.") + axis));
  }
  for (double v : sweep["train_size"] ? c.sizes : std::vector<double>{}) {
    const bool ok = c.graph ? (v >= 1 && v == std::floor(v)) : (v > 0 && (v <= 1 || v == std::floor(v)));
    if (!ok)
      throw ConfigError(fmt::format("{}: expected {}, got {}", location(c.file, sweep["train_size"], c.at("sweep.train_size")),
                                    c.graph ? "labelled nodes per class (an integer >= 1)"
                                            : "a fraction in (0, 1] or a count of examples (an integer > 1)",
                                    v));
  }
  if (c.graph && sweep["train_size"] && c.dataset.get_string("split") == "planetoid")
    throw ConfigError(fmt::format("{}: a labels-per-class sweep needs dataset.split: random (the planetoid split "
                                  "fixes the training nodes)",
                                  location(c.file, sweep["train_size"], c.at("sweep.train_size"))));
}

// sweep.grid: key paths (models.<name>.<param> or train.<param>) to non-empty lists of distinct values.
void read_grid(PartContext& c, const YAML::Node& grid, const YAML::Node& models) {
  if (!grid.IsMap())
    throw ConfigError(fmt::format("{}: expected a mapping of key paths to lists", location(c.file, grid, c.at("sweep.grid"))));
  for (const auto& kv : grid) {
    GridAxis ax;
    ax.key = config::scalar_of(kv.first, c.file, c.at("sweep.grid"), "a key path (text)");
    ax.key_node = kv.first;
    auto parts = config::split_key_path(ax.key);
    const bool model_key = parts.size() >= 3 && parts[0] == "models" && models[parts[1]];
    const bool train_key = parts.size() == 2 && parts[0] == "train";
    if (!model_key && !train_key)
      throw ConfigError(fmt::format("{}: grid keys are models.<name>.<parameter> (a model in `models`) or "
                                    "train.<parameter>, got '{}'",
                                    location(c.file, kv.first, c.at("sweep.grid")), ax.key));
    if (kv.second.IsSequence())
      for (const auto& v : kv.second) ax.values.push_back(v);
    else
      ax.values.push_back(kv.second);
    if (ax.values.empty())
      throw ConfigError(fmt::format("{}: grid axis '{}' lists no values; expected a non-empty list such as [1, 2]",
                                    location(c.file, kv.first, c.at("sweep.grid." + ax.key)), ax.key));
    // two equal values would give two runs with one id (the second overwriting the first's folder)
    check_unique(ax.values, [](const YAML::Node& v) { return flow_text(v); }, c.file, c.at("sweep.grid." + ax.key));
    for (const auto& g : c.grid)
      if (g.key == ax.key)
        throw ConfigError(fmt::format("{}: grid axis '{}' is given twice", location(c.file, kv.first, c.at("sweep.grid")),
                                      ax.key));
    c.grid.push_back(std::move(ax));
  }
}

// run ids and folders use the cleaned name: two names that clean up alike ("a/b", "a_b") would share them
void check_model_names(const PartContext& c, const YAML::Node& models) {
  std::map<std::string, YAML::Node> cleaned;
  for (const auto& mkv : models) {
    const std::string mname = config::scalar_of(mkv.first, c.file, c.at("models"), "a model name (text)");
    if (mname.empty())
      throw ConfigError(fmt::format("{}: a model needs a non-empty name", location(c.file, mkv.first, c.at("models"))));
    auto [it, added] = cleaned.emplace(file_safe(mname), mkv.first);
    if (!added)
      throw ConfigError(fmt::format(
          "{}: model names '{}' (line {}) and '{}' both become '{}' in run ids and folder names; rename one",
          location(c.file, mkv.first, c.at("models." + mname)), it->second.as<std::string>(), it->second.Mark().line + 1,
          mname, file_safe(mname)));
  }
}

// The section's model type, which must exist and be of the dataset's domain.
const models::ModelType& model_type_of(const PartContext& c, const YAML::Node& section, const std::string& mpath) {
  if (!section.IsMap() || !section["type"])
    throw ConfigError(fmt::format("{}: expected a section with a `type` (one of the types `receptive list` shows)",
                                  location(c.file, section, mpath)));
  const std::string type = config::scalar_of(section["type"], c.file, mpath + ".type", "a model type (text)");
  const models::ModelType* mt = nullptr;
  try {
    mt = &models::model_type(type);
  } catch (const Error& err) {
    throw ConfigError(fmt::format("{}: {}", location(c.file, section["type"], mpath + ".type"), err.what()));
  }
  if (domain_of(*mt) != c.dataset_type->domain)
    throw ConfigError(fmt::format("{}: model type '{}' is for {} data but the dataset '{}' holds {} data",
                                  location(c.file, section["type"], mpath + ".type"), type, domain_of(*mt),
                                  c.dataset_type->name, c.dataset_type->domain));
  return *mt;
}

// The grid axes that touch model `mname` (train.* axes touch all). Each must name a parameter of the model (or of
// train, globally or in the model's own train section) or a whole section of them (models.v.policy: [{kind: full},
// ...]), checked here where the schema is known.
std::vector<const GridAxis*> axes_of(const PartContext& c, const std::string& mname, const models::ModelType& mt) {
  std::vector<const GridAxis*> axes;
  for (const auto& ax : c.grid) {
    auto parts = config::split_key_path(ax.key);
    if (parts[0] != "train" && parts[1] != mname) continue;
    axes.push_back(&ax);
    const bool model_train = parts[0] != "train" && parts.size() >= 4 && parts[2] == "train";
    const bool of_train = parts[0] == "train" || model_train;
    std::string param;
    for (size_t i = parts[0] == "train" ? 1 : model_train ? 3 : 2; i < parts.size(); ++i)
      param += (param.empty() ? "" : ".") + parts[i];
    const Schema& schema = of_train ? train_schema() : mt.schema;
    if (schema.find(param) || config::has_section(schema, param)) continue;
    std::string hint = did_you_mean(param, schema.names());
    for (const auto& name : schema.names())  // 'kernal' → 'policy.kernel': compare the last component too
      if (hint.empty() && name.find('.') != std::string::npos &&
          !did_you_mean(param, {name.substr(name.rfind('.') + 1)}).empty())
        hint = name;
    throw ConfigError(fmt::format("{}: grid key '{}' names no parameter of {}{}; expected one of: {}",
                                  location(c.file, ax.key_node, c.at("sweep.grid")), ax.key,
                                  of_train ? "train" : "model type '" + mt.type + "'",
                                  hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                  fmt::join(schema.names(), ", ")));
  }
  return axes;
}

// Combinations the schemas cannot express, for the input shape the dataset's entry declares.
void check_model(const PartContext& c, const models::ModelType& mt, const Params& mp, const YAML::Node& section,
                 const std::string& mpath) {
  if (c.graph && mt.check_graph) {
    const std::string bad = mt.check_graph(mp);
    if (!bad.empty()) throw ConfigError(fmt::format("{}: {}", location(c.file, section, mpath), bad));
  }
  if (mt.domain == models::Domain::Sequence && mt.check_sequence) {
    models::SequenceShape shape;
    const std::vector<int64_t> dims = c.dataset_type->input_shape ? c.dataset_type->input_shape(c.dataset)
                                                                  : std::vector<int64_t>{};
    if (dims.size() == 2) shape.length = dims[0], shape.features = dims[1];
    const std::string bad = mt.check_sequence(mp, shape);
    if (!bad.empty())
      throw ConfigError(fmt::format("{}: {} (sequences of {} steps × {} features)", location(c.file, section, mpath),
                                    bad, shape.length, shape.features));
  }
  if (mt.domain == models::Domain::Image && mt.check_image) {
    models::ImageShape shape;
    const std::vector<int64_t> dims = c.dataset_type->input_shape ? c.dataset_type->input_shape(c.dataset)
                                                                  : std::vector<int64_t>{};
    if (dims.size() == 3) shape.channels = dims[0], shape.height = dims[1], shape.width = dims[2];
    const std::string bad = mt.check_image(mp, shape);
    if (!bad.empty())
      throw ConfigError(fmt::format("{}: {} (image {}x{})", location(c.file, section, mpath), bad, shape.height,
                                    shape.width));
  }
}

// A resolved setting as YAML: lists as (flow) lists, everything else as its scalar text.
YAML::Node setting_node(const ParamValue& v) {
  YAML::Node n;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>> ||
                      std::is_same_v<T, std::vector<std::string>>) {
          n = YAML::Node(YAML::NodeType::Sequence);
          for (const auto& e : x) {
            if constexpr (std::is_same_v<T, std::vector<std::string>>) n.push_back(e);
            else n.push_back(fmt::format("{}", e));  // as param_value_str writes numbers
          }
          n.SetStyle(YAML::EmitterStyle::Flow);
        } else {
          n = param_value_str(v);
        }
      },
      v);
  return n;
}

// The settings of a section that apply to a run (saved in its config.yaml): those whose ParamSpec::when holds
// (a policy key only for the kinds that read it, SGD's momentum only with SGD, ...).
bool setting_applies(const Schema& schema, const std::string& key, const Params& p) {
  const ParamSpec* spec = schema.find(key);
  return !spec || param_applies(schema, *spec, p);
}

// The runs of one model variant: one per training size and seed, each with its complete resolved config.
void add_runs(const PartContext& c, Experiment& e, const std::string& variant, const std::string& type,
              YAML::Node msec, const Params& mp, const Params& tp) {
  for (double size : c.sizes)
    for (int64_t seed : c.seeds) {
      RunSpec r;
      r.model = variant;
      r.part = c.part;
      r.dataset = c.dataset;
      r.model_type = type;
      r.model_params = mp;
      r.train_params = tp;
      r.train_size = size;
      r.seed = seed;
      r.id = file_safe(fmt::format("{}{}__{}__s{}", c.part.empty() ? "" : c.part + "__", variant, fmt_size(size), seed));
      YAML::Node res;
      res["name"] = c.part.empty() ? e.name : c.part;
      res["dataset"] = clone(c.root["dataset"] ? c.root["dataset"] : YAML::Node(YAML::NodeType::Map));
      for (const auto& [k, v] : c.dataset.values())
        if (setting_applies(c.dataset_type->schema, k, c.dataset)) res["dataset_resolved"][k] = setting_node(v);
      msec.remove("train");
      res["model"] = msec;
      res["model"]["name"] = variant;
      for (const auto& [k, v] : mp.values())
        if (setting_applies(models::model_type(type).schema, k, mp)) res["model_resolved"][k] = setting_node(v);
      static const Schema ts = train_schema();
      for (const auto& [k, v] : tp.values())  // warmup_epochs: not when warmup_steps replaces it (a number)
        if (setting_applies(ts, k, tp) && !(k == "warmup_epochs" && tp.get_int("warmup_steps") > 0))
          res["train_resolved"][k] = setting_node(v);
      res["train_size"] = size;
      res["seed"] = seed;
      r.resolved = res;
      e.runs.push_back(std::move(r));
    }
}

// Model variants: the cartesian product of the grid axes that touch the model.
void expand_model(const PartContext& c, const YAML::Node& mname_node, const YAML::Node& section, Experiment& e) {
  const std::string mname = mname_node.as<std::string>();
  const std::string mpath = c.at("models." + mname);
  const models::ModelType& mt = model_type_of(c, section, mpath);
  const std::string type = mt.type;
  const std::vector<const GridAxis*> axes = axes_of(c, mname, mt);
  // Validate the sections as written first: their nodes carry line numbers, the grid-adjusted copies below
  // (YAML::Clone) do not.
  (void)config::read_params(section, mt.schema, c.file, mpath, {"type", "train"});
  if (section["train"]) (void)config::read_params(section["train"], train_schema(), c.file, mpath + ".train");
  std::vector<size_t> pick(axes.size(), 0);
  while (true) {
    YAML::Node msec = clone(section);
    YAML::Node tsec = c.root["train"] ? clone(c.root["train"]) : YAML::Node(YAML::NodeType::Map);
    std::vector<std::string> labels;
    for (size_t a = 0; a < axes.size(); ++a) {
      auto parts = config::split_key_path(axes[a]->key);
      const YAML::Node& v = axes[a]->values[pick[a]];
      if (parts[0] == "train") set_path(tsec, parts, 1, v);
      else set_path(msec, parts, 2, v);
      YAML::Emitter em;
      em << YAML::Flow << v;
      labels.push_back(fmt::format("{}={}", parts[0] == "train" ? axes[a]->key : axes[a]->key.substr(std::string("models." + mname).size() + 1),
                                   em.c_str()));
    }
    // per-model train overrides on top of the (grid-adjusted) global train section
    if (msec["train"])
      for (const auto& kv : msec["train"]) tsec[kv.first.as<std::string>()] = kv.second;
    Params mp = config::read_params(msec, mt.schema, c.file, mpath, {"type", "train"});
    Params tp = config::read_params(tsec, train_schema(), c.file, mpath + ".train");
    check_model(c, mt, mp, section, mpath);
    const std::string variant = labels.empty() ? mname : fmt::format("{}[{}]", mname, fmt::join(labels, ","));
    add_runs(c, e, variant, type, msec, mp, tp);
    size_t a = 0;
    for (; a < axes.size(); ++a) {
      if (++pick[a] < axes[a]->values.size()) break;
      pick[a] = 0;
    }
    if (a == axes.size()) break;
  }
}

// Run order: seed by seed, and within a seed size by size, every model (and grid variant) side by side; so a
// sweep stopped early already holds every model's curve for the first seeds.
void sort_runs(const PartContext& c, Experiment& e, size_t first_run) {
  auto position = [](const auto& list, const auto& v) {
    return std::find(list.begin(), list.end(), v) - list.begin();
  };
  // (an index sort: assigning a YAML::Node writes through to the node it refers to, so RunSpecs are only ever
  // copy-constructed, never assigned)
  std::vector<size_t> order(e.runs.size() - first_run);
  for (size_t i = 0; i < order.size(); ++i) order[i] = first_run + i;
  auto key = [&](size_t i) {
    return std::pair(position(c.seeds, e.runs[i].seed), position(c.sizes, e.runs[i].train_size));
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  std::vector<RunSpec> sorted(e.runs.begin(), e.runs.begin() + static_cast<std::ptrdiff_t>(first_run));
  for (size_t i : order) sorted.push_back(e.runs[i]);
  e.runs = std::move(sorted);
}

// One dataset's part of an experiment: appends its runs to e.runs. `part` prefixes run ids ("" for a
// single-dataset config); `path` prefixes key paths in messages ("experiments.1").
void parse_part(const YAML::Node& root, const std::string& file, const std::string& path, const std::string& part,
                Experiment& e) {
  PartContext c{root, file, path, part, {}, nullptr, false, {}, {0}, {}};
  check_top_keys(root, file, path, kTopKeys);
  const size_t first_run = e.runs.size();
  c.dataset = read_dataset_params(root["dataset"], file, c.at("dataset"));
  c.dataset_type = &data::dataset_type(c.dataset.get_string("name"));
  c.graph = c.dataset_type->domain == data::kGraphDomain;
  c.sizes = {c.graph ? 0.0 : 1.0};  // graphs: 0 = the dataset's own split
  (void)config::read_params(root["train"], train_schema(), file, c.at("train"));  // validated once up front

  const YAML::Node models = root["models"];
  if (!models || !models.IsMap() || models.size() == 0)
    throw ConfigError(fmt::format("{}: expected a mapping of model names to sections (e.g. models: {{cnn: "
                                  "{{type: cnn}}}})", location(file, models, c.at("models"))));
  if (const YAML::Node sweep = root["sweep"]) {
    read_sizes_and_seeds(c, sweep);
    if (sweep["grid"]) read_grid(c, sweep["grid"], models);
  }
  check_model_names(c, models);
  for (const auto& mkv : models) expand_model(c, mkv.first, mkv.second, e);
  sort_runs(c, e, first_run);
}
}  // namespace

namespace {
// The experiment's name becomes the results folder (results/<name>): one path component, never "." or "..", so
// it cannot point outside the output root.
std::string checked_name(const YAML::Node& root, const std::string& file, const std::string& fallback) {
  if (!root.IsMap() || !root["name"]) return fallback;
  const YAML::Node n = root["name"];
  if (!n.IsScalar())
    throw ConfigError(fmt::format("{}: expected a name (text), got a {}", location(file, n, "name"),
                                  n.IsSequence() ? "list" : "mapping"));
  const std::string name = n.Scalar();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\\') != std::string::npos || name.find('\0') != std::string::npos)
    throw ConfigError(fmt::format("{}: '{}' cannot name the results folder (results/<name>); expected one folder name "
                                  "without '/' or '\\', not '.' or '..'",
                                  location(file, n, "name"), name));
  return name;
}

// A safety net under the checks above: the ids of all runs (of every part) must differ.
void check_unique_ids(const Experiment& e) {
  std::map<std::string, const RunSpec*> seen;
  for (const auto& r : e.runs) {
    auto [it, added] = seen.emplace(r.id, &r);
    if (!added)
      throw ConfigError(fmt::format("{}: runs '{}{}' and '{}{}' (train size {}, seed {}) get the same id '{}'; rename "
                                    "a model or change a grid value",
                                    e.file, it->second->part.empty() ? "" : it->second->part + ": ", it->second->model,
                                    r.part.empty() ? "" : r.part + ": ", r.model, r.train_size, r.seed, r.id));
  }
}
}  // namespace

Experiment parse_experiment(const YAML::Node& root, const std::string& file) {
  Experiment e;
  e.file = file;
  e.root = root;
  const std::string stem = std::filesystem::path(file).stem().string();
  if (root.IsMap() && root["experiments"]) {
    // several datasets in one config: experiments: [{name, dataset, train, models, sweep}, ...]
    check_top_keys(root, file, "", {"name", "experiments"});
    e.name = checked_name(root, file, stem);
    const YAML::Node parts = root["experiments"];
    if (!parts.IsSequence() || parts.size() == 0)
      throw ConfigError(fmt::format("{}: expected a list of experiments (each with name, dataset, models, ...)",
                                    location(file, parts, "experiments")));
    std::vector<std::string> seen;
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string path = fmt::format("experiments.{}", i);
      if (!parts[i].IsMap() || !parts[i]["name"])
        throw ConfigError(fmt::format("{}: each experiment needs a `name`", location(file, parts[i], path)));
      const std::string name = config::scalar_of(parts[i]["name"], file, path + ".name", "a name (text)");
      if (std::find(seen.begin(), seen.end(), name) != seen.end())
        throw ConfigError(fmt::format("{}: the name '{}' is used twice",
                                      location(file, parts[i]["name"], path + ".name"), name));
      seen.push_back(name);
      parse_part(parts[i], file, path, file_safe(name), e);
    }
    check_unique_ids(e);
    return e;
  }
  e.name = checked_name(root, file, stem);
  parse_part(root, file, "", "", e);
  check_unique_ids(e);
  return e;
}

}  // namespace rc::exp
