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

// A fresh scratch folder, removed with everything in it when the object goes away.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) : path(tmp_path(tag)) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace rc::test
