#include <catch2/catch.hpp>

#include "experiments/config/yaml_params.hpp"
#include "experiments/train/settings.hpp"
#include "framework/core/param_binding.hpp"

using namespace rc;
using namespace rc::config;

namespace {
Schema demo_schema() {
  Schema s;
  s.params.push_back({"kernel", ParamType::Int, int64_t{3}, "window size", 1.0, std::nullopt, {}});
  s.params.push_back({"dropout", ParamType::Float, 0.1, "drop prob", 0.0, 1.0, {}});
  s.params.push_back({"policy", ParamType::String, std::string("full"), "", {}, {}, {"full", "window2d"}});
  s.params.push_back({"fractions", ParamType::FloatList, std::vector<double>{1.0}, "", 0.0, 1.0, {}});
  s.params.push_back({"bias", ParamType::Bool, true, "", {}, {}, {}});
  return s;
}
}  // namespace

TEST_CASE("yaml params: values, defaults, and list promotion") {
  YAML::Node n = YAML::Load("kernel: 5\nfractions: [0.1, 1]\nbias: false\n");
  Params p = read_params(n, demo_schema(), "c.yaml", "models.local");
  CHECK(p.get_int("kernel") == 5);
  CHECK(p.get_float("dropout") == 0.1);
  CHECK(p.get_string("policy") == "full");
  CHECK(p.get_float_list("fractions") == std::vector<double>{0.1, 1.0});
  CHECK_FALSE(p.get_bool("bias"));
  Params q = read_params(YAML::Load("fractions: 0.5"), demo_schema(), "c.yaml", "x");
  CHECK(q.get_float_list("fractions") == std::vector<double>{0.5});
}

TEST_CASE("yaml params: errors give file, line, key path, value and expectation") {
  auto s = demo_schema();
  CHECK_THROWS_WITH(read_params(YAML::Load("kernal: 5"), s, "c.yaml", "models.local"),
                    Catch::Contains("c.yaml:1: models.local.kernal") && Catch::Contains("did you mean 'kernel'"));
  CHECK_THROWS_WITH(read_params(YAML::Load("dropout: 0.2\nkernel: abc"), s, "c.yaml", "m"),
                    Catch::Contains("c.yaml:2: m.kernel: expected int, got 'abc'"));
  CHECK_THROWS_WITH(read_params(YAML::Load("kernel: 0"), s, "c.yaml", "m"), Catch::Contains("expected int >= 1"));
  CHECK_THROWS_WITH(read_params(YAML::Load("dropout: 1.5"), s, "c.yaml", "m"),
                    Catch::Contains("expected float in [0, 1], got '1.5'"));
  CHECK_THROWS_WITH(read_params(YAML::Load("policy: windw2d"), s, "c.yaml", "m"),
                    Catch::Contains("one of full | window2d"));
  CHECK_THROWS_WITH(read_params(YAML::Load("fractions: [0.5, 2]"), s, "c.yaml", "m"),
                    Catch::Contains("list of float in [0, 1]"));
  CHECK_THROWS_WITH(read_params(YAML::Load("- 1\n- 2"), s, "c.yaml", "m"), Catch::Contains("expected a mapping"));
}

TEST_CASE("yaml overrides: --set creates and replaces nested keys") {
  YAML::Node root = YAML::Load("models:\n  local:\n    kernel: 3\n");
  apply_override(root, "models.local.kernel=[3, 5, 7]");
  apply_override(root, "train.epochs=4");
  CHECK(root["models"]["local"]["kernel"].size() == 3);
  CHECK(root["train"]["epochs"].as<int>() == 4);
  CHECK(root["models"]["local"].size() == 1);
  CHECK_THROWS_WITH(apply_override(root, "no_equals_sign"), Catch::Contains("expected key.path=value"));
  CHECK_THROWS_WITH(apply_override(root, "train.epochs.x=1"), Catch::Contains("'epochs' is not a mapping"));
  // a grid axis is one key holding dots, also inside a multi-dataset config's part
  apply_override(root, "sweep.grid.models.local.policy.kernel=[3, 5]");
  CHECK(root["sweep"]["grid"]["models.local.policy.kernel"].size() == 2);
  CHECK_FALSE(root["sweep"]["grid"]["models"]);
  YAML::Node multi = YAML::Load("experiments: [{name: a}]");
  apply_override(multi, "experiments.0.sweep.grid.train.lr=[0.1, 0.2]");
  CHECK(multi["experiments"][0]["sweep"]["grid"]["train.lr"].size() == 2);
  apply_override(multi, "experiments.0.train.epochs=3");
  CHECK(multi["experiments"][0]["train"]["epochs"].as<int>() == 3);
  CHECK(multi["experiments"].size() == 1);
  CHECK_THROWS_WITH(apply_override(multi, "experiments.1.train.epochs=3"),
                    Catch::Contains("'1' is not an index of a list of 1"));
  CHECK_THROWS_WITH(apply_override(multi, "experiments.first.train.epochs=3"), Catch::Contains("'first' is not an index"));
  // a path that walks into a value is an error naming the assignment, not a yaml-cpp exception
  YAML::Node seeds = YAML::Load("sweep: {seeds: [0, 1]}");
  CHECK_THROWS_WITH(apply_override(seeds, "sweep.seeds.0.x=1"),
                    Catch::Contains("--set 'sweep.seeds.0.x=1': '0' is a value, not a mapping or a list"));
  CHECK_THROWS_WITH(apply_override(seeds, "sweep.seeds.1.x.y=1"), Catch::Contains("'1' is a value"));
}

