// What `receptive run` trains in a results folder that already holds runs: --rerun (afresh, row replaced in place),
// --extend (from the training state to a larger budget, row replaced), changed settings refused with a message
// that names those flags; --only (a part of the config); --set on a config with several experiments; the saved
// config.yaml (lists as lists, only the settings that apply); no .lock left behind.
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiments/config/experiment.hpp"
#include "experiments/results.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/runner.hpp"
#include "framework/core/error.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::exp;
namespace fs = std::filesystem;

namespace {
Experiment parse(const std::string& yaml) { return parse_experiment(YAML::Load(yaml), "control.yaml"); }

std::string bytes(const fs::path& p) { return rc::test::read_all(p.string()); }

const char* kGraph = R"(
name: control
dataset: {name: karate}
train: {epochs: EPOCHS, lr: 0.01, optimizer: adam, schedule: constant, progress: false}
models:
  gat: {type: gat, hidden: 4, heads: 2, dropout: 0.5}
  gcn: {type: gcn, hidden: 8}
)";

std::string graph_config(int epochs, const std::string& lr = "0.01") {
  std::string y = kGraph;
  y.replace(y.find("EPOCHS"), 6, std::to_string(epochs));
  y.replace(y.find("lr: 0.01"), 8, "lr: " + lr);
  return y;
}
}  // namespace

TEST_CASE("run control: --extend continues finished runs to a larger budget and replaces their rows") {
  rc::test::TempDir dir("extend");
  RunnerOptions o;
  o.out_dir = dir.path / "extended";
  REQUIRE(run_experiment(parse(graph_config(15)), o) == 0);
  REQUIRE(ResultsTable(o.out_dir).rows().size() == 2);
  CHECK_FALSE(fs::exists(o.out_dir / ".lock"));
  CHECK(fs::exists(o.out_dir / "runs" / "gat__split__s0" / "train_state.safetensors"));

  // a larger budget without --extend: refused, and the message names the flags (no hand edit of results.csv)
  CHECK_THROWS_WITH(run_experiment(parse(graph_config(30)), o),
                    Catch::Contains("train.epochs was 15 and is now 30") && Catch::Contains("--extend") &&
                        Catch::Contains("--rerun") && !Catch::Contains("delete"));
  o.extend = true;
  REQUIRE(run_experiment(parse(graph_config(30)), o) == 0);
  const ResultsTable extended(o.out_dir);
  REQUIRE(extended.rows().size() == 2);
  CHECK(extended.rows()[0].get("run") == "gat__split__s0");  // in place
  CHECK(extended.rows()[0].get("epochs") == "30");
  CHECK(extended.rows()[1].get("epochs") == "30");

  // the same as 30 epochs from the start (a constant schedule: the budget does not shape the learning rate)
  RunnerOptions fresh;
  fresh.out_dir = dir.path / "whole";
  REQUIRE(run_experiment(parse(graph_config(30)), fresh) == 0);
  const ResultsTable whole(fresh.out_dir);
  for (size_t i = 0; i < 2; ++i) {
    const std::string run = whole.rows()[i].get("run");
    INFO(run);
    CHECK(extended.rows()[i].get("test_accuracy") == whole.rows()[i].get("test_accuracy"));
    CHECK(extended.rows()[i].get("last_test_accuracy") == whole.rows()[i].get("last_test_accuracy"));
    CHECK(bytes(o.out_dir / "runs" / run / "last.safetensors") == bytes(fresh.out_dir / "runs" / run / "last.safetensors"));
  }
  // --extend with nothing to extend trains nothing
  REQUIRE(run_experiment(parse(graph_config(30)), o) == 0);
  CHECK(ResultsTable(o.out_dir).rows().size() == 2);
  // another setting than the budget still needs --rerun, also with --extend
  CHECK_THROWS_WITH(run_experiment(parse(graph_config(30, "0.02")), o),
                    Catch::Contains("train.lr was 0.01 and is now 0.02") && Catch::Contains("--rerun"));
}

