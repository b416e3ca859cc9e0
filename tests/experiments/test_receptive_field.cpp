// The receptive field as a learned and measured quantity: patch attention with position locality and
// gated_locality (parameter names, every policy patch attention accepts, the learned state at initialisation),
// the receptive field every evaluation point writes into metrics.jsonl (and that measuring it leaves training
// unchanged), the receptive-field plots and receptive_by_step.csv, and the per-size step budget
// (train.min_steps, train.max_steps).
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "experiments/config/experiment.hpp"
#include "framework/core/random.hpp"
#include "experiments/plots_receptive.hpp"
#include "experiments/train/image_task.hpp"
#include "models/registry.hpp"
#include "support/files.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {

Params model_params(const std::string& model) {
  Experiment e = parse_experiment(YAML::Load("dataset: {name: fashion-mnist}\nmodels: {m: " + model + "}"), "t.yaml");
  return e.runs.at(0).model_params;
}

// A 28×28 image of 2 classes: patch 7 -> a 4×4 patch grid.
const models::ImageShape kShape{1, 28, 28, 2};

std::shared_ptr<models::ImageModel> patch_model(const std::string& options, uint64_t seed = 1) {
  return models::model_type("patch_attention")
      .make_image(model_params("{type: patch_attention, patch_size: 7, dim: 16, depth: 2, heads: 4, " + options + "}"),
                  kShape, seed);
}

Tensor some_images(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor t = Tensor::empty({n, 1, 28, 28});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(gen);
  return t;
}

data::ImageDataset two_class_images(int per_class, int shift) {  // bright top or bottom half
  data::ImageDataset d;
  d.channels = 1;
  d.height = d.width = 28;
  d.class_names = {"top", "bottom"};
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < per_class; ++i) {
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x)
          d.pixels.push_back(uint8_t((y < 14) == (c == 0) ? 180 + 5 * ((i + shift + x) % 8) : 40 + 9 * ((i + y) % 5)));
      d.labels.push_back(c);
    }
  return d;
}

// Hides the inner model's receptive field (the default: none), so the trainer logs no diagnostics.
class Hidden : public models::ImageModel {
 public:
  explicit Hidden(std::shared_ptr<models::ImageModel> m) : inner_(register_module("inner", std::move(m))) {}
  Var forward(const Var& x) override { return inner_->forward(x); }

 private:
  std::shared_ptr<models::ImageModel> inner_;
};

}  // namespace

TEST_CASE("receptive field: locality models' parameters, every accepted policy, the state at initialisation") {
  for (const char* position : {"locality", "gated_locality"}) {
    const bool gated = std::string(position) == "gated_locality";
    INFO(position);
    auto m = patch_model(fmt::format("position: {}, locality_init_width: 1.5, locality_init_gate: 2.0", position));
    std::vector<std::string> names;
    for (const auto& p : m->named_parameters())
      if (p.name.find("locality") != std::string::npos) names.push_back(p.name);
    std::vector<std::string> expected;
    for (int b = 0; b < 2; ++b) {
      expected.push_back(fmt::format("blocks.{}.attn.locality_alpha", b));
      expected.push_back(fmt::format("blocks.{}.attn.locality_mu", b));
      if (gated) expected.push_back(fmt::format("blocks.{}.attn.locality_gate", b));
    }
    CHECK(names == expected);
    const models::ReceptiveField rf = m->receptive_field(some_images(3, 2));
    REQUIRE(rf.width.size() == 2);
    REQUIRE(rf.width[1].size() == 4);
    CHECK(rf.width[1][3] == Approx(1.5).epsilon(1e-5));
    CHECK(rf.gate.size() == (gated ? 2u : 0u));
    if (gated) CHECK(rf.gate[0][0] == Approx(1.0 / (1.0 + std::exp(-2.0))).epsilon(1e-6));
    REQUIRE(rf.mean_distance.size() == 2);
    for (double d : rf.mean_distance[0]) CHECK((d > 0.0 && d < 3 * std::sqrt(2.0)));
    // every policy patch attention accepts gives a forward with the Gaussian over the whole grid's offsets
    for (const char* policy : {"{kind: full}", "{kind: window2d, kernel: 3}", "{kind: window2d, kernel: 2, dilation: 2}",
                               "{kind: axial}", "{kind: window1d, radius: 3}", "{kind: causal}", "{kind: window2d | axial}"}) {
      INFO(policy);
      auto pm = patch_model(fmt::format("position: {}, policy: {}", position, policy));
      NoGradGuard no_grad;
      const Tensor y = pm->forward(Var(some_images(2, 3))).value();
      CHECK(y.shape() == Shape{2, 2});
      for (float v : y.to_vector()) CHECK(std::isfinite(v));
    }
  }
  // a narrow Gaussian (additive) keeps the attention near the query: a smaller measured mean distance than a
  // wide one from the same weights otherwise
  auto narrow = patch_model("position: locality, locality_init_width: 0.3, locality_init_spread: 0", 5);
  auto wide = patch_model("position: locality, locality_init_width: 50, locality_init_spread: 0", 5);
  const Tensor x = some_images(4, 6);
  CHECK(narrow->receptive_field(x).mean_distance[0][0] < 0.5 * wide->receptive_field(x).mean_distance[0][0]);
  // models without attention report nothing
  auto cnn = models::model_type("cnn").make_image(
      model_params("{type: cnn, channels: [4], blocks: [1], pool: none}"), kShape, 1);
  CHECK(cnn->receptive_field(x).empty());
}

