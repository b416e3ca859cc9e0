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

const char* kImage = R"(
name: t
dataset: {name: fashion-mnist}
train: {epochs: 2}
models:
  cnn: {type: cnn, channels: [8, 16], blocks: 1}
  local: {type: patch_attention, position: relative, policy: {kind: window2d, kernel: 3}, train: {lr: 0.01}}
sweep:
  train_size: [0.01, 0.1, 1.0]
  seeds: [0, 1]
  grid: {models.local.policy.kernel: [3, 5], train.batch_size: [64, 128]}
)";
}  // namespace

TEST_CASE("experiment: models x grid x sizes x seeds expand into resolved runs") {
  Experiment e = parse(kImage);
  // cnn: 2 variants (batch size) x 3 sizes x 2 seeds; local: 4 variants x 3 x 2
  CHECK(e.runs.size() == 12 + 24);
  // seed-major order: the 18 runs of the first seed (every model and variant at every size) come first, and
  // within a seed the sizes in the config's order
  for (size_t i = 0; i < e.runs.size(); ++i) CHECK(e.runs[i].seed == (i < 18 ? 0 : 1));
  CHECK(e.runs[0].train_size == e.runs[5].train_size);
  CHECK(e.runs[5].train_size != e.runs[6].train_size);
  const RunSpec* r = nullptr;
  for (const auto& x : e.runs)
    if (x.model == "local[policy.kernel=5,train.batch_size=128]" && x.train_size == 0.1 && x.seed == 1) r = &x;
  REQUIRE(r);
  CHECK(r->model_params.get_int("policy.kernel") == 5);
  CHECK(r->model_params.get_string("policy.kind") == "window2d");
  CHECK(r->train_params.get_int("batch_size") == 128);
  CHECK(r->train_params.get_float("lr") == 0.01);  // the model's own train section
  CHECK(r->train_params.get_int("epochs") == 2);   // the global train section
  CHECK(r->id == "local_policy.kernel_5_train.batch_size_128___0.1__s1");
  CHECK(r->resolved["model_resolved"]["policy.kernel"].as<std::string>() == "5");
}

