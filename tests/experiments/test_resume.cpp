// Continuing a stopped run (trainer.hpp, train_state.hpp): a run stopped after some steps and continued from its
// training state, any number of times, ends with byte-identical checkpoints, the same metrics (time fields aside)
// and the same outcome as a run that was never stopped; through both tasks, with BatchNorm, dropout and
// attention dropout, at epoch ends, inside epochs, and with evaluation points inside epochs. A finished run
// extended to a larger budget (constant schedule) equals one trained for that budget from the start.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/graph/synthetic.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/train/graph_task.hpp"
#include "experiments/train/image_task.hpp"
#include "experiments/train/train_state.hpp"
#include "experiments/train/trainer.hpp"
#include "framework/nn/call_counter.hpp"
#include "models/registry.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {

// Passes everything to `inner`; sets the stop flag during the `stop_at`-th training batch it hands out (the
// loop then stops after that step), counting from 1 in this session, and calls `on_batch` with each batch's
// number before handing it out.
class Interrupting : public TrainingTask {
 public:
  Interrupting(TrainingTask& inner, int64_t stop_at, std::function<void(int64_t)> on_batch = {})
      : inner_(inner), stop_at_(stop_at), on_batch_(std::move(on_batch)) {}
  nn::Module& model() override { return inner_.model(); }
  int64_t steps_per_epoch() const override { return inner_.steps_per_epoch(); }
  bool has_validation() const override { return inner_.has_validation(); }
  void begin_epoch(int64_t epoch, int64_t steps) override { inner_.begin_epoch(epoch, steps); }
  void continue_epoch(int64_t epoch, int64_t first, int64_t steps) override {
    inner_.continue_epoch(epoch, first, steps);
  }
  TrainBatch next_batch() override {
    if (++batches_ == stop_at_) stop_requested() = true;
    if (on_batch_) on_batch_(batches_);
    return inner_.next_batch();
  }
  void pause() override { inner_.pause(); }
  std::vector<Evaluation> evaluate(const std::vector<Split>& s, Progress* bar, const std::string& note) override {
    return inner_.evaluate(s, bar, note);
  }
  io::Metadata checkpoint_metadata() const override { return inner_.checkpoint_metadata(); }
  std::string save_state() const override { return inner_.save_state(); }
  void load_state(const std::string& json) override { inner_.load_state(json); }

 private:
  TrainingTask& inner_;
  int64_t stop_at_, batches_ = 0;
  std::function<void(int64_t)> on_batch_;
};

Params model_params(const std::string& dataset, const std::string& model) {
  Experiment e = parse_experiment(YAML::Load("dataset: {name: " + dataset + "}\nmodels: {m: " + model + "}"), "t.yaml");
  return e.runs.at(0).model_params;
}

// 8x8 grey images of two classes (bright top or bottom half) with some per-image variation.
data::ImageDataset two_class_images(int per_class, int shift) {
  data::ImageDataset d;
  d.channels = 1;
  d.height = d.width = 8;
  d.class_names = {"top", "bottom"};
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < per_class; ++i) {
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x)
          d.pixels.push_back(uint8_t((y < 4) == (c == 0) ? 150 + 7 * ((i * 3 + shift + x) % 11) : 30 + 9 * ((i + y * x) % 7)));
      d.labels.push_back(c);
    }
  return d;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// metrics.jsonl without the wall-clock fields
std::vector<nlohmann::json> metrics_of(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    for (const char* k : {"interval_seconds", "elapsed_seconds", "items_per_second", "eval_items_per_second"}) j.erase(k);
    out.push_back(j);
  }
  return out;
}

void check_same_run(const fs::path& a, const RunOutcome& oa, const fs::path& b, const RunOutcome& ob) {
  for (const char* f : {"best.safetensors", "last.safetensors", "train_state.safetensors"}) {
    INFO(f);
    REQUIRE(fs::exists(a / f));
    REQUIRE(fs::exists(b / f));
    if (std::string(f) != "train_state.safetensors") CHECK(read_bytes(a / f) == read_bytes(b / f));
  }
  CHECK(metrics_of(a) == metrics_of(b));
  CHECK(oa.status == ob.status);
  CHECK(oa.steps == ob.steps);
  CHECK(oa.epochs_run == ob.epochs_run);
  CHECK(oa.best_epoch == ob.best_epoch);
  // exact: the same bits
  CHECK(oa.test_accuracy == ob.test_accuracy);
  CHECK((oa.best_val_accuracy == ob.best_val_accuracy || (std::isnan(oa.best_val_accuracy) && std::isnan(ob.best_val_accuracy))));
  CHECK(oa.last_test_accuracy == ob.last_test_accuracy);
  CHECK(oa.final_train_loss == ob.final_train_loss);
}

