// The pictures the experiments draw: the data-efficiency chart and a trained model's attention maps.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <opencv2/imgcodecs.hpp>

#include "experiments/config/experiment.hpp"
#include "experiments/cli/commands.hpp"
#include "experiments/config/yaml_params.hpp"
#include "framework/io/npy.hpp"
#include "framework/io/safetensors.hpp"
#include "experiments/plots.hpp"
#include "experiments/results.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/runner.hpp"
#include "support/files.hpp"
#include "support/image_folder.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {
Experiment parse(const std::string& yaml) { return parse_experiment(YAML::Load(yaml), "test.yaml"); }
}  // namespace

TEST_CASE("plots: the data-efficiency chart puts each model's mean at its training size") {
  rc::test::TempDir dir("plot");
  // two models, sizes 10 and 100 (log axis), one constant line at 50 % and one rising from 60 to 80 %
  Series a{"flat", {10, 100}, {50, 50}, {0, 0}}, b{"rising", {10, 100}, {60, 80}, {5, 5}};
  line_chart(dir.path / "p.png", "t", "x", "y", {a, b}, true);
  cv::Mat img = cv::imread((dir.path / "p.png").string());
  REQUIRE(!img.empty());
  CHECK(img.cols == 900);
  // the plot area spans x in [100, 680]; on the log axis 10 and 100 are its two ends, and both lines have
  // coloured (not white or grey) pixels there
  auto coloured = [&](int x) {
    int n = 0;
    for (int y = 50; y < 490; ++y) {
      cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      n += !(p[0] == p[1] && p[1] == p[2]);
    }
    return n;
  };
  CHECK(coloured(102) > 0);
  CHECK(coloured(677) > 0);
  CHECK(coloured(390) > 0);  // the lines run across the middle
}