TEST_CASE("yaml params: nested sections map to dotted schema names") {
  Schema s;
  s.params.push_back({"policy.kind", ParamType::String, std::string("full"), "", {}, {}, {"full", "window2d"}});
  s.params.push_back({"policy.kernel", ParamType::Int, int64_t{3}, "", 1.0, std::nullopt, {}});
  Params p = read_params(YAML::Load("policy:\n  kind: window2d\n  kernel: 5\n"), s, "c.yaml", "models.local");
  CHECK(p.get_string("policy.kind") == "window2d");
  CHECK(p.get_int("policy.kernel") == 5);
  CHECK_THROWS_WITH(read_params(YAML::Load("policy:\n  kernal: 5\n"), s, "c.yaml", "models.local"),
                    Catch::Contains("c.yaml:2: models.local.policy.kernal") &&
                        Catch::Contains("did you mean 'policy.kernel'"));
}

namespace {
struct Bound {
  int64_t kernel = 3;
  double dropout = 0.1;
  std::string policy = "full";
  bool bias = true;
  std::vector<double> fractions{1.0};
};
const ParamBinding<Bound>& bound() {
  static const auto b = ParamBinding<Bound>()
                            .field(&Bound::kernel, "kernel", "window size", 1.0)
                            .field(&Bound::dropout, "dropout", "drop prob", 0.0, 1.0)
                            .field(&Bound::policy, "policy", "", {}, {}, {"full", "window2d"})
                            .field(&Bound::bias, "bias", "")
                            .field(&Bound::fractions, "fractions", "", 0.0, 1.0);
  return b;
}
}  // namespace

TEST_CASE("param binding: one table gives the schema (types and defaults from the struct) and fills the struct") {
  const Schema s = bound().schema();
  REQUIRE(s.names() == std::vector<std::string>{"kernel", "dropout", "policy", "bias", "fractions"});
  CHECK(s.find("kernel")->type == ParamType::Int);
  CHECK(std::get<int64_t>(s.find("kernel")->default_value) == 3);
  CHECK(s.find("dropout")->type == ParamType::Float);
  CHECK(*s.find("dropout")->max == 1.0);
  CHECK(s.find("policy")->choices == std::vector<std::string>{"full", "window2d"});
  CHECK(s.find("bias")->type == ParamType::Bool);
  CHECK(s.find("fractions")->type == ParamType::FloatList);
  // the same schema as written out by hand validates YAML alike
  const Schema hand = demo_schema();
  for (const auto& p : hand.params) {
    INFO(p.name);
    CHECK(param_value_str(s.find(p.name)->default_value) == param_value_str(p.default_value));
  }
  const Bound b = bound().from(read_params(YAML::Load("{kernel: 5, policy: window2d, bias: false, dropout: 0}"), s,
                                           "t.yaml", "m"));
  CHECK(b.kernel == 5);
  CHECK(b.dropout == 0.0);  // an int read as a float
  CHECK(b.policy == "window2d");
  CHECK(!b.bias);
  CHECK(b.fractions == std::vector<double>{1.0});
  CHECK_THROWS_WITH(read_params(YAML::Load("{policy: local}"), s, "t.yaml", "m"),
                    Catch::Contains("m.policy") && Catch::Contains("full | window2d"));
  // a prefix nests the options below a section
  const Schema nested = bound().schema("attn.");
  CHECK(nested.find("attn.kernel"));
  const Bound n = bound().from(read_params(YAML::Load("{attn: {kernel: 7}}"), nested, "t.yaml", "m"), "attn.");
  CHECK(n.kernel == 7);
}

TEST_CASE("train settings: every key of the schema fills TrainSettings, select defaults to best") {
  const Schema s = rc::exp::train_schema();
  Params p = s.defaults();
  const rc::exp::TrainSettings d = rc::exp::TrainSettings::from(p);
  CHECK(d.select == "best");
  CHECK(d.epochs == 10);
  CHECK(d.lr == 1e-3);
  CHECK(s.find("select")->choices == std::vector<std::string>{"best", "last"});
  p.set("select", std::string("last"));
  p.set("patience", int64_t{7});
  const rc::exp::TrainSettings t = rc::exp::TrainSettings::from(p);
  CHECK(t.select == "last");
  CHECK(t.patience == 7);
}