struct ImageCase {
  data::ImageDataset train = two_class_images(14, 0), test = two_class_images(5, 3);
  ImageTask task;
  TrainSettings settings;
  std::string model;
  ImageCase(const std::string& model_yaml) : model(model_yaml) {
    task.train = &train;
    task.test = &test;
    for (int64_t i = 0; i < train.size(); ++i) (i % 7 < 5 ? task.train_idx : task.val_idx).push_back(i);
    task.normalize = data::compute_normalize(train, task.train_idx);
    task.augment.horizontal_flip = true;
    task.augment.crop_padding = 1;
    settings.batch_size = 6;  // 20 training images: 4 steps per epoch, the last one smaller
    settings.epochs = 4;
    settings.lr = 0.01;
    settings.progress = false;
  }
  // One session: a fresh model and task (as a new process builds them), stopped at its stop_at-th step (0: never).
  RunOutcome session(const fs::path& dir, int64_t stop_at, bool resume, std::function<void(int64_t)> on_batch = {}) {
    stop_requested() = false;
    auto m = models::model_type(YAML::Load(model)["type"].as<std::string>())
                 .make_image(model_params("fashion-mnist", model), {1, 8, 8, 2}, 7);
    ImageClassification inner(*m, task, settings, 7);
    Interrupting t(inner, stop_at, std::move(on_batch));
    RunOutcome o = rc::exp::train(t, settings, dir, "image", {resume});
    stop_requested() = false;
    return o;
  }
};

// Trains in sessions of `every` steps until the run finishes; returns the final outcome.
template <class Case>
RunOutcome in_sessions(Case& c, const fs::path& dir, int64_t every, int* sessions = nullptr) {
  RunOutcome o;
  int n = 0;
  for (o = c.session(dir, every, n > 0); o.status == "interrupted"; o = c.session(dir, every, true)) {
    ++n;
    REQUIRE(n < 200);
  }
  if (sessions) *sessions = n + 1;
  return o;
}

}  // namespace

TEST_CASE("resume: image runs stopped and continued equal uninterrupted ones bit for bit") {
  const char* models[] = {
      "{type: cnn, channels: [4, 6], blocks: [1], pool: max, dropout: 0.3}",
      "{type: patch_attention, patch_size: 2, dim: 8, depth: 1, heads: 2, dropout: 0.2, attention_dropout: 0.2}"};
  for (const char* model : models)
    for (int64_t eval_every : {0, 3})
      for (int64_t every : {1, 3, 5}) {
        DYNAMIC_SECTION(model << " eval_every " << eval_every << " stopped every " << every << " steps") {
          rc::test::TempDir dir("resume_image");
          ImageCase c(model);
          c.settings.eval_every = eval_every;
          const RunOutcome whole = c.session(dir.path / "whole", 0, false);
          REQUIRE(whole.status == "ok");
          int sessions = 0;
          const RunOutcome parts = in_sessions(c, dir.path / "parts", every, &sessions);
          CHECK(sessions > 1);
          check_same_run(dir.path / "whole", whole, dir.path / "parts", parts);
        }
      }
}

TEST_CASE("resume: a stopped image run keeps checkpoints of its last evaluation and continues after it") {
  rc::test::TempDir dir("resume_image_files");
  ImageCase c("{type: cnn, channels: [4], blocks: [1], pool: none, dropout: 0.3}");
  // 4 steps per epoch: stopped after step 6, inside epoch 2, after one evaluation
  const RunOutcome o = c.session(dir.path, 6, true);
  REQUIRE(o.status == "interrupted");
  CHECK(o.steps == 6);
  CHECK(fs::exists(dir.path / "last.safetensors"));
  CHECK(fs::exists(dir.path / "best.safetensors"));
  CHECK(metrics_of(dir.path).size() == 1);
  const auto state = load_train_state(dir.path / kTrainStateFile);
  REQUIRE(state.has_value());
  const auto loop = nlohmann::json::parse(state->loop);
  CHECK(loop.at("step") == 6);
  CHECK(loop.at("epoch") == 2);
  CHECK(loop.at("epoch_done") == 2);
  CHECK(!state->optimizer.empty());
  // a run started afresh (resume off) removes the state and the checkpoints of the earlier attempt first
  const RunOutcome fresh = c.session(dir.path, 2, false);
  CHECK(fresh.steps == 2);
  CHECK(!fs::exists(dir.path / "last.safetensors"));
  CHECK(metrics_of(dir.path).empty());
}

namespace {
// What a process killed when it asks for its `batch`-th batch leaves in `from` (every file is written atomically):
// a copy of the folder at that moment.
std::function<void(int64_t)> copy_at(int64_t batch, const fs::path& from, const fs::path& to) {
  return [=](int64_t b) {
    if (b != batch) return;
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
  };
}
}  // namespace

