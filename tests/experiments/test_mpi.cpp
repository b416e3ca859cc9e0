// Distributed runs as real processes: `mpirun -np 2 receptive run` (oversubscribed, allowed as root) against one
// process. A sweep over ranks must write the same rows as one process; a rank killed with SIGKILL must end the
// job without losing or duplicating a row, and the same command must then finish the rest.
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>

#include "experiments/results.hpp"
#include "framework/io/safetensors.hpp"
#include "support/files.hpp"
#include "support/image_folder.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using rc::test::ChildGuard;

namespace {

std::vector<std::string> mpirun(int ranks, const std::vector<std::string>& args) {
  std::vector<std::string> all = {RECEPTIVE_MPIEXEC, "-np", std::to_string(ranks), "--oversubscribe"};
  if (geteuid() == 0) all.push_back("--allow-run-as-root");  // CI runs as root
  all.push_back(RECEPTIVE_BINARY);
  all.insert(all.end(), args.begin(), args.end());
  return all;
}
std::vector<std::string> receptive(const std::vector<std::string>& args) {
  std::vector<std::string> all = {RECEPTIVE_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

// Runs a command to its end (at most `seconds`); returns its exit code, failing the test with its log otherwise.
int run_to_end(const std::vector<std::string>& argv, const fs::path& log, double seconds) {
  ChildGuard child{rc::test::spawn_process(argv, log)};
  REQUIRE(child.pid > 0);
  const auto status = rc::test::wait_for(child.pid, seconds);
  child.pid = -1;
  INFO("output of " << argv[0] << ":\n" << rc::test::read_all(log.string()));
  REQUIRE(status.has_value());
  REQUIRE(WIFEXITED(*status));
  return WEXITSTATUS(*status);
}

// results.csv rows by run, without the columns that measure time.
std::map<std::string, std::map<std::string, std::string>> rows_by_run(const fs::path& out) {
  rc::exp::ResultsTable table(out);
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (const auto& row : table.rows()) {
    auto values = row.values;
    for (const char* timed : {"train_seconds", "items_per_second", "eval_items_per_second"}) values.erase(timed);
    CHECK(rows.count(row.get("run")) == 0);  // one row per run
    rows[row.get("run")] = values;
  }
  return rows;
}

const char* kSweep = R"(name: mpi_sweep
dataset:
  name: csbm
  csbm: {nodes: 300, classes: 3, average_degree: 5, homophily: 0.8, features: 16, snr: 1.0}
train: {epochs: 60, optimizer: adam, schedule: constant, lr: 0.01, progress: false}
models:
  gcn: {type: gcn, hidden: 16}
  mlp: {type: mlp, hidden: 16}
sweep: {seeds: [0, 1, 2, 3]}
)";
}  // namespace

TEST_CASE("mpirun -np 2 receptive run: the same rows and run folders as one process, one writer") {
  rc::test::TempDir dir("mpi_sweep");
  dir.write("sweep.yaml", kSweep);
  const std::string config = (dir.path / "sweep.yaml").string();
  const fs::path one = dir.path / "one", two = dir.path / "two";
  REQUIRE(run_to_end(receptive({"--threads", "1", "run", config, "--out", one.string()}), dir.path / "one.log", 120) == 0);
  REQUIRE(run_to_end(mpirun(2, {"--threads", "1", "run", config, "--out", two.string()}), dir.path / "two.log", 120) == 0);
  const auto a = rows_by_run(one), b = rows_by_run(two);
  REQUIRE(a.size() == 8);
  CHECK(a == b);
  for (const auto& [run, row] : a) {
    INFO(run);
    CHECK(fs::exists(two / "runs" / run / "metrics.jsonl"));
    CHECK(fs::exists(two / "runs" / run / "best.safetensors"));
  }
  CHECK(fs::exists(two / "summary.md"));
  // both ranks trained: each rank names itself on the runs it trains
  const std::string log = rc::test::read_all((dir.path / "two.log").string());
  CHECK_THAT(log, Catch::Contains("rank 0") && Catch::Contains("rank 1"));
}

TEST_CASE("mpirun: a rank killed with SIGKILL ends the job, and the same command finishes the rest with no row lost or twice") {
  rc::test::TempDir dir("mpi_kill");
  std::string slow = kSweep;
  slow.replace(slow.find("epochs: 60"), 10, "epochs: 400");
  slow.replace(slow.find("[0, 1, 2, 3]"), 12, "[0, 1, 2, 3, 4, 5]");
  dir.write("sweep.yaml", slow);
  const std::string config = (dir.path / "sweep.yaml").string();
  const fs::path out = dir.path / "out";
  const auto command = mpirun(2, {"--threads", "1", "run", config, "--out", out.string()});
  ChildGuard job{rc::test::spawn_process(command, dir.path / "first.log")};
  REQUIRE(job.pid > 0);
  // wait for the first row (at most 60 s), then SIGKILL one of the ranks (a child of mpirun)
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    std::error_code ec;
    if (fs::exists(out / "results.csv", ec) && rc::test::lines_of(out / "results.csv").size() >= 2) break;
    REQUIRE(waitpid(job.pid, nullptr, WNOHANG) == 0);  // the job must not end by itself this early
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto ranks = rc::test::children_of(job.pid);
  REQUIRE(!ranks.empty());
  REQUIRE(kill(ranks.back(), SIGKILL) == 0);
  const auto status = rc::test::wait_for(job.pid, 60);
  job.pid = -1;
  INFO("first job:\n" << rc::test::read_all((dir.path / "first.log").string()));
  REQUIRE(status.has_value());  // the job ended instead of waiting for the dead rank
  CHECK(!(WIFEXITED(*status) && WEXITSTATUS(*status) == 0));
  const auto before = rows_by_run(out);
  REQUIRE(before.size() >= 1);
  REQUIRE(before.size() < 12);  // else the sweep had finished before the kill
  // the same command again: the remaining runs, each once; the earlier rows unchanged
  REQUIRE(run_to_end(command, dir.path / "second.log", 180) == 0);
  const auto after = rows_by_run(out);
  CHECK(after.size() == 12);
  for (const auto& [run, row] : before) CHECK(after.at(run) == row);
}

namespace {
// 2 classes × 40 grey 16 × 16 images (a bright block in one of two halves, with noise), as an image folder.
void write_image_folder(const fs::path& root) {
  cv::RNG rng(11);
  rc::test::write_image_folder(root, 2, 40, [&](int c, int) {
    cv::Mat m(16, 16, CV_8UC1);
    rng.fill(m, cv::RNG::UNIFORM, 0, 90);
    m(cv::Rect(c == 0 ? 2 : 9, 4, 5, 8)) += cv::Scalar(120);
    return m;
  });
}

// The largest |a − b| over every tensor of two weight files with the same names and shapes.
double max_weight_difference(const fs::path& a, const fs::path& b) {
  const auto fa = rc::io::load_safetensors(a.string()), fb = rc::io::load_safetensors(b.string());
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  double worst = 0;
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const auto& [name, ta] = fa.tensors[i];
    const rc::Tensor* tb = rc::find_tensor(fb.tensors, name);
    REQUIRE(tb != nullptr);
    REQUIRE(tb->shape() == ta.shape());
    for (int64_t k = 0; k < ta.numel(); ++k)
      worst = std::max(worst, double(std::fabs(ta.data()[k] - tb->data()[k])));
  }
  return worst;
}

std::string graph_dataset() {
  return "{name: csbm, csbm: {nodes: 400, classes: 3, average_degree: 5, homophily: 0.8, features: 24, snr: 1.0}}";
}
}  // namespace

