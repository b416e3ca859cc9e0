// Results independent of the thread count: every model family trained by the real runner at 1 and at 2 threads
// writes byte-identical checkpoints (best.safetensors, last.safetensors) and identical result columns. Sizes are
// chosen so that the kernels split their work into several chunks, and so that the chunks of the larger weights
// are not multiples of the SIMD width: parameters of more than 2^14 entries (the optimizer's grain) whose halves
// end in a scalar tail. Where a loop's chunks depended on the thread count (one chunk with one thread), such an
// element was updated with a fused multiply-add in a vector at one thread count and without it in the tail at the
// other, and the runs drifted apart (issue 15: Cora's 1433 × 64 input weight).
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "experiments/config/experiment.hpp"
#include "experiments/results.hpp"
#include "experiments/runner.hpp"
#include "datasets/graph/synthetic.hpp"
#include "experiments/train/graph_task.hpp"
#include "experiments/train/settings.hpp"
#include "framework/core/random.hpp"
#include "models/registry.hpp"
#include "support/files.hpp"
#include "support/image_folder.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {

struct RunFiles {
  std::vector<std::string> columns;  // the result columns that do not measure time
  std::string best, last;            // checkpoint bytes
};

// Runs `yaml` (one run) into a fresh folder and returns what it wrote.
RunFiles run_once(const std::string& yaml, const std::string& tag) {
  rc::test::TempDir out(tag);
  Experiment e = parse_experiment(YAML::Load(yaml), "threads.yaml");
  REQUIRE(e.runs.size() == 1);
  RunnerOptions o;
  o.out_dir = out.path;
  REQUIRE(run_experiment(e, o) == 0);
  ResultsTable t(out.path);
  REQUIRE(t.rows().size() == 1);
  RunFiles f;
  for (const char* c : {"test_accuracy", "best_val_accuracy", "epochs", "best_epoch", "steps", "params", "status"})
    f.columns.push_back(t.rows()[0].get(c));
  const fs::path run = out.path / "runs" / e.runs[0].id;
  f.best = rc::test::read_all((run / "best.safetensors").string());
  f.last = rc::test::read_all((run / "last.safetensors").string());
  REQUIRE(!f.best.empty());
  REQUIRE(!f.last.empty());
  return f;
}

void check_thread_invariant(const std::string& yaml, const std::string& tag) {
  auto [one, two] = rc::test::at_one_and_two_threads([&] { return run_once(yaml, tag); });
  CHECK(one.columns == two.columns);
  CHECK(one.best.size() == two.best.size());
  CHECK(one.best == two.best);  // byte-identical weights
  CHECK(one.last == two.last);
  // the run trained and recorded a real accuracy
  REQUIRE_FALSE(one.columns[0].empty());
  CHECK(std::stod(one.columns[0]) > 0.0);
  CHECK(one.columns[6].rfind("ok", 0) == 0);
}

// A CSBM graph large enough for multi-chunk kernels: 1200 nodes, 333 dense features (the input weights below
// have 333 × 50, 333 × 56 and 333 × 60 entries: more than 2^14, with halves that are not multiples of 16).
std::string graph_config(const std::string& model) {
  return fmt::format(R"(name: threads
dataset: {{name: csbm, csbm: {{nodes: 1200, features: 333, classes: 3, average_degree: 6, snr: 1.5}}}}
train: {{epochs: 12, lr: 0.01, weight_decay: 0.0005, progress: false, schedule: constant}}
models:
  m: {}
)", model);
}

}  // namespace

