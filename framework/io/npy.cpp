#include "framework/io/npy.hpp"

#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cstring>

#include "framework/core/checked_size.hpp"
#include "framework/io/file_util.hpp"

namespace rc::io {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

std::string shape_tuple(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);  // Python's one-element tuple
  return fmt::format("({})", fmt::join(shape, ", "));
}

// A tiny parser for the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct HeaderParser {
  const std::string& path;
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void bad(const std::string& what) const {
    fail("load_npy: '{}': malformed header ({}) in {}", path, what, s);
  }
  void skip_ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    skip_ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) bad(fmt::format("expected '{}' at offset {}", c, i));
  }
  std::string string_literal() {
    skip_ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad(fmt::format("expected a string at offset {}", i));
    char q = s[i++];
    size_t end = s.find(q, i);
    if (end == std::string::npos) bad("unterminated string");
    std::string v = s.substr(i, end - i);
    i = end + 1;
    return v;
  }
  bool boolean() {
    skip_ws();
    if (s.compare(i, 4, "True") == 0) return i += 4, true;
    if (s.compare(i, 5, "False") == 0) return i += 5, false;
    bad(fmt::format("expected True or False at offset {}", i));
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (!eat(')')) {
      skip_ws();
      size_t start = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i == start || i - start > 18) bad(fmt::format("expected a dimension at offset {}", start));
      shape.push_back(std::stoll(s.substr(start, i - start)));
      if (!eat(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }
};

}  // namespace

std::string npy_header(const Shape& shape, const char* descr) {
  // numpy: the dict, then spaces, then '\n', so that magic (6) + version (2) + length (2) + dict is a multiple
  // of 64; when the unpadded total already is one, numpy still adds 64 spaces.
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_tuple(shape));
  size_t pad = 64 - (10 + dict.size() + 1) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  RC_CHECK(dict.size() <= 65535, "save_npy: header of {} bytes for shape {} does not fit version 1.0", dict.size(),
           shape_str(shape));
  std::string out(kMagic, kMagicLen);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict;
}

void save_npy(const std::string& path, const Tensor& t) {
  RC_CHECK(t.defined(), "save_npy: '{}': tensor is undefined", path);
  const std::string header = npy_header(t.shape());
  const Tensor c = t.contiguous();
  write_file_atomic(path, "save_npy", [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.numel() * sizeof(float)));
  });
}

void save_npy_int64(const std::string& path, const std::vector<int64_t>& values, const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  RC_CHECK(n == static_cast<int64_t>(values.size()), "save_npy_int64: '{}': shape {} holds {} values, got {}", path,
           shape_str(shape), n, values.size());
  const std::string header = npy_header(shape, "<i8");
  write_file_atomic(path, "save_npy", [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(n * sizeof(int64_t)));
  });
}

void save_npy_int64(const std::string& path, const std::vector<int64_t>& values) {
  save_npy_int64(path, values, {static_cast<int64_t>(values.size())});
}

Tensor load_npy(const std::string& path) {
  const std::string bytes = read_file_bytes(path, "load_npy");
  RC_CHECK(bytes.size() >= 10 && bytes.compare(0, kMagicLen, kMagic, kMagicLen) == 0,
           "load_npy: '{}': not an NPY file (no \\x93NUMPY magic)", path);
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  RC_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, "load_npy: '{}': unsupported NPY version {}.{}",
           path, major, minor);
  const size_t len_bytes = major == 1 ? 2 : 4;
  RC_CHECK(bytes.size() >= 8 + len_bytes, "load_npy: '{}': file ends inside the header length", path);
  uint64_t header_len = 0;
  for (size_t k = 0; k < len_bytes; ++k) header_len |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
  const size_t data_start = 8 + len_bytes + header_len;
  RC_CHECK(data_start <= bytes.size(), "load_npy: '{}': header length {} runs past the end of the {}-byte file", path,
           header_len, bytes.size());
  const std::string dict = bytes.substr(8 + len_bytes, header_len);

  HeaderParser p{path, dict};
  std::string descr;
  bool fortran = false, have_descr = false, have_order = false, have_shape = false;
  Shape shape;
  p.expect('{');
  while (!p.eat('}')) {
    std::string key = p.string_literal();
    p.expect(':');
    if (key == "descr") descr = p.string_literal(), have_descr = true;
    else if (key == "fortran_order") fortran = p.boolean(), have_order = true;
    else if (key == "shape") shape = p.tuple(), have_shape = true;
    else p.bad(fmt::format("unknown key '{}'", key));
    if (!p.eat(',')) {
      p.expect('}');
      break;
    }
  }
  RC_CHECK(have_descr && have_order && have_shape,
           "load_npy: '{}': header lacks one of 'descr', 'fortran_order', 'shape': {}", path, dict);
  RC_CHECK(descr == "<f4" || descr == "<f8", "load_npy: '{}': unsupported dtype '{}' (supported: '<f4', '<f8')", path,
           descr);
  RC_CHECK(!fortran, "load_npy: '{}': fortran_order True is not supported (save a C-ordered array)", path);

  const int64_t item = descr == "<f4" ? 4 : 8;
  RC_CHECK(shape.size() <= 32, "load_npy: '{}': shape {} has {} dimensions (at most 32)", path, shape_str(shape),
           shape.size());
  // checked without wrapping around, the non-zero dimensions too (a zero makes the count 0, not the shape valid)
  const auto want_bytes = checked_numel(shape, item, static_cast<int64_t>(bytes.size()));
  RC_CHECK(want_bytes.has_value(), "load_npy: '{}': shape {} of '{}' declares more data than the {}-byte file holds",
           path, shape_str(shape), descr, bytes.size());
  const uint64_t want = static_cast<uint64_t>(*want_bytes), have = bytes.size() - data_start;
  RC_CHECK(have == want, "load_npy: '{}': shape {} of '{}' needs {} data bytes, the file has {}", path,
           shape_str(shape), descr, want, have);
  Tensor t = Tensor::empty(shape);
  const char* src = bytes.data() + data_start;
  if (item == 4) {
    std::memcpy(t.data(), src, want);
  } else {
    for (int64_t k = 0; k < t.numel(); ++k) {
      double v;
      std::memcpy(&v, src + k * 8, 8);
      t.data()[k] = static_cast<float>(v);
    }
  }
  return t;
}

}  // namespace rc::io
