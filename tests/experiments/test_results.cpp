#include <catch2/catch.hpp>
#include <unistd.h>

#include <fstream>

#include "experiments/results.hpp"
#include "experiments/summary.hpp"

using namespace rc::exp;
namespace fs = std::filesystem;

TEST_CASE("results: rows survive a reopen, with quoting, extra columns and run lookup") {
  fs::path d = fs::temp_directory_path() / ("receptive_results_" + std::to_string(::getpid()));
  fs::remove_all(d);
  {
    ResultsTable t(d, {"run"});
    ResultRow r;
    r.values = {{"model", "cnn"}, {"dataset", "fashion, subset"}, {"train_size", "600"}, {"seed", "0"},
                {"epochs", "3"}, {"test_accuracy", "0.81"}, {"best_val_accuracy", "0.8"},
                {"train_seconds", "1.5"}, {"params", "1234"}, {"run", "cnn-600-s0"}};
    t.append(r);
    r.values["run"] = "cnn-600-s1";
    r.values["note"] = "say \"hi\"";
    t.append(r);
  }
  ResultsTable t(d);
  REQUIRE(t.rows().size() == 2);
  CHECK(t.rows()[0].get("dataset") == "fashion, subset");
  CHECK(t.rows()[1].get("note") == "say \"hi\"");
  CHECK(t.rows()[0].get("note").empty());
  CHECK(t.has_run("cnn-600-s1"));
  CHECK_FALSE(t.has_run("cnn-600-s2"));
  std::ifstream in(d / "results.csv");
  std::string header;
  std::getline(in, header);
  CHECK(header.rfind("model,dataset,train_size,seed,epochs,test_accuracy,best_val_accuracy,train_seconds,params", 0) == 0);
  // no temporary files are left behind
  int files = 0;
  for (auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
  CHECK(files == 1);

  std::ofstream(d / "results.csv") << "model,seed\ncnn,0\n";
  CHECK_THROWS_WITH(ResultsTable(d), Catch::Contains("results.csv:1") && Catch::Contains("'dataset'"));
  fs::remove_all(d);
}

TEST_CASE("csv: quoting round-trips") {
  for (std::string s : {"plain", "a,b", "q\"uote", "", "x\ny"}) {
    if (s.find('\n') != std::string::npos) continue;  // rows are single lines
    auto back = parse_csv_line(csv_field(s) + "," + csv_field("z"));
    REQUIRE(back.size() == 2);
    CHECK(back[0] == s);
  }
}

TEST_CASE("summary: mean and sample std over seeds per model and size, a single seed without a spread") {
  fs::path d = fs::temp_directory_path() / ("receptive_summary_" + std::to_string(::getpid()));
  fs::remove_all(d);
  {
    ResultsTable t(d, {"run", "status"});
    auto add = [&](const std::string& model, const std::string& size, int seed, const std::string& acc,
                   const std::string& secs, const std::string& status = "ok") {
      ResultRow r;
      r.values = {{"model", model},   {"dataset", "fashion-mnist"}, {"train_size", size},
                  {"seed", std::to_string(seed)}, {"epochs", "3"}, {"test_accuracy", acc},
                  {"best_val_accuracy", acc}, {"train_seconds", secs}, {"params", "1234"},
                  {"run", model + size + std::to_string(seed)}, {"status", status}};
      t.append(r);
    };
    add("cnn", "600", 0, "0.8", "10");
    add("cnn", "600", 1, "0.9", "20");
    add("cnn", "6000", 0, "0.93", "30");
    add("vit", "600", 0, "0.7", "5");
    add("vit", "600", 1, "0.1", "5", "stopped: loss became nan at epoch 1 step 3");
  }
  const std::string s = summary_markdown(ResultsTable(d), "t");
  // (0.8, 0.9): mean 85 %, sample std sqrt(((−5)² + 5²) / 1) = 7.07 %
  CHECK(s.find("| fashion-mnist | cnn | 600 | 85.00 ± 7.07 | 2 | 1234 | 15.0 |") != std::string::npos);
  CHECK(s.find("| fashion-mnist | cnn | 6000 | 93.00 | 1 | 1234 | 30.0 |") != std::string::npos);
  // the stopped run is left out of the mean and counted below the table
  CHECK(s.find("| fashion-mnist | vit | 600 | 70.00 | 1 | 1234 | 5.0 |") != std::string::npos);
  CHECK(s.find("1 run(s) stopped early") != std::string::npos);
  fs::remove_all(d);
}

TEST_CASE("summary: the parts of a multi-experiment config that share dataset and model names are not averaged") {
  fs::path d = fs::temp_directory_path() / ("receptive_summary_parts_" + std::to_string(::getpid()));
  fs::remove_all(d);
  {
    ResultsTable t(d, {"run", "status", "size_spec"});
    auto add = [&](const std::string& run, const std::string& dataset, const std::string& model, int seed,
                   const std::string& acc) {
      ResultRow r;
      r.values = {{"model", model},  {"dataset", dataset}, {"train_size", "18001"}, {"size_spec", "1"},
                  {"seed", std::to_string(seed)}, {"epochs", "3"}, {"test_accuracy", acc},
                  {"best_val_accuracy", acc}, {"train_seconds", "1"}, {"params", "10"}, {"run", run}, {"status", "ok"}};
      t.append(r);
    };
    // sequence_length.yaml: one dataset and model per length
    add("L64__gru__1__s0", "marked-sum", "gru", 0, "0.96");
    add("L64__gru__1__s1", "marked-sum", "gru", 1, "0.98");
    add("L256__gru__1__s0", "marked-sum", "gru", 0, "0.10");
    // a data-efficiency sweep: two parts, different models on one dataset, stay under the dataset's name
    add("attention__vit__1__s0", "fashion-mnist", "vit", 0, "0.80");
    add("baseline__cnn__1__s0", "fashion-mnist", "cnn", 0, "0.90");
    // a model name that is not filesystem-safe appears in the run id with '_'
    add("L256__local_policy.kernel_5___1__s0", "marked-sum", "local[policy.kernel=5]", 0, "0.5");
  }
  const ResultsTable t(d);
  CHECK(row_part(t.rows()[0]) == "L64");
  CHECK(row_part(t.rows()[3]) == "attention");
  CHECK(row_part(t.rows()[5]) == "L256");
  const std::vector<std::string> labels = dataset_labels(t);
  CHECK(labels == std::vector<std::string>{"L64: marked-sum", "L64: marked-sum", "L256: marked-sum", "fashion-mnist",
                                           "fashion-mnist", "L256: marked-sum"});
  const std::string s = summary_markdown(t, "t");
  CHECK(s.find("| L64: marked-sum | gru | 18001 | 97.00 ± 1.41 | 2 | 10 | 1.0 |") != std::string::npos);
  CHECK(s.find("| L256: marked-sum | gru | 18001 | 10.00 | 1 | 10 | 1.0 |") != std::string::npos);
  CHECK(s.find("| fashion-mnist | cnn | 18001 | 90.00 | 1 | 10 | 1.0 |") != std::string::npos);
  fs::remove_all(d);
}
