#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "framework/io/safetensors.hpp"
#include "support/files.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::io;
using namespace rc::test;

namespace {

// A file with the given header text and data bytes; header_len overrides the length field when >= 0.
std::string raw_file(const std::string& name, const std::string& header, const std::string& data,
                     int64_t header_len = -1) {
  std::string path = tmp_path(name);
  uint64_t n = header_len >= 0 ? static_cast<uint64_t>(header_len) : header.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
  return path;
}

template <class T>
std::string bytes_of(std::initializer_list<T> values) {
  std::string s;
  for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return s;
}

struct Lin : nn::Module {
  Lin(int64_t in, int64_t out, uint64_t seed) {
    register_parameter("weight", random_tensor({out, in}, seed));
    register_parameter("bias", random_tensor({out}, seed + 1), true);
    register_buffer("count", Tensor::scalar(3.0f));
  }
};

}  // namespace

TEST_CASE("safetensors: exact bytes of a small file, worked out by hand") {
  // header {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} is 5 + 15 + 12 + 20 + 2 = 54 bytes, padded
  // with 2 spaces to 56 (data 8-byte aligned); length field 56 = 0x38; data 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0
  const std::string path = tmp_path("exact.safetensors");
  save_safetensors(path, {{"a", Tensor::from({2}, {1.0f, -2.0f})}});
  std::string expected = std::string("\x38\0\0\0\0\0\0\0", 8) +
                         R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  )" +
                         std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
  CHECK(read_all(path) == expected);
  CHECK(read_all(path).size() == 72);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: save then load round-trips names, order, shapes, values and metadata") {
  const std::string path = tmp_path("roundtrip.safetensors");
  NamedTensors tensors = {{"z.last", random_tensor({3, 5, 7}, 1)},
                          {"a.first", random_tensor({1}, 2)},
                          {"scalar", Tensor::scalar(-4.5f)},
                          {"empty", Tensor::zeros({0, 3})},
                          {"view", random_tensor({4, 6}, 3).transpose(0, 1)}};
  save_safetensors(path, tensors, {{"format", "pt"}, {"epoch", "12"}});
  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO(tensors[i].first);
    CHECK(f.tensors[i].first == tensors[i].first);
    CHECK(f.tensors[i].second.shape() == tensors[i].second.shape());
    CHECK(f.tensors[i].second.to_vector() == tensors[i].second.to_vector());
  }
  CHECK(f.metadata == Metadata{{"epoch", "12"}, {"format", "pt"}});
  std::remove(path.c_str());
}

