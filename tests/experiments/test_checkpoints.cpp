// The training loop (trainer.hpp) through both tasks: best.safetensors holds the weights of the selected
// evaluation and last.safetensors those of the last one, and neither ever holds a NaN or Inf, whether the loss
// or the weights diverge first; one selection rule, one patience rule and one metrics schema for both tasks.
// A probe model wraps a real one to record the weights at every evaluation and, on request, to poison them at a
// chosen training step.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "datasets/graph/synthetic.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/train/checkpoint.hpp"
#include "experiments/train/graph_task.hpp"
#include "experiments/train/image_task.hpp"
#include "experiments/train/trainer.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/ops/loss.hpp"
#include "models/registry.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {

// Wraps `inner` (whose parameters appear under "inner."). Records a copy of the weights at the first
// evaluation-mode forward after training, i.e. at each evaluation. With poison_at = n > 0, the n-th training
// forward fills inner's first parameter with NaN: before computing the output (that step's loss is NaN) or
// after it (the loss is finite and the optimizer step leaves non-finite weights behind).
template <class Base, class Input>
class Probe : public Base {
 public:
  explicit Probe(std::shared_ptr<Base> inner) : inner_(this->register_module("inner", std::move(inner))) {}
  int64_t poison_at = 0;
  bool poison_before = false;
  std::string poison_name;  // the parameter of inner to poison ("" = its first)
  std::vector<NamedTensors> evaluated;  // evaluated[k] = the weights of the (k+1)-th evaluation

  Var forward(const Input& x) override {
    if (!this->is_training()) {
      if (trained_since_eval_) {
        NamedTensors copy;
        for (const auto& [name, t] : this->state_dict()) copy.emplace_back(name, t.clone());
        evaluated.push_back(std::move(copy));
        trained_since_eval_ = false;
      }
      return inner_->forward(x);
    }
    trained_since_eval_ = true;
    const bool hit = ++calls_ == poison_at;
    if (hit && poison_before) poison();
    Var y = inner_->forward(x);
    if (hit && !poison_before) poison();
    return y;
  }

 private:
  std::shared_ptr<Base> inner_;
  int64_t calls_ = 0;
  bool trained_since_eval_ = false;
  void poison() {
    for (auto& [name, t] : inner_->state_dict())
      if (poison_name.empty() || name == poison_name) {
        Tensor(t).fill_(std::numeric_limits<float>::quiet_NaN());
        return;
      }
    FAIL("no parameter " << poison_name);
  }
};
using ImageProbe = Probe<models::ImageModel, Var>;
using GraphProbe = Probe<models::GraphModel, models::GraphInput>;

Params model_params(const std::string& dataset, const std::string& model) {
  Experiment e = parse_experiment(YAML::Load("dataset: {name: " + dataset + "}\nmodels: {m: " + model + "}"), "t.yaml");
  return e.runs.at(0).model_params;
}

std::shared_ptr<ImageProbe> small_cnn(uint64_t seed) {
  const auto& mt = models::model_type("cnn");
  return std::make_shared<ImageProbe>(
      mt.make_image(model_params("fashion-mnist", "{type: cnn, channels: [4], blocks: [1], pool: none}"),
                    {1, 8, 8, 2}, seed));
}

std::shared_ptr<GraphProbe> small_gcn(const models::GraphInput& in, uint64_t seed) {
  const auto& mt = models::model_type("gcn");
  return std::make_shared<GraphProbe>(mt.make_graph(model_params("csbm", "{type: gcn, hidden: 8}"), in, seed));
}

// 8x8 grey images of two classes (bright top or bottom half) with a little per-image variation.
data::ImageDataset two_class_images(int per_class, int shift) {
  data::ImageDataset d;
  d.channels = 1;
  d.height = d.width = 8;
  d.class_names = {"top", "bottom"};
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < per_class; ++i) {
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x)
          d.pixels.push_back(uint8_t((y < 4) == (c == 0) ? 180 + 5 * ((i + shift + x) % 8) : 40 + 9 * ((i + y) % 5)));
      d.labels.push_back(c);
    }
  return d;
}