TEST_CASE("run control: --rerun trains matching runs afresh and replaces their rows in place") {
  rc::test::TempDir dir("rerun");
  RunnerOptions o;
  o.out_dir = dir.path;
  auto config = [](int hidden) {
    std::string y = graph_config(10);
    y.replace(y.find("hidden: 8"), 9, "hidden: " + std::to_string(hidden));
    return y;
  };
  REQUIRE(run_experiment(parse(config(8)), o) == 0);
  const auto before = ResultsTable(dir.path).rows();
  // gcn's width changed: refused without a flag, and the message names --rerun with the run
  CHECK_THROWS_WITH(run_experiment(parse(config(12)), o),
                    Catch::Contains("run gcn__split__s0: model.hidden was 8 and is now 12") &&
                        Catch::Contains("--rerun") && !Catch::Contains("--extend"));
  o.rerun = {"gcn__*"};
  REQUIRE(run_experiment(parse(config(12)), o) == 0);
  const auto after = ResultsTable(dir.path).rows();
  REQUIRE(after.size() == 2);
  CHECK(after[0].get("run") == "gat__split__s0");
  CHECK(after[1].get("run") == "gcn__split__s0");  // in place
  CHECK(after[0].get("train_seconds") == before[0].get("train_seconds"));  // not retrained
  CHECK(after[1].get("params") != before[1].get("params"));               // retrained with 12 hidden units
  const YAML::Node saved = YAML::LoadFile((dir.path / "runs" / "gcn__split__s0" / "config.yaml").string());
  CHECK(saved["model_resolved"]["hidden"].as<int>() == 12);
  // now the config as it is trains nothing
  o.rerun.clear();
  REQUIRE(run_experiment(parse(config(12)), o) == 0);
  CHECK(ResultsTable(dir.path).rows()[1].get("train_seconds") == after[1].get("train_seconds"));
  o.rerun = {"nope"};
  CHECK_THROWS_WITH(run_experiment(parse(config(12)), o),
                    Catch::Contains("--rerun 'nope' matches no run") && Catch::Contains("gat__split__s0"));
  CHECK_FALSE(fs::exists(dir.path / ".lock"));
}

TEST_CASE("run control: --only keeps one experiment, one model or one model of one experiment") {
  const std::string yaml = R"(
name: two
experiments:
  - name: club
    dataset: {name: karate}
    models:
      gcn: {type: gcn}
      mlp: {type: mlp}
  - name: sbm
    dataset: {name: csbm}
    models:
      gcn: {type: gcn}
    sweep: {seeds: [0, 1]}
)";
  auto ids = [&](std::vector<std::string> only) {
    Experiment e = parse(yaml);
    keep_only(e, only);
    std::vector<std::string> out;
    for (const auto& r : e.runs) out.push_back(r.id);
    return out;
  };
  CHECK(ids({"sbm"}) == std::vector<std::string>{"sbm__gcn__split__s0", "sbm__gcn__split__s1"});
  CHECK(ids({"club/mlp"}) == std::vector<std::string>{"club__mlp__split__s0"});
  CHECK(ids({"gcn"}).size() == 3);
  CHECK(ids({"club/mlp", "sbm"}).size() == 3);
  CHECK_THROWS_WITH(ids({"cora"}), Catch::Contains("--only 'cora'") && Catch::Contains("experiments are club, sbm") &&
                                       Catch::Contains("club/mlp"));
  CHECK_THROWS_WITH(ids({"sbm/mlp"}), Catch::Contains("--only 'sbm/mlp'"));
  // Each kept run keeps its own settings. Removing runs used to move-assign RunSpecs, and YAML::Node's assignment
  // rebinds the node it shares, so a kept run could end up with another run's resolved config (a resume then
  // reported "dataset.length was 256 and is now 1024" for runs nobody changed).
  Experiment e = parse(yaml);
  keep_only(e, {"club/mlp", "sbm"});
  REQUIRE(e.runs.size() == 3);
  for (const auto& r : e.runs) {
    CHECK(r.resolved["dataset_resolved"]["name"].as<std::string>() == (r.part == "club" ? "karate" : "csbm"));
    CHECK(r.resolved["model"]["name"].as<std::string>() == r.model);
    CHECK(r.resolved["seed"].as<int>() == r.seed);
  }
}

TEST_CASE("run control: --set on a config with several experiments goes where the key fits") {
  rc::test::TempDir dir("multi_set");
  dir.write("multi.yaml", R"(name: multi
experiments:
  - name: club
    dataset: {name: karate}
    train: {epochs: 5}
    models:
      gcn: {type: gcn}
  - name: sbm
    dataset: {name: csbm}
    train: {epochs: 7}
    models:
      gat: {type: gat}
  - name: sbm2
    dataset: {name: csbm}
    models:
      gat: {type: gat}
)");
  const std::string file = (dir.path / "multi.yaml").string();
  // every experiment accepts it: all of them
  Experiment all = load_experiment(file, {"train.epochs=3"});
  for (const auto& r : all.runs) CHECK(r.train_params.get_int("epochs") == 3);
  // only one accepts it: that one
  Experiment one = load_experiment(file, {"models.gcn.hidden=5"});
  CHECK(one.runs.at(0).model_params.get_int("hidden") == 5);
  // two of three: ambiguous, the paths are listed
  CHECK_THROWS_WITH(load_experiment(file, {"models.gat.heads=2"}),
                    Catch::Contains("experiments.1.models.gat.heads") && Catch::Contains("experiments.2.models.gat.heads"));
  // none: each experiment's reason
  CHECK_THROWS_WITH(load_experiment(file, {"train.epochz=3"}),
                    Catch::Contains("none accepts 'train.epochz'") && Catch::Contains("did you mean"));
  // an explicit path still works
  Experiment explicit_path = load_experiment(file, {"experiments.1.train.epochs=2"});
  CHECK(explicit_path.runs.at(1).train_params.get_int("epochs") == 2);
  CHECK(explicit_path.runs.at(0).train_params.get_int("epochs") == 5);
}

