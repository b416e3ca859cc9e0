// No silently wrong number: data that cannot give a meaningful accuracy is an error before training; results
// that do not exist are empty fields with a status that says why; a malformed results.csv and failed writes are
// errors naming the file, line or OS reason (issue 15).
#include <signal.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "experiments/cli/commands.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/results.hpp"
#include "experiments/runner.hpp"
#include "experiments/summary.hpp"
#include "experiments/train/checkpoint.hpp"
#include "framework/io/file_util.hpp"
#include "support/files.hpp"
#include "support/image_folder.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {
Experiment parse(const std::string& yaml) { return parse_experiment(YAML::Load(yaml), "test.yaml"); }

// A LINQS dataset named cora in `dir`: 12 papers of 2 classes in a ring of citations, with the split file given.
void write_tiny_cora(const rc::test::TempDir& dir, const std::string& split) {
  std::string content, cites;
  for (int i = 0; i < 12; ++i) {
    content += fmt::format("p{}\t{}\t{}\t1\t{}\n", i, i % 2, (i / 2) % 2, i % 2 ? "A" : "B");
    cites += fmt::format("p{}\tp{}\n", i, (i + 1) % 12);
  }
  dir.write("cora.content", content);
  dir.write("cora.cites", cites);
  dir.write("cora.planetoid.split", split);
}

void write_image_folder(const fs::path& root, int classes, int per_class) {
  rc::test::write_image_folder(root, classes, per_class,
                               [](int c, int i) { return cv::Mat(8, 8, CV_8UC1, cv::Scalar(40 * c + 5 * i)); });
}
}  // namespace