TEST_CASE("experiment: bad configs fail before training with path, value and expectation") {
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnn, chanels: [8]}}"),
                    Catch::Contains("models.a.chanels") && Catch::Contains("did you mean 'channels'"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnnn}}"),
                    Catch::Contains("unknown model type 'cnnn'") && Catch::Contains("did you mean 'cnn'"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnn}}\ntrain: {epochs: many}"),
                    Catch::Contains("train.epochs: expected int, got 'many'"));
  CHECK_THROWS_WITH(
      parse(
          "dataset: {name: fashion-mnist}\nmodels: {a: {type: patch_attention, policy: {kind: window2d, kernel: 9}}}"),
      Catch::Contains("models.a") && Catch::Contains("kernel 9") && Catch::Contains("7×7 patch grid"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnn}}\nsweep: {train_size: [0.5, -1]}"),
                    Catch::Contains("sweep.train_size") && Catch::Contains("fraction in (0, 1]"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnn}}\nsweep: {train_size: [1.5]}"),
                    Catch::Contains("got 1.5"));
  CHECK_THROWS_WITH(parse("dataset: {name: cora}\nmodels: {a: {type: gcn}}\nsweep: {train_size: [5]}"),
                    Catch::Contains("dataset.split: random"));
  CHECK_THROWS_WITH(parse("dataset: {name: cora}\nmodels: {a: {type: cnn}}"),
                    Catch::Contains("'cnn' is for image data"));
  CHECK_THROWS_WITH(parse("dataset: {name: svhn}\nmodels: {a: {type: cnn}}"),
                    Catch::Contains("dataset.name") && Catch::Contains("fashion-mnist") && Catch::Contains("mnist"));
  // each dataset accepts its own options only (those of its domain included)
  CHECK_THROWS_WITH(parse("dataset: {name: cora, augment: {horizontal_flip: true}}\nmodels: {a: {type: gcn}}"),
                    Catch::Contains("dataset.augment") && Catch::Contains("unknown key") &&
                        Catch::Contains("row_normalize"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist, split: random}\nmodels: {a: {type: cnn}}"),
                    Catch::Contains("dataset.split") && Catch::Contains("unknown key"));
  CHECK_THROWS_WITH(parse("dataset: {name: karate, root: /tmp}\nmodels: {a: {type: gcn}}"),
                    Catch::Contains("dataset.root") && Catch::Contains("unknown key"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnn}}\ntrain: {select: worst}"),
                    Catch::Contains("train.select") && Catch::Contains("best | last"));
  CHECK_THROWS_WITH(parse("datset: {name: cora}\nmodels: {a: {type: gcn}}"), Catch::Contains("did you mean 'dataset'"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {a: {type: cnn}}\nsweep: {grid: {models.b.x: [1]}}"),
                    Catch::Contains("models.<name>.<parameter>"));
  // a misspelled grid axis is caught before training, with its line and the parameter it probably meant
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {v: {type: patch_attention}}\n"
                          "sweep:\n  grid: {models.v.kernal: [3, 5]}"),
                    Catch::Contains("test.yaml:4: sweep.grid: grid key 'models.v.kernal'") &&
                        Catch::Contains("did you mean 'policy.kernel'"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {v: {type: cnn}}\nsweep: {grid: {train.lrr: [1]}}"),
                    Catch::Contains("names no parameter of train") && Catch::Contains("did you mean 'lr'"));
  // a grid value of the wrong type names the key and the value
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {v: {type: patch_attention}}\n"
                          "sweep: {grid: {models.v.policy.kernel: [3, x]}}"),
                    Catch::Contains("models.v.policy.kernel: expected int, got 'x'"));
  // combinations the schema cannot express, for CNNs and graph models too, before anything trains
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {c: {type: cnn, channels: [8, 16], blocks: [1, 1, 1]}}"),
                    Catch::Contains("models.c") && Catch::Contains("blocks lists 3 stages but channels lists 2"));
  CHECK_THROWS_WITH(
      parse("dataset: {name: fashion-mnist}\nmodels: {c: {type: cnn, channels: [8, 8, 8, 8, 8, 8, 8], blocks: 1}}"),
      Catch::Contains("models.c") && Catch::Contains("too small for 6 poolings"));
  CHECK_THROWS_WITH(parse("dataset: {name: karate}\nmodels: {g: {type: graph_transformer, hidden: 10, heads: 4}}"),
                    Catch::Contains("models.g") && Catch::Contains("heads 4 does not divide hidden 10"));
  CHECK_THROWS_WITH(parse("dataset: {name: fashion-mnist}\nmodels: {c: {type: cnn}}\n"
                          "sweep: {grid: {models.c.train.lrr: [0.1]}}"),
                    Catch::Contains("names no parameter of train") && Catch::Contains("did you mean 'lr'"));
}

TEST_CASE("experiment: the config check builds models for the input shape the dataset's registry entry declares") {
  // mnist: 1x28x28, a 7x7 patch grid with patch 4
  const Experiment e = parse("dataset: {name: mnist, root: /nowhere}\nmodels: {a: {type: patch_attention, patch_size: 4}}");
  REQUIRE(e.runs.size() == 1);
  CHECK(e.runs[0].dataset.get_string("root") == "/nowhere");
  CHECK(e.runs[0].train_params.get_string("select") == "best");
  CHECK_THROWS_WITH(parse("dataset: {name: mnist}\nmodels: {a: {type: patch_attention, policy: {kind: window2d, kernel: 9}}}"),
                    Catch::Contains("7×7 patch grid"));
  // image-folder: the resize options give the shape (16x16 with patch 4: a 4x4 grid)
  CHECK_THROWS_WITH(parse("dataset: {name: image-folder, root: x, height: 16, width: 16}\n"
                          "models: {a: {type: patch_attention, policy: {kind: window2d, kernel: 5}}}"),
                    Catch::Contains("4×4 patch grid") && Catch::Contains("image 16x16"));
  CHECK(parse("dataset: {name: image-folder, root: x, height: 16, width: 16}\n"
              "models: {a: {type: patch_attention, policy: {kind: window2d, kernel: 3}}}")
            .runs.size() == 1);
}

