#include "framework/io/safetensors.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_set>

#include "framework/core/checked_size.hpp"
#include "framework/io/file_util.hpp"

namespace rc::io {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr const char* kMetadataKey = "__metadata__";
constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the limit of the reference implementation

struct DType {
  const char* name;
  int64_t size;
};
constexpr DType kDTypes[] = {{"F32", 4}, {"F64", 8}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}};

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf or nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // normal: rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {
    // subnormal half: mant * 2^-24, exactly representable as a float
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(bits);
}

// Converts n elements of dtype `dt` at src into floats.
void convert_to_float(const std::string& dt, const char* src, int64_t n, float* dst) {
  auto each = [&](auto tag, auto conv) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, src + i * sizeof(T), sizeof(T));
      dst[i] = conv(v);
    }
  };
  if (dt == "F32") std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  else if (dt == "F64") each(double{}, [](double v) { return static_cast<float>(v); });
  else if (dt == "F16") each(uint16_t{}, half_to_float);
  else if (dt == "BF16") each(uint16_t{}, [](uint16_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); });
  else if (dt == "I64") each(int64_t{}, [](int64_t v) { return static_cast<float>(v); });
  else if (dt == "I32") each(int32_t{}, [](int32_t v) { return static_cast<float>(v); });
  else fail("safetensors: internal error: no conversion for dtype {}", dt);
}

struct Entry {
  std::string name, dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// Parses one tensor's header entry, naming the file and tensor in every error.
Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& info) {
  auto bad = [&](const std::string& what) { fail("load_safetensors: '{}': tensor '{}': {}", path, name, what); };
  if (!info.is_object()) bad(fmt::format("header entry is not an object but {}", info.dump()));
  Entry e;
  e.name = name;
  auto dt = info.find("dtype");
  if (dt == info.end() || !dt->is_string()) bad("missing or non-string \"dtype\"");
  e.dtype = dt->get<std::string>();
  int64_t item = 0;
  for (const DType& d : kDTypes)
    if (e.dtype == d.name) item = d.size;
  if (item == 0) bad(fmt::format("unsupported dtype \"{}\" (supported: F32, F64, F16, BF16, I64, I32)", e.dtype));
  auto sh = info.find("shape");
  if (sh == info.end() || !sh->is_array()) bad("missing or non-array \"shape\"");
  if (sh->size() > 32) bad(fmt::format("shape has {} dimensions (at most 32)", sh->size()));
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) bad(fmt::format("shape {} has an entry that is not a non-negative integer", sh->dump()));
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) bad(fmt::format("shape {} is too large", sh->dump()));
    e.shape.push_back(static_cast<int64_t>(v));
  }
  // without wrapping around, the non-zero dimensions too (a zero makes the count 0, not (0, 2^40, 2^40) valid)
  const auto checked = checked_numel(e.shape, item, int64_t{1} << 48);
  if (!checked) bad(fmt::format("shape {} is too large", sh->dump()));
  const int64_t numel = *checked / item;
  auto off = info.find("data_offsets");
  if (off == info.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    bad("\"data_offsets\" must be an array of two non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.begin > e.end) bad(fmt::format("data_offsets [{}, {}] run backwards", e.begin, e.end));
  int64_t bytes = 0;
  if (__builtin_mul_overflow(numel, item, &bytes) || static_cast<uint64_t>(bytes) != e.end - e.begin)
    bad(fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] span {}", shape_str(e.shape), e.dtype,
                    numel * item, e.begin, e.end, e.end - e.begin));
  return e;
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RC_CHECK(!name.empty() && name != kMetadataKey, "save_safetensors: '{}': invalid tensor name '{}'", path, name);
    RC_CHECK(names.insert(name).second, "save_safetensors: '{}': tensor '{}' appears twice", path, name);
    RC_CHECK(t.defined(), "save_safetensors: '{}': tensor '{}' is undefined", path, name);
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const uint64_t n = text.size();
  write_file_atomic(path, "save_safetensors", [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : tensors) {
      Tensor c = t.contiguous();
      out.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.numel() * sizeof(float)));
    }
  });
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string bytes = read_file_bytes(path, "load_safetensors");
  const uint64_t size = bytes.size();
  RC_CHECK(size >= 8, "load_safetensors: '{}': file has {} bytes, too short for the 8-byte header length", path, size);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  RC_CHECK(n <= size - 8, "load_safetensors: '{}': header length {} exceeds the {} bytes after the length field",
           path, n, size - 8);
  RC_CHECK(n <= kMaxHeaderBytes, "load_safetensors: '{}': header length {} is over the limit of {} bytes", path, n,
           kMaxHeaderBytes);
  const char* header_begin = bytes.data() + 8;
  RC_CHECK(n > 0 && header_begin[0] == '{', "load_safetensors: '{}': header does not start with '{{'", path);

  // Parse, rejecting duplicate top-level keys (a JSON object would silently keep the last one).
  std::unordered_set<std::string> top_keys;
  std::string duplicate;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + n,
                                   [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
                                     if (ev == nlohmann::json::parse_event_t::key && depth == 1 &&
                                         !top_keys.insert(j.get<std::string>()).second && duplicate.empty())
                                       duplicate = j.get<std::string>();
                                     return true;
                                   });
  } catch (const nlohmann::json::exception& e) {
    fail("load_safetensors: '{}': header is not valid JSON: {}", path, e.what());
  }
  RC_CHECK(header.is_object(), "load_safetensors: '{}': header is not a JSON object", path);
  RC_CHECK(duplicate.empty(), "load_safetensors: '{}': tensor '{}' appears twice in the header", path, duplicate);

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      RC_CHECK(value.is_object(), "load_safetensors: '{}': __metadata__ is not an object", path);
      for (const auto& [mk, mv] : value.items()) {
        RC_CHECK(mv.is_string(), "load_safetensors: '{}': __metadata__ value of '{}' is not a string: {}", path, mk,
                 mv.dump());
        file.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, key, value));
  }

  // The tensors must tile the data buffer [0, data_size) in offset order: no gaps, no overlaps.
  const uint64_t data_size = size - 8 - n;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t expected = 0;
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    RC_CHECK(e.end <= data_size,
             "load_safetensors: '{}': tensor '{}': data_offsets [{}, {}] lie beyond the data buffer of {} bytes", path,
             e.name, e.begin, e.end, data_size);
    RC_CHECK(e.begin >= expected, "load_safetensors: '{}': tensor '{}' at [{}, {}] overlaps tensor '{}' ending at {}",
             path, e.name, e.begin, e.end, entries[k - 1].name, expected);
    RC_CHECK(e.begin == expected, "load_safetensors: '{}': tensor '{}' starts at {}, leaving a gap after byte {}", path,
             e.name, e.begin, expected);
    expected = e.end;
  }
  RC_CHECK(expected == data_size, "load_safetensors: '{}': tensors cover {} bytes of a {}-byte data buffer", path,
           expected, data_size);

  const char* data = header_begin + n;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    convert_to_float(e.dtype, data + e.begin, t.numel(), t.data());
    file.tensors.emplace_back(e.name, std::move(t));
  }
  return file;
}

void save_module(const std::string& path, const nn::Module& module, const Metadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

Metadata load_module(const std::string& path, nn::Module& module, bool strict) {
  SafetensorsFile file = load_safetensors(path);
  try {
    module.load_state_dict(file.tensors, strict);
  } catch (const Error& e) {
    fail("load_module: '{}': {}", path, e.what());
  }
  return std::move(file.metadata);
}

}  // namespace rc::io