TEST_CASE("safetensors: F64, F16, BF16, I64 and I32 are converted to float32") {
  // F16 0x3c00 = 1.0, 0xc000 = -2.0, 0x0001 = 2^-24 (smallest subnormal), 0x7c00 = inf
  // BF16 0x3fc0 = 1.5, 0xc040 = -3.0
  std::string data = bytes_of<double>({0.25, -1e10}) + bytes_of<uint16_t>({0x3c00, 0xc000, 0x0001, 0x7c00}) +
                     bytes_of<uint16_t>({0x3fc0, 0xc040}) + bytes_of<int64_t>({-7, 16777217}) +
                     bytes_of<int32_t>({123456});
  std::string header =
      R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
      R"("h":{"dtype":"F16","shape":[2,2],"data_offsets":[16,24]},)"
      R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]},)"
      R"("l":{"dtype":"I64","shape":[2],"data_offsets":[28,44]},)"
      R"("i":{"dtype":"I32","shape":[],"data_offsets":[44,48]}})";
  std::string path = raw_file("dtypes.safetensors", header, data);
  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == 5);
  CHECK(f.tensors[0].second.to_vector() == std::vector<float>{0.25f, -1e10f});
  CHECK(f.tensors[1].second.shape() == Shape{2, 2});
  CHECK(f.tensors[1].second.to_vector() ==
        std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24), std::numeric_limits<float>::infinity()});
  CHECK(f.tensors[2].second.to_vector() == std::vector<float>{1.5f, -3.0f});
  CHECK(f.tensors[3].second.to_vector() == std::vector<float>{-7.0f, 16777216.0f});  // 2^24 + 1 rounds
  CHECK(f.tensors[4].second.item() == 123456.0f);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: corrupt files give errors naming the file and the tensor") {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eight(8, '\x01');
  struct Bad {
    const char* name;
    std::string header, data;
    int64_t header_len;
    const char* message;
  };
  const Bad cases[] = {
      {"short", "", "", -2, "too short for the 8-byte header length"},
      {"len", ok, eight, 1000, "header length 1000 exceeds the 62 bytes after the length field"},
      {"json", R"({"w": {"dtype": )", "", -1, "header is not valid JSON"},
      {"notobj", "[1, 2]", "", -1, "header does not start with '{'"},
      {"dtype", R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "ab", -1,
       "tensor 'w': unsupported dtype \"U8\""},
      {"range", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", eight, -1,
       "tensor 'w': data_offsets [8, 16] lie beyond the data buffer of 8 bytes"},
      {"size", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight, -1,
       "tensor 'w': shape (3) of F32 needs 12 bytes but data_offsets [0, 8] span 8"},
      {"overlap",
       R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       eight, -1, "tensor 'v' at [4, 8] overlaps tensor 'w' ending at 8"},
      {"gap", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight, -1,
       "tensor 'w' starts at 4, leaving a gap after byte 0"},
      {"trailing", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight, -1,
       "tensors cover 4 bytes of a 8-byte data buffer"},
      {"backwards", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight, -1,
       "tensor 'w': data_offsets [8, 0] run backwards"},
      {"negshape", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight, -1,
       "tensor 'w': shape [-2] has an entry that is not a non-negative integer"},
      {"noshape", R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight, -1, "tensor 'w': missing or non-array"},
      {"dup", ok.substr(0, ok.size() - 1) + R"(,"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight, -1,
       "tensor 'w' appears twice"},
      {"meta", R"({"__metadata__":{"epoch":3},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight, -1,
       "__metadata__ value of 'epoch' is not a string"},
  };
  for (const Bad& b : cases) {
    std::string path = b.header_len == -2 ? tmp_path("short") : raw_file(b.name, b.header, b.data, b.header_len);
    if (b.header_len == -2) std::ofstream(path, std::ios::binary) << "abc";
    INFO(b.name);
    CHECK_THROWS_WITH(load_safetensors(path), Catch::Contains(path) && Catch::Contains(b.message));
    std::remove(path.c_str());
  }
  CHECK_THROWS_WITH(load_safetensors(tmp_path("does_not_exist")), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(save_safetensors(tmp_path("x"), {{"a", Tensor::ones({1})}, {"a", Tensor::ones({1})}}),
                    Catch::Contains("tensor 'a' appears twice"));
  CHECK_THROWS_WITH(save_safetensors(tmp_path("x"), {{"__metadata__", Tensor::ones({1})}}),
                    Catch::Contains("invalid tensor name '__metadata__'"));
}

TEST_CASE("safetensors: save_module / load_module restore parameters and buffers, errors name the file") {
  const std::string path = tmp_path("module.safetensors");
  Lin a(5, 3, 1), b(5, 3, 2), wrong(4, 3, 3);
  save_module(path, a, {{"model", "lin"}});
  Metadata meta = load_module(path, b);
  CHECK(meta.at("model") == "lin");
  CHECK(b.state_dict().size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(b.state_dict()[i].second.to_vector() == a.state_dict()[i].second.to_vector());
  CHECK_THROWS_WITH(load_module(path, wrong),
                    Catch::Contains(path) && Catch::Contains("'weight': expected shape (3, 4), got (3, 5)"));
  std::remove(path.c_str());
}

TEST_CASE("safetensors: an independent stdlib-only Python reader agrees with the file") {
  if (std::system("python3 -c 'import json, struct' > /dev/null 2>&1") != 0) {
    std::cout << "SKIPPED: python3 is not installed\n";
    return;
  }
  const std::string path = tmp_path("py.safetensors"), script = tmp_path("reader.py");
  save_safetensors(path, {{"w", Tensor::from({2, 2}, {1.5f, -2.0f, 0.25f, 8.0f})}, {"b", Tensor::from({1}, {3.0f})}},
                   {{"format", "pt"}});
  // Reads the file as the safetensors spec says and prints "name shape values" per tensor, in offset order.
  std::ofstream(script) << R"(import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
assert (8 + n) % 8 == 0
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
assert header.pop('__metadata__') == {'format': 'pt'}
end = 0
for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets']):
    b, e = info['data_offsets']
    assert info['dtype'] == 'F32' and b == end
    end = e
    vals = struct.unpack('<%df' % ((e - b) // 4), data[b:e])
    print(name, info['shape'], ' '.join(repr(v) for v in vals))
assert end == len(data)
)";
  FILE* pipe = popen(("python3 " + script + " " + path).c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  CHECK(pclose(pipe) == 0);
  CHECK(out == "w [2, 2] 1.5 -2.0 0.25 8.0\nb [1] 3.0\n");
  std::remove(path.c_str());
  std::remove(script.c_str());
}
