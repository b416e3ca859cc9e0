// Configs that used to crash, give two runs one id, or silently mean something else: each is now an error
// before anything trains, naming the file, the line or key, and what was expected.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "experiments/config/experiment.hpp"
#include "experiments/config/yaml_params.hpp"
#include "support/files.hpp"

using namespace rc;
using namespace rc::exp;

namespace {
Experiment parse(const std::string& yaml) { return parse_experiment(YAML::Load(yaml), "test.yaml"); }
const std::string kHead = "dataset: {name: fashion-mnist}\nmodels:\n  cnn: {type: cnn, channels: [8], blocks: 1}\n";
}  // namespace

TEST_CASE("config: an empty grid list is an error, not a crash (regression: SIGSEGV in the expansion)") {
  CHECK_THROWS_WITH(parse(kHead + "sweep: {grid: {train.lr: []}}"),
                    Catch::Contains("test.yaml") && Catch::Contains("sweep.grid.train.lr") &&
                        Catch::Contains("lists no values"));
  CHECK_THROWS_WITH(parse(kHead + "sweep:\n  seeds: []\n"), Catch::Contains("sweep.seeds") && Catch::Contains("no values"));
  CHECK_THROWS_WITH(parse(kHead + "sweep:\n  train_size: []\n"),
                    Catch::Contains("sweep.train_size") && Catch::Contains("no values"));
}