TEST_CASE("attention pictures: a window2d 3x3 model attends to nothing beyond offset 2, maps and PNGs written") {
  rc::test::TempDir root_dir("rf_data"), out_dir("rf_out");
  const fs::path& root = root_dir.path;
  rc::test::write_image_folder(root, 2, 8, [](int c, int i) {
    cv::Mat m(8, 8, CV_8UC1, cv::Scalar(20 + 10 * i));
    m(cv::Rect(c * 4, 0, 4, 8)).setTo(220 - i);
    return m;
  });
  // 8x8 images, patch 2 -> a 4x4 grid; NATTEN windows shift at the border, so offsets reach +-2 but never 3
  Experiment e = parse(R"(
name: rf_test
dataset: {name: image-folder, root: ")" + root.string() + R"(", height: 8, width: 8, grayscale: true, test_fraction: 0.25}
train: {epochs: 1, batch_size: 4, progress: false}
models:
  local: {type: patch_attention, patch_size: 2, dim: 8, depth: 2, heads: 2, pooling: mean, position: relative,
          policy: {kind: window2d, kernel: 3}}
)");
  RunnerOptions o;
  o.out_dir = out_dir.path;
  REQUIRE(run_experiment(e, o) == 0);
  const std::string run = (out_dir.path / "runs" / "local__1__s0").string();
  rc::cli::MapArgs a;
  a.run = run;
  a.out = (out_dir.path / "rf.png").string();
  a.images = 4;
  REQUIRE(rc::cli::receptive_field(a) == 0);
  Tensor maps = rc::io::load_npy((out_dir.path / "rf.npy").string());  // (layers, heads, 7, 7)
  REQUIRE(maps.shape() == Shape{2, 2, 7, 7});
  for (int64_t lh = 0; lh < 4; ++lh)
    for (int64_t r = 0; r < 7; ++r)
      for (int64_t c = 0; c < 7; ++c) {
        const float v = maps.data()[lh * 49 + r * 7 + c];
        if (r == 0 || r == 6 || c == 0 || c == 6) CHECK(v == 0.0f);  // offset 3 in some direction
        else CHECK(v > 0.0f);
      }
  // rf.csv: per head, the mean query-key distance, the share of attention within the 3x3 neighbourhood and
  // the offset with the largest share, which all follow from the maps (mean weight per pair times the
  // (4 - |dr|)(4 - |dc|) pairs at each offset); the first row is attention spread evenly: 100 of the 256 pairs
  // of a 4x4 grid are within 3x3, and offset 0 has the most pairs (16)
  auto fields = [](const std::string& line) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    return f;
  };
  std::ifstream csv(out_dir.path / "rf.csv");
  std::string line;
  REQUIRE(std::getline(csv, line));
  CHECK(line == "layer,head,mean_distance,within_3x3,peak_offset,peak_share");
  REQUIRE(std::getline(csv, line));
  std::vector<std::string> even = fields(line);
  REQUIRE(even.size() == 6);
  CHECK(even[0] == "uniform");
  CHECK(std::stod(even[3]) == Approx(100.0 / 256).margin(1e-4));
  CHECK(even[4] == "+0 +0");
  CHECK(std::stod(even[5]) == Approx(16.0 / 256).margin(1e-4));
  for (int64_t lh = 0; lh < 4; ++lh) {
    REQUIRE(std::getline(csv, line));
    std::vector<std::string> f = fields(line);
    REQUIRE(f.size() == 6);
    CHECK(f[0] == std::to_string(lh / 2));
    CHECK(f[1] == std::to_string(lh % 2));
    double mass = 0, dist = 0, near = 0, peak = -1;
    std::string peak_at;
    for (int64_t r = 0; r < 7; ++r)
      for (int64_t c = 0; c < 7; ++c) {
        const int64_t dr = r - 3, dc = c - 3;
        const double m = maps.data()[lh * 49 + r * 7 + c] * double((4 - std::abs(dr)) * (4 - std::abs(dc)));
        mass += m;
        dist += m * std::hypot(double(dr), double(dc));
        if (std::abs(dr) <= 1 && std::abs(dc) <= 1) near += m;
        if (m > peak) peak = m, peak_at = fmt::format("{:+d} {:+d}", dr, dc);
      }
    CHECK(std::stod(f[2]) == Approx(dist / mass).margin(2e-3));
    CHECK(std::stod(f[3]) == Approx(near / mass).margin(2e-4));
    CHECK(f[4] == peak_at);
    CHECK(std::stod(f[5]) == Approx(peak / mass).margin(2e-4));
    CHECK(near / mass > 100.0 / 256);  // a 3x3 window keeps more of it near the query than even spreading
  }
  a.out = (out_dir.path / "map.png").string();
  a.query = "1,2";
  a.index = 1;
  REQUIRE(rc::cli::attention_map(a) == 0);
  CHECK(!cv::imread(a.out).empty());
  a.query = "cls";
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("no class token"));
  a.query = "9,9";
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("inside the 4x4 patch grid"));

  // --image FILE: the file is decoded, converted and normalised as the run's training data was. Test image 1
  // saved as a PNG gives exactly the panels of --index 1 (only the title differs), with the normalisation the
  // checkpoint records, without the dataset, and (for checkpoints that do not record it) recomputed from it.
  a.query = "1,2";
  const ImageData data = load_images(e.runs[0].dataset);
  const fs::path png = out_dir.path / "test1.png";
  REQUIRE(cv::imwrite(png.string(), cv::Mat(8, 8, CV_8UC1, const_cast<uint8_t*>(data.test.image(1))).clone()));
  auto panels = [](const std::string& file) {  // the picture below its 50-pixel title band
    cv::Mat m = cv::imread(file);
    REQUIRE(m.rows > 50);
    return m(cv::Rect(0, 50, m.cols, m.rows - 50)).clone();
  };
  auto same = [](const cv::Mat& x, const cv::Mat& y) { return x.size() == y.size() && cv::norm(x, y, cv::NORM_INF) == 0; };
  a.index = 1;
  a.out = (out_dir.path / "by_index.png").string();
  REQUIRE(rc::cli::attention_map(a) == 0);
  const cv::Mat by_index = panels(a.out);
  a.index = -1;
  a.image = png.string();
  a.out = (out_dir.path / "by_image.png").string();
  REQUIRE(rc::cli::attention_map(a) == 0);
  CHECK(same(panels(a.out), by_index));
  a.index = 1;
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("--index") && Catch::Contains("not both"));
  a.index = -1;
  // any size and colour is converted to the run's 8x8 grey input
  const fs::path big = out_dir.path / "big.jpg";
  REQUIRE(cv::imwrite(big.string(), cv::Mat(40, 30, CV_8UC3, cv::Scalar(10, 200, 90))));
  a.image = big.string();
  CHECK(rc::cli::attention_map(a) == 0);
  a.image = (out_dir.path / "missing.png").string();
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("--image") && Catch::Contains("missing.png") &&
                                                   Catch::Contains("no such file"));
  { std::ofstream(out_dir.path / "bad.png") << "not a picture"; }
  a.image = (out_dir.path / "bad.png").string();
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("bad.png") && Catch::Contains("cannot decode"));
  // without the dataset: the checkpoint's own record suffices
  a.image = png.string();
  const fs::path moved = root.string() + "_moved";
  fs::rename(root, moved);
  a.out = (out_dir.path / "no_data.png").string();
  CHECK(rc::cli::attention_map(a) == 0);
  CHECK(same(panels(a.out), by_index));
  fs::rename(moved, root);
  // a checkpoint without the record: the normalisation is recomputed from the dataset as the runner does
  const fs::path best = fs::path(run) / "best.safetensors";
  rc::io::save_safetensors(best.string(), rc::io::load_safetensors(best.string()).tensors);
  REQUIRE(rc::io::load_safetensors(best.string()).metadata.empty());
  a.out = (out_dir.path / "fallback.png").string();
  CHECK(rc::cli::attention_map(a) == 0);
  CHECK(same(panels(a.out), by_index));
}

