#pragma once
// Test support: scratch files under the system temp directory, unique per process (ctest runs test cases as
// separate processes, possibly in parallel), and whole-file reads.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace rc::test {

inline std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rc_test_" + std::to_string(getpid()) + "_" + name)).string();
}

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace rc::test
