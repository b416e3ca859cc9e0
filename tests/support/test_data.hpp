#pragma once
// Where tests find the shared datasets: $RECEPTIVE_DATA, else ../shared/datasets beside the repository.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace rc::test {

inline std::string shared_data_dir() {
  if (const char* env = std::getenv("RECEPTIVE_DATA"); env && *env) return env;
  return RECEPTIVE_TEST_DATA;
}

// The folder of dataset `name` if it holds `<name>.content`, else "" (the test then says SKIPPED).
inline std::string linqs_dir(const std::string& name) {
  std::filesystem::path d = std::filesystem::path(shared_data_dir()) / name;
  std::error_code ec;
  return std::filesystem::exists(d / (name + ".content"), ec) ? d.string() : "";
}

}  // namespace rc::test