TEST_CASE("receptive field: every evaluation point logs it in metrics.jsonl, and measuring it leaves training unchanged") {
  data::ImageDataset train = two_class_images(10, 0), test = two_class_images(4, 3);
  ImageTask task;
  task.train = &train;
  task.test = &test;
  for (int64_t i = 0; i < train.size(); ++i) (i % 10 < 8 ? task.train_idx : task.val_idx).push_back(i);
  task.normalize = data::compute_normalize(train, task.train_idx);
  TrainSettings s;
  s.batch_size = 4;
  s.epochs = 3;
  s.lr = 0.01;
  s.progress = false;
  test::TempDir dir("receptive_metrics");
  const std::string opts = "position: gated_locality, attention_dropout: 0.3, dropout: 0.1";
  auto logged = patch_model(opts, 7);
  train_image_model(*logged, task, s, dir.path / "logged", 0, "logged");
  std::ifstream in(dir.path / "logged" / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    REQUIRE(j.contains("receptive_field"));
    const auto& rf = j["receptive_field"];
    CHECK(rf["mean_distance"].size() == 2);
    CHECK(rf["mean_distance"][0].size() == 4);
    CHECK(rf["width"].size() == 2);
    CHECK(rf["gate"][1].size() == 4);
  }
  CHECK(lines == 3);
  // the same run without diagnostics ends with the same weights (attention-dropout masks unchanged)
  Hidden hidden(patch_model(opts, 7));
  train_image_model(hidden, task, s, dir.path / "hidden", 0, "hidden");
  const auto a = logged->named_parameters(), b = hidden.named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    CHECK(a[i].var.value().to_vector() == b[i].var.value().to_vector());
  }
  std::ifstream hidden_metrics(dir.path / "hidden" / "metrics.jsonl");
  std::string first;
  std::getline(hidden_metrics, first);
  CHECK_FALSE(nlohmann::json::parse(first).contains("receptive_field"));
}

namespace {

std::vector<std::string> file_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// A results.csv row of a finished Fashion-MNIST run.
void append_finished(ResultsTable& table, const std::string& model, double size, const std::string& run) {
  ResultRow r;
  r.values = {{"model", model},    {"dataset", "fashion-mnist"}, {"train_size", fmt::format("{}", size)},
              {"seed", "0"},       {"epochs", "3"},              {"test_accuracy", "0.8"},
              {"best_val_accuracy", "0.8"}, {"train_seconds", "1"}, {"params", "10"},
              {"run", run},        {"status", "ok"}};
  table.append(r);
}

}  // namespace

