// Using trained runs (issue 14): `receptive predict`, `evaluate` and `compare` on run folders the runner wrote,
// checkpoints that describe themselves (input, architecture, graph node order), checkpoints with the GNNs' older
// parameter names, and curves that show losses and the selected epoch.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "experiments/cli/commands.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/plots.hpp"
#include "experiments/results.hpp"
#include "experiments/run_data.hpp"
#include "experiments/runner.hpp"
#include "experiments/train/checkpoint.hpp"
#include "framework/io/safetensors.hpp"
#include "models/registry.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {
Experiment parse(const std::string& yaml) { return parse_experiment(YAML::Load(yaml), "test.yaml"); }

// Two classes of 8×8 grey images that a small CNN can tell apart: a bright left half or a bright right half,
// with per-image noise.
void write_halves(const fs::path& root, int per_class) {
  cv::RNG rng(7);
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(root / (c ? "right" : "left"));
    for (int i = 0; i < per_class; ++i) {
      cv::Mat img(8, 8, CV_8UC1);
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x)
          img.at<uint8_t>(y, x) = uint8_t(((x < 4) == (c == 0) ? 170 : 60) + rng.uniform(-40, 40));
      cv::imwrite((root / (c ? "right" : "left") / fmt::format("{:02}.png", i)).string(), img);
    }
  }
}

struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t col(const std::string& name) const {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    FAIL("no column " << name);
    return 0;
  }
  // the share of rows whose predicted class is the label (rows with a label)
  double accuracy() const {
    int n = 0, ok = 0;
    for (const auto& r : rows)
      if (!r[col("label")].empty()) ++n, ok += r[col("label")] == r[col("predicted")];
    return n ? double(ok) / n : std::nan("");
  }
};

Csv read_csv(const fs::path& p) {
  std::ifstream in(p);
  Csv c;
  std::string line;
  REQUIRE(std::getline(in, line));
  c.header = parse_csv_line(line);
  while (std::getline(in, line)) c.rows.push_back(parse_csv_line(line));
  return c;
}

double column(const ResultsTable& t, const std::string& run, const std::string& col) {
  for (const auto& r : t.rows())
    if (r.get("run") == run) return std::stod(r.get(col));
  FAIL("no run " << run);
  return 0;
}
}  // namespace