TEST_CASE("runner: a split without test nodes is an error, not a test accuracy of 0.00 %") {
  rc::test::TempDir data("tiny_cora"), out("tiny_cora_out");
  std::string split;
  for (int i = 0; i < 12; ++i) split += fmt::format("p{}\t{}\n", i, i < 6 ? "train" : "val");
  write_tiny_cora(data, split);
  Experiment e = parse("dataset: {name: cora, root: \"" + data.path.string() +
                       "\"}\ntrain: {epochs: 2, progress: false}\nmodels: {g: {type: gcn}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  CHECK_THROWS_WITH(run_experiment(e, o), Catch::Contains("cora") && Catch::Contains("names no test node"));
  CHECK_FALSE(fs::exists(out.path / "results.csv"));
  // with test nodes the same dataset trains and records a number
  split.clear();
  for (int i = 0; i < 12; ++i) split += fmt::format("p{}\t{}\n", i, i < 4 ? "train" : i < 6 ? "val" : "test");
  write_tiny_cora(data, split);
  CHECK(run_experiment(e, o) == 0);
  ResultsTable t(out.path);
  REQUIRE(t.rows().size() == 1);
  CHECK_FALSE(t.rows()[0].get("test_accuracy").empty());
}

TEST_CASE("runner: one class only is an error, not 100 % accuracy") {
  rc::test::TempDir data("one_class"), out("one_class_out");
  write_image_folder(data.path, 1, 10);
  Experiment e = parse("dataset: {name: image-folder, root: \"" + data.path.string() +
                       "\", height: 8, width: 8, grayscale: true}\ntrain: {epochs: 1, progress: false}\n"
                       "models: {c: {type: cnn, channels: [4], blocks: 1}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  CHECK_THROWS_WITH(run_experiment(e, o), Catch::Contains("image-folder") && Catch::Contains("at least 2 classes"));
  // a graph split whose training nodes all share one class
  rc::test::TempDir cora("one_class_cora");
  std::string split;
  for (int i = 0; i < 12; ++i) split += fmt::format("p{}\t{}\n", i, i % 2 == 0 && i < 6 ? "train" : "test");
  write_tiny_cora(cora, split);
  Experiment g = parse("dataset: {name: cora, root: \"" + cora.path.string() +
                       "\"}\ntrain: {epochs: 1, progress: false}\nmodels: {g: {type: gcn}}\n");
  CHECK_THROWS_WITH(run_experiment(g, o), Catch::Contains("training nodes all have one class"));
}

TEST_CASE("runner: a run stopped before its first evaluation records empty accuracies, not 0 and -1") {
  rc::test::TempDir data("stopped_data"), out("stopped_out");
  write_image_folder(data.path, 2, 10);
  Experiment e = parse("dataset: {name: image-folder, root: \"" + data.path.string() +
                       "\", height: 8, width: 8, grayscale: true}\n"
                       "train: {epochs: 3, batch_size: 4, lr: 1.0e+30, schedule: constant, progress: false}\n"
                       "models: {c: {type: cnn, channels: [4], blocks: 1, pool: none}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  CHECK(run_experiment(e, o) == 1);
  ResultsTable t(out.path);
  REQUIRE(t.rows().size() == 1);
  const ResultRow& row = t.rows()[0];
  CHECK_THAT(row.get("status"), Catch::StartsWith("stopped: "));
  CHECK(row.get("test_accuracy").empty());
  CHECK(row.get("best_val_accuracy").empty());
  CHECK(row.get("epochs") == "0");
  // the summary skips it and says so; a stopped run is never averaged in
  const std::string summary = rc::test::read_all((out.path / "summary.md").string());
  CHECK_THAT(summary, Catch::Contains("1 run(s) stopped early"));
}

TEST_CASE("runner: a finished run without a validation set has an empty best_val_accuracy and says why") {
  rc::test::TempDir out("noval_out");
  // karate: one training node per faction, no validation nodes
  Experiment e = parse("dataset: {name: karate}\ntrain: {epochs: 5, progress: false}\nmodels: {g: {type: gcn}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  CHECK(run_experiment(e, o) == 0);
  ResultsTable t(out.path);
  REQUIRE(t.rows().size() == 1);
  CHECK(t.rows()[0].get("status") == "ok: no validation set");
  CHECK(t.rows()[0].get("best_val_accuracy").empty());
  CHECK_FALSE(t.rows()[0].get("test_accuracy").empty());
  CHECK(finished_ok(t.rows()[0].get("status")));
  CHECK_THAT(summary_markdown(t, "x"), Catch::Contains("| karate | g |") && !Catch::Contains("stopped early"));
}

TEST_CASE("results: a non-numeric field is an error naming the file, line and column") {
  rc::test::TempDir out("bad_results");
  out.write("results.csv",
            "model,dataset,train_size,seed,epochs,test_accuracy,best_val_accuracy,train_seconds,params,status\n"
            "a,d,10,0,3,0.5,0.5,1.0,100,ok\n"
            "a,d,10,1,3,high,0.5,1.0,100,ok\n");
  ResultsTable t(out.path);
  CHECK(t.number(t.rows()[0], "test_accuracy") == 0.5);
  CHECK_THROWS_WITH(summary_markdown(t, "x"), Catch::Contains("results.csv:3") && Catch::Contains("'test_accuracy'") &&
                                                  Catch::Contains("'high'") && Catch::Contains("expected a finite number"));
  CHECK_THROWS_WITH(write_report(out.path, "x"), Catch::Contains("results.csv:3"));
}

TEST_CASE("writes: failures carry the OS reason and leave no temporary behind") {
  rc::test::TempDir dir("write_fail");
  // a file size limit makes write(2) fail part-way, as a full disk does (SIGXFSZ ignored: write returns EFBIG)
  struct Limit {
    rlimit old{};
    void (*old_handler)(int) = nullptr;
    Limit() {
      getrlimit(RLIMIT_FSIZE, &old);
      old_handler = signal(SIGXFSZ, SIG_IGN);
      rlimit small = old;
      small.rlim_cur = 4096;
      setrlimit(RLIMIT_FSIZE, &small);
    }
    ~Limit() {
      setrlimit(RLIMIT_FSIZE, &old);
      signal(SIGXFSZ, old_handler);
    }
  };
  const std::string big(100000, 'x');
  {
    Limit limit;
    CHECK_THROWS_WITH(write_file_atomic(dir.path / "results.csv", big),
                      Catch::Contains("results.csv.tmp.") && Catch::Contains("File too large"));
    CHECK_THROWS_WITH(io::write_file_atomic((dir.path / "w.safetensors").string(), "save_safetensors",
                                            [&](std::ostream& os) { os << big; }),
                      Catch::Contains("save_safetensors") && Catch::Contains("File too large"));
    // an append that does not fit is undone: the file keeps its earlier complete lines
    append_line(dir.path / "metrics.jsonl", "{\"epoch\": 1}");
    CHECK_THROWS_WITH(append_line(dir.path / "metrics.jsonl", big),
                      Catch::Contains("metrics.jsonl") && Catch::Contains("File too large"));
  }
  CHECK(rc::test::read_all((dir.path / "metrics.jsonl").string()) == "{\"epoch\": 1}\n");
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "results.csv"));
  // a folder that cannot be created: the reason is given
  dir.write("plain_file", "x");
  CHECK_THROWS_WITH(write_file_atomic(dir.path / "plain_file" / "sub" / "a.txt", "x"),
                    Catch::Contains("plain_file") && Catch::Contains("Not a directory"));
}

TEST_CASE("checkpoints: degenerate input metadata and non-finite weights are refused, naming file and key") {
  ImageInputInfo in{{1, 8, 8, 2}, {{0.5f}, {0.25f}}, {"a", "b"}}, out;
  io::Metadata m = image_input_metadata(in);
  REQUIRE(read_image_input_metadata(m, out, "best.safetensors"));
  m["normalize_std"] = "[0.0]";
  CHECK_THROWS_WITH(read_image_input_metadata(m, out, "best.safetensors"),
                    Catch::Contains("best.safetensors") && Catch::Contains("'normalize_std'") &&
                        Catch::Contains("finite number > 0"));
  m["normalize_std"] = "[NaN]";
  CHECK_THROWS_WITH(read_image_input_metadata(m, out, "best.safetensors"), Catch::Contains("'normalize_std'"));
  m = image_input_metadata(in);
  m["height"] = "0";
  CHECK_THROWS_WITH(read_image_input_metadata(m, out, "best.safetensors"),
                    Catch::Contains("best.safetensors") && Catch::Contains("'height'"));
  m = image_input_metadata(in);
  m["normalize_mean"] = "{\"a\": 1}";
  CHECK_THROWS_WITH(read_image_input_metadata(m, out, "best.safetensors"),
                    Catch::Contains("'normalize_mean'") && Catch::Contains("JSON list of numbers"));
}

TEST_CASE("attention-map: a run whose checkpoint holds NaN weights or a config without a model is refused") {
  rc::test::TempDir data("nanmap_data"), out("nanmap_out");
  write_image_folder(data.path, 2, 8);
  Experiment e = parse("dataset: {name: image-folder, root: \"" + data.path.string() +
                       "\", height: 8, width: 8, grayscale: true, test_fraction: 0.25}\n"
                       "train: {epochs: 1, batch_size: 4, progress: false}\n"
                       "models: {p: {type: patch_attention, patch_size: 2, dim: 8, depth: 1, heads: 2}}\n");
  RunnerOptions o;
  o.out_dir = out.path;
  REQUIRE(run_experiment(e, o) == 0);
  const fs::path run = out.path / "runs" / e.runs[0].id, best = run / "best.safetensors";
  rc::cli::MapArgs a;
  a.run = run.string();
  a.out = (out.path / "map.png").string();
  a.query = "1,1";
  a.index = 0;
  REQUIRE(rc::cli::attention_map(a) == 0);
  auto file = io::load_safetensors(best.string());
  file.tensors.back().second.data()[0] = std::nanf("");
  io::save_safetensors(best.string(), file.tensors, file.metadata);
  CHECK_THROWS_WITH(rc::cli::attention_map(a),
                    Catch::Contains("best.safetensors") && Catch::Contains("nan in " + file.tensors.back().first));
  // a zero normalisation std in the checkpoint's record
  file.tensors.back().second.data()[0] = 0.0f;
  file.metadata["normalize_std"] = "[0.0]";
  io::save_safetensors(best.string(), file.tensors, file.metadata);
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("'normalize_std'"));
  // a config.yaml without a model section
  { std::ofstream(run / "config.yaml") << "name: x\n"; }
  CHECK_THROWS_WITH(rc::cli::attention_map(a), Catch::Contains("config.yaml") && Catch::Contains("no `model` section"));
}

TEST_CASE("attention dump: NaN, infinite or negative --scale and impossible sizes are refused") {
  rc::test::TempDir out("dump_args");
  rc::cli::AttentionArgs a;
  a.dump = out.path.string();
  for (double s : {std::nan(""), double(INFINITY), -1.0}) {
    a.scale = s;
    CHECK_THROWS_WITH(rc::cli::attention_dump(a), Catch::Contains("--scale") && Catch::Contains("finite number"));
  }
  a.scale = 0;
  a.tokens = int64_t{1} << 40;
  CHECK_THROWS_WITH(rc::cli::attention_dump(a), Catch::Contains("over the limit"));
  a.tokens = 8;
  a.policy = "window2d";
  a.grid_h = int64_t{1} << 40;
  a.grid_w = int64_t{1} << 40;
  CHECK_THROWS_WITH(rc::cli::attention_dump(a), Catch::Contains("too many"));
}