TEST_CASE("receptive field: plots per run against the step and per model against the training-set size") {
  test::TempDir dir("receptive_plots");
  ResultsTable table(dir.path, {"run", "status"});
  for (double size : {0.1, 1.0})
    for (int seed : {0, 1}) {
      const std::string run = fmt::format("loc_{}_{}", size, seed);
      fs::create_directories(dir.path / "runs" / run);
      std::ofstream m(dir.path / "runs" / run / "metrics.jsonl");
      for (int step : {100, 200, 300})
        m << nlohmann::json{{"epoch", step / 100},
                            {"step", step},
                            {"receptive_field",
                             {{"mean_distance", {{1.0 + size, 1.2}, {2.0, 2.0 + seed}}}, {"width", {{0.7, 0.8}, {1.0, 1.1}}}}}}
                 .dump()
          << "\n";
      append_finished(table, "loc", size, run);
    }
  const auto written = write_receptive_plots(table, dir.path);
  CHECK(written.size() == 6);  // 4 runs' curves and one model against size and against the step
  CHECK(fs::exists(dir.path / "plots" / "receptive_loc_0.1_0.png"));
  CHECK(fs::exists(dir.path / "plots" / "receptive_vs_size_fashion-mnist_loc.png"));
  CHECK(fs::exists(dir.path / "plots" / "receptive_vs_step_fashion-mnist_loc.png"));
  for (const auto& p : written) CHECK(fs::file_size(p) > 1000);
  // receptive_by_step.csv: per size, step, quantity and layer, the mean and std over the two seeds
  const auto lines = file_lines(dir.path / "receptive_by_step.csv");
  REQUIRE(lines.size() == 1 + 2 * 3 * 2 * 2);  // header; 2 sizes x 3 steps x 2 quantities x 2 layers
  CHECK(lines[0] == "dataset,model,train_size,step,seeds,quantity,layer,mean,std");
  // layer 1's E|d| is the mean over heads (1 + size + 1.2) / 2, the same for both seeds; layer 2's is
  // (2 + 2 + seed) / 2 = 2 and 2.5, so its mean is 2.25 and its std sqrt(0.125)
  CHECK(has_line(lines, "fashion-mnist,loc,0.1,200,2,mean_distance,1,1.1500,0.0000"));
  CHECK(has_line(lines, "fashion-mnist,loc,1,300,2,mean_distance,2,2.2500,0.3536"));
  CHECK(has_line(lines, "fashion-mnist,loc,1,100,2,width,2,1.0500,0.0000"));
}

TEST_CASE("receptive field: a step that only some seeds of a size logged is left out of the means") {
  test::TempDir dir("receptive_steps");
  ResultsTable table(dir.path, {"run", "status"});
  for (double size : {0.1, 1.0})
    for (int seed : {0, 1}) {
      const std::string run = fmt::format("m_{}_{}", size, seed);
      fs::create_directories(dir.path / "runs" / run);
      std::ofstream m(dir.path / "runs" / run / "metrics.jsonl");
      for (int step : {100, 200, 300}) {
        if (size == 1.0 && seed == 1 && step == 300) continue;  // this run never logged step 300
        m << nlohmann::json{{"step", step}, {"receptive_field", {{"mean_distance", {{1.5 + seed}}}}}}.dump() << "\n";
      }
      append_finished(table, "m", size, run);
    }
  write_receptive_plots(table, dir.path);
  const auto lines = file_lines(dir.path / "receptive_by_step.csv");
  CHECK(lines.size() == 1 + 3 + 2);  // size 0.1 at 3 steps, size 1 at the 2 steps both seeds logged
  CHECK(has_line(lines, "fashion-mnist,m,0.1,300,2,mean_distance,1,2.0000,0.7071"));
  CHECK(has_line(lines, "fashion-mnist,m,1,200,2,mean_distance,1,2.0000,0.7071"));
  for (const auto& l : lines) CHECK(l.find("fashion-mnist,m,1,300,") == std::string::npos);
}

TEST_CASE("train settings: epochs clamped to min_steps and max_steps, a fixed steps budget wins") {
  TrainSettings s;
  s.epochs = 40;
  s.min_steps = 3000;
  s.max_steps = 16880;
  CHECK(s.total_steps(5) == 3000);
  CHECK(s.total_steps(127) == 5080);
  CHECK(s.total_steps(422) == 16880);
  CHECK(s.total_steps(1000) == 16880);
  s.steps = 1200;
  CHECK(s.total_steps(5) == 1200);
  TrainSettings plain;
  plain.epochs = 3;
  CHECK(plain.total_steps(7) == 21);
}

TEST_CASE("receptive field: locality models give bit-identical outputs, gradients and receptive fields at 1 and 2 threads") {
  for (const char* position : {"locality", "gated_locality"}) {
    INFO(position);
    auto run = [&] {
      auto m = patch_model(fmt::format("position: {}, policy: {{kind: window2d, kernel: 3}}", position), 11);
      const Tensor x = some_images(3, 12);
      Var y = m->forward(Var(x));
      backward(y, Tensor::ones(y.shape()));
      std::vector<float> out = y.value().to_vector();
      for (const auto& p : m->named_parameters())
        for (float g : p.var.grad().to_vector()) out.push_back(g);
      for (const auto& layer : m->receptive_field(x).mean_distance)
        for (double d : layer) out.push_back(static_cast<float>(d));
      return out;
    };
    auto [one, two] = test::at_one_and_two_threads(run);
    CHECK(one == two);
  }
}