TEST_CASE("run control: the saved config lists settings that apply, lists as YAML lists") {
  Experiment e = parse(R"(
name: saved
dataset: {name: fashion-mnist}
train: {optimizer: adam, schedule: constant}
models:
  cnn: {type: cnn, channels: [4, 8], blocks: [1]}
)");
  const YAML::Node& res = e.runs.at(0).resolved;
  REQUIRE(res["model_resolved"]["channels"].IsSequence());
  CHECK(res["model_resolved"]["channels"][1].as<int>() == 8);
  CHECK_FALSE(res["train_resolved"]["momentum"]);
  CHECK_FALSE(res["train_resolved"]["step_size"]);
  CHECK_FALSE(res["train_resolved"]["min_lr"]);
  CHECK(res["train_resolved"]["lr"]);
  Experiment sgd = parse(R"(
name: saved
dataset: {name: fashion-mnist}
train: {optimizer: sgd, schedule: step}
models:
  cnn: {type: cnn}
)");
  CHECK(sgd.runs.at(0).resolved["train_resolved"]["momentum"]);
  CHECK(sgd.runs.at(0).resolved["train_resolved"]["gamma"]);
  // model and dataset settings that apply (ParamSpec::when): a policy's keys only for the kinds that read them
  Experiment attention = parse(R"(
name: saved
dataset: {name: fashion-mnist-sequence, order: permuted}
models:
  full: {type: sequence_transformer, position: none, policy: {kind: full}}
  window: {type: sequence_transformer, policy: {kind: window1d & causal, radius: 3}}
)");
  const YAML::Node full = attention.runs.at(0).resolved["model_resolved"];
  CHECK(full["policy.kind"].as<std::string>() == "full");
  CHECK(full["dim"]);
  CHECK_FALSE(full["policy.radius"]);
  CHECK_FALSE(full["policy.kernel"]);
  CHECK_FALSE(full["policy.self_loops"]);
  const YAML::Node window = attention.runs.at(1).resolved["model_resolved"];
  CHECK(window["policy.radius"].as<int>() == 3);
  CHECK(window["policy.dilation"]);
  CHECK_FALSE(window["policy.kernel"]);
  const YAML::Node data = attention.runs.at(0).resolved["dataset_resolved"];
  CHECK(data["permutation_seed"]);
  CHECK_FALSE(data["patch"]);
  CHECK(data["order"].as<std::string>() == "permuted");
  Experiment patches = parse(R"(
name: saved
dataset: {name: fashion-mnist}
models:
  local: {type: patch_attention, position: locality, policy: {kind: window2d | global}}
)");
  const YAML::Node local = patches.runs.at(0).resolved["model_resolved"];
  CHECK(local["locality_init_width"]);
  CHECK_FALSE(local["locality_init_gate"]);
  CHECK(local["policy.kernel"]);
  CHECK(local["policy.global_count"]);
  CHECK_FALSE(local["policy.radius"]);
}

TEST_CASE("run control: a parameter applies when a word of its condition key's value is listed") {
  Schema s;
  s.params = {{"kind", ParamType::String, std::string("full"), "", {}, {}, {}},
              {"radius", ParamType::Int, int64_t{4}, "", {}, {}, {}, ParamCondition{"kind", {"window1d"}}},
              {"free", ParamType::Int, int64_t{1}, "", {}, {}, {}}};
  Params p;
  CHECK_FALSE(param_applies(s, s.params[1], p));  // the condition key's default: full
  CHECK(param_applies(s, s.params[2], p));
  for (const char* kind : {"window1d", "window1d & causal", "(causal|window1d)", "global | window1d"}) {
    p.set("kind", std::string(kind));
    CHECK(param_applies(s, s.params[1], p));
  }
  for (const char* kind : {"window2d", "window1dx", "full | causal"}) {
    p.set("kind", std::string(kind));
    CHECK_FALSE(param_applies(s, s.params[1], p));
  }
}

TEST_CASE("run control: the README's --set example works on the quick start config") {
  const fs::path quickstart =
      fs::path(RECEPTIVE_TEST_DATA).parent_path().parent_path() / "experiments" / "configs" / "quickstart.yaml";
  REQUIRE(fs::exists(quickstart));
  Experiment e = load_experiment(quickstart.string(), {"train.epochs=3", "models.attention_window.policy.kernel=5"});
  bool window = false;
  for (const auto& r : e.runs) {
    CHECK(r.train_params.get_int("epochs") == 3);
    if (r.model == "attention_window") window = r.model_params.get_int("policy.kernel") == 5;
  }
  CHECK(window);
  // a key that fits no experiment names the paths tried and why
  CHECK_THROWS_WITH(load_experiment(quickstart.string(), {"models.local.policy.kernel=5"}),
                    Catch::Contains("none accepts 'models.local.policy.kernel'"));
}