TEST_CASE("resume: a killed process continues from the state of its last evaluation point, bit for bit") {
  const char* models[] = {
      "{type: cnn, channels: [4, 6], blocks: [1], pool: max, dropout: 0.3}",
      "{type: patch_attention, patch_size: 2, dim: 8, depth: 1, heads: 2, dropout: 0.2, attention_dropout: 0.2}"};
  for (const char* model : models)
    for (int64_t eval_every : {0, 3})
      for (int64_t kill_at : {6, 11}) {  // 4 steps per epoch: inside epochs 2 and 3
        DYNAMIC_SECTION(model << " eval_every " << eval_every << " killed at batch " << kill_at) {
          rc::test::TempDir dir("resume_killed");
          ImageCase c(model);
          c.settings.eval_every = eval_every;
          c.settings.state_every_seconds = 0;  // the state at every evaluation point
          const RunOutcome whole = c.session(dir.path / "whole", 0, false);
          REQUIRE(whole.status == "ok");
          // the files of the run at batch kill_at, and at the batch 4 steps later
          REQUIRE(c.session(dir.path / "run", 0, false,
                            [&](int64_t b) {
                              copy_at(kill_at, dir.path / "run", dir.path / "killed")(b);
                              copy_at(kill_at + 4, dir.path / "run", dir.path / "later")(b);
                            })
                      .status == "ok");
          const auto state = load_train_state(dir.path / "killed" / kTrainStateFile);
          REQUIRE(state.has_value());
          const auto loop = nlohmann::json::parse(state->loop);
          CHECK(loop.at("finished") == false);
          CHECK(loop.at("step").get<int64_t>() < kill_at);  // the last evaluation point's
          CHECK(loop.at("step").get<int64_t>() >= kill_at - (eval_every > 0 ? eval_every : 4));
          CHECK(state->last.has_value());
          fs::copy_file(dir.path / "killed" / kTrainStateFile, dir.path / "killed_state");
          const RunOutcome resumed = c.session(dir.path / "killed", 0, true);
          check_same_run(dir.path / "whole", whole, dir.path / "killed", resumed);
          // killed after writing a later evaluation's checkpoints and metrics but before its state: the state's
          // own copies of the checkpoints count, and metrics.jsonl is cut to the state's points
          CHECK(int64_t(metrics_of(dir.path / "later").size()) > loop.at("points").get<int64_t>());
          fs::copy_file(dir.path / "killed_state", dir.path / "later" / kTrainStateFile,
                        fs::copy_options::overwrite_existing);
          const RunOutcome mixed = c.session(dir.path / "later", 0, true);
          check_same_run(dir.path / "whole", whole, dir.path / "later", mixed);
        }
      }
}

TEST_CASE("resume: a training state that does not fit the run is an error naming --rerun") {
  rc::test::TempDir dir("resume_mismatch");
  ImageCase c("{type: cnn, channels: [4], blocks: [1], pool: none}");
  REQUIRE(c.session(dir.path, 6, true).status == "interrupted");
  ImageCase other("{type: cnn, channels: [5], blocks: [1], pool: none}");
  CHECK_THROWS_WITH(other.session(dir.path, 0, true), Catch::Contains("--rerun") && Catch::Contains("train_state"));
  // a state of an older version, without its own copies of the checkpoints, reads the files beside it
  auto state = load_train_state(dir.path / kTrainStateFile);
  REQUIRE((state && state->last));
  state->last.reset();
  state->best.reset();
  save_train_state(dir.path / kTrainStateFile, *state);
  fs::copy(dir.path, dir.path.parent_path() / "resume_mismatch_copy", fs::copy_options::recursive);
  const fs::path copy = dir.path.parent_path() / "resume_mismatch_copy";
  fs::remove(dir.path / "last.safetensors");
  CHECK_THROWS_WITH(c.session(dir.path, 0, true), Catch::Contains("last.safetensors is missing"));
  CHECK(c.session(copy, 0, true).status == "ok");
  // a state with its own copies does not need the files: the run writes them again
  REQUIRE(c.session(copy, 6, false).status == "interrupted");
  fs::remove(copy / "last.safetensors");
  fs::remove(copy / "best.safetensors");
  CHECK(c.session(copy, 0, true).status == "ok");
  CHECK(fs::exists(copy / "last.safetensors"));
  fs::remove_all(copy);
}

