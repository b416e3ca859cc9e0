// A sequence run through the runner: the dataset registry's sequence domain, the sequence task in the one training
// loop, results.csv, checkpoints that describe their input, and repeatability (issue 13).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "experiments/cli/commands.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/results.hpp"
#include "experiments/runner.hpp"
#include "framework/core/random.hpp"
#include "framework/io/npy.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/nn/layers.hpp"
#include "framework/ops/shape.hpp"
#include "models/registry.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {
// A linear read-out of the whole flattened sequence: enough to exercise the path (and to learn the marked-sum task's
// easiest cases at L = 8 above chance), independent of the sequence model zoo.
class FlatProbe : public models::SequenceModel {
 public:
  FlatProbe(const models::SequenceShape& s, uint64_t seed) {
    Generator gen(seed);
    head_ = register_module("head", std::make_shared<nn::Linear>(s.length * s.features, s.num_classes, gen));
  }
  Var forward(const Var& x) override {
    return head_->forward(reshape(x, {x.value().shape()[0], x.value().shape()[1] * x.value().shape()[2]}));
  }

 private:
  std::shared_ptr<nn::Linear> head_;
};

void register_probe() {
  models::ModelType t;
  t.type = "test_flat_probe";
  t.description = "test: linear read-out of the flattened sequence";
  t.domain = models::Domain::Sequence;
  t.make_sequence = [](const Params&, const models::SequenceShape& s, uint64_t seed) {
    return std::make_shared<FlatProbe>(s, seed);
  };
  t.check_sequence = [](const Params&, const models::SequenceShape& s) {
    return s.length * s.features > 100000 ? std::string("sequence too long for the probe") : std::string();
  };
  models::register_model(t);
}

Experiment parse(const std::string& yaml) { return parse_experiment(YAML::Load(yaml), "test.yaml"); }

const char* kConfig =
    "name: seq\n"
    "dataset: {name: marked-sum, length: 8, train_items: 400, test_items: 100, val_fraction: 0.2}\n"
    "train: {epochs: 3, batch_size: 32, lr: 0.01, progress: false}\n"
    "sweep: {train_size: [0.5, 1.0], seeds: [1]}\n"
    "models: {probe: {type: test_flat_probe}}\n";
}  // namespace

TEST_CASE("sequence run: marked-sum through the runner gives rows, checkpoints with sequence metadata, repeatably") {
  register_probe();
  rc::test::TempDir a("seq_a"), b("seq_b");
  for (const fs::path& dir : {a.path, b.path}) {
    RunnerOptions o;
    o.out_dir = dir;
    REQUIRE(run_experiment(parse(kConfig), o) == 0);
  }
  ResultsTable ta(a.path), tb(b.path);
  REQUIRE(ta.rows().size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const ResultRow& r = ta.rows()[i];
    CHECK(r.get("status") == "ok");
    CHECK(r.get("dataset") == "marked-sum");
    CHECK_FALSE(r.get("test_accuracy").empty());
    CHECK(r.get("test_accuracy") == tb.rows()[i].get("test_accuracy"));  // same seed, same threads: same result
    CHECK(r.get("best_val_accuracy") == tb.rows()[i].get("best_val_accuracy"));
  }
  // 400 items, 20 % of each class held out: about 320 training sequences at size 1.0 and 160 at 0.5 (per-class
  // rounding moves them by a few)
  std::vector<int> sizes{std::stoi(ta.rows()[0].get("train_size")), std::stoi(ta.rows()[1].get("train_size"))};
  std::sort(sizes.begin(), sizes.end());
  CHECK(std::abs(sizes[0] - 160) <= 10);
  CHECK(std::abs(sizes[1] - 320) <= 10);
  const fs::path run = a.path / "runs" / ta.rows()[0].get("run");
  const io::SafetensorsFile ck = io::load_safetensors((run / "best.safetensors").string());
  CHECK(ck.metadata.at("domain") == "sequence");
  CHECK(ck.metadata.at("sequence_length") == "8");
  CHECK(ck.metadata.at("sequence_features") == "11");
  CHECK(ck.metadata.at("classes") == "19");
  CHECK(ck.metadata.at("class_names").rfind(R"(["0","1","2",)", 0) == 0);
  CHECK(fs::exists(run / "metrics.jsonl"));
}