struct ImageSetup {
  data::ImageDataset train = two_class_images(10, 0), test = two_class_images(4, 3);
  ImageTask task;
  TrainSettings settings;
  ImageSetup() {
    task.train = &train;
    task.test = &test;
    for (int64_t i = 0; i < train.size(); ++i) (i % 10 < 8 ? task.train_idx : task.val_idx).push_back(i);
    task.normalize = data::compute_normalize(train, task.train_idx);
    settings.batch_size = 4;  // 16 training images: 4 steps per epoch
    settings.lr = 0.01;
    settings.progress = false;
  }
};

struct GraphSetup {
  data::GraphDataset g = data::csbm({.nodes = 300, .classes = 3, .average_degree = 4.0, .features = 8, .snr = 1.0});
  GraphTask task = make_graph_task(g, g.split);
  TrainSettings settings;
  GraphSetup() {
    settings.lr = 0.05;
    settings.weight_decay = 5e-4;
    settings.warmup_epochs = 0;
    settings.progress = false;
  }
  // validation and test accuracy of `model` in evaluation mode
  std::pair<double, double> evaluate(models::GraphModel& model) const {
    NoGradGuard no_grad;
    model.eval();
    const Tensor logits = model.forward(task.input).value();
    std::vector<uint8_t> val(g.num_nodes(), 0), test(g.num_nodes(), 0);
    for (int64_t i : task.split.val) val[i] = 1;
    for (int64_t i : task.split.test) test[i] = 1;
    return {accuracy(logits, task.labels, val), accuracy(logits, task.labels, test)};
  }
};

bool all_finite(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    for (float v : t.to_vector())
      if (!std::isfinite(v)) return false;
  return true;
}

bool same_values(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || a[i].second.to_vector() != b[i].second.to_vector()) return false;
  return true;
}

std::vector<nlohmann::json> metrics_of(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  return lines;
}

// The checkpoint at `path`: finite, from evaluation `epoch`, holding exactly the weights the probe saw then.
void check_checkpoint(const fs::path& path, int64_t epoch, const std::vector<NamedTensors>& evaluated) {
  INFO(path.string());
  REQUIRE(fs::exists(path));
  const io::SafetensorsFile f = io::load_safetensors(path.string());
  CHECK(all_finite(f.tensors));
  CHECK(f.metadata.at("epoch") == std::to_string(epoch));
  REQUIRE(epoch >= 1);
  REQUIRE(size_t(epoch) <= evaluated.size());
  CHECK(same_values(f.tensors, evaluated[epoch - 1]));
}

// A run stopped after `good_epochs` finite evaluations: that many metrics lines, last = the last of them,
// best = its best epoch.
void check_stopped_after(const fs::path& dir, const RunOutcome& o, int64_t good_epochs,
                         const std::vector<NamedTensors>& evaluated) {
  CHECK(o.epochs_run == good_epochs);
  CHECK(metrics_of(dir).size() == size_t(good_epochs));
  check_checkpoint(dir / "last.safetensors", good_epochs, evaluated);
  check_checkpoint(dir / "best.safetensors", o.best_epoch, evaluated);
}
}  // namespace

