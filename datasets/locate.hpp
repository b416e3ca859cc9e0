#pragma once
// Dataset lookup (DESIGN.md): the config's `root`, else $RECEPTIVE_DATA/<name>, else data/<name>, else a
// dataset-specific default (Fashion-MNIST: /usr/share/datasets/fashion-mnist). A missing dataset is an
// error that names every place it looked and the files it expected.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rc::data {

struct DatasetNotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Returns the first candidate directory that holds every file in `required` (each may also exist with a
// ".gz" suffix). `root` (from a config) when non-empty is the only candidate.
std::filesystem::path locate_dataset(const std::string& name, const std::string& root,
                                     const std::vector<std::string>& required,
                                     const std::optional<std::filesystem::path>& default_dir = std::nullopt);

// `file` or `file.gz`, whichever exists in dir (plain first); empty path when neither does.
std::filesystem::path find_maybe_gz(const std::filesystem::path& dir, const std::string& file);

}  // namespace rc::data
