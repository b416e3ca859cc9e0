#include "experiments/train/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

#include "framework/core/error.hpp"

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

io::Metadata image_input_metadata(const ImageInputInfo& info) {
  const auto& s = info.shape;
  return {{"input_shape", nlohmann::json{s.channels, s.height, s.width, s.num_classes}.dump()},
          {"normalize_mean", nlohmann::json(info.normalize.mean).dump()},
          {"normalize_std", nlohmann::json(info.normalize.stddev).dump()},
          {"class_names", nlohmann::json(info.class_names).dump()}};
}

bool read_image_input_metadata(const io::Metadata& m, ImageInputInfo& info, const std::string& file) {
  for (const char* key : {"input_shape", "normalize_mean", "normalize_std"})
    if (!m.count(key)) return false;
  const std::string where = file.empty() ? "checkpoint metadata" : file + ": metadata";
  // every error names the file, the key, the value found and what was expected
  auto get = [&]<class T>(const char* key, const char* expected, T*) -> T {
    try {
      return nlohmann::json::parse(m.at(key)).get<T>();
    } catch (const std::exception&) {
      fail("{} key '{}': '{}' is not {}", where, key, m.at(key), expected);
    }
  };
  const auto shape = get("input_shape", "a JSON list of integers [C, H, W, classes]", (std::vector<int64_t>*)nullptr);
  RC_CHECK(shape.size() == 4, "{} key 'input_shape': '{}' is not [C, H, W, classes]", where, m.at("input_shape"));
  RC_CHECK((shape[0] == 1 || shape[0] == 3) && shape[1] >= 1 && shape[2] >= 1 && shape[3] >= 2 &&
               shape[1] <= 65536 && shape[2] <= 65536 && shape[3] <= 1000000,
           "{} key 'input_shape': '{}' is not [C, H, W, classes] with C 1 or 3, H and W in [1, 65536] and at least 2 "
           "classes",
           where, m.at("input_shape"));
  info.shape = {shape[0], shape[1], shape[2], shape[3]};
  info.normalize.mean = get("normalize_mean", "a JSON list of numbers", (std::vector<float>*)nullptr);
  info.normalize.stddev = get("normalize_std", "a JSON list of numbers", (std::vector<float>*)nullptr);
  info.class_names.clear();
  if (m.count("class_names"))
    info.class_names = get("class_names", "a JSON list of strings", (std::vector<std::string>*)nullptr);
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
  RC_CHECK(info.class_names.empty() || static_cast<int64_t>(info.class_names.size()) == info.shape.num_classes,
           "{} key 'class_names': {} names for {} classes", where, info.class_names.size(), info.shape.num_classes);
  return true;
}

}  // namespace rc::exp
