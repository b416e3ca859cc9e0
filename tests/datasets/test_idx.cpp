#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "datasets/image/idx.hpp"
#include "datasets/image/image_dataset.hpp"
#include "datasets/locate.hpp"
#include "support/files.hpp"

using namespace rc::data;
namespace fs = std::filesystem;

namespace {
IdxArray sample_images(int64_t n) {
  IdxArray a{{n, 3, 2}, {}};
  for (int64_t i = 0; i < n * 6; ++i) a.data.push_back(static_cast<uint8_t>(7 * i + 3));
  return a;
}
void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
}  // namespace

TEST_CASE("idx: plain and gzip files round-trip, header bytes as specified") {
  rc::test::TempDir d_dir("roundtrip");
  const fs::path& d = d_dir.path;
  IdxArray a = sample_images(4);
  write_idx(d / "a.idx", a);
  write_idx(d / "a.idx.gz", a);
  auto bytes = read_bytes(d / "a.idx");
  // magic 00 00 08 03, then 4, 3, 2 as big-endian uint32
  std::vector<uint8_t> header{0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2};
  CHECK(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 16) == header);
  for (auto p : {d / "a.idx", d / "a.idx.gz"}) {
    IdxArray b = read_idx(p);
    CHECK(b.shape == a.shape);
    CHECK(b.data == a.data);
  }
}

TEST_CASE("idx: bad files are clear errors naming the file") {
  rc::test::TempDir d_dir("bad");
  const fs::path& d = d_dir.path;
  IdxArray a = sample_images(4);
  write_idx(d / "good.idx", a);
  auto bytes = read_bytes(d / "good.idx");

  auto magic = bytes;
  magic[2] = 0x0d;  // float data type
  write_bytes(d / "magic.idx", magic);
  CHECK_THROWS_WITH(read_idx(d / "magic.idx"), Catch::Contains("magic.idx") && Catch::Contains("0x0d"));
  magic[0] = 0x1f;
  write_bytes(d / "magic2.idx", magic);
  CHECK_THROWS_WITH(read_idx(d / "magic2.idx"), Catch::Contains("wrong IDX magic"));

  write_bytes(d / "short.idx", std::vector<uint8_t>(bytes.begin(), bytes.end() - 5));
  CHECK_THROWS_WITH(read_idx(d / "short.idx"), Catch::Contains("short.idx") && Catch::Contains("truncated"));

  write_idx(d / "good.idx.gz", a);
  auto gz = read_bytes(d / "good.idx.gz");
  write_bytes(d / "cut.idx.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  CHECK_THROWS_WITH(read_idx(d / "cut.idx.gz"), Catch::Contains("cut.idx.gz"));
  auto corrupt = gz;
  for (size_t i = 12; i < corrupt.size() - 8; ++i) corrupt[i] ^= 0x5a;
  write_bytes(d / "corrupt.idx.gz", corrupt);
  CHECK_THROWS_WITH(read_idx(d / "corrupt.idx.gz"), Catch::Contains("corrupt.idx.gz"));

  CHECK_THROWS_WITH(read_idx(d / "absent.idx"), Catch::Contains("absent.idx") && Catch::Contains("no such file"));
}

TEST_CASE("idx: image and label counts must agree, labels must be in range") {
  rc::test::TempDir d_dir("pair");
  const fs::path& d = d_dir.path;
  write_idx(d / "img.idx", sample_images(4));
  write_idx(d / "lab.idx", IdxArray{{3}, {0, 1, 2}});
  CHECK_THROWS_WITH(load_idx_pair(d / "img.idx", d / "lab.idx", {"a", "b", "c"}),
                    Catch::Contains("4 images") && Catch::Contains("3 labels"));
  write_idx(d / "lab4.idx", IdxArray{{4}, {0, 1, 2, 5}});
  CHECK_THROWS_WITH(load_idx_pair(d / "img.idx", d / "lab4.idx", {"a", "b", "c"}),
                    Catch::Contains("label 5 of item 3"));
  write_idx(d / "lab_ok.idx", IdxArray{{4}, {0, 1, 2, 1}});
  ImageDataset ds = load_idx_pair(d / "img.idx", d / "lab_ok.idx", {"a", "b", "c"});
  CHECK(ds.size() == 4);
  CHECK(ds.height == 3);
  CHECK(ds.width == 2);
  CHECK(ds.image(1)[0] == static_cast<uint8_t>(7 * 6 + 3));
}

TEST_CASE("locate: a missing dataset names every place it looked") {
  ::setenv("RECEPTIVE_DATA", "/nonexistent/receptive", 1);
  CHECK_THROWS_WITH(locate_dataset("widgets", "", {"a.txt"}), Catch::Contains("/nonexistent/receptive/widgets") &&
                                                                  Catch::Contains("data/widgets") &&
                                                                  Catch::Contains("missing a.txt"));
  ::unsetenv("RECEPTIVE_DATA");
}

TEST_CASE("fashion-mnist: the installed dataset loads with 60000 + 10000 images") {
  TrainTest t;
  try {
    t = load_fashion_mnist();
  } catch (const DatasetNotFound& e) {
    WARN("SKIPPED: Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): " << e.what());
    return;
  }
  CHECK(t.train.size() == 60000);
  CHECK(t.test.size() == 10000);
  CHECK(t.train.height == 28);
  std::vector<int> counts(10, 0);
  for (int32_t l : t.train.labels) ++counts[l];
  for (int c : counts) CHECK(c == 6000);
}
