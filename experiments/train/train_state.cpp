#include "experiments/train/train_state.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "framework/core/error.hpp"

namespace rc::exp {

namespace {
const std::string kModel = "model.", kOptimizer = "optimizer.";
}

void save_train_state(const std::filesystem::path& path, const TrainState& s) {
  NamedTensors all;
  for (const auto& [name, t] : s.model) all.emplace_back(kModel + name, t);
  for (const auto& [name, t] : s.optimizer) all.emplace_back(kOptimizer + name, t);
  io::save_safetensors(path.string(), all,
                       {{"format", kTrainStateFormat}, {"loop", s.loop}, {"call_counters", s.call_counters},
                        {"task", s.task}});
}

std::optional<TrainState> load_train_state(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  io::SafetensorsFile f = io::load_safetensors(path.string());
  const auto format = f.metadata.find("format");
  RC_CHECK(format != f.metadata.end() && format->second == kTrainStateFormat,
           "{}: not a training state of this version (metadata 'format' is '{}', expected '{}')", path.string(),
           format == f.metadata.end() ? "" : format->second, kTrainStateFormat);
  TrainState s;
  for (const char* key : {"loop", "call_counters", "task"})
    RC_CHECK(f.metadata.count(key), "{}: the training state lacks metadata '{}'", path.string(), key);
  s.loop = f.metadata.at("loop");
  s.call_counters = f.metadata.at("call_counters");
  s.task = f.metadata.at("task");
  for (auto& [name, t] : f.tensors) {
    if (name.rfind(kModel, 0) == 0) s.model.emplace_back(name.substr(kModel.size()), std::move(t));
    else if (name.rfind(kOptimizer, 0) == 0) s.optimizer.emplace_back(name.substr(kOptimizer.size()), std::move(t));
    else fail("{}: tensor '{}' is neither 'model.*' nor 'optimizer.*'", path.string(), name);
  }
  return s;
}

std::string exact_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:a}", v);
}

double parse_exact_double(const std::string& s) {
  if (s == "nan") return std::nan("");
  if (s == "inf") return HUGE_VAL;
  if (s == "-inf") return -HUGE_VAL;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  RC_CHECK(!s.empty() && end == s.c_str() + s.size() && errno == 0, "training state: '{}' is not a number", s);
  return v;
}

}  // namespace rc::exp