TEST_CASE("thread count: graph models give byte-identical checkpoints and results at 1 and 2 threads") {
  const auto [name, model] = GENERATE(
      std::pair{"gcn", "{type: gcn, hidden: 50, dropout: 0.5}"},
      std::pair{"mlp", "{type: mlp, hidden: 50, layers: 2, dropout: 0.0}"},
      std::pair{"mlp_dropout", "{type: mlp, hidden: 50, layers: 3, dropout: 0.5}"},
      std::pair{"gat", "{type: gat, hidden: 7, heads: 8, dropout: 0.6, attention_dropout: 0.6}"},
      std::pair{"graph_transformer", "{type: graph_transformer, hidden: 60, heads: 4, attention_dropout: 0.1}"},
      std::pair{"graph_transformer_full", "{type: graph_transformer, hidden: 60, heads: 4, policy: full}"});
  INFO("model " << name << ": " << model);
  check_thread_invariant(graph_config(model), std::string("threads_") + name);
}

TEST_CASE("thread count: image models give byte-identical checkpoints and results at 1 and 2 threads") {
  // a small image folder: 2 classes × 24 images of 16 × 16 (a bright square in one of two halves, with noise)
  rc::test::TempDir data("threads_images");
  cv::RNG rng(7);
  rc::test::write_image_folder(data.path, 2, 24, [&](int c, int) {
    cv::Mat m(16, 16, CV_8UC1);
    rng.fill(m, cv::RNG::UNIFORM, 0, 90);
    m(cv::Rect(c == 0 ? 2 : 9, 4, 5, 8)) += cv::Scalar(120);
    return m;
  });
  const auto [name, model] = GENERATE(
      // conv 2: 100 × 20 × 3 × 3 = 18000 weights; MLP: 66 × 264 = 17424
      std::pair{"cnn", "{type: cnn, channels: [20, 100], blocks: [1, 1]}"},
      std::pair{"patch_attention", "{type: patch_attention, patch_size: 4, dim: 66, depth: 1, heads: 2, mlp_ratio: 4}"});
  INFO("model " << name);
  const std::string yaml = fmt::format(R"(name: threads
dataset: {{name: image-folder, root: "{}", height: 16, width: 16, grayscale: true, test_fraction: 0.25}}
train: {{epochs: 3, batch_size: 8, lr: 0.003, progress: false}}
models:
  m: {}
)", data.path.string(), model);
  check_thread_invariant(yaml, std::string("threads_") + name);
}

TEST_CASE("thread count: graph models on sparse features (spmm_linear, sparse dropout) are thread-invariant") {
  // CSBM features thresholded to about 5 % non-zero: make_graph_task then takes the sparse input path, as for
  // Cora and CiteSeer (bag-of-words features)
  data::CsbmOptions co;
  co.nodes = 1500;
  co.features = 433;  // 433 × 50 and 433 × 56 input weights (GAT: 7 × 8 heads)
  co.classes = 3;
  co.snr = 3.0;
  data::GraphDataset g = data::csbm(co);
  float* x = g.features.data();
  for (int64_t i = 0; i < g.features.numel(); ++i) x[i] = x[i] > 1.6f ? 1.0f : 0.0f;
  data::row_normalize(g.features);
  const GraphTask task = make_graph_task(g, g.split);
  REQUIRE(task.input.sparse_features != nullptr);
  const auto type = GENERATE(as<std::string>{}, "mlp", "gcn", "gat");
  INFO("model " << type);
  const auto& mt = models::model_type(type);
  Params p = mt.schema.defaults();
  p.set("hidden", int64_t{type == "gat" ? 7 : 50});
  TrainSettings s;
  s.epochs = 10;
  s.lr = 0.01;
  s.progress = false;
  auto train = [&]() {
    rc::test::TempDir dir("threads_sparse_" + type);
    manual_seed(3);
    auto model = mt.make_graph(p, task.input, 3);
    const RunOutcome o = train_graph_model(*model, task, s, dir.path, "sparse");
    REQUIRE(o.status == "ok");
    return std::pair{rc::test::read_all((dir.path / "last.safetensors").string()), o.test_accuracy};
  };
  auto [one, two] = rc::test::at_one_and_two_threads(train);
  REQUIRE(!one.first.empty());
  CHECK(one.first == two.first);
  CHECK(one.second == two.second);
}