TEST_CASE("experiment: grid axes over a model's own train settings and over whole sections") {
  Experiment e = parse(R"(
dataset: {name: fashion-mnist}
train: {lr: 0.001}
models:
  c: {type: cnn, channels: [8, 16], blocks: 1}
  v: {type: patch_attention}
sweep:
  grid:
    models.c.train.lr: [0.01, 0.1]
    models.v.policy: [{kind: full}, {kind: window2d, kernel: 5}]
)");
  REQUIRE(e.runs.size() == 4);
  std::vector<double> lrs;
  std::vector<std::string> kinds;
  for (const auto& r : e.runs) {
    if (r.model_type == "cnn") lrs.push_back(r.train_params.get_float("lr"));
    else kinds.push_back(r.model_params.get_string("policy.kind") + std::to_string(r.model_params.get_int("policy.kernel")));
  }
  std::sort(lrs.begin(), lrs.end());
  std::sort(kinds.begin(), kinds.end());
  CHECK(lrs == std::vector<double>{0.01, 0.1});
  CHECK(kinds == std::vector<std::string>{"full3", "window2d5"});
}

TEST_CASE("experiment: errors inside a model section give the key's own line") {
  const char* yaml = R"(name: lines
dataset: {name: fashion-mnist}
models:
  vit:
    type: patch_attention
    dim: 32
    patch_sise: 4
sweep: {grid: {models.vit.dim: [32, 64]}}
)";
  CHECK_THROWS_WITH(parse(yaml), Catch::Contains("test.yaml:7: models.vit.patch_sise") &&
                                     Catch::Contains("did you mean 'patch_size'"));
  const char* train_yaml = R"(name: lines
dataset: {name: fashion-mnist}
models:
  cnn:
    type: cnn
    train:
      lr: 0.1
      epochs: three
)";
  CHECK_THROWS_WITH(parse(train_yaml), Catch::Contains("test.yaml:8: models.cnn.train.epochs: expected int"));
}

TEST_CASE("runner: a graph experiment writes results, summary, metrics and configs, a rerun resumes") {
  rc::test::TempDir out_dir("karate");
  const fs::path& out = out_dir.path;
  Experiment e = parse(R"(
name: karate_test
dataset: {name: karate}
train: {epochs: 20, lr: 0.01, progress: false}
models:
  gcn: {type: gcn}
  gat: {type: gat, hidden: 4, heads: 2}
sweep: {seeds: [0, 1]}
)");
  RunnerOptions o;
  o.out_dir = out;
  CHECK(run_experiment(e, o) == 0);
  ResultsTable t(out);
  REQUIRE(t.rows().size() == 4);
  for (const auto& row : t.rows()) {
    CHECK(row.get("dataset") == "karate");
    CHECK(row.get("train_size") == "2");
    CHECK(row.get("epochs") == "20");
    CHECK(row.get("status") == "ok: no validation set");  // karate's split has none
    CHECK(row.get("best_val_accuracy").empty());
    double acc = std::stod(row.get("test_accuracy"));
    CHECK(acc >= 0.0);
    CHECK(acc <= 1.0);
    fs::path run = out / "runs" / row.get("run");
    CHECK(fs::exists(run / "config.yaml"));
    std::ifstream m(run / "metrics.jsonl");
    int lines = 0;
    for (std::string l; std::getline(m, l);) ++lines;
    CHECK(lines == 20);
  }
  CHECK(fs::exists(out / "summary.md"));
  cv::Mat curve = cv::imread((out / "plots" / ("curve_" + t.rows()[0].get("run") + ".png")).string());
  CHECK(curve.cols == 900);
  CHECK(curve.rows == 860);  // accuracy (460) above loss (400)
  // the same command again trains nothing and keeps the rows
  CHECK(run_experiment(e, o) == 0);
  CHECK(ResultsTable(out).rows().size() == 4);

  // `receptive report` redraws summary.md and the plots from results.csv alone
  fs::remove(out / "summary.md");
  fs::remove_all(out / "plots");
  CHECK(write_report(out, "again") == 4);
  std::ifstream summary(out / "summary.md");
  std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  CHECK(text.find("# again") != std::string::npos);
  CHECK(text.find("| karate | gat |") != std::string::npos);
  CHECK(fs::exists(out / "plots" / ("curve_" + t.rows()[0].get("run") + ".png")));
  CHECK_THROWS_WITH(write_report(out / "runs", "x"), Catch::Contains("results.csv does not exist"));
}

