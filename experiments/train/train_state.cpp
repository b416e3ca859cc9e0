#include "experiments/train/train_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/core/error.hpp"

namespace rc::exp {

namespace {
const std::string kModel = "model.", kOptimizer = "optimizer.", kLast = "last.", kBest = "best.";

std::string metadata_json(const io::Metadata& m) { return nlohmann::json(m).dump(); }
}

void save_train_state(const std::filesystem::path& path, const TrainState& s) {
  NamedTensors all;
  for (const auto& [name, t] : s.model) all.emplace_back(kModel + name, t);
  for (const auto& [name, t] : s.optimizer) all.emplace_back(kOptimizer + name, t);
  io::Metadata meta = {
      {"format", kTrainStateFormat}, {"loop", s.loop}, {"call_counters", s.call_counters}, {"task", s.task}};
  RC_CHECK(s.last.has_value() == s.best.has_value(), "save_train_state: the last and best snapshots go together");
  if (s.last) {
    for (const auto& [name, t] : s.last->tensors) all.emplace_back(kLast + name, t);
    for (const auto& [name, t] : s.best->tensors) all.emplace_back(kBest + name, t);
    meta["last_metadata"] = metadata_json(s.last->metadata);
    meta["best_metadata"] = metadata_json(s.best->metadata);
  }
  io::save_safetensors(path.string(), all, meta);
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
  const bool snapshots = f.metadata.count("last_metadata") > 0;
  RC_CHECK(snapshots == (f.metadata.count("best_metadata") > 0),
           "{}: the training state has one of 'last_metadata' and 'best_metadata' but not both", path.string());
  if (snapshots) {
    s.last.emplace();
    s.best.emplace();
    for (auto [key, snap] : {std::pair{"last_metadata", &*s.last}, std::pair{"best_metadata", &*s.best}}) {
      try {
        snap->metadata = nlohmann::json::parse(f.metadata.at(key)).get<io::Metadata>();
      } catch (const std::exception& e) {
        fail("{}: metadata '{}' is not a JSON object of strings: {}", path.string(), key, e.what());
      }
    }
  }
  for (auto& [name, t] : f.tensors) {
    if (name.rfind(kModel, 0) == 0) s.model.emplace_back(name.substr(kModel.size()), std::move(t));
    else if (name.rfind(kOptimizer, 0) == 0) s.optimizer.emplace_back(name.substr(kOptimizer.size()), std::move(t));
    else if (snapshots && name.rfind(kLast, 0) == 0) s.last->tensors.emplace_back(name.substr(kLast.size()), std::move(t));
    else if (snapshots && name.rfind(kBest, 0) == 0) s.best->tensors.emplace_back(name.substr(kBest.size()), std::move(t));
    else fail("{}: tensor '{}' is not 'model.*', 'optimizer.*', 'last.*' or 'best.*'", path.string(), name);
  }
  return s;
}

bool train_state_unfinished(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  unsigned char len[8] = {};
  if (!in.read(reinterpret_cast<char*>(len), 8)) return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | len[i];
  if (n == 0 || n > 100'000'000) return false;
  std::string header(n, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(n))) return false;
  try {
    const auto meta = nlohmann::json::parse(header).at("__metadata__");
    return !nlohmann::json::parse(meta.at("loop").get<std::string>()).at("finished").get<bool>();
  } catch (const std::exception&) {
    return false;  // not a state this version wrote: the trainer reports it when it loads the state
  }
}

std::string order_state(const std::vector<int64_t>& order) { return nlohmann::json{{"order", order}}.dump(); }

std::vector<int64_t> order_from_state(const std::string& text, const std::vector<int64_t>& items, const char* what) {
  std::vector<int64_t> order;
  try {
    order = nlohmann::json::parse(text).at("order").get<std::vector<int64_t>>();
  } catch (const std::exception& e) {
    fail("{}: the training state's order is not a list of indices ({})", what, e.what());
  }
  std::vector<int64_t> a = order, b = items;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  RC_CHECK(a == b, "{}: the training state's order ({} indices) is not a permutation of this run's {} training items "
           "(the data changed since the run was stopped)", what, order.size(), b.size());
  return order;
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