TEST_CASE("predict and evaluate: an image run's predictions reproduce its recorded accuracies") {
  rc::test::TempDir data("use_images"), out("use_images_out");
  write_halves(data.path, 20);
  // no height, width or grayscale: the images' own 8×8 and one channel
  Experiment e = parse("dataset: {name: image-folder, root: \"" + data.path.string() +
                       "\", test_fraction: 0.25, val_fraction: 0.2}\n"
                       "train: {epochs: 4, batch_size: 8, lr: 0.01, progress: false}\n"
                       "models: {cnn: {type: cnn, channels: [4], blocks: [1]}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  REQUIRE(run_experiment(e, o) == 0);
  ResultsTable t(out.path);
  const std::string id = e.runs[0].id;
  const fs::path run = out.path / "runs" / id;

  // the checkpoint describes its input and its architecture with named fields
  const io::Metadata m = io::load_safetensors((run / "best.safetensors").string()).metadata;
  CHECK(m.at("domain") == "image");
  CHECK(m.at("channels") == "1");
  CHECK(m.at("height") == "8");
  CHECK(m.at("width") == "8");
  CHECK(m.at("classes") == "2");
  CHECK(m.at("class_names") == "[\"left\",\"right\"]");
  CHECK(m.at("model_type") == "cnn");
  std::string type;
  Params mp;
  REQUIRE(read_model_metadata(m, type, mp));
  CHECK(mp.get_int_list("channels") == std::vector<int64_t>{4});

  cli::PredictArgs p;
  p.run = run.string();
  p.split = "test";
  p.out = (out.path / "test.csv").string();
  REQUIRE(cli::predict(p) == 0);
  Csv test = read_csv(p.out);
  CHECK(test.header == std::vector<std::string>{"item", "label", "predicted", "p_left", "p_right"});
  CHECK(test.rows.size() == 10);  // 25 % of 2 × 20
  CHECK(test.accuracy() == Approx(column(t, id, "test_accuracy")).margin(1e-6));
  for (const auto& r : test.rows) CHECK(std::stod(r[3]) + std::stod(r[4]) == Approx(1.0).margin(1e-5));
  // the validation items with the best checkpoint give the best validation accuracy; the last gives last_test
  p.split = "val";
  p.out = (out.path / "val.csv").string();
  REQUIRE(cli::predict(p) == 0);
  CHECK(read_csv(p.out).rows.size() == 6);  // 20 % of each class's 15 training-pool images
  CHECK(read_csv(p.out).accuracy() == Approx(column(t, id, "best_val_accuracy")).margin(1e-6));
  p.split = "test";
  p.checkpoint = "last";
  p.out = (out.path / "last.csv").string();
  REQUIRE(cli::predict(p) == 0);
  CHECK(read_csv(p.out).accuracy() == Approx(column(t, id, "last_test_accuracy")).margin(1e-6));

  // image files: a folder named after a class gives the true label; the dataset is not needed
  const fs::path moved = data.path.string() + "_moved";
  fs::rename(data.path, moved);
  p.split.clear();
  p.checkpoint = "best";
  p.images = {(moved / "right").string(), (moved / "left" / "03.png").string()};
  p.out = (out.path / "files.csv").string();
  REQUIRE(cli::predict(p) == 0);
  Csv files = read_csv(p.out);
  REQUIRE(files.rows.size() == 21);
  CHECK(files.rows.back()[files.col("label")] == "left");
  CHECK(files.rows.front()[files.col("label")] == "right");
  fs::rename(moved, data.path);
  // an image that cannot be decoded is an error naming it; so are a missing file and a wrong --out
  { std::ofstream(out.path / "bad.png") << "not a picture"; }
  p.images = {(out.path / "bad.png").string()};
  CHECK_THROWS_WITH(cli::predict(p), Catch::Contains("bad.png"));
  p.images = {(out.path / "nope.png").string()};
  CHECK_THROWS_WITH(cli::predict(p), Catch::Contains("nope.png") && Catch::Contains("no such file"));
  p.out = (out.path / "preds").string();
  CHECK_THROWS_WITH(cli::predict(p), Catch::Contains("--out") && Catch::Contains(".csv"));

  cli::EvaluateArgs ev;
  ev.run = run.string();
  ev.out = (out.path / "confusion.png").string();
  REQUIRE(cli::evaluate(ev) == 0);
  const cv::Mat img = cv::imread(ev.out);
  CHECK(!img.empty());
  ev.out = (out.path / "confusion").string();
  CHECK_THROWS_WITH(cli::evaluate(ev), Catch::Contains("evaluate: --out") && Catch::Contains(".png"));
}

TEST_CASE("predict: a graph run's rows are keyed by node id, and older checkpoints (old names, no metadata) load") {
  rc::test::TempDir out("use_graph_out");
  Experiment e = parse(
      "dataset: {name: csbm, csbm: {nodes: 120, classes: 3, average_degree: 5, homophily: 0.8, features: 8, snr: 2.0}}\n"
      "train: {epochs: 15, optimizer: adam, schedule: constant, lr: 0.02, progress: false}\n"
      "models: {gat: {type: gat, hidden: 4, heads: 2}, gcn: {type: gcn}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  REQUIRE(run_experiment(e, o) == 0);
  ResultsTable t(out.path);
  for (const auto& r : e.runs) {
    INFO(r.id);
    const fs::path run = out.path / "runs" / r.id;
    const io::SafetensorsFile f = io::load_safetensors((run / "best.safetensors").string());
    GraphInputInfo g;
    REQUIRE(read_graph_input_metadata(f.metadata, g));
    CHECK(g.nodes == 120);
    CHECK(g.features == 8);
    CHECK(g.node_ids.size() == 120);
    CHECK(f.metadata.at("model_type") == r.model_type);
    cli::PredictArgs p;
    p.run = run.string();
    p.split = "test";
    p.out = (out.path / (r.id + ".csv")).string();
    REQUIRE(cli::predict(p) == 0);
    const Csv test = read_csv(p.out);
    CHECK(test.header.front() == "node");
    CHECK(test.accuracy() == Approx(column(t, r.id, "test_accuracy")).margin(1e-6));
    p.split = "all";
    REQUIRE(cli::predict(p) == 0);
    const Csv all = read_csv(p.out);
    REQUIRE(all.rows.size() == 120);
    for (size_t i = 0; i < all.rows.size(); ++i) CHECK(all.rows[i][0] == g.node_ids[i]);

    // the same weights under the names and without the metadata of a checkpoint written before both
    NamedTensors old;
    for (const auto& [name, tensor] : f.tensors) {
      std::string legacy = name;
      if (r.model_type == "gat")
        legacy = name == "layers.0.weight" ? "layer0.input.weight" : "layer" + name.substr(7);
      else if (name == "layers.0.weight")
        legacy = "input.weight";
      else
        legacy = name.substr(9) + name.substr(7, 1);  // gcn: layers.1.weight -> weight1, layers.0.bias -> bias0
      old.emplace_back(legacy, tensor);
    }
    io::save_safetensors((run / "best.safetensors").string(), old, {{"epoch", f.metadata.at("epoch")}});
    p.split = "test";
    p.out = (out.path / (r.id + "_old.csv")).string();
    REQUIRE(cli::predict(p) == 0);
    CHECK(read_csv(p.out).rows == test.rows);
    // a dataset whose nodes come in another order than the checkpoint records is refused
    io::Metadata reordered = f.metadata;
    std::vector<std::string> ids = g.node_ids;
    std::swap(ids[0], ids[1]);
    reordered["node_ids"] = nlohmann::json(ids).dump();
    io::save_safetensors((run / "best.safetensors").string(), f.tensors, reordered);
    CHECK_THROWS_WITH(cli::predict(p), Catch::Contains("not in the order"));
    io::save_safetensors((run / "best.safetensors").string(), f.tensors, f.metadata);
  }
  cli::EvaluateArgs ev;
  ev.run = (out.path / "runs" / e.runs[0].id).string();
  ev.split = "all";
  CHECK(cli::evaluate(ev) == 0);
  ev.split = "bogus";
  CHECK_THROWS_WITH(cli::evaluate(ev), Catch::Contains("--split 'bogus'"));
}

TEST_CASE("compare: several results folders overlaid, and curves mark the selected epoch and say why train accuracy is low") {
  rc::test::TempDir a("use_cmp_a"), b("use_cmp_b");
  const std::string dataset =
      "dataset: {name: csbm, csbm: {nodes: 80, classes: 2, average_degree: 4, homophily: 0.8, features: 6, snr: 1.5}}\n"
      "train: {epochs: 6, optimizer: adam, schedule: constant, lr: 0.02, progress: false}\n";
  RunnerOptions o;
  o.out_dir = a.path;
  REQUIRE(run_experiment(parse(dataset + "models: {gat: {type: gat, hidden: 2, heads: 2}}\nsweep: {seeds: [0, 1]}\n"), o) == 0);
  o.out_dir = b.path;
  REQUIRE(run_experiment(parse(dataset + "models: {mlp: {type: mlp, dropout: 0.0}}\n"), o) == 0);
  cli::CompareArgs c;
  c.dirs = {a.path.string(), b.path.string()};
  c.out = (a.path / "cmp.png").string();
  REQUIRE(cli::compare(c) == 0);
  const cv::Mat img = cv::imread(c.out);
  REQUIRE(!img.empty());
  CHECK(img.rows == 460 + 400 + 400);
  c.out = (a.path / "cmp.jpeg").string();
  CHECK_THROWS_WITH(cli::compare(c), Catch::Contains("compare: --out") && Catch::Contains(".png"));
  c.dirs = {(a.path / "nowhere").string()};
  c.out = (a.path / "cmp.png").string();
  CHECK_THROWS_WITH(cli::compare(c), Catch::Contains("nowhere"));

  // the curve: accuracy above loss; the selected epoch's marker changes the picture; GAT has dropout, the MLP
  // here none
  const ResultsTable t(a.path);
  const fs::path run = a.path / "runs" / t.rows()[0].get("run");
  CHECK(training_accuracy_note(run).find("dropout on") != std::string::npos);
  CHECK(training_accuracy_note(b.path / "runs" / ResultsTable(b.path).rows()[0].get("run")).empty());
  const RunCurves curves = read_run_curves(run / "metrics.jsonl");
  REQUIRE(curves.epoch.size() == 6);
  CHECK(std::isfinite(curves.val_loss[0]));
  CHECK(std::isfinite(curves.train_loss[0]));
  const cv::Mat marked = run_curve_image("r", curves, 3, ""), plain = run_curve_image("r", curves, 0, "");
  CHECK(marked.rows == 860);
  CHECK(cv::norm(marked, plain, cv::NORM_L1) > 0);
  const cv::Mat saved = cv::imread((a.path / "plots" / ("curve_" + t.rows()[0].get("run") + ".png")).string());
  CHECK(saved.rows == 860);
}