namespace {
struct GraphCase {
  data::GraphDataset g = data::csbm({.nodes = 200, .classes = 3, .average_degree = 4.0, .features = 8, .snr = 1.0});
  GraphTask task = make_graph_task(g, g.split);
  TrainSettings settings;
  std::string model = "{type: gat, hidden: 4, heads: 2, dropout: 0.5}";
  GraphCase() {
    settings.epochs = 30;
    settings.optimizer = "adam";
    settings.lr = 0.02;
    settings.weight_decay = 5e-4;
    settings.warmup_epochs = 0;
    settings.progress = false;
  }
  RunOutcome session(const fs::path& dir, int64_t stop_at, bool resume) {
    stop_requested() = false;
    auto m = models::model_type("gat").make_graph(model_params("csbm", model), task.input, 3);
    NodeClassification inner(*m, task);
    Interrupting t(inner, stop_at);
    RunOutcome o = rc::exp::train(t, settings, dir, "graph", {resume});
    stop_requested() = false;
    return o;
  }
};
}  // namespace

TEST_CASE("resume: GAT runs with dropout stopped and continued equal uninterrupted ones bit for bit") {
  for (int64_t patience : {0, 3})
    for (int64_t every : {1, 7}) {
      DYNAMIC_SECTION("patience " << patience << " stopped every " << every << " steps") {
        rc::test::TempDir dir("resume_graph");
        GraphCase c;
        c.settings.patience = patience;
        const RunOutcome whole = c.session(dir.path / "whole", 0, false);
        REQUIRE(whole.status == "ok");
        const RunOutcome parts = in_sessions(c, dir.path / "parts", every);
        check_same_run(dir.path / "whole", whole, dir.path / "parts", parts);
      }
    }
}

TEST_CASE("resume: a finished run extended to a larger budget equals one trained for it from the start") {
  rc::test::TempDir dir("resume_extend");
  SECTION("graph, constant schedule") {
    GraphCase c;
    c.settings.schedule = "constant";
    c.settings.epochs = 12;
    REQUIRE(c.session(dir.path / "extended", 0, true).status == "ok");
    c.settings.epochs = 25;
    const RunOutcome extended = c.session(dir.path / "extended", 0, true);
    const RunOutcome whole = c.session(dir.path / "whole", 0, false);
    CHECK(extended.epochs_run == 25);
    check_same_run(dir.path / "whole", whole, dir.path / "extended", extended);
  }
  SECTION("image, constant schedule, a step budget that ends inside an epoch") {
    ImageCase c("{type: cnn, channels: [4], blocks: [1], pool: none, dropout: 0.3}");
    c.settings.schedule = "constant";
    c.settings.warmup_epochs = 0;
    c.settings.steps = 6;
    REQUIRE(c.session(dir.path / "extended", 0, true).status == "ok");
    c.settings.steps = 0;
    c.settings.epochs = 4;
    const RunOutcome extended = c.session(dir.path / "extended", 0, true);
    const RunOutcome whole = c.session(dir.path / "whole", 0, false);
    CHECK(extended.steps == 16);
    // the extended run also evaluated at its old end (step 6): one more metrics line, otherwise the same
    auto m_ext = metrics_of(dir.path / "extended"), m_whole = metrics_of(dir.path / "whole");
    REQUIRE(m_ext.size() == m_whole.size() + 1);
    CHECK(m_ext[1].at("step") == 6);
    CHECK(read_bytes(dir.path / "extended" / "last.safetensors") == read_bytes(dir.path / "whole" / "last.safetensors"));
    CHECK(extended.last_test_accuracy == whole.last_test_accuracy);
  }
}

TEST_CASE("resume: the call counters of every dropout module round-trip by name") {
  auto m = models::model_type("patch_attention")
               .make_image(model_params("fashion-mnist", "{type: patch_attention, patch_size: 2, dim: 8, depth: 2, "
                                                         "heads: 2, dropout: 0.2, attention_dropout: 0.1}"),
                           {1, 8, 8, 2}, 1);
  auto counters = nn::named_call_counters(*m);
  REQUIRE(counters.size() >= 4);  // per block: attention and residual dropout; the embedding dropout
  for (size_t i = 0; i < counters.size(); ++i) counters[i].second = 11 + 3 * i;
  nn::load_call_counters(*m, counters);
  CHECK(nn::named_call_counters(*m) == counters);
  CHECK_THROWS_WITH(nn::load_call_counters(*m, {{"nope", 1}}), Catch::Contains("'nope'"));
  counters.pop_back();
  CHECK_THROWS_WITH(nn::load_call_counters(*m, counters), Catch::Contains("no value"));
}

TEST_CASE("resume: exact doubles round-trip, NaN and Inf included") {
  for (double v : {0.1, -3.75e-300, 1.0 / 3.0, 0.0, 123456789.123456789})
    CHECK(parse_exact_double(exact_double(v)) == v);
  CHECK(std::isnan(parse_exact_double(exact_double(std::nan("")))));
  CHECK(parse_exact_double(exact_double(HUGE_VAL)) == HUGE_VAL);
  CHECK(parse_exact_double(exact_double(-HUGE_VAL)) == -HUGE_VAL);
  CHECK_THROWS_WITH(parse_exact_double("0x1.8p+1x"), Catch::Contains("not a number"));
}