TEST_CASE("trainers: a run whose loss or weights become non-finite keeps the last finite checkpoint") {
  rc::test::TempDir dir("nonfinite");
  SECTION("image trainer, weights poisoned by the last step before an evaluation") {
    // 4 steps per epoch: step 8 ends epoch 2, so the poisoned weights meet the evaluation of epoch 2 with every
    // loss so far finite; they are neither evaluated nor saved
    ImageSetup s;
    s.settings.epochs = 5;
    auto model = small_cnn(0);
    model->poison_at = 8;
    RunOutcome o = train_image_model(*model, s.task, s.settings, dir.path, 0, "poisoned");
    CHECK_THAT(o.status, Catch::StartsWith("stopped: weights became non-finite (nan in inner.") &&
                             Catch::EndsWith("at epoch 2 step 8"));
    check_stopped_after(dir.path, o, 1, model->evaluated);
    CHECK(io::load_safetensors((dir.path / "last.safetensors").string()).metadata.at("step") == "4");
  }
  SECTION("image trainer, a NaN loss in the middle of an epoch") {
    ImageSetup s;
    s.settings.epochs = 5;
    auto model = small_cnn(0);
    model->poison_at = 10;
    model->poison_before = true;
    RunOutcome o = train_image_model(*model, s.task, s.settings, dir.path, 0, "poisoned");
    CHECK_THAT(o.status, Catch::StartsWith("stopped: loss became") && Catch::EndsWith("at epoch 3 step 10"));
    check_stopped_after(dir.path, o, 2, model->evaluated);
  }
  SECTION("graph trainer, weights poisoned by a step") {
    GraphSetup s;
    s.settings.epochs = 10;
    auto model = small_gcn(s.task.input, 0);
    model->poison_at = 3;
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "poisoned");
    CHECK_THAT(o.status, Catch::StartsWith("stopped: weights became non-finite (nan in inner.") &&
                             Catch::EndsWith("at epoch 3 step 3"));
    check_stopped_after(dir.path, o, 2, model->evaluated);
  }
  SECTION("graph trainer, a NaN loss") {
    GraphSetup s;
    s.settings.epochs = 10;
    auto model = small_gcn(s.task.input, 0);
    model->poison_at = 4;
    model->poison_before = true;
    model->poison_name = "layers.1.weight";  // after the last ReLU, so that the loss itself becomes NaN
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "poisoned");
    CHECK_THAT(o.status, Catch::StartsWith("stopped: loss became") && Catch::EndsWith("at epoch 4 step 4"));
    CHECK(o.epochs_run == 3);
    check_checkpoint(dir.path / "last.safetensors", 3, model->evaluated);
    check_checkpoint(dir.path / "best.safetensors", o.best_epoch, model->evaluated);
  }
  SECTION("a run that diverges before its first evaluation leaves no checkpoint, not even an older attempt's") {
    { std::ofstream(dir.path / "best.safetensors") << "from an interrupted earlier attempt"; }
    { std::ofstream(dir.path / "last.safetensors") << "from an interrupted earlier attempt"; }
    GraphSetup s;
    auto model = small_gcn(s.task.input, 0);
    model->poison_at = 1;
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "poisoned");
    CHECK_THAT(o.status, Catch::Contains("at epoch 1 step 1"));
    CHECK_FALSE(fs::exists(dir.path / "best.safetensors"));
    CHECK_FALSE(fs::exists(dir.path / "last.safetensors"));
  }
}

