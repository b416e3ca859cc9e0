#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "datasets/image/folder.hpp"
#include "datasets/image/subset.hpp"
#include "datasets/image/transforms.hpp"
#include "framework/core/parallel.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::data;
using rc::test::TempDir;
namespace fs = std::filesystem;

namespace {
// a 4x6 BGR image whose pixel (y, x) is (10y + x, 100 + v, 200)
void write_png(const fs::path& p, int v) {
  cv::Mat m(4, 6, CV_8UC3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(10 * y + x), uchar(100 + v), 200);
  REQUIRE(cv::imwrite(p.string(), m));
}
ImageDataset ramp_dataset(int64_t n) {
  ImageDataset d;
  d.channels = 1;
  d.height = 5;
  d.width = 7;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < 35; ++p) d.pixels.push_back(static_cast<uint8_t>(3 * p + i % 7 + 1));
    d.labels.push_back(static_cast<int32_t>(i % 3));
  }
  d.class_names = {"a", "b", "c"};
  return d;
}
}  // namespace

TEST_CASE("image folder: classes by folder name, pixels in CHW RGB order") {
  TempDir d("ok");
  fs::create_directories(d.path / "cat");
  fs::create_directories(d.path / "ant");
  write_png(d.path / "cat" / "1.png", 1);
  write_png(d.path / "cat" / "2.png", 2);
  write_png(d.path / "ant" / "x.png", 3);
  FolderOptions o;
  o.height = 4;
  o.width = 6;
  ImageDataset ds = load_image_folder(d.path.string(), o);
  CHECK(ds.class_names == std::vector<std::string>{"ant", "cat"});
  CHECK(ds.labels == std::vector<int32_t>{0, 1, 1});
  CHECK(ds.channels == 3);
  // channel 0 is red = 200, channel 1 green = 100 + v, channel 2 blue = 10y + x
  CHECK(ds.image(0)[0] == 200);
  CHECK(ds.image(1)[24] == 101);
  CHECK(ds.image(2)[48 + 2 * 6 + 5] == 25);
  o.grayscale = "true";
  o.height = 2;
  o.width = 3;
  ImageDataset g = load_image_folder(d.path.string(), o);
  CHECK(g.channels == 1);
  CHECK(g.pixels.size() == 3 * 6);
}

TEST_CASE("image folder: bad input names the file or folder") {
  TempDir d("bad");
  CHECK_THROWS_WITH(load_image_folder((d.path / "nope").string()), Catch::Contains("no such directory"));
  CHECK_THROWS_WITH(load_image_folder(d.path.string()), Catch::Contains("no class sub-folders"));
  fs::create_directories(d.path / "a");
  fs::create_directories(d.path / "b");
  write_png(d.path / "a" / "1.png", 1);
  CHECK_THROWS_WITH(load_image_folder(d.path.string()), Catch::Contains("b") && Catch::Contains("holds no"));
  std::ofstream(d.path / "b" / "broken.png") << "not a png at all";
  CHECK_THROWS_WITH(load_image_folder(d.path.string()), Catch::Contains("broken.png"));
}

TEST_CASE("subsets: stratified, seeded, nested, disjoint from validation") {
  std::vector<int32_t> labels;
  for (int i = 0; i < 1000; ++i) labels.push_back(i % 10);
  SubsetSpec s;
  s.val_fraction = 0.1;
  s.seed = 3;
  s.fraction = 0.05;
  SubsetIndices small = stratified_subset(labels, 10, s);
  s.fraction = 0.1;
  SubsetIndices big = stratified_subset(labels, 10, s);
  CHECK(small.train.size() == 50);  // 10 classes × round(0.05 × 90)
  CHECK(big.train.size() == 90);
  CHECK(small.val == big.val);
  CHECK(big.val.size() == 100);
  CHECK(std::includes(big.train.begin(), big.train.end(), small.train.begin(), small.train.end()));
  std::vector<int64_t> both;
  std::set_intersection(big.train.begin(), big.train.end(), big.val.begin(), big.val.end(), std::back_inserter(both));
  CHECK(both.empty());
  std::vector<int> per(10, 0);
  for (int64_t i : big.train) ++per[labels[i]];
  for (int c : per) CHECK(c == 9);
  s.seed = 4;
  CHECK(stratified_subset(labels, 10, s).train != big.train);
  s.per_class = 3;
  CHECK(stratified_subset(labels, 10, s).train.size() == 30);
  s.per_class = 0;
  s.fraction = 1.5;
  CHECK_THROWS_WITH(stratified_subset(labels, 10, s), Catch::Contains("fraction 1.5"));
}

