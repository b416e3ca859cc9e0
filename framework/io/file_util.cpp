#include "framework/io/file_util.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "framework/core/error.hpp"

namespace rc::io {

std::string read_file_bytes(const std::string& path, const char* who) {
  std::ifstream in(path, std::ios::binary);
  RC_CHECK(in.good(), "{}: cannot open '{}': {}", who, path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RC_CHECK(!in.bad(), "{}: error reading '{}'", who, path);
  return bytes;
}

void write_file_atomic(const std::string& path, const char* who, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    RC_CHECK(out.good(), "{}: cannot open '{}' for writing: {}", who, tmp, std::strerror(errno));
    write(out);
    out.flush();
    RC_CHECK(out.good(), "{}: error writing '{}'", who, tmp);
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    fail("{}: cannot rename '{}' to '{}': {}", who, tmp, path, why);
  }
}

}  // namespace rc::io