TEST_CASE("config: duplicate seeds, sizes or grid values are errors naming the line") {
  CHECK_THROWS_WITH(parse(kHead + "sweep:\n  seeds: [0, 1,\n    0]\n"),
                    Catch::Contains("test.yaml:6: sweep.seeds") && Catch::Contains("listed twice") &&
                        Catch::Contains("items 0 and 2"));
  // 0.5 and 0.50 are one size
  CHECK_THROWS_WITH(parse(kHead + "sweep:\n  train_size: [0.5, 0.50]\n"),
                    Catch::Contains("test.yaml:5: sweep.train_size") && Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(parse(kHead + "sweep:\n  grid:\n    train.batch_size: [8, 16, 8]\n"),
                    Catch::Contains("test.yaml:6: sweep.grid.train.batch_size") && Catch::Contains("8 is listed twice"));
  CHECK_THROWS_WITH(parse(kHead + "sweep:\n  grid:\n    models.cnn.channels: [[8], [8]]\n"),
                    Catch::Contains("sweep.grid.models.cnn.channels") && Catch::Contains("[8] is listed twice"));
  // distinct values still expand, one run each
  CHECK(parse(kHead + "sweep: {seeds: [0, 1], train_size: [0.5, 1.0], grid: {train.batch_size: [8, 16]}}").runs.size() ==
        8);
}

TEST_CASE("config: model names that clean up to the same run id are an error naming both") {
  CHECK_THROWS_WITH(parse("dataset: {name: karate}\nmodels:\n  a/b: {type: gcn}\n  a_b: {type: gcn}\n"),
                    Catch::Contains("test.yaml:4") && Catch::Contains("'a/b' (line 3)") && Catch::Contains("'a_b'") &&
                        Catch::Contains("both become 'a_b'"));
  CHECK_THROWS_WITH(parse("dataset: {name: karate}\nmodels:\n  \"x y\": {type: gcn}\n  x_y: {type: mlp}\n"),
                    Catch::Contains("'x y'") && Catch::Contains("'x_y'"));
  // a grid variant's label that cleans up to another model's name: caught by the last line of defence,
  // naming both runs
  CHECK_THROWS_WITH(parse("dataset: {name: karate}\nmodels:\n  g: {type: gcn}\n  g_hidden_4_: {type: gcn}\n"
                          "sweep: {grid: {models.g.hidden: [4]}}"),
                    Catch::Contains("the same id 'g_hidden_4___split__s0'") && Catch::Contains("'g[hidden=4]'") &&
                        Catch::Contains("'g_hidden_4_'"));
  // every run id of a valid sweep is distinct
  Experiment e = parse("dataset: {name: karate}\nmodels:\n  a: {type: gcn}\n  b: {type: mlp}\n"
                       "sweep: {seeds: [0, 1, 2], grid: {train.lr: [0.1, 0.01]}}");
  std::set<std::string> ids;
  for (const auto& r : e.runs) ids.insert(r.id);
  CHECK(ids.size() == e.runs.size());
  CHECK(e.runs.size() == 12);
}

TEST_CASE("config: duplicate YAML keys are an error with both lines, at any depth") {
  rc::test::TempDir dir("dupkeys");
  dir.write("a.yaml", "name: a\ndataset: {name: karate}\nmodels:\n  g: {type: gcn}\ntrain: {epochs: 3}\ntrain: {epochs: 5}\n");
  CHECK_THROWS_WITH(load_experiment((dir.path / "a.yaml").string()),
                    Catch::Contains("a.yaml:6: train") && Catch::Contains("duplicate key 'train'") &&
                        Catch::Contains("first given on line 5"));
  dir.write("b.yaml", "dataset: {name: karate}\nmodels:\n  g:\n    type: gcn\n    hidden: 8\n    hidden: 16\n");
  CHECK_THROWS_WITH(load_experiment((dir.path / "b.yaml").string()),
                    Catch::Contains("b.yaml:6: models.g.hidden") && Catch::Contains("duplicate key 'hidden'"));
  dir.write("c.yaml", "name: c\nexperiments:\n  - name: x\n    dataset: {name: karate, name: cora}\n"
                      "    models: {g: {type: gcn}}\n");
  CHECK_THROWS_WITH(load_experiment((dir.path / "c.yaml").string()),
                    Catch::Contains("c.yaml:4: experiments.0.dataset.name") && Catch::Contains("duplicate key"));
  dir.write("ok.yaml", "dataset: {name: karate}\nmodels:\n  g: {type: gcn}\n  h: {type: gcn}\n");
  CHECK(load_experiment((dir.path / "ok.yaml").string()).runs.size() == 2);
}

TEST_CASE("config: --set with a list index into a mapping is an error, not a new model named \"0\"") {
  rc::test::TempDir dir("set_index");
  dir.write("a.yaml", "dataset: {name: karate}\nmodels:\n  g: {type: gcn}\n");
  const std::string file = (dir.path / "a.yaml").string();
  CHECK_THROWS_WITH(load_experiment(file, {"models.0.type=gcn"}),
                    Catch::Contains("--set 'models.0.type=gcn'") && Catch::Contains("'models' is a mapping (keys: g)") &&
                        Catch::Contains("not a list"));
  CHECK_THROWS_WITH(load_experiment(file, {"models.g.1=x"}), Catch::Contains("not one of its keys"));
  // a model's own name still works, and so does a list index into a list
  CHECK(load_experiment(file, {"models.g.hidden=4"}).runs.at(0).model_params.get_int("hidden") == 4);
  dir.write("b.yaml", "name: b\nexperiments:\n  - {name: x, dataset: {name: karate}, models: {g: {type: gcn}}}\n");
  CHECK(load_experiment((dir.path / "b.yaml").string(), {"experiments.0.train.epochs=3"})
            .runs.at(0)
            .train_params.get_int("epochs") == 3);
}

TEST_CASE("config: the experiment name cannot lead the results folder outside the output root") {
  for (const char* bad : {"../../x", "/tmp/elsewhere", "..", ".", "a/b", "a\\\\b"}) {
    INFO("name: " << bad);
    CHECK_THROWS_WITH(parse(std::string("name: \"") + bad + "\"\n" + kHead),
                      Catch::Contains("test.yaml:1: name") && Catch::Contains("cannot name the results folder"));
  }
  CHECK_THROWS_WITH(parse("name: [a]\n" + kHead), Catch::Contains("test.yaml:1: name") && Catch::Contains("expected a name"));
  CHECK(parse("name: my run-1.2\n" + kHead).name == "my run-1.2");
}

TEST_CASE("config: non-text where text is expected names the key instead of 'bad conversion'") {
  CHECK_THROWS_WITH(parse("dataset: {name: karate}\nmodels:\n  g: {type: [gcn]}\n"),
                    Catch::Contains("test.yaml:3: models.g.type") && Catch::Contains("expected a model type"));
  CHECK_THROWS_WITH(parse("name: e\nexperiments:\n  - {name: {a: 1}, dataset: {name: karate}, models: {g: {type: gcn}}}\n"),
                    Catch::Contains("experiments.0.name") && Catch::Contains("expected a name"));
}

TEST_CASE("config: dataset sizes that cannot be allocated are refused with the key and its limit") {
  CHECK_THROWS_WITH(parse("dataset: {name: csbm, csbm: {nodes: 2000000000}}\nmodels: {g: {type: gcn}}\n"),
                    Catch::Contains("dataset.csbm.nodes"));
}

TEST_CASE("config: a missing models section is a config error (found by fuzz_config: an invalid-node exception)") {
  CHECK_THROWS_AS(parse("name: x\ndataset: {name: karate}\n"), rc::config::ConfigError);
  CHECK_THROWS_WITH(parse("name: x\ndataset: {name: karate}\n"),
                    Catch::Contains("test.yaml: models: expected a mapping of model names"));
  CHECK_THROWS_AS(parse("name: x\n"), rc::config::ConfigError);
}

TEST_CASE("config: --set on a config that is not a mapping is a config error (found by fuzz_config)") {
  YAML::Node scalar = YAML::Load("just text"), list = YAML::Load("[1, 2]");
  CHECK_THROWS_WITH(rc::config::apply_override(scalar, "experiments.0.x=1"),
                    Catch::Contains("--set 'experiments.0.x=1'") && Catch::Contains("not a mapping"));
  CHECK_THROWS_AS(rc::config::apply_override(list, "a=1"), rc::config::ConfigError);
  // an empty config takes the override without complaint and is then refused for what it lacks
  YAML::Node empty = YAML::Load("");
  rc::config::apply_override(empty, "train.epochs=3");
  CHECK_THROWS_WITH(rc::exp::parse_experiment(empty, "empty.yaml"),
                    Catch::Contains("empty.yaml") && Catch::Contains("expected a mapping"));
}
