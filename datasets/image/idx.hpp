#pragma once
// IDX files (the MNIST format), plain or gzip: big-endian magic 0x0000TTDD (TT = 0x08 unsigned bytes,
// DD = number of dimensions), DD big-endian uint32 sizes, then the data.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rc::data {

struct IdxArray {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // row-major
};

// Reads a uint8 IDX file (gzip detected by content). Errors name the file and what was wrong: missing file,
// wrong magic, truncated or corrupt data, trailing bytes.
IdxArray read_idx(const std::filesystem::path& path);

// Writes a uint8 IDX file (gzip when the path ends in .gz); used by tests and to export subsets.
void write_idx(const std::filesystem::path& path, const IdxArray& array);

// Reads a whole file, transparently gunzipping; errors name the file.
std::vector<uint8_t> read_maybe_gz(const std::filesystem::path& path);

}  // namespace rc::data
