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

bool read_image_input_metadata(const io::Metadata& m, ImageInputInfo& info) {
  for (const char* key : {"input_shape", "normalize_mean", "normalize_std"})
    if (!m.count(key)) return false;
  auto parse = [&](const char* key) {
    try {
      return nlohmann::json::parse(m.at(key));
    } catch (const std::exception& e) {
      fail("checkpoint metadata {}: '{}' is not JSON ({})", key, m.at(key), e.what());
    }
  };
  try {
    const auto shape = parse("input_shape").get<std::vector<int64_t>>();
    RC_CHECK(shape.size() == 4, "checkpoint metadata input_shape: '{}' is not [C, H, W, classes]", m.at("input_shape"));
    info.shape = {shape[0], shape[1], shape[2], shape[3]};
    info.normalize.mean = parse("normalize_mean").get<std::vector<float>>();
    info.normalize.stddev = parse("normalize_std").get<std::vector<float>>();
    info.class_names.clear();
    if (m.count("class_names")) info.class_names = parse("class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint metadata: unexpected value types ({})", e.what());
  }
  RC_CHECK(!info.normalize.mean.empty() && info.normalize.mean.size() == info.normalize.stddev.size(),
           "checkpoint metadata: normalize_mean {} and normalize_std {} must have the same, non-zero length",
           m.at("normalize_mean"), m.at("normalize_std"));
  return true;
}

}  // namespace rc::exp