TEST_CASE("runner: resume refuses changed settings, one writer per folder, stale temporaries removed") {
  rc::test::TempDir out_dir("guard");
  const fs::path& out = out_dir.path;
  const std::string yaml = R"(
name: guard_test
dataset: {name: karate}
train: {epochs: 5, lr: 0.01, progress: false}
models:
  gcn: {type: gcn, hidden: 8}
)";
  RunnerOptions o;
  o.out_dir = out;
  REQUIRE(run_experiment(parse(yaml), o) == 0);
  REQUIRE(ResultsTable(out).rows().size() == 1);

  // the same runs with another learning rate or width are not "already done"
  std::string changed_lr = yaml;
  changed_lr.replace(changed_lr.find("lr: 0.01"), 8, "lr: 0.02");
  CHECK_THROWS_WITH(run_experiment(parse(changed_lr), o),
                    Catch::Contains("trained with other settings") && Catch::Contains("run gcn__split__s0") &&
                        Catch::Contains("train.lr was 0.01 and is now 0.02") && Catch::Contains("another --out"));
  std::string changed_model = yaml;
  changed_model.replace(changed_model.find("hidden: 8"), 9, "hidden: 9");
  CHECK_THROWS_WITH(run_experiment(parse(changed_model), o), Catch::Contains("model.hidden was 8 and is now 9"));
  // turning the progress bar off or on is not a different experiment
  std::string quiet = yaml;
  quiet.replace(quiet.find("progress: false"), 15, "progress: true");
  CHECK(run_experiment(parse(quiet), o) == 0);
  CHECK(ResultsTable(out).rows().size() == 1);

  // a second writer is refused while the first holds the folder, and allowed once it has let go
  {
    OutDirLock first(out);
    CHECK_THROWS_WITH(run_experiment(parse(yaml), o),
                      Catch::Contains("another `receptive run`") && Catch::Contains("pid"));
  }
  // temporaries of a killed writer are cleaned up; the user's files, a live writer's temporaries and those of a
  // nested results folder are kept
  const std::string dead_pid = "999999999", live_pid = std::to_string(::getppid());  // alive, and not this process (whose own writes reuse the name)
  { std::ofstream(out / ("results.csv.tmp." + dead_pid)) << "model,dat"; }
  { std::ofstream(out / ("summary.md.tmp." + live_pid)) << "# being written"; }
  { std::ofstream(out / "runs" / "gcn__split__s0" / "best.safetensors.tmp") << "x"; }
  { std::ofstream(out / "notes.tmp.txt") << "mine"; }
  { std::ofstream(out / "data.tmp") << "mine"; }
  fs::create_directories(out / "inner" / "runs" / "r");
  { std::ofstream(out / "inner" / ("results.csv.tmp." + dead_pid)) << "x"; }
  { std::ofstream(out / "inner" / "runs" / "r" / "last.safetensors.tmp") << "x"; }
  CHECK(run_experiment(parse(yaml), o) == 0);
  CHECK_FALSE(fs::exists(out / ("results.csv.tmp." + dead_pid)));
  CHECK_FALSE(fs::exists(out / "runs" / "gcn__split__s0" / "best.safetensors.tmp"));
  CHECK(fs::exists(out / ("summary.md.tmp." + live_pid)));
  CHECK(fs::exists(out / "notes.tmp.txt"));
  CHECK(fs::exists(out / "data.tmp"));
  CHECK(fs::exists(out / "inner" / ("results.csv.tmp." + dead_pid)));
  CHECK(fs::exists(out / "inner" / "runs" / "r" / "last.safetensors.tmp"));
  CHECK(ResultsTable(out).rows().size() == 1);
}

