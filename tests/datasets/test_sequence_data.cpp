// Sequence datasets: images read as rows / patches / pixels / permuted pixels, and the marked-sum task.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "datasets/image/idx.hpp"
#include "datasets/registry.hpp"
#include "datasets/sequence/image_sequence.hpp"
#include "datasets/sequence/marked_sum.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::data;
namespace fs = std::filesystem;

namespace {
// n random c × h × w images (no zero pixels) with labels cycling over 10 classes
ImageDataset random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  ImageDataset d;
  d.channels = c, d.height = h, d.width = w;
  std::mt19937_64 gen(seed);
  for (int64_t i = 0; i < n * c * h * w; ++i) d.pixels.push_back(static_cast<uint8_t>(1 + gen() % 255));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 10));
  for (int k = 0; k < 10; ++k) d.class_names.push_back(fmt::format("c{}", k));  // ("c" + to_string: GCC 12 -Wrestrict false positive)
  return d;
}

std::vector<float> item(const SequenceSet& s, int64_t i) {
  std::vector<float> out(static_cast<size_t>(s.length * s.features), -99.0f);
  s.fill(i, out.data());
  return out;
}

Params defaults(const std::string& name) {
  Params p = dataset_schema(dataset_type(name)).defaults();
  p.set("name", name);
  return p;
}
}  // namespace

TEST_CASE("image sequences: each order reads every pixel once, in the documented places") {
  const int64_t c = 2, h = 8, w = 12;
  const ImageDataset img = random_images(3, c, h, w, 1);
  for (std::string order : {"rows", "patches", "pixels", "permuted"}) {
    ImageSequenceOptions o;
    o.order = order;
    o.normalize = false;
    const SequenceData d = images_as_sequences({img, img}, o, "t");
    INFO(order);
    const auto [steps, features] = image_sequence_shape(c, h, w, o);
    CHECK(d.train.length == steps);
    CHECK(d.train.features == features);
    const std::vector<int64_t> src = image_sequence_gather(c, h, w, o);
    // a bijection onto the image's c·h·w values
    CHECK(std::set<int64_t>(src.begin(), src.end()).size() == size_t(c * h * w));
    const std::vector<float> x = item(d.train, 2);
    for (size_t j = 0; j < src.size(); ++j) REQUIRE(x[j] == Approx(img.image(2)[src[j]] / 255.0f));
  }
  // spot checks of the layouts: rows → step t, channel ch, column x; patches of 4 → second patch's first pixel
  ImageSequenceOptions rows;
  const auto g = image_sequence_gather(c, h, w, rows);
  CHECK(g[3 * (w * c) + 1 * w + 5] == (1 * h + 3) * w + 5);
  ImageSequenceOptions patches;
  patches.order = "patches";
  const auto gp = image_sequence_gather(c, h, w, patches);
  CHECK(image_sequence_shape(c, h, w, patches) == std::pair<int64_t, int64_t>{6, 32});
  CHECK(gp[1 * 32 + 0] == 4);             // patch 1 (row 0, column 1), channel 0, (0, 0) → pixel (0, 4)
  CHECK(gp[4 * 32 + 16 + 5] == (1 * h + 5) * w + 5);  // patch 4 = (row 1, col 1); channel 1, (dy 1, dx 1)
}

TEST_CASE("image sequences: the permutation is fixed by its seed, the same for train and test, not the identity") {
  ImageSequenceOptions a, b, other;
  a.order = b.order = other.order = "permuted";
  other.permutation_seed = 7;
  const auto pa = image_sequence_gather(1, 28, 28, a), pb = image_sequence_gather(1, 28, 28, b);
  CHECK(pa == pb);
  CHECK(pa != image_sequence_gather(1, 28, 28, other));
  int fixed = 0;
  for (size_t i = 0; i < pa.size(); ++i) fixed += pa[i] == int64_t(i);
  CHECK(fixed < 20);
  const ImageDataset img = random_images(2, 1, 28, 28, 3);
  const SequenceData d = images_as_sequences({img, img}, a, "t");
  CHECK(item(d.train, 1) == item(d.test, 1));
}

TEST_CASE("image sequences: normalisation uses the training pool's moments") {
  ImageSequenceOptions o;  // rows, normalize: true
  const ImageDataset tr = random_images(20, 1, 6, 6, 4), te = random_images(5, 1, 6, 6, 5);
  const SequenceData d = images_as_sequences({tr, te}, o, "t");
  double s = 0, s2 = 0, n = 0;
  for (int64_t i = 0; i < d.train.size(); ++i)
    for (float v : item(d.train, i)) s += v, s2 += double(v) * v, ++n;
  CHECK(std::abs(s / n) < 1e-4);
  CHECK(std::abs(s2 / n - 1.0) < 1e-3);
}

TEST_CASE("image sequences: impossible options are errors naming the option") {
  ImageSequenceOptions o;
  o.order = "patches";
  o.patch = 5;
  CHECK_THROWS_WITH(image_sequence_shape(1, 28, 28, o), Catch::Contains("dataset.patch") && Catch::Contains("5"));
  o.order = "spiral";
  CHECK_THROWS_WITH(image_sequence_shape(1, 28, 28, o), Catch::Contains("dataset.order"));
  const ImageDataset tr = random_images(4, 1, 6, 6, 1), te = random_images(4, 1, 6, 8, 1);
  CHECK_THROWS_WITH(images_as_sequences({tr, te}, ImageSequenceOptions{}, "t"), Catch::Contains("test images"));
}

