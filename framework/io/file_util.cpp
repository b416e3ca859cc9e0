#include "framework/io/file_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "framework/core/error.hpp"

namespace rc::io {

std::string read_file_bytes(const std::string& path, const char* who) {
  std::ifstream in(path, std::ios::binary);
  RC_CHECK(in.good(), "{}: cannot open '{}': {}", who, path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RC_CHECK(!in.bad(), "{}: error reading '{}': {}", who, path, std::strerror(errno));
  return bytes;
}

namespace {
// Writes all of `bytes` to fd; returns 0 or the errno of the failure (ENOSPC for a short write that made no
// progress, as a full disk does).
int write_all(int fd, const char* bytes, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ENOSPC;
    done += static_cast<size_t>(n);
  }
  return 0;
}
}  // namespace

void write_bytes_atomic(const std::string& path, const char* who, std::string_view bytes) {
  const std::filesystem::path p(path);
  std::error_code ec;
  const std::filesystem::path parent = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  std::filesystem::create_directories(parent, ec);
  RC_CHECK(!ec, "{}: cannot create the folder '{}': {}", who, parent.string(), ec.message());
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  RC_CHECK(fd >= 0, "{}: cannot create '{}': {}", who, tmp, std::strerror(errno));
  // every failure from here on removes the temporary before reporting the OS's reason
  auto give_up = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    fail("{}: {} '{}' failed: {}", who, what, tmp, std::strerror(err));
  };
  if (int err = write_all(fd, bytes.data(), bytes.size())) {
    ::close(fd);
    give_up("writing", err);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    give_up("flushing (fsync)", err);
  }
  if (::close(fd) != 0) give_up("closing", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot rename '{}' to '{}': {}", who, tmp, path, std::strerror(err));
  }
}

void write_file_atomic(const std::string& path, const char* who, const std::function<void(std::ostream&)>& write) {
  std::ostringstream out(std::ios::binary);
  write(out);
  RC_CHECK(out.good(), "{}: cannot format the contents of '{}'", who, path);
  write_bytes_atomic(path, who, out.view());
}

void append_bytes(const std::string& path, const char* who, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  RC_CHECK(fd >= 0, "{}: cannot open '{}' for appending: {}", who, path, std::strerror(errno));
  struct stat st {};
  const off_t before = ::fstat(fd, &st) == 0 ? st.st_size : -1;
  int err = write_all(fd, bytes.data(), bytes.size());
  if (!err && ::fsync(fd) != 0) err = errno;
  if (err && before >= 0) (void)!::ftruncate(fd, before);  // never leave half a line behind
  if (::close(fd) != 0 && !err) err = errno;
  RC_CHECK(err == 0, "{}: appending to '{}' failed: {}", who, path, std::strerror(err));
}

}  // namespace rc::io
