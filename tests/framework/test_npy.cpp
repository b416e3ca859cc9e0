#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "framework/io/npy.hpp"
#include "support/files.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::io;
using namespace rc::test;

namespace {

// A version 1.0 file with the given dict text (padded as numpy pads it) and data bytes.
std::string raw_npy(const std::string& name, std::string dict, const std::string& data) {
  dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
  dict.push_back('\n');
  std::string path = tmp_path(name);
  std::ofstream out(path, std::ios::binary);
  out << std::string("\x93NUMPY\x01\x00", 8) << static_cast<char>(dict.size() & 0xff)
      << static_cast<char>(dict.size() >> 8) << dict << data;
  return path;
}

}  // namespace

TEST_CASE("npy: exact bytes of a small file, worked out by hand") {
  // dict "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" is 17 + 24 + 15 + 1 = 57 characters;
  // magic (6) + version (2) + length (2) + 57 + '\n' = 68, so numpy pads 64 - 68 % 64 = 60 spaces:
  // header length 57 + 60 + 1 = 118 = 0x76, data at byte 128; 1.0f, -2.0f, 0.5f = 0000803f 000000c0 0000003f
  const std::string path = tmp_path("exact.npy");
  save_npy(path, Tensor::from({3}, {1.0f, -2.0f, 0.5f}));
  std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" + std::string(60, ' ') + "\n" +
                         std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x00\x3f", 12);
  CHECK(read_all(path) == expected);
  CHECK(read_all(path).size() == 140);
  // (2, 3): dict of 59 characters -> 58 spaces, the same 118-byte header; () -> "'shape': ()"
  CHECK(npy_header({2, 3}).substr(10, 59) == "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  CHECK(npy_header({2, 3}).size() == 128);
  CHECK(npy_header({}).find("'shape': (), }") != std::string::npos);
  for (Shape s : {Shape{}, Shape{1}, Shape{100000, 3, 7, 2, 9}}) CHECK(npy_header(s).size() % 64 == 0);
  std::remove(path.c_str());
}

TEST_CASE("npy: save then load round-trips shapes and values") {
  const std::string path = tmp_path("roundtrip.npy");
  for (Tensor t : {random_tensor({2, 3}, 1), random_tensor({5, 1, 7}, 2), Tensor::scalar(2.5f), Tensor::zeros({0, 4}),
                   random_tensor({6, 4}, 3).transpose(0, 1)}) {
    save_npy(path, t);
    Tensor back = load_npy(path);
    INFO(shape_str(t.shape()));
    CHECK(back.shape() == t.shape());
    CHECK(back.to_vector() == t.to_vector());
  }
  std::remove(path.c_str());
}

TEST_CASE("npy: '<f8' files are converted to float32") {
  std::string data;
  for (double v : {0.5, -1.25, 3.0, 1e-3}) data.append(reinterpret_cast<const char*>(&v), 8);
  std::string path = raw_npy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", data);
  Tensor t = load_npy(path);
  CHECK(t.shape() == Shape{2, 2});
  CHECK(t.to_vector() == std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f});
  std::remove(path.c_str());
}

TEST_CASE("npy: corrupt or unsupported files give errors naming the file") {
  const std::string four(4, '\x01');
  struct Bad {
    const char* name;
    std::string dict, data;
    const char* message;
  };
  const Bad cases[] = {
      {"fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", four, "fortran_order True"},
      {"int", "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", four, "unsupported dtype '<i4'"},
      {"bigendian", "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", four, "unsupported dtype '>f4'"},
      {"short", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four,
       "shape (2) of '<f4' needs 8 data bytes, the file has 4"},
      {"long", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", four + four,
       "needs 4 data bytes, the file has 8"},
      {"nokey", "{'descr': '<f4', 'shape': (1,), }", four, "header lacks one of"},
      {"garbage", "{'descr': '<f4', 'fortran_order': maybe, }", four, "malformed header"},
  };
  for (const Bad& b : cases) {
    std::string path = raw_npy(b.name, b.dict, b.data);
    INFO(b.name);
    CHECK_THROWS_WITH(load_npy(path), Catch::Contains(path) && Catch::Contains(b.message));
    std::remove(path.c_str());
  }
  std::string path = tmp_path("magic.npy");
  std::ofstream(path, std::ios::binary) << "NUMPY? no";
  CHECK_THROWS_WITH(load_npy(path), Catch::Contains(path) && Catch::Contains("not an NPY file"));
  std::ofstream(path, std::ios::binary) << std::string("\x93NUMPY\x01\x00\xff\x00{", 11);
  CHECK_THROWS_WITH(load_npy(path), Catch::Contains(path) && Catch::Contains("header length 255 runs past the end"));
  std::remove(path.c_str());
  CHECK_THROWS_WITH(load_npy(tmp_path("missing.npy")), Catch::Contains("cannot open"));
}

TEST_CASE("npy: numpy reads what we write and we read what numpy writes") {
  // Debian's python3 (where scripts/setup.sh installs python3-numpy), even when another python3 (pyenv, a
  // venv) comes first on the PATH
  const std::string py = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  if (std::system((py + " -c 'import numpy' > /dev/null 2>&1").c_str()) != 0) {
    std::cout << "SKIPPED: " << py << " with numpy is not installed (apt-get install python3-numpy)\n";
    return;
  }
  const std::string ours = tmp_path("ours.npy"), theirs = tmp_path("theirs.npy");
  save_npy(ours, Tensor::from({2, 3}, {1.5f, -2.0f, 0.25f, 8.0f, 3.0f, -0.5f}));
  std::string cmd = py + " -c \"import numpy as np; a = np.load('" + ours +
                    "'); assert a.dtype == np.float32 and a.shape == (2, 3); "
                    "assert a.tolist() == [[1.5, -2.0, 0.25], [8.0, 3.0, -0.5]]; "
                    "np.save('" + theirs + "', (np.arange(12, dtype=np.float64).reshape(3, 4) - 5) / 4)\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  Tensor t = load_npy(theirs);
  CHECK(t.shape() == Shape{3, 4});
  for (int i = 0; i < 12; ++i) CHECK(t.data()[i] == static_cast<float>((i - 5) / 4.0));
  // numpy's own header for a float32 (2, 3) array is byte-identical to ours
  std::string cmd2 = py + " -c \"import numpy as np; np.save('" + theirs + "', np.arange(6, dtype=np.float32).reshape(2, 3))\"";
  REQUIRE(std::system(cmd2.c_str()) == 0);
  CHECK(read_all(theirs).substr(0, 128) == npy_header({2, 3}));
  std::remove(ours.c_str());
  std::remove(theirs.c_str());
}

TEST_CASE("npy: int64 arrays are written as '<i8' with numpy's header") {
  const std::string path = tmp_path("int64.npy");
  save_npy_int64(path, {0, 3, -7, int64_t{1} << 40});
  const std::string bytes = read_all(path);
  REQUIRE(bytes.size() == 128 + 4 * 8);
  CHECK(bytes.substr(10, 59) == "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }  ");
  int64_t v[4];
  std::memcpy(v, bytes.data() + 128, sizeof v);
  CHECK(v[1] == 3);
  CHECK(v[2] == -7);
  CHECK(v[3] == (int64_t{1} << 40));
  save_npy_int64(path, {1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(read_all(path).find("'shape': (2, 3)") != std::string::npos);
  CHECK_THROWS_WITH(save_npy_int64(path, {1, 2, 3}, {2, 2}), Catch::Contains("holds 4 values, got 3"));
}
