#pragma once
// Where tests find the LINQS datasets: $RECEPTIVE_DATA, else the copies shipped in datasets/data.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace rc::test {

inline std::string shared_data_dir() {
  if (const char* env = std::getenv("RECEPTIVE_DATA"); env && *env) return env;
  return RECEPTIVE_TEST_DATA;
}

// The folder of dataset `name` if it holds `<name>.content` (plain or .gz), else "" (the test then says SKIPPED;
// with the copies shipped in datasets/data that only happens when $RECEPTIVE_DATA points elsewhere).
inline std::string linqs_dir(const std::string& name) {
  std::filesystem::path d = std::filesystem::path(shared_data_dir()) / name;
  std::error_code ec;
  const bool found = std::filesystem::exists(d / (name + ".content"), ec) ||
                     std::filesystem::exists(d / (name + ".content.gz"), ec);
  return found ? d.string() : "";
}

}  // namespace rc::test
