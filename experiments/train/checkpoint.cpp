#include "experiments/train/checkpoint.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "experiments/config/yaml_params.hpp"
#include "framework/core/error.hpp"
#include "models/registry.hpp"

namespace rc::exp {

std::string non_finite_tensor(const nn::Module& module) {
  for (const auto& [name, t] : module.state_dict()) {
    const Tensor c = t.contiguous();
    const float* p = c.data();
    for (int64_t i = 0, n = c.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) return std::string(std::isnan(p[i]) ? "nan" : "inf") + " in " + name;
  }
  return "";
}

void StateSnapshot::capture(const nn::Module& module, io::Metadata metadata) {
  NamedTensors now = module.state_dict();
  bool same = tensors_.size() == now.size();
  for (size_t i = 0; same && i < now.size(); ++i)
    same = tensors_[i].first == now[i].first && tensors_[i].second.shape() == now[i].second.shape();
  if (!same) {
    tensors_.clear();
    for (const auto& [name, t] : now) tensors_.emplace_back(name, t.clone());
  } else {
    for (size_t i = 0; i < now.size(); ++i) tensors_[i].second.copy_(now[i].second);
  }
  metadata_ = std::move(metadata);
}

void StateSnapshot::save(const std::filesystem::path& path) const {
  RC_CHECK(!tensors_.empty(), "StateSnapshot::save: nothing captured for {}", path.string());
  io::save_safetensors(path.string(), tensors_, metadata_);
}

void StateSnapshot::restore(nn::Module& module) const {
  RC_CHECK(!tensors_.empty(), "StateSnapshot::restore: nothing captured");
  module.load_state_dict(tensors_, true);
}

namespace {
// Reads JSON values out of metadata; every error names the file, the key, the value found and what was expected.
struct MetaReader {
  const io::Metadata& m;
  std::string where;

