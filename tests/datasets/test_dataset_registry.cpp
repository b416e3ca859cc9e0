// The dataset registry (datasets/registry.hpp): every built-in dataset is an entry with its domain, options and
// input shape; MNIST is one entry, loaded here from small synthetic IDX files through the registry, by `root` and
// by the $RECEPTIVE_DATA/mnist fallback.
#include <cstdlib>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "datasets/image/idx.hpp"
#include "datasets/registry.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::data;
namespace fs = std::filesystem;

namespace {

struct Written {
  IdxArray images, labels;
};

// n random non-zero images of h × w and random labels in [0, 10) (at least two classes), as MNIST names them.
Written write_split(const fs::path& dir, const std::string& prefix, int64_t n, int64_t h, int64_t w, uint64_t seed,
                    bool gz) {
  std::mt19937_64 gen(seed);
  Written out{{{n, h, w}, {}}, {{n}, {}}};
  for (int64_t i = 0; i < n * h * w; ++i) out.images.data.push_back(static_cast<uint8_t>(1 + gen() % 255));
  for (int64_t i = 0; i < n; ++i) out.labels.data.push_back(static_cast<uint8_t>(i < 2 ? i : gen() % 10));
  const std::string ext = gz ? ".gz" : "";
  write_idx(dir / (prefix + "-images-idx3-ubyte" + ext), out.images);
  write_idx(dir / (prefix + "-labels-idx1-ubyte" + ext), out.labels);
  return out;
}

Params options(const std::string& name, const std::string& root) {
  Params p = dataset_schema(dataset_type(name)).defaults();
  p.set("name", name);
  p.set("root", root);
  return p;
}

void check_same(const ImageDataset& d, const Written& w) {
  CHECK(d.channels == 1);
  CHECK(d.height == w.images.shape[1]);
  CHECK(d.width == w.images.shape[2]);
  CHECK(d.pixels == w.images.data);
  REQUIRE(d.labels.size() == w.labels.data.size());
  for (size_t i = 0; i < d.labels.size(); ++i) CHECK(d.labels[i] == int32_t(w.labels.data[i]));
  CHECK(d.class_names.size() == 10);
}

}  // namespace

TEST_CASE("dataset registry: mnist loads synthetic IDX files from root through its one entry") {
  rc::test::TempDir dir("mnist");
  const Written train = write_split(dir.path, "train", 30, 28, 28, 1, true);
  const Written test = write_split(dir.path, "t10k", 12, 28, 28, 2, false);
  const DatasetType& t = dataset_type("mnist");
  CHECK(t.domain == kImageDomain);
  CHECK(t.input_shape(options("mnist", "")) == std::vector<int64_t>{1, 28, 28});
  const ImageData d = load_image_dataset(options("mnist", dir.path.string()));
  check_same(d.train, train);
  check_same(d.test, test);
  // normalize: true (the default) standardises with the training pool's statistics
  const Normalize expected = compute_normalize(d.train);
  CHECK(d.normalize.mean == expected.mean);
  CHECK(d.normalize.stddev == expected.stddev);
  CHECK(d.normalize.mean[0] > 0.0f);
  // the per-run subset and the augmentation come from the same options
  Params o = options("mnist", dir.path.string());
  o.set("val_fraction", 0.2);
  o.set("augment.crop_padding", int64_t{2});
  CHECK(augment_options(o).crop_padding == 2);
  const SubsetIndices sub = run_subset(d, o, 1.0, 0, "mnist", "r");
  CHECK(sub.train.size() + sub.val.size() == 30);
  CHECK(!sub.val.empty());
}

TEST_CASE("dataset registry: mnist falls back to $RECEPTIVE_DATA/mnist, and missing or wrong files are clear errors") {
  rc::test::TempDir dir("mnist_env");
  fs::create_directories(dir.path / "mnist");
  const Written train = write_split(dir.path / "mnist", "train", 20, 28, 28, 3, false);
  (void)write_split(dir.path / "mnist", "t10k", 8, 28, 28, 4, true);
  const char* before = std::getenv("RECEPTIVE_DATA");
  const std::string saved = before ? before : "";
  ::setenv("RECEPTIVE_DATA", dir.path.string().c_str(), 1);
  const ImageData d = load_image_dataset(options("mnist", ""));
  check_same(d.train, train);
  // no files where it looks: the error names every place and the files expected
  ::setenv("RECEPTIVE_DATA", (dir.path / "elsewhere").string().c_str(), 1);
  CHECK_THROWS_WITH(load_image_dataset(options("mnist", "")),
                    Catch::Contains("dataset 'mnist' not found") && Catch::Contains("RECEPTIVE_DATA/mnist") &&
                        Catch::Contains("train-images-idx3-ubyte"));
  if (before) ::setenv("RECEPTIVE_DATA", saved.c_str(), 1);
  else ::unsetenv("RECEPTIVE_DATA");
  // images of another size than the entry declares would not fit the models the config check built
  rc::test::TempDir small("mnist_small");
  (void)write_split(small.path, "train", 10, 8, 8, 5, false);
  (void)write_split(small.path, "t10k", 4, 8, 8, 6, false);
  CHECK_THROWS_WITH(load_image_dataset(options("mnist", small.path.string())),
                    Catch::Contains("dataset mnist: the images are 1x8x8") && Catch::Contains("declares 1x28x28"));
}

TEST_CASE("dataset registry: every entry has a domain, a loader of that domain and its options, and names are checked") {
  std::vector<std::string> names;
  for (const auto& t : dataset_types()) {
    INFO("dataset " << t.name);
    names.push_back(t.name);
    CHECK(!t.description.empty());
    if (t.domain == kImageDomain) {
      CHECK(t.load_images);
      CHECK(t.input_shape);
      CHECK(t.schema.find("val_fraction"));
      CHECK(t.schema.find("augment.crop_padding"));
    } else if (t.domain == kSequenceDomain) {
      CHECK(t.load_sequences);
    } else {
      CHECK(t.domain == kGraphDomain);
      CHECK(t.load_graph);
      CHECK(t.schema.find("split"));
    }
    CHECK(!t.schema.find("name"));  // `name` is added once, by dataset_schema
    CHECK(dataset_schema(t).params.front().name == "name");
  }
  for (const char* n : {"fashion-mnist", "mnist", "image-folder", "cora", "citeseer", "karate", "csbm"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
  CHECK(dataset_name_spec().choices == names);
  CHECK_THROWS_WITH(dataset_type("mnst"), Catch::Contains("unknown dataset 'mnst'") && Catch::Contains("did you mean"));
  // a loader of the wrong domain is refused, not misread
  Params p = dataset_schema(dataset_type("karate")).defaults();
  p.set("name", std::string("karate"));
  CHECK_THROWS_WITH(load_image_dataset(p), Catch::Contains("dataset karate holds graph data, not image"));
  CHECK(load_graph_dataset(p).num_nodes() == 34);
}
