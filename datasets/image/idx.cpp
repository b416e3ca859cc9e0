#include "datasets/image/idx.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>

#include "framework/core/checked_size.hpp"
#include "framework/core/error.hpp"

namespace rc::data {

std::vector<uint8_t> read_maybe_gz(const std::filesystem::path& path) {
  std::error_code ec;
  RC_CHECK(std::filesystem::is_regular_file(path, ec), "{}: no such file", path.string());
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files unchanged
  RC_CHECK(f != nullptr, "{}: cannot open", path.string());
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 16);
  while (true) {
    int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      fail("{}: corrupt gzip data ({})", path.string(), msg);
    }
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  int err = 0;
  std::string msg = gzerror(f, &err);
  gzclose(f);
  // a gzip stream cut short reads as end-of-file with Z_BUF_ERROR
  RC_CHECK(err == Z_OK || err == Z_STREAM_END, "{}: truncated or corrupt gzip data ({})", path.string(), msg);
  return out;
}

namespace {
uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
}  // namespace

IdxArray read_idx(const std::filesystem::path& path) {
  std::vector<uint8_t> bytes = read_maybe_gz(path);
  const std::string name = path.string();
  RC_CHECK(bytes.size() >= 4, "{}: {} bytes is too short for an IDX header", name, bytes.size());
  RC_CHECK(bytes[0] == 0 && bytes[1] == 0, "{}: wrong IDX magic {:02x}{:02x}{:02x}{:02x} (expected 0000TTDD)", name,
           bytes[0], bytes[1], bytes[2], bytes[3]);
  RC_CHECK(bytes[2] == 0x08, "{}: IDX data type 0x{:02x} is not supported (expected 0x08, unsigned bytes)", name,
           bytes[2]);
  const int ndim = bytes[3];
  RC_CHECK(ndim >= 1 && ndim <= 4, "{}: IDX header claims {} dimensions (expected 1 to 4)", name, ndim);
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  RC_CHECK(bytes.size() >= header, "{}: truncated IDX header ({} bytes, expected {})", name, bytes.size(), header);
  IdxArray a;
  for (int d = 0; d < ndim; ++d) a.shape.push_back(be32(&bytes[4 + 4 * d]));
  // the header's shape is untrusted: its element count must not wrap around (shape (4, 2^31, 2^31) would
  // claim 0 bytes), and the count must match the data exactly, so no later size computation can overflow
  // (the product of the non-zero dimensions is bounded too, so (0, 2^31, 2^31) cannot overflow a stride later)
  const int64_t limit = std::max<int64_t>(static_cast<int64_t>(bytes.size()), int64_t{1} << 32);
  const auto declared = checked_numel(a.shape, 1, limit);
  RC_CHECK(declared.has_value(), "{}: IDX header declares shape ({}), more elements than the file's {} bytes hold",
           name, fmt::join(a.shape, ", "), bytes.size());
  const size_t count = static_cast<size_t>(*declared);
  RC_CHECK(bytes.size() - header >= count, "{}: truncated: shape ({}) needs {} data bytes, file has {}", name,
           fmt::join(a.shape, ", "), count, bytes.size() - header);
  RC_CHECK(bytes.size() - header == count, "{}: {} unexpected trailing bytes after the data of shape ({})", name,
           bytes.size() - header - count, fmt::join(a.shape, ", "));
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

void write_idx(const std::filesystem::path& path, const IdxArray& array) {
  std::vector<uint8_t> bytes{0, 0, 0x08, static_cast<uint8_t>(array.shape.size())};
  for (int64_t s : array.shape)
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>((s >> shift) & 0xff));
  bytes.insert(bytes.end(), array.data.begin(), array.data.end());
  const bool gz = path.extension() == ".gz";
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    RC_CHECK(f != nullptr, "{}: cannot open for writing", path.string());
    int n = gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    RC_CHECK(n == static_cast<int>(bytes.size()), "{}: write failed", path.string());
  } else {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    RC_CHECK(f.good(), "{}: write failed", path.string());
  }
}

}  // namespace rc::data