TEST_CASE("trainers: best.safetensors holds the best-validation epoch's weights, last.safetensors the last epoch's") {
  rc::test::TempDir dir("best_last");
  SECTION("graph") {
    GraphSetup s;
    s.settings.epochs = 60;
    auto model = small_gcn(s.task.input, 0);
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "gcn");
    REQUIRE(o.status == "ok");
    REQUIRE(o.epochs_run == 60);
    REQUIRE(model->evaluated.size() == 60);
    // the run overfits: its best validation epoch is not its last, so the two files differ
    REQUIRE(o.best_epoch < o.epochs_run);
    check_checkpoint(dir.path / "best.safetensors", o.best_epoch, model->evaluated);
    check_checkpoint(dir.path / "last.safetensors", o.epochs_run, model->evaluated);
    CHECK_FALSE(same_values(model->evaluated[o.best_epoch - 1], model->evaluated.back()));
    const auto metrics = metrics_of(dir.path);
    REQUIRE(metrics.size() == 60);
    CHECK(metrics[o.best_epoch - 1]["val_accuracy"].get<double>() == o.best_val_accuracy);
    // a fresh model (other initial weights) loaded from best.safetensors gives the reported accuracies
    auto fresh = small_gcn(s.task.input, 7);
    io::load_module((dir.path / "best.safetensors").string(), *fresh);
    const auto [val, test] = s.evaluate(*fresh);
    CHECK(val == o.best_val_accuracy);
    CHECK(test == o.test_accuracy);
    io::load_module((dir.path / "last.safetensors").string(), *fresh);
    const auto [last_val, last_test] = s.evaluate(*fresh);
    CHECK(last_val == metrics.back()["val_accuracy"].get<double>());
    // the test nodes are evaluated once, at the end, for both checkpoints; metrics.jsonl has no test column
    CHECK(last_test == o.last_test_accuracy);
    CHECK_FALSE(metrics.back().contains("test_accuracy"));
  }
  SECTION("image") {
    ImageSetup s;
    s.settings.epochs = 8;
    // validation labels flipped: the better the model learns, the worse it does on validation (accuracy down,
    // loss up), so the selected epoch is an early one
    for (int64_t i : s.task.val_idx) s.train.labels[i] = 1 - s.train.labels[i];
    auto model = small_cnn(0);
    RunOutcome o = train_image_model(*model, s.task, s.settings, dir.path, 0, "cnn");
    REQUIRE(o.status == "ok");
    REQUIRE(model->evaluated.size() == 8);
    REQUIRE(o.best_epoch < o.epochs_run);
    check_checkpoint(dir.path / "best.safetensors", o.best_epoch, model->evaluated);
    check_checkpoint(dir.path / "last.safetensors", o.epochs_run, model->evaluated);
    CHECK_FALSE(same_values(model->evaluated[o.best_epoch - 1], model->evaluated.back()));
    auto fresh = small_cnn(7);
    io::load_module((dir.path / "best.safetensors").string(), *fresh);
    CHECK(evaluate_images(*fresh, s.train, s.task.val_idx, s.task.normalize, 500) == o.best_val_accuracy);
    CHECK(evaluate_images(*fresh, s.test, {}, s.task.normalize, 500) == o.test_accuracy);
    io::load_module((dir.path / "last.safetensors").string(), *fresh);
    CHECK(evaluate_images(*fresh, s.test, {}, s.task.normalize, 500) == o.last_test_accuracy);
    CHECK(o.eval_items_per_second > 0);
    CHECK_FALSE(metrics_of(dir.path).back().contains("test_accuracy"));
    CHECK(metrics_of(dir.path).back().contains("val_loss"));
    // the checkpoint records how the input was prepared
    ImageInputInfo info;
    REQUIRE(read_image_input_metadata(io::load_safetensors((dir.path / "best.safetensors").string()).metadata, info));
    CHECK(info.shape.channels == 1);
    CHECK(info.shape.height == 8);
    CHECK(info.shape.width == 8);
    CHECK(info.shape.num_classes == 2);
    CHECK(info.normalize.mean == s.task.normalize.mean);
    CHECK(info.normalize.stddev == s.task.normalize.stddev);
    CHECK(info.class_names == s.train.class_names);
  }
}