TEST_CASE("data parallel: 2 ranks with half of each batch train the weights one process trains with the batch") {
  rc::test::TempDir dir("mpi_dp");
  write_image_folder(dir.path / "images");
  const auto [name, model, batch] = GENERATE(
      // batch normalisation synchronised over the ranks
      std::tuple{"cnn", "{type: cnn, channels: [8, 16], blocks: [1, 1]}", 16},
      std::tuple{"patch_attention", "{type: patch_attention, patch_size: 4, dim: 32, depth: 2, heads: 2}", 16},
      // GAT on Cora (the copy shipped in datasets/data): the 140 labelled nodes' loss split over the ranks;
      // dropout (0.6 on features and attention) draws the same masks on every rank
      std::tuple{"gat", "{type: gat, hidden: 8, heads: 8}", 0});
  const std::string dataset = batch == 0 ? "{name: cora, split: planetoid, row_normalize: true}"
                                         : fmt::format("{{name: image-folder, root: \"{}\", height: 16, width: 16, "
                                                       "grayscale: true, test_fraction: 0.25}}",
                                                       (dir.path / "images").string());
  INFO("model " << name);
  const std::string train = batch > 0 ? fmt::format("{{epochs: 3, batch_size: {}, lr: 0.003, progress: false}}", batch)
                                      : std::string("{epochs: 20, optimizer: adam, lr: 0.005, weight_decay: 0.0005, "
                                                    "progress: false}");
  dir.write("dp.yaml", fmt::format("name: dp\ndataset: {}\ntrain: {}\nmodels:\n  m: {}\n", dataset, train, model));
  const std::string config = (dir.path / "dp.yaml").string();
  const fs::path one = dir.path / "one", two = dir.path / "two";
  REQUIRE(run_to_end(receptive({"--threads", "1", "run", config, "--out", one.string()}), dir.path / "one.log", 180) == 0);
  REQUIRE(run_to_end(mpirun(2, {"--threads", "1", "run", config, "--out", two.string(), "--set",
                                "train.data_parallel=true"}),
                     dir.path / "two.log", 180) == 0);
  const auto a = rows_by_run(one), b = rows_by_run(two);
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  const std::string run = a.begin()->first;
  CHECK(b.count(run) == 1);
  const double diff = max_weight_difference(one / "runs" / run / "last.safetensors", two / "runs" / run / "last.safetensors");
  WARN("model " << name << ": largest weight difference between 1 and 2 ranks " << diff);
  CHECK(diff < 2e-4);
  CHECK(diff > 0);  // a different summation order: equal to float tolerance, not a copy of the same run
  CHECK(a.begin()->second.at("steps") == b.begin()->second.at("steps"));
}

