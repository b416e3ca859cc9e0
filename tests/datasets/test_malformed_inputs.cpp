// Files whose headers declare sizes they do not hold: each is a clear error naming the file, never a crash,
// a wrapped-around size or a huge allocation (regressions from the reliability audit, issue 15).
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "datasets/image/folder.hpp"
#include "datasets/image/idx.hpp"
#include "datasets/image/image_dataset.hpp"
#include "datasets/image/image_header.hpp"
#include "framework/core/checked_size.hpp"
#include "framework/io/npy.hpp"
#include "framework/io/safetensors.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::data;
namespace fs = std::filesystem;

namespace {
void write_bytes(const fs::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }
std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}
std::string idx_header(std::vector<uint32_t> shape) {
  std::string h{0, 0, 8, char(shape.size())};
  for (uint32_t s : shape) h += be32(s);
  return h;
}
}  // namespace

TEST_CASE("checked sizes: products that would wrap around are refused, zero dimensions included") {
  CHECK(checked_numel(std::vector<int64_t>{4, 5, 6}) == 120);
  CHECK(checked_numel(std::vector<int64_t>{0, 5}) == 0);
  CHECK(checked_numel(std::vector<int64_t>{}) == 1);
  CHECK_FALSE(checked_numel(std::vector<int64_t>{4, int64_t{1} << 31, int64_t{1} << 31}).has_value());
  CHECK_FALSE(checked_numel(std::vector<int64_t>{0, int64_t{1} << 40, int64_t{1} << 40}).has_value());
  CHECK_FALSE(checked_numel(std::vector<int64_t>{-1, 2}).has_value());
  CHECK_FALSE(checked_numel(std::vector<int64_t>{100, 100}, 4, 39999).has_value());
  CHECK(checked_numel(std::vector<int64_t>{100, 100}, 4, 40000) == 40000);
  CHECK_FALSE(checked_mul(int64_t{1} << 62, 4).has_value());
  CHECK_FALSE(checked_add(INT64_MAX, 1).has_value());
}

TEST_CASE("idx: a 16-byte header whose shape wraps around is an error (regression: null read in training)") {
  rc::test::TempDir d("idx_wrap");
  // (4, 2^31, 2^31): 2^64 elements, which wrapped to 0 and passed both size checks
  write_bytes(d.path / "images", idx_header({4, 1u << 31, 1u << 31}));
  CHECK_THROWS_WITH(read_idx(d.path / "images"),
                    Catch::Contains((d.path / "images").string()) && Catch::Contains("(4, 2147483648, 2147483648)") &&
                        Catch::Contains("more elements than"));
  write_bytes(d.path / "zero", idx_header({0, 1u << 31, 1u << 31}));
  CHECK_THROWS_WITH(read_idx(d.path / "zero"), Catch::Contains("more elements than"));
  // the pair loader goes through the same check
  write_bytes(d.path / "labels", idx_header({4}) + std::string(4, '\1'));
  CHECK_THROWS_WITH(load_idx_pair(d.path / "images", d.path / "labels", {"a", "b"}), Catch::Contains("more elements"));
  // an empty but well-formed image file is a clear error too
  write_bytes(d.path / "empty", idx_header({0, 28, 28}));
  write_bytes(d.path / "nolabels", idx_header({0}));
  CHECK_THROWS_WITH(load_idx_pair(d.path / "empty", d.path / "nolabels", {"a", "b"}),
                    Catch::Contains("holds no images"));
}

TEST_CASE("fashion-mnist: test images of another size than the training images are an error") {
  rc::test::TempDir d("fm_sizes");
  auto write_set = [&](const std::string& prefix, uint32_t n, uint32_t side) {
    write_bytes(d.path / (prefix + "-images-idx3-ubyte"), idx_header({n, side, side}) + std::string(n * side * side, '\x40'));
    std::string labels;
    for (uint32_t i = 0; i < n; ++i) labels += char(i % 2);
    write_bytes(d.path / (prefix + "-labels-idx1-ubyte"), idx_header({n}) + labels);
  };
  write_set("train", 6, 28);
  write_set("t10k", 4, 32);
  CHECK_THROWS_WITH(load_fashion_mnist(d.path.string()),
                    Catch::Contains("t10k-images-idx3-ubyte") && Catch::Contains("32x32") && Catch::Contains("28x28"));
  write_set("t10k", 4, 28);
  CHECK(load_fashion_mnist(d.path.string()).test.size() == 4);
}

