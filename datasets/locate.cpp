#include "datasets/locate.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace rc::data {

namespace fs = std::filesystem;

fs::path find_maybe_gz(const fs::path& dir, const std::string& file) {
  std::error_code ec;
  if (fs::is_regular_file(dir / file, ec)) return dir / file;
  if (fs::is_regular_file(dir / (file + ".gz"), ec)) return dir / (file + ".gz");
  return {};
}

fs::path locate_dataset(const std::string& name, const std::string& root, const std::vector<std::string>& required,
                        const std::optional<fs::path>& default_dir) {
  std::vector<std::pair<fs::path, std::string>> candidates;
  if (!root.empty()) {
    candidates.push_back({root, "config root"});
  } else {
    if (const char* env = std::getenv("RECEPTIVE_DATA"); env && *env)
      candidates.push_back({fs::path(env) / name, "$RECEPTIVE_DATA/" + name});
    candidates.push_back({fs::path("data") / name, "data/" + name});
    if (default_dir) candidates.push_back({*default_dir, "default"});
  }
  std::vector<std::string> tried;
  for (const auto& [dir, why] : candidates) {
    std::vector<std::string> missing;
    for (const auto& f : required)
      if (find_maybe_gz(dir, f).empty()) missing.push_back(f);
    if (missing.empty()) return dir;
    tried.push_back(fmt::format("{} ({}): missing {}", dir.string(), why, fmt::join(missing, ", ")));
  }
  throw DatasetNotFound(fmt::format("dataset '{}' not found; looked in:\n  {}\n(set the config's `root`, or "
                                    "RECEPTIVE_DATA to a folder holding {}/)",
                                    name, fmt::join(tried, "\n  "), name));
}

}  // namespace rc::data