TEST_CASE("data parallel: a batch smaller than the ranks, or a config that mixes the modes, is a clear error") {
  rc::test::TempDir dir("mpi_dp_errors");
  dir.write("small.yaml", "name: small\ndataset: " + graph_dataset() +
                              "\ntrain: {epochs: 2, progress: false, data_parallel: true}\nmodels:\n  m: {type: gcn}\n");
  // 3 ranks for a graph whose split has ... training nodes: fine; an image batch of 1 is not
  write_image_folder(dir.path / "images");
  dir.write("batch.yaml", fmt::format("name: batch\ndataset: {{name: image-folder, root: \"{}\", height: 16, width: 16, "
                                      "grayscale: true, test_fraction: 0.25}}\ntrain: {{epochs: 1, batch_size: 1, "
                                      "progress: false, data_parallel: true}}\nmodels:\n  m: {{type: cnn, channels: [4], "
                                      "blocks: [1]}}\n", (dir.path / "images").string()));
  CHECK(run_to_end(mpirun(2, {"--threads", "1", "run", (dir.path / "batch.yaml").string(), "--out",
                              (dir.path / "out_batch").string()}), dir.path / "batch.log", 120) != 0);
  CHECK_THAT(rc::test::read_all((dir.path / "batch.log").string()),
             Catch::Contains("train.batch_size 1") && Catch::Contains("smaller than the 2 ranks"));
  dir.write("mixed.yaml", "name: mixed\ndataset: " + graph_dataset() +
                              "\ntrain: {epochs: 2, progress: false}\nmodels:\n  a: {type: gcn}\n"
                              "  b: {type: mlp, train: {data_parallel: true}}\n");
  CHECK(run_to_end(mpirun(2, {"--threads", "1", "run", (dir.path / "mixed.yaml").string(), "--out",
                              (dir.path / "out_mixed").string()}), dir.path / "mixed.log", 120) != 0);
  CHECK_THAT(rc::test::read_all((dir.path / "mixed.log").string()),
             Catch::Contains("train.data_parallel is true for 1 of the 2 runs"));
  // without mpirun a data-parallel config trains as one process
  CHECK(run_to_end(receptive({"--threads", "1", "run", (dir.path / "small.yaml").string(), "--out",
                              (dir.path / "out_small").string()}), dir.path / "small.log", 120) == 0);
}

TEST_CASE("data parallel: a run extended from its training state equals one trained for the whole budget") {
  // every rank restores the same state (weights, synchronised BatchNorm statistics, Adam's moments, dropout
  // counters, shuffled order) and goes on; a constant schedule makes the budget irrelevant to the steps before
  rc::test::TempDir dir("mpi_dp_extend");
  write_image_folder(dir.path / "images");
  dir.write("dp.yaml", fmt::format(
                           "name: dp\ndataset: {{name: image-folder, root: \"{}\", height: 16, width: 16, grayscale: "
                           "true, test_fraction: 0.25}}\ntrain: {{epochs: 2, batch_size: 16, optimizer: adam, "
                           "schedule: constant, lr: 0.003, progress: false, data_parallel: true}}\nmodels:\n  m: "
                           "{{type: cnn, channels: [8, 16], blocks: [1, 1], dropout: 0.3}}\n",
                           (dir.path / "images").string()));
  const std::string config = (dir.path / "dp.yaml").string();
  const fs::path extended = dir.path / "extended", whole = dir.path / "whole";
  REQUIRE(run_to_end(mpirun(2, {"--threads", "1", "run", config, "--out", extended.string()}), dir.path / "a.log",
                     180) == 0);
  REQUIRE(run_to_end(mpirun(2, {"--threads", "1", "run", config, "--out", extended.string(), "--set",
                                "train.epochs=4", "--extend"}),
                     dir.path / "b.log", 180) == 0);
  REQUIRE(run_to_end(mpirun(2, {"--threads", "1", "run", config, "--out", whole.string(), "--set", "train.epochs=4"}),
                     dir.path / "c.log", 180) == 0);
  const auto a = rows_by_run(extended), b = rows_by_run(whole);
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  CHECK(a.begin()->second.at("epochs") == "4");
  CHECK(a.begin()->second.at("last_test_accuracy") == b.begin()->second.at("last_test_accuracy"));
  const std::string run = a.begin()->first;
  CHECK(rc::test::read_all((extended / "runs" / run / "last.safetensors").string()) ==
        rc::test::read_all((whole / "runs" / run / "last.safetensors").string()));
}