TEST_CASE("image headers: declared sizes are checked before decoding (PNG, BMP, JPEG)") {
  rc::test::TempDir d("img_headers");
  cv::Mat small(6, 5, CV_8UC1, cv::Scalar(100));
  std::vector<uint8_t> png, bmp, jpg;
  cv::imencode(".png", small, png);
  cv::imencode(".bmp", small, bmp);
  cv::imencode(".jpg", small, jpg);
  auto str = [](const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); };
  CHECK(read_image_header(str(png), "a.png").width == 5);
  CHECK(read_image_header(str(png), "a.png").height == 6);
  CHECK(read_image_header(str(bmp), "a.bmp").width == 5);
  CHECK(read_image_header(str(bmp), "a.bmp").height == 6);
  CHECK(read_image_header(str(jpg), "a.jpg").width == 5);
  CHECK(read_image_header(str(jpg), "a.jpg").height == 6);

  // a PNG whose IHDR claims 60000 × 60000 pixels (OpenCV used to fail with a raw assertion)
  std::string huge = str(png);
  huge.replace(16, 8, be32(60000) + be32(60000));
  CHECK_THROWS_WITH(read_image_header(huge, "huge.png"),
                    Catch::Contains("huge.png") && Catch::Contains("60000x60000") && Catch::Contains("over the limit"));
  fs::create_directories(d.path / "root" / "a");
  fs::create_directories(d.path / "root" / "b");
  write_bytes(d.path / "root" / "a" / "0.png", huge);
  write_bytes(d.path / "root" / "b" / "0.png", str(png));
  CHECK_THROWS_WITH(load_image_folder((d.path / "root").string(), {8, 8, "true"}),
                    Catch::Contains("0.png") && Catch::Contains("60000x60000"));
  // zero width, a truncated header, and content that is no image at all
  std::string zero = str(png);
  zero.replace(16, 4, be32(0));
  CHECK_THROWS_WITH(read_image_header(zero, "zero.png"), Catch::Contains("0x6"));
  CHECK_THROWS_WITH(read_image_header(str(png).substr(0, 20), "cut.png"), Catch::Contains("cut.png"));
  CHECK_THROWS_WITH(read_image_header("hello, world", "text.png"), Catch::Contains("not a PNG, JPEG or BMP"));
  // BMP and JPEG headers claiming huge sizes
  std::string big_bmp = str(bmp);
  big_bmp.replace(18, 4, std::string("\x60\xea\x00\x00", 4));  // width 60000 (little-endian)
  CHECK_THROWS_WITH(read_image_header(big_bmp, "big.bmp"), Catch::Contains("60000x6"));
  std::string big_jpg = str(jpg);
  const size_t sof = big_jpg.find("\xff\xc0");
  REQUIRE(sof != std::string::npos);
  big_jpg.replace(sof + 5, 4, std::string("\xea\x60\xea\x60", 4));  // height, width 60000 (big-endian)
  CHECK_THROWS_WITH(read_image_header(big_jpg, "big.jpg"), Catch::Contains("60000x60000"));
  // a truncated image body after a valid header: decode_image reports it as undecodable (false)
  std::vector<uint8_t> out;
  write_bytes(d.path / "cut.png", str(png).substr(0, 40));
  CHECK_FALSE(decode_image((d.path / "cut.png").string(), 1, 4, 4, out));
}

TEST_CASE("npy and safetensors: shapes with a zero and huge other dimensions are errors") {
  rc::test::TempDir d("zero_dims");
  // npy: shape (0, 2^40, 2^40) declares 0 bytes, but no tensor of that shape can be made
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }";
  dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
  dict += '\n';
  std::string npy = std::string("\x93NUMPY\x01\x00", 8) + char(dict.size() & 0xff) + char(dict.size() >> 8) + dict;
  write_bytes(d.path / "z.npy", npy);
  CHECK_THROWS_WITH(io::load_npy((d.path / "z.npy").string()),
                    Catch::Contains("z.npy") && Catch::Contains("declares more data"));
  // safetensors: the same shape, 0 data bytes
  const std::string header = R"({"t":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}})";
  std::string st(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(st.data(), &n, 8);
  write_bytes(d.path / "z.safetensors", st + header);
  CHECK_THROWS_WITH(io::load_safetensors((d.path / "z.safetensors").string()),
                    Catch::Contains("z.safetensors") && Catch::Contains("tensor 't'") && Catch::Contains("too large"));
}