TEST_CASE("checkpoint helpers: non-finite tensors are named, input metadata round-trips or is reported absent") {
  auto model = small_cnn(0);
  CHECK(non_finite_tensor(*model).empty());
  const auto [name, t] = model->state_dict().back();  // a buffer (BatchNorm running statistics) counts too
  Tensor(t).fill_(std::numeric_limits<float>::infinity());
  CHECK(non_finite_tensor(*model) == "inf in " + name);

  ImageInputInfo in{{3, 5, 7, 4}, {{0.25f, 0.5f, 0.125f}, {1.0f / 3, 0.2f, 0.7f}}, {"a", "b,c", "\"d\"", "é"}}, out;
  REQUIRE(read_image_input_metadata(image_input_metadata(in), out));
  CHECK(out.shape.channels == 3);
  CHECK(out.shape.height == 5);
  CHECK(out.shape.width == 7);
  CHECK(out.shape.num_classes == 4);
  CHECK(out.normalize.mean == in.normalize.mean);  // exact: floats are written with round-trip precision
  CHECK(out.normalize.stddev == in.normalize.stddev);
  CHECK(out.class_names == in.class_names);
  CHECK_FALSE(read_image_input_metadata({{"epoch", "3"}}, out));
  io::Metadata bad = image_input_metadata(in);
  bad["normalize_std"] = "[1.0]";
  CHECK_THROWS_WITH(read_image_input_metadata(bad, out), Catch::Contains("same, non-zero length"));
  bad["classes"] = "[4";
  CHECK_THROWS_WITH(read_image_input_metadata(bad, out), Catch::Contains("'classes'") && Catch::Contains("integer"));
  // named fields: what a reader elsewhere needs without knowing the order of a list
  const io::Metadata named = image_input_metadata(in);
  CHECK(named.at("channels") == "3");
  CHECK(named.at("height") == "5");
  CHECK(named.at("width") == "7");
  CHECK(named.at("classes") == "4");
  CHECK(named.at("domain") == "image");
  CHECK_FALSE(named.count("input_shape"));
  // checkpoints written before the named fields: input_shape [C, H, W, classes] is still read
  io::Metadata old = named;
  for (const char* k : {"channels", "height", "width", "classes", "domain"}) old.erase(k);
  old["input_shape"] = "[3, 5, 7, 4]";
  ImageInputInfo legacy;
  REQUIRE(read_image_input_metadata(old, legacy));
  CHECK(legacy.shape.channels == 3);
  CHECK(legacy.shape.height == 5);
  CHECK(legacy.shape.width == 7);
  CHECK(legacy.shape.num_classes == 4);
  CHECK(legacy.class_names == in.class_names);
  old["input_shape"] = "[1, 2";
  CHECK_THROWS_WITH(read_image_input_metadata(old, out), Catch::Contains("input_shape"));
}

TEST_CASE("checkpoint helpers: graph input and model metadata round-trip, bad values name the key") {
  GraphInputInfo g{4, 3, 2, {"x", "y"}, {"p10", "p2", "p33", "p4"}}, back;
  REQUIRE(read_graph_input_metadata(graph_input_metadata(g), back, "best.safetensors"));
  CHECK(back.nodes == 4);
  CHECK(back.features == 3);
  CHECK(back.classes == 2);
  CHECK(back.class_names == g.class_names);
  CHECK(back.node_ids == g.node_ids);
  CHECK_FALSE(read_graph_input_metadata({{"epoch", "1"}}, back));
  io::Metadata bad = graph_input_metadata(g);
  bad["node_ids"] = "[\"a\"]";
  CHECK_THROWS_WITH(read_graph_input_metadata(bad, back, "best.safetensors"),
                    Catch::Contains("best.safetensors") && Catch::Contains("'node_ids': 1 ids for 4 nodes"));

  Params p;
  for (const ParamSpec& s : models::model_type("gat").schema.params) p.set(s.name, s.default_value);
  p.set("hidden", int64_t{5});
  p.set("dropout", 0.25);
  const io::Metadata m = model_metadata("gat", p);
  CHECK(m.at("model_type") == "gat");
  std::string type;
  Params q;
  REQUIRE(read_model_metadata(m, type, q, "x.safetensors"));
  CHECK(type == "gat");
  CHECK(q.get_int("hidden") == 5);
  CHECK(q.get_float("dropout") == 0.25);
  CHECK(q.get_bool("self_loops") == p.get_bool("self_loops"));
  io::Metadata wrong = m;
  wrong["model_params"] = "{\"hiden\": 3}";
  CHECK_THROWS_WITH(read_model_metadata(wrong, type, q, "x.safetensors"),
                    Catch::Contains("x.safetensors") && Catch::Contains("no parameter 'hiden'"));
  wrong["model_params"] = "{\"hidden\": 0}";
  CHECK_THROWS_WITH(read_model_metadata(wrong, type, q), Catch::Contains("hidden"));
}