TEST_CASE("sequence run: config errors — an image model on sequences, a model check, impossible dataset options") {
  register_probe();
  CHECK_THROWS_WITH(parse("dataset: {name: marked-sum, length: 8}\nmodels: {c: {type: cnn}}\n"),
                    Catch::Contains("image") && Catch::Contains("sequence"));
  CHECK_THROWS_WITH(parse("dataset: {name: marked-sum, length: 200000}\nmodels: {p: {type: test_flat_probe}}\n"),
                    Catch::Contains("sequence too long") && Catch::Contains("200000 steps"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist-sequence, order: diagonal}\nmodels: {p: {type: test_flat_probe}}\n"),
                    Catch::Contains("order") && Catch::Contains("diagonal"));
  CHECK_THROWS_WITH(parse("dataset: {name: marked-sum, length: 1}\nmodels: {p: {type: test_flat_probe}}\n"),
                    Catch::Contains("length"));
}

TEST_CASE("sequence run: predict, evaluate, attention-map and receptive-field on a sequence Transformer run") {
  rc::test::TempDir out("seq_use");
  RunnerOptions o;
  o.out_dir = out.path;
  REQUIRE(run_experiment(parse("name: seq\n"
                               "dataset: {name: marked-sum, length: 6, train_items: 200, test_items: 60}\n"
                               "train: {epochs: 2, batch_size: 32, progress: false}\n"
                               "models: {t: {type: sequence_transformer, dim: 16, depth: 2, heads: 2, pooling: cls,\n"
                               "             position: relative, policy: {kind: window1d, radius: 1}}}\n"),
                         o) == 0);
  ResultsTable t(out.path);
  REQUIRE(t.rows().size() == 1);
  const std::string run = (out.path / "runs" / t.rows()[0].get("run")).string();
  // the checkpoint records the architecture; predictions reproduce the recorded test accuracy
  const io::SafetensorsFile ck = io::load_safetensors(run + "/best.safetensors");
  CHECK(ck.metadata.at("model_type") == "sequence_transformer");
  cli::PredictArgs p;
  p.run = run;
  p.split = "test";
  p.out = (out.path / "preds.csv").string();
  REQUIRE(cli::predict(p) == 0);
  const std::string csv = rc::test::read_all(p.out);
  int64_t lines = 0, correct = 0;
  for (size_t pos = csv.find('\n') + 1; pos < csv.size(); pos = csv.find('\n', pos) + 1) {
    const size_t c1 = csv.find(',', pos), c2 = csv.find(',', c1 + 1), c3 = csv.find(',', c2 + 1);
    correct += csv.substr(c1 + 1, c2 - c1 - 1) == csv.substr(c2 + 1, c3 - c2 - 1);
    ++lines;
  }
  CHECK(lines == 60);
  CHECK(std::abs(double(correct) / 60 - std::stod(t.rows()[0].get("test_accuracy"))) < 1e-5);  // 6 digits in the csv
  p.images = {"x.png"};
  p.split.clear();
  CHECK_THROWS_WITH(cli::predict(p), Catch::Contains("sequence run"));
  // the attention pictures: a PNG per command, the offset maps (layers, heads, 2L - 1) and the per-head table
  cli::MapArgs m;
  m.run = run;
  m.query = "2";
  m.out = (out.path / "map.png").string();
  CHECK(cli::attention_map(m) == 0);
  CHECK(fs::file_size(m.out) > 1000);
  m.query = "9";
  CHECK_THROWS_WITH(cli::attention_map(m), Catch::Contains("--query '9'"));
  m.out = (out.path / "rf.png").string();
  m.images = 20;
  CHECK(cli::receptive_field(m) == 0);
  const Tensor maps = io::load_npy((out.path / "rf.npy").string());
  CHECK(maps.shape() == Shape{2, 2, 11});
  // a window of radius 1: no attention beyond offset ±1 between step tokens
  for (int64_t lh = 0; lh < 4; ++lh)
    for (int64_t o = 0; o < 11; ++o)
      if (std::abs(o - 5) > 1) CHECK(maps.data()[lh * 11 + o] == 0.0f);
  CHECK(rc::test::read_all((out.path / "rf.csv").string()).find("layer,head,mean_abs_offset") == 0);
}