TEST_CASE("attention pictures: a hierarchical model (merge_after) draws each layer on its own grid") {
  rc::test::TempDir root_dir("rf_hier_data"), out_dir("rf_hier_out");
  rc::test::write_image_folder(root_dir.path, 2, 8, [](int c, int i) {
    cv::Mat m(8, 8, CV_8UC1, cv::Scalar(20 + 10 * i));
    m(cv::Rect(c * 4, 0, 4, 8)).setTo(220 - i);
    return m;
  });
  // 8x8 images, patch 2: block 1 on the 4x4 grid, then a merge, block 2 on 2x2
  Experiment e = parse(R"(
name: rf_hier
dataset: {name: image-folder, root: ")" + root_dir.path.string() + R"(", height: 8, width: 8, grayscale: true, test_fraction: 0.25}
train: {epochs: 1, batch_size: 4, progress: false}
models:
  hier: {type: patch_attention, patch_size: 2, dim: 8, depth: 2, heads: 2, pooling: mean, position: locality,
         merge_after: [1], policy: {kind: full}}
)");
  RunnerOptions o;
  o.out_dir = out_dir.path;
  REQUIRE(run_experiment(e, o) == 0);
  rc::cli::MapArgs a;
  a.run = (out_dir.path / "runs" / "hier__1__s0").string();
  a.out = (out_dir.path / "rf.png").string();
  a.images = 4;
  REQUIRE(rc::cli::receptive_field(a) == 0);
  CHECK(!cv::imread(a.out).empty());
  CHECK_FALSE(fs::exists(out_dir.path / "rf.npy"));  // the layers' grids differ: one file per layer
  const Tensor l0 = rc::io::load_npy((out_dir.path / "rf_layer0.npy").string());
  const Tensor l1 = rc::io::load_npy((out_dir.path / "rf_layer1.npy").string());
  REQUIRE(l0.shape() == Shape{2, 7, 7});
  REQUIRE(l1.shape() == Shape{2, 3, 3});
  // every query's attention sums to 1: the mean weight per pair times the pairs at each offset, summed, is the
  // number of distinct queries of the layer's grid ((g - |dr|)(g - |dc|) pairs at offset (dr, dc) of a g x g grid)
  auto total = [](const Tensor& maps, int64_t head, int64_t g) {
    const int64_t side = 2 * g - 1;
    double t = 0;
    for (int64_t r = 0; r < side; ++r)
      for (int64_t c = 0; c < side; ++c)
        t += maps.data()[head * side * side + r * side + c] * double((g - std::abs(r - (g - 1))) * (g - std::abs(c - (g - 1))));
    return t;
  };
  for (int64_t h = 0; h < 2; ++h) {
    CHECK(total(l0, h, 4) == Approx(16.0).epsilon(1e-4));
    CHECK(total(l1, h, 2) == Approx(4.0).epsilon(1e-4));
  }
  // rf.csv: attention spread evenly over each grid before that grid's layers (2x2: 16 pairs, all within 3x3)
  std::ifstream csv(out_dir.path / "rf.csv");
  std::vector<std::string> first;
  for (std::string line; std::getline(csv, line);) first.push_back(line.substr(0, line.find(',', line.find(',') + 1)));
  CHECK(first == std::vector<std::string>{"layer,head", "uniform 4x4,", "0,0", "0,1", "uniform 2x2,", "1,0", "1,1"});
  // attention-map: the query patch (3, 1) lies in cell (1, 0) of the 2x2 grid
  a.out = (out_dir.path / "map.png").string();
  a.query = "3,1";
  a.index = 0;
  REQUIRE(rc::cli::attention_map(a) == 0);
  CHECK(!cv::imread(a.out).empty());
}