TEST_CASE("runner: an image-folder experiment trains a CNN and a patch-attention model") {
  rc::test::TempDir root_dir("folder_data");
  const fs::path& root = root_dir.path;
  rc::test::TempDir out_dir("folder_out");
  const fs::path& out = out_dir.path;
  // two classes: bright top half vs bright bottom half, 12 images each
  rc::test::write_image_folder(root, 2, 12, [](int c, int i) {
    cv::Mat m(8, 8, CV_8UC1, cv::Scalar(20 + i));
    m(cv::Rect(0, c * 4, 8, 4)).setTo(200 - i);
    return m;
  });
  Experiment e = parse(R"(
name: folder_test
dataset: {name: image-folder, root: ")" +
                       root.string() + R"(", height: 8, width: 8, grayscale: true, test_fraction: 0.25}
train: {epochs: 2, batch_size: 4, progress: false}
models:
  cnn: {type: cnn, channels: [4, 8], blocks: [1]}
  vit: {type: patch_attention, patch_size: 2, dim: 8, depth: 1, heads: 2}
)");
  RunnerOptions o;
  o.out_dir = out;
  CHECK(run_experiment(e, o) == 0);
  ResultsTable t(out);
  REQUIRE(t.rows().size() == 2);
  for (const auto& row : t.rows()) {
    CHECK(row.get("train_size") == "16");  // 18 training images per run, 10 % per class held out for validation
    CHECK(fs::exists(out / "runs" / row.get("run") / "best.safetensors"));
  }
}