TEST_CASE("trainers: test_every_eval logs the test accuracy at every evaluation, and the selected epoch's is the "
          "one reported") {
  rc::test::TempDir dir("test_every_eval");
  SECTION("image") {
    ImageSetup s;
    s.settings.epochs = 6;
    s.settings.test_every_eval = true;
    auto model = small_cnn(0);
    RunOutcome o = train_image_model(*model, s.task, s.settings, dir.path, 0, "cnn");
    REQUIRE(o.status == "ok");
    const auto metrics = metrics_of(dir.path);
    REQUIRE(metrics.size() == 6);
    for (const auto& m : metrics) CHECK(m.contains("test_accuracy"));
    CHECK(metrics[o.best_epoch - 1]["test_accuracy"].get<double>() == o.test_accuracy);
    CHECK(metrics.back()["test_accuracy"].get<double>() == o.last_test_accuracy);
  }
  SECTION("graph") {
    GraphSetup s;
    s.settings.epochs = 30;
    s.settings.test_every_eval = true;
    auto model = small_gcn(s.task.input, 0);
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "gcn");
    REQUIRE(o.status == "ok");
    const auto metrics = metrics_of(dir.path);
    REQUIRE(metrics.size() == 30);
    CHECK(metrics[o.best_epoch - 1]["test_accuracy"].get<double>() == o.test_accuracy);
    CHECK(metrics.back()["test_accuracy"].get<double>() == o.last_test_accuracy);
  }
}

namespace {
// The epoch the documented rule selects from metrics.jsonl: highest val_accuracy, ties to the lower val_loss,
// the first of equal ones.
int64_t selected_epoch(const std::vector<nlohmann::json>& metrics) {
  int64_t best = 0;
  for (size_t i = 0; i < metrics.size(); ++i) {
    const double a = metrics[i]["val_accuracy"].get<double>(), l = metrics[i]["val_loss"].get<double>();
    if (best == 0) {
      best = int64_t(i) + 1;
      continue;
    }
    const double ba = metrics[best - 1]["val_accuracy"].get<double>(), bl = metrics[best - 1]["val_loss"].get<double>();
    if (a > ba || (a == ba && l < bl)) best = int64_t(i) + 1;
  }
  return best;
}

// One schema for every task: the same keys on every line, seconds per evaluation and since the start.
void check_metrics_schema(const std::vector<nlohmann::json>& metrics, bool has_val) {
  double elapsed = 0;
  for (const auto& m : metrics) {
    for (const char* key : {"epoch", "step", "train_loss", "train_accuracy", "val_accuracy", "val_loss", "lr",
                            "interval_seconds", "elapsed_seconds", "items_per_second"}) {
      INFO(key);
      CHECK(m.contains(key));
    }
    CHECK(m["val_accuracy"].is_number() == has_val);
    CHECK(m["val_loss"].is_number() == has_val);
    CHECK(m["interval_seconds"].get<double>() >= 0);
    elapsed += m["interval_seconds"].get<double>();
    CHECK(m["elapsed_seconds"].get<double>() == Approx(elapsed).epsilon(1e-9));
  }
}
}  // namespace

TEST_CASE("trainer: selection rule (ties to the lower validation loss) and patience (evaluations without a new "
          "best accuracy or loss)") {
  Selection best(false, true);
  CHECK(best.update(0.5, 1.0));
  CHECK(best.update(0.6, 1.2));        // higher accuracy
  CHECK(best.update(0.6, 1.1));        // same accuracy, lower loss
  CHECK_FALSE(best.update(0.6, 1.1));  // a full tie keeps the earlier one
  CHECK_FALSE(best.update(0.55, 0.9));  // lower accuracy, even with a lower loss
  CHECK(best.accuracy() == 0.6);
  CHECK(best.loss() == 1.1);
  CHECK(best.stale() == 0);  // 0.9 was a new lowest loss
  CHECK_FALSE(best.update(0.55, 0.95));
  CHECK(best.stale() == 1);
  CHECK_FALSE(best.update(0.5, 1.0));
  CHECK(best.stale() == 2);
  CHECK_FALSE(best.update(0.6, 1.3));  // reaches the highest accuracy again: not better, but not stale
  CHECK(best.stale() == 0);
  Selection last(true, true);
  CHECK(last.update(0.9, 0.1));
  CHECK(last.update(0.1, 5.0));
  CHECK(last.accuracy() == 0.1);
  CHECK(last.stale() == 1);
  Selection none(false, false);  // without validation every evaluation is selected and nothing is stale
  CHECK(none.update(std::nan(""), std::nan("")));
  CHECK(none.update(std::nan(""), std::nan("")));
  CHECK(none.stale() == 0);
}