TEST_CASE("batches: normalization by hand, deterministic augmentation, thread-count independent") {
  ImageDataset d = ramp_dataset(20);
  Normalize n;
  n.mean = {0.5f};
  n.stddev = {0.25f};
  std::vector<int64_t> labels;
  Tensor b = make_batch(d, {2, 5}, {}, n, false, 0, &labels);
  CHECK(b.shape() == Shape{2, 1, 5, 7});
  CHECK(labels == std::vector<int64_t>{2, 2});
  // image 2, pixel 4: 3*4 + 2 + 1 = 15 -> (15/255 - 0.5) / 0.25
  CHECK(b.at({0, 0, 0, 4}) == Approx((15.0 / 255 - 0.5) / 0.25));

  Augment a;
  a.crop_padding = 2;
  a.horizontal_flip = true;
  a.affine_degrees = 10;
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < 20; ++i) idx.push_back(i);
  set_num_threads(1);
  Tensor one = make_batch(d, idx, a, n, true, 42, nullptr);
  set_num_threads(2);
  Tensor two = make_batch(d, idx, a, n, true, 42, nullptr);
  CHECK(one.to_vector() == two.to_vector());
  Tensor other = make_batch(d, idx, a, n, true, 43, nullptr);
  CHECK(other.to_vector() != one.to_vector());
  // an item's augmentation does not depend on the batch it is in
  Tensor single = make_batch(d, {7}, a, n, true, 42, nullptr);
  auto v = one.to_vector();
  CHECK(single.to_vector() == std::vector<float>(v.begin() + 7 * 35, v.begin() + 8 * 35));

  Augment flip_only;
  flip_only.horizontal_flip = true;
  int flipped = 0;
  for (int64_t i = 0; i < 20; ++i) {
    Tensor f = make_batch(d, {i}, flip_only, Normalize{}, true, 9, nullptr);
    float first = f.at({0, 0, 0, 0}) * 255.0f;
    if (std::lround(first) == 3 * 6 + i % 7 + 1) ++flipped;  // pixel (0, 6) moved to (0, 0)
    else CHECK(std::lround(first) == i % 7 + 1);
  }
  CHECK(flipped > 3);
  CHECK(flipped < 17);
}

TEST_CASE("image folder: by default the size and channels follow the images, and mixed ones are an error naming both") {
  TempDir d("auto");
  fs::create_directories(d.path / "a");
  fs::create_directories(d.path / "b");
  auto grey = [](const fs::path& p, int rows, int cols, int v) {
    cv::Mat m(rows, cols, CV_8UC1);
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x) m.at<uchar>(y, x) = uchar(v + 3 * y + x);
    REQUIRE(cv::imwrite(p.string(), m));
  };
  grey(d.path / "a" / "0.png", 28, 28, 10);
  grey(d.path / "b" / "0.png", 28, 28, 50);
  // 28×28 grey stays 28×28 and one channel, pixels as written (no resize, no colour conversion)
  ImageDataset ds = load_image_folder(d.path.string());
  CHECK(ds.channels == 1);
  CHECK(ds.height == 28);
  CHECK(ds.width == 28);
  CHECK(ds.image(1)[2 * 28 + 5] == 50 + 6 + 5);
  const FolderOptions r = resolve_folder_options(d.path.string(), {});
  CHECK(r.height == 28);
  CHECK(r.width == 28);
  CHECK(r.grayscale == "true");
  // a 4×6 colour image among 28×28 grey ones: with automatic size, its size is the first error
  write_png(d.path / "b" / "1.png", 1);
  CHECK_THROWS_WITH(load_image_folder(d.path.string()), Catch::Contains("1.png is 4x6") && Catch::Contains("28x28") &&
                                                            Catch::Contains("dataset.height"));
  FolderOptions o;
  o.height = 8;  // resizing is a choice the config makes; grey or colour is still automatic
  o.width = 8;
  CHECK_THROWS_WITH(load_image_folder(d.path.string(), o),
                    Catch::Contains("1.png is colour") && Catch::Contains("grayscale: true or false"));
  o.grayscale = "true";
  ImageDataset resized = load_image_folder(d.path.string(), o);
  CHECK(resized.height == 8);
  CHECK(resized.channels == 1);
  CHECK(resized.size() == 3);
  // a colour first image makes the folder RGB
  fs::remove(d.path / "b" / "1.png");
  fs::remove(d.path / "a" / "0.png");
  write_png(d.path / "a" / "0.png", 2);
  CHECK(resolve_folder_options(d.path.string(), {}).grayscale == "false");
  o.grayscale = "maybe";
  CHECK_THROWS_WITH(load_image_folder(d.path.string(), o), Catch::Contains("grayscale 'maybe'"));
}