  template <class T>
  T get(const char* key, const char* expected) const {
    try {
      return nlohmann::json::parse(m.at(key)).get<T>();
    } catch (const std::exception&) {
      fail("{} key '{}': '{}' is not {}", where, key, m.at(key), expected);
    }
  }
  int64_t integer(const char* key, int64_t lo, int64_t hi) const {
    const auto v = get<int64_t>(key, "an integer");
    RC_CHECK(v >= lo && v <= hi, "{} key '{}': {} is outside [{}, {}]", where, key, v, lo, hi);
    return v;
  }
};

std::string where_of(const std::string& file) { return file.empty() ? "checkpoint metadata" : file + ": metadata"; }

// channels, height, width, classes: the named fields, or the older input_shape "[C, H, W, classes]"
models::ImageShape read_image_shape(const io::Metadata& m, const MetaReader& r) {
  if (!m.count("channels") && m.count("input_shape")) {
    const auto s = r.get<std::vector<int64_t>>("input_shape", "a JSON list of integers [C, H, W, classes]");
    RC_CHECK(s.size() == 4 && (s[0] == 1 || s[0] == 3) && s[1] >= 1 && s[2] >= 1 && s[3] >= 2 && s[1] <= 65536 &&
                 s[2] <= 65536 && s[3] <= 1000000,
             "{} key 'input_shape': '{}' is not [C, H, W, classes] with C 1 or 3, H and W in [1, 65536] and at least "
             "2 classes", r.where, m.at("input_shape"));
    return {s[0], s[1], s[2], s[3]};
  }
  models::ImageShape shape{r.integer("channels", 1, 3), r.integer("height", 1, 65536), r.integer("width", 1, 65536),
                           r.integer("classes", 2, 1000000)};
  RC_CHECK(shape.channels != 2, "{} key 'channels': 2 (expected 1 or 3)", r.where);
  return shape;
}

void check_class_names(const std::vector<std::string>& names, int64_t classes, const std::string& where) {
  RC_CHECK(names.empty() || static_cast<int64_t>(names.size()) == classes, "{} key 'class_names': {} names for {} "
           "classes", where, names.size(), classes);
}
}  // namespace

io::Metadata image_input_metadata(const ImageInputInfo& info) {
  const auto& s = info.shape;
  return {{"domain", "image"},
          {"channels", std::to_string(s.channels)},
          {"height", std::to_string(s.height)},
          {"width", std::to_string(s.width)},
          {"classes", std::to_string(s.num_classes)},
          {"normalize_mean", nlohmann::json(info.normalize.mean).dump()},
          {"normalize_std", nlohmann::json(info.normalize.stddev).dump()},
          {"class_names", nlohmann::json(info.class_names).dump()}};
}

bool read_image_input_metadata(const io::Metadata& m, ImageInputInfo& info, const std::string& file) {
  if (!(m.count("channels") || m.count("input_shape")) || !m.count("normalize_mean") || !m.count("normalize_std"))
    return false;
  const MetaReader r{m, where_of(file)};
  const std::string& where = r.where;
  info.shape = read_image_shape(m, r);
  info.normalize.mean = r.get<std::vector<float>>("normalize_mean", "a JSON list of numbers");
  info.normalize.stddev = r.get<std::vector<float>>("normalize_std", "a JSON list of numbers");
  info.class_names.clear();
  if (m.count("class_names")) info.class_names = r.get<std::vector<std::string>>("class_names", "a JSON list of strings");
  RC_CHECK(!info.normalize.mean.empty() && info.normalize.mean.size() == info.normalize.stddev.size(),
           "{}: normalize_mean {} and normalize_std {} must have the same, non-zero length", where,
           m.at("normalize_mean"), m.at("normalize_std"));
  RC_CHECK(info.normalize.mean.size() == 1 || static_cast<int64_t>(info.normalize.mean.size()) == info.shape.channels,
           "{} key 'normalize_mean': {} values for {} channel(s) (expected 1 or one per channel)", where,
           info.normalize.mean.size(), info.shape.channels);
  // a zero, negative or non-finite std would turn every normalised pixel into Inf or NaN
  for (size_t i = 0; i < info.normalize.mean.size(); ++i) {
    RC_CHECK(std::isfinite(info.normalize.mean[i]), "{} key 'normalize_mean': value {} is {} (expected a finite number)",
             where, i, info.normalize.mean[i]);
    RC_CHECK(std::isfinite(info.normalize.stddev[i]) && info.normalize.stddev[i] > 0,
             "{} key 'normalize_std': value {} is {} (expected a finite number > 0)", where, i,
             info.normalize.stddev[i]);
  }
  check_class_names(info.class_names, info.shape.num_classes, where);
  return true;
}

io::Metadata graph_input_metadata(const GraphInputInfo& info) {
  return {{"domain", "graph"},
          {"nodes", std::to_string(info.nodes)},
          {"features", std::to_string(info.features)},
          {"classes", std::to_string(info.classes)},
          {"class_names", nlohmann::json(info.class_names).dump()},
          {"node_ids", nlohmann::json(info.node_ids).dump()}};
}

bool read_graph_input_metadata(const io::Metadata& m, GraphInputInfo& info, const std::string& file) {
  if (!m.count("nodes") || !m.count("features") || !m.count("classes")) return false;
  const MetaReader r{m, where_of(file)};
  info.nodes = r.integer("nodes", 1, int64_t{1} << 40);
  info.features = r.integer("features", 1, int64_t{1} << 40);
  info.classes = r.integer("classes", 2, 1000000);
  info.class_names.clear();
  info.node_ids.clear();
  if (m.count("class_names")) info.class_names = r.get<std::vector<std::string>>("class_names", "a JSON list of strings");
  if (m.count("node_ids")) info.node_ids = r.get<std::vector<std::string>>("node_ids", "a JSON list of strings");
  check_class_names(info.class_names, info.classes, r.where);
  RC_CHECK(info.node_ids.empty() || static_cast<int64_t>(info.node_ids.size()) == info.nodes,
           "{} key 'node_ids': {} ids for {} nodes", r.where, info.node_ids.size(), info.nodes);
  return true;
}

io::Metadata model_metadata(const std::string& type, const Params& params) {
  nlohmann::json p = nlohmann::json::object();
  // (a plain loop variable: clang 14, which builds the fuzz harnesses, cannot capture a structured binding)
  for (const auto& entry : params.values()) {
    const std::string& name = entry.first;
    std::visit([&](const auto& x) { p[name] = x; }, entry.second);
  }
  return {{"model_type", type}, {"model_params", p.dump()}};
}

bool read_model_metadata(const io::Metadata& m, std::string& type, Params& params, const std::string& file) {
  if (!m.count("model_type") || !m.count("model_params")) return false;
  const MetaReader r{m, where_of(file)};
  type = m.at("model_type");
  const Schema& schema = models::model_type(type).schema;  // an unknown type names the known ones
  const auto j = r.get<nlohmann::json>("model_params", "a JSON object");
  RC_CHECK(j.is_object(), "{} key 'model_params': '{}' is not a JSON object", r.where, m.at("model_params"));
  params = Params();
  for (const ParamSpec& spec : schema.params) params.set(spec.name, spec.default_value);
  for (const auto& [name, value] : j.items()) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& s : schema.params)
      if (s.name == name) spec = &s;
    RC_CHECK(spec, "{} key 'model_params': model type '{}' has no parameter '{}'", r.where, type, name);
    ParamValue v;
    try {
      switch (spec->type) {
        case ParamType::Int: v = value.get<int64_t>(); break;
        case ParamType::Float: v = value.get<double>(); break;
        case ParamType::Bool: v = value.get<bool>(); break;
        case ParamType::String: v = value.get<std::string>(); break;
        case ParamType::IntList: v = value.get<std::vector<int64_t>>(); break;
        case ParamType::FloatList: v = value.get<std::vector<double>>(); break;
        case ParamType::StringList: v = value.get<std::vector<std::string>>(); break;
      }
    } catch (const std::exception&) {
      fail("{} key 'model_params': {} = {} has the wrong type", r.where, name, value.dump());
    }
    const std::string bad = param_violation(*spec, v);
    RC_CHECK(bad.empty(), "{} key 'model_params': {} = {}: {}", r.where, name, value.dump(), bad);
    params.set(name, v);
  }
  return true;
}

io::Metadata run_model_metadata(const std::filesystem::path& run_dir) {
  const auto cfg = run_dir / "config.yaml";
  std::error_code ec;
  if (run_dir.empty() || !std::filesystem::exists(cfg, ec)) return {};
  // a run is never stopped for this: a config that cannot be read leaves the checkpoints without the record
  try {
    const YAML::Node root = YAML::LoadFile(cfg.string());
    if (!root.IsMap() || !root["model"].IsMap()) return {};
    const std::string type = config::scalar_of(root["model"]["type"], cfg.string(), "model.type", "a model type");
    const Params p = config::read_params(root["model"], models::model_type(type).schema, cfg.string(), "model",
                                         {"type", "name", "train"});
    return model_metadata(type, p);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: the checkpoints will not record the architecture: {}\n", cfg.string(), e.what());
    return {};
  }
}

}  // namespace rc::exp