TEST_CASE("marked-sum: labels match the generated sequences, marks in each half, deterministic") {
  MarkedSumOptions o;
  o.length = 37;
  o.train_items = 200;
  o.test_items = 50;
  const SequenceData d = marked_sum(o);
  REQUIRE(d.train.size() == 200);
  REQUIRE(d.test.size() == 50);
  CHECK(d.train.features == 11);
  std::vector<int> label_count(19);
  for (int64_t i = 0; i < d.train.size(); ++i) {
    const std::vector<float> x = item(d.train, i);
    std::vector<int64_t> marks;
    std::vector<int> digits;
    for (int64_t t = 0; t < o.length; ++t) {
      const float* step = x.data() + t * 11;
      REQUIRE(std::count(step, step + 10, 1.0f) == 1);  // one digit per step
      REQUIRE(std::count(step, step + 10, 0.0f) == 9);
      if (step[10] == 1.0f) {
        marks.push_back(t);
        digits.push_back(int(std::max_element(step, step + 10) - step));
      }
    }
    REQUIRE(marks.size() == 2);
    CHECK(marks[0] < o.length / 2);
    CHECK(marks[1] >= o.length / 2);
    CHECK(d.train.labels[i] == digits[0] + digits[1]);
    const MarkedSumItem it = marked_sum_item(o, 0, i);
    CHECK(it.first == marks[0]);
    CHECK(it.second == marks[1]);
    ++label_count[d.train.labels[i]];
  }
  for (int c = 1; c < 18; ++c) CHECK(label_count[c] > 0);  // every sum but the rarest (0, 18: 1 %) occurs
  CHECK(d.train.num_classes() == 19);
  // the same options give the same data; another data_seed other data; test items differ from training items
  CHECK(item(marked_sum(o).train, 17) == item(d.train, 17));
  MarkedSumOptions o2 = o;
  o2.data_seed = 1;
  CHECK(item(marked_sum(o2).train, 17) != item(d.train, 17));
  CHECK(item(d.test, 3) != item(d.train, 3));
}

TEST_CASE("sequence registry: entries, declared shapes, loading through the registry, batches, subsets") {
  CHECK(dataset_type("marked-sum").domain == kSequenceDomain);
  CHECK(dataset_type("fashion-mnist-sequence").domain == kSequenceDomain);
  Params p = defaults("fashion-mnist-sequence");
  CHECK(dataset_type("fashion-mnist-sequence").input_shape(p) == std::vector<int64_t>{28, 28});
  p.set("order", std::string("patches"));
  CHECK(dataset_type("fashion-mnist-sequence").input_shape(p) == std::vector<int64_t>{49, 16});
  p.set("order", std::string("permuted"));
  CHECK(dataset_type("fashion-mnist-sequence").input_shape(p) == std::vector<int64_t>{784, 1});

  Params m = defaults("marked-sum");
  m.set("length", int64_t{64});
  m.set("train_items", int64_t{300});
  m.set("test_items", int64_t{40});
  m.set("val_fraction", 0.2);
  const SequenceData d = load_sequence_dataset(m);
  CHECK(d.train.length == 64);
  std::vector<int64_t> labels;
  const Tensor x = make_sequence_batch(d.train, {5, 0, 9}, &labels);
  CHECK(x.shape() == Shape{3, 64, 11});
  CHECK(labels == std::vector<int64_t>{d.train.labels[5], d.train.labels[0], d.train.labels[9]});
  CHECK(std::vector<float>(x.data() + 64 * 11, x.data() + 2 * 64 * 11) == item(d.train, 0));
  // nested class-stratified subsets, validation held out, as for images
  const SubsetIndices small = run_subset(d, m, 0.25, 3, "marked-sum", "r"), all = run_subset(d, m, 1.0, 3, "marked-sum", "r");
  CHECK(all.val == small.val);
  CHECK(std::includes(all.train.begin(), all.train.end(), small.train.begin(), small.train.end()));
  CHECK(all.train.size() + all.val.size() == 300);
  CHECK_THROWS_WITH(load_image_dataset(m), Catch::Contains("sequence") && Catch::Contains("not image"));
}

TEST_CASE("sequence registry: fashion-mnist-sequence reads IDX files from root") {
  rc::test::TempDir dir("seqidx");
  std::mt19937_64 gen(9);
  for (auto [prefix, n] : {std::pair<std::string, int64_t>{"train", 30}, {"t10k", 10}}) {
    IdxArray images{{n, 28, 28}, {}}, labels{{n}, {}};
    for (int64_t i = 0; i < n * 784; ++i) images.data.push_back(static_cast<uint8_t>(1 + gen() % 255));
    for (int64_t i = 0; i < n; ++i) labels.data.push_back(static_cast<uint8_t>(i % 10));
    write_idx(dir.path / (prefix + "-images-idx3-ubyte"), images);
    write_idx(dir.path / (prefix + "-labels-idx1-ubyte"), labels);
  }
  Params p = defaults("fashion-mnist-sequence");
  p.set("root", dir.path.string());
  p.set("order", std::string("pixels"));
  const SequenceData d = load_sequence_dataset(p);
  CHECK(d.train.size() == 30);
  CHECK(d.test.size() == 10);
  CHECK(d.train.length == 784);
  CHECK(d.train.features == 1);
  CHECK(d.train.class_names.front() == "T-shirt/top");
}