TEST_CASE("runner: a diverging run stops with the epoch and step, keeps its metrics and records the reason") {
  rc::test::TempDir root_dir("nan_data"), out_dir("nan_out");
  const fs::path& root = root_dir.path;
  rc::test::write_image_folder(root, 2, 10,
                               [](int c, int i) { return cv::Mat(8, 8, CV_8UC1, cv::Scalar(30 * c + 3 * i)); });
  auto config = [&](const std::string& train) {
    return parse(R"(
name: nan_test
dataset: {name: image-folder, root: ")" + root.string() + R"(", height: 8, width: 8, grayscale: true, test_fraction: 0.2}
train: {epochs: 5, batch_size: 4, schedule: constant, weight_decay: 0, progress: false, )" + train + R"(}
models:
  mlpish: {type: cnn, channels: [4], blocks: [1], pool: none}
)");
  };
  auto all_finite = [](const fs::path& file) {
    for (const auto& [name, t] : rc::io::load_safetensors(file.string()).tensors)
      for (float v : t.to_vector())
        if (!std::isfinite(v)) return false;
    return true;
  };
  RunnerOptions o;
  o.out_dir = out_dir.path;
  const fs::path run = out_dir.path / "runs" / "mlpish__1__s0";

  SECTION("after some finished epochs: their metrics and finite checkpoints are kept") {
    // plain SGD with a huge step: the first epochs finish, then BatchNorm's running variance overflows at the
    // last step of an epoch (before that epoch's evaluation, with a finite loss) or the loss does a few steps on
    CHECK(run_experiment(config("optimizer: sgd, momentum: 0, lr: 1000"), o) == 1);  // one run did not finish
    ResultsTable t(out_dir.path);
    REQUIRE(t.rows().size() == 1);
    const ResultRow& row = t.rows()[0];
    const int64_t epochs = std::stoll(row.get("epochs")), best_epoch = std::stoll(row.get("best_epoch"));
    REQUIRE(epochs >= 1);  // this setting is meant to diverge after the first evaluation
    REQUIRE(epochs < 5);
    // the divergence is found in the epoch after the last good one, at a named step
    CHECK_THAT(row.get("status"), Catch::StartsWith("stopped: ") && Catch::Contains("became") &&
                                      Catch::Contains(fmt::format("at epoch {} step ", epochs + 1)));
    CHECK(fs::exists(run / "config.yaml"));
    std::ifstream m(run / "metrics.jsonl");
    std::vector<nlohmann::json> lines;
    for (std::string l; std::getline(m, l);) lines.push_back(nlohmann::json::parse(l));
    REQUIRE(lines.size() == size_t(epochs));
    CHECK(lines.back()["epoch"].get<int64_t>() == epochs);
    REQUIRE(fs::exists(run / "last.safetensors"));
    REQUIRE(fs::exists(run / "best.safetensors"));
    CHECK(all_finite(run / "last.safetensors"));
    CHECK(all_finite(run / "best.safetensors"));
    CHECK(rc::io::load_safetensors((run / "last.safetensors").string()).metadata.at("epoch") == std::to_string(epochs));
    CHECK(rc::io::load_safetensors((run / "best.safetensors").string()).metadata.at("epoch") ==
          std::to_string(best_epoch));
  }
  SECTION("before the first evaluation: no checkpoint, not even one left by an earlier attempt") {
    fs::create_directories(run);
    { std::ofstream(run / "best.safetensors") << "stale"; }
    // an absurd learning rate: the loss overflows at the second step
    CHECK(run_experiment(config("lr: 1.0e+30"), o) == 1);
    ResultsTable t(out_dir.path);
    REQUIRE(t.rows().size() == 1);
    CHECK(t.rows()[0].get("epochs") == "0");
    CHECK_THAT(t.rows()[0].get("status"), Catch::StartsWith("stopped: loss became") && Catch::Contains("at epoch 1 step"));
    CHECK(fs::exists(run / "config.yaml"));
    CHECK_FALSE(fs::exists(run / "best.safetensors"));
    CHECK_FALSE(fs::exists(run / "last.safetensors"));
  }
}

TEST_CASE("runner: a step budget with eval_every evaluates every k steps and at the last step, not each epoch") {
  rc::test::TempDir root_dir("steps_data"), out_dir("steps_out");
  const fs::path& root = root_dir.path;
  rc::test::write_image_folder(root, 2, 10,
                               [](int c, int i) { return cv::Mat(8, 8, CV_8UC1, cv::Scalar(40 * c + 5 * i)); });
  // 14 training images (16 less one per class for validation), batch 4: 4 steps per epoch; evaluations at 5, 10, 11
  Experiment e = parse(R"(
name: steps_test
dataset: {name: image-folder, root: ")" + root.string() + R"(", height: 8, width: 8, grayscale: true, test_fraction: 0.2, val_fraction: 0.1}
train: {steps: 11, eval_every: 5, warmup_steps: 3, batch_size: 4, lr: 0.01, progress: false}
models:
  small: {type: cnn, channels: [4], blocks: [1], pool: none}
)");
  RunnerOptions o;
  o.out_dir = out_dir.path;
  REQUIRE(run_experiment(e, o) == 0);
  ResultsTable t(out_dir.path);
  REQUIRE(t.rows().size() == 1);
  std::ifstream m(out_dir.path / "runs" / t.rows()[0].get("run") / "metrics.jsonl");
  std::vector<int64_t> steps, epochs;
  for (std::string line; std::getline(m, line);) {
    auto j = nlohmann::json::parse(line);
    steps.push_back(j["step"].get<int64_t>());
    epochs.push_back(j["epoch"].get<int64_t>());
  }
  CHECK(steps == std::vector<int64_t>{5, 10, 11});
  CHECK(epochs == std::vector<int64_t>{2, 3, 3});
}