TEST_CASE("trainer: both tasks select by the same rule and log the same metrics schema") {
  rc::test::TempDir dir("rule");
  SECTION("graph") {
    GraphSetup s;
    s.settings.epochs = 40;
    auto model = small_gcn(s.task.input, 0);
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "gcn");
    const auto metrics = metrics_of(dir.path);
    check_metrics_schema(metrics, true);
    CHECK(o.best_epoch == selected_epoch(metrics));
  }
  SECTION("image") {
    ImageSetup s;
    s.settings.epochs = 8;
    auto model = small_cnn(0);
    RunOutcome o = train_image_model(*model, s.task, s.settings, dir.path, 0, "cnn");
    const auto metrics = metrics_of(dir.path);
    check_metrics_schema(metrics, true);
    // 4 validation images: equal accuracies are common, and the loss decides
    CHECK(o.best_epoch == selected_epoch(metrics));
  }
  SECTION("graph without a validation split: null validation fields, the last epoch selected") {
    GraphSetup s;
    s.task.split.val.clear();
    s.settings.epochs = 5;
    s.settings.patience = 1;  // never stops a run without validation
    auto model = small_gcn(s.task.input, 0);
    RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "gcn");
    check_metrics_schema(metrics_of(dir.path), false);
    CHECK(o.epochs_run == 5);
    CHECK(o.best_epoch == 5);
    CHECK(std::isnan(o.best_val_accuracy));
  }
}

TEST_CASE("trainer: select last reports and saves the final epoch") {
  rc::test::TempDir dir("select_last");
  ImageSetup s;
  s.settings.epochs = 8;
  s.settings.select = "last";
  auto model = small_cnn(0);
  RunOutcome o = train_image_model(*model, s.task, s.settings, dir.path, 0, "cnn");
  REQUIRE(o.status == "ok");
  CHECK(o.best_epoch == 8);
  CHECK(o.test_accuracy == o.last_test_accuracy);
  CHECK(o.best_val_accuracy == metrics_of(dir.path).back()["val_accuracy"].get<double>());
  CHECK(rc::test::read_all((dir.path / "best.safetensors").string()) ==
        rc::test::read_all((dir.path / "last.safetensors").string()));
  check_checkpoint(dir.path / "best.safetensors", 8, model->evaluated);
}

TEST_CASE("trainer: patience stops a run after that many evaluations without a new best accuracy or loss") {
  rc::test::TempDir dir("patience");
  GraphSetup s;
  s.settings.epochs = 300;
  s.settings.lr = 0.2;  // overfits fast
  s.settings.patience = 5;
  auto model = small_gcn(s.task.input, 0);
  RunOutcome o = train_graph_model(*model, s.task, s.settings, dir.path, "gcn");
  REQUIRE(o.status == "ok");
  REQUIRE(o.epochs_run < 300);
  const auto metrics = metrics_of(dir.path);
  // replay the rule: the run stops at the first evaluation that makes the count reach 5
  double max_acc = -1, min_loss = 1e300;
  int64_t stale = 0, stop = 0;
  for (size_t i = 0; i < metrics.size() && stop == 0; ++i) {
    const double a = metrics[i]["val_accuracy"].get<double>(), l = metrics[i]["val_loss"].get<double>();
    stale = a >= max_acc || l <= min_loss ? 0 : stale + 1;
    max_acc = std::max(max_acc, a);
    min_loss = std::min(min_loss, l);
    if (stale >= 5) stop = int64_t(i) + 1;
  }
  CHECK(stop == o.epochs_run);
  CHECK(metrics.size() == size_t(o.epochs_run));
}
