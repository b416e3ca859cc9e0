#pragma once
// Shared by the libFuzzer harnesses: every parser is driven through the same entry points the runner uses, with
// the fuzzer's bytes written to a scratch file (the parsers take paths). An rc::Error (a clear message naming
// the file) is the expected outcome of a malformed input; anything else that escapes (another exception, a
// sanitizer report, a crash) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace rc::fuzz {

// A scratch folder for this process ($TMPDIR, e.g. /dev/shm), created once.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("receptive_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Splits the input at each occurrence of `sep` (several files from one input).
inline std::vector<std::string_view> split_input(const uint8_t* data, size_t size, std::string_view sep) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = all.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(all.substr(start));
      return parts;
    }
    parts.push_back(all.substr(start, at - start));
    start = at + sep.size();
  }
}

}  // namespace rc::fuzz
