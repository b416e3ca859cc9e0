// `receptive list`: every attention policy appears with its parameters, and the defaults it prints are the ones a
// user gets (the graph policy's self_loops from the C++ API, the models' config key and `receptive attention`).
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/cli/commands.hpp"
#include "framework/attention/policy_params.hpp"
#include "models/registry.hpp"

using namespace rc;

namespace {

// The lines of section `name` of the plain listing ("name:" up to the next unindented line).
std::vector<std::string> section(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ')
      inside = line == name + ":";
    else if (inside)
      lines.push_back(line);
  }
  return lines;
}

// The parameter lines of an entry: `  name  description` followed by `      param = default  doc` lines.
struct Entry {
  bool found = false;
  std::vector<std::pair<std::string, std::string>> params;  // name, default
};
Entry entry(const std::vector<std::string>& lines, const std::string& name) {
  Entry e;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("  " + name + " ", 0) != 0) continue;
    e.found = true;
    for (size_t k = i + 1; k < lines.size() && lines[k].rfind("      ", 0) == 0; ++k) {
      std::istringstream p(lines[k]);
      std::string param, eq, def;
      p >> param >> eq >> def;
      REQUIRE(eq == "=");
      e.params.emplace_back(param, def);
    }
  }
  return e;
}

}  // namespace

TEST_CASE("receptive list: every attention policy with its parameters and defaults") {
  const std::string text = cli::list_text(false);
  const std::vector<std::string> policies = section(text, "policies");
  REQUIRE(!policies.empty());
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> expected = {
      {"full", {}},
      {"causal", {}},
      {"window1d", {{"radius", "4"}, {"left", "-1"}, {"right", "-1"}, {"causal", "false"}, {"dilation", "1"}}},
      {"window2d",
       {{"kernel", "3"},
        {"kernel_h", "0"},
        {"kernel_w", "0"},
        {"dilation", "1"},
        {"dilation_h", "0"},
        {"dilation_w", "0"}}},
      {"axial", {}},
      {"global", {{"global_first", "0"}, {"global_count", "1"}}},
      {"graph", {{"self_loops", "true"}}},
      {"union / intersection", {}},
      {"predicate", {}}};
  for (const auto& [name, params] : expected) {
    INFO("policy " << name);
    const Entry e = entry(policies, name);
    CHECK(e.found);
    CHECK(e.params == params);
  }
  // the Markdown listing (the README's reference) has the same policies and parameters
  const std::string md = cli::list_text(true);
  const size_t from = md.find("### policies"), to = md.find("### dataset options");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  const std::string md_policies = md.substr(from, to - from);
  for (const auto& [name, params] : expected) {
    INFO("policy " << name);
    CHECK(md_policies.find("`" + name + "`") != std::string::npos);
    for (const auto& [param, def] : params)
      CHECK(md_policies.find("| `" + param + "` | `" + def + "` |") != std::string::npos);
  }
}

TEST_CASE("receptive list: graph self_loops default is what the C++ API, model configs and the CLI give") {
  const Entry graph = entry(section(cli::list_text(false), "policies"), "graph");
  REQUIRE(graph.params.size() == 1);
  REQUIRE(graph.params[0].first == "self_loops");
  const bool listed = graph.params[0].second == "true";
  // C++: Policy::graph(csr) on a graph without self-loops
  const std::vector<int64_t> row_ptr{0, 1, 2}, col_idx{1, 0};
  const Policy p = Policy::graph(CsrView{2, row_ptr.data(), col_idx.data()});
  CHECK(p.allowed(0, 0) == listed);
  CHECK(p.allowed(1, 1) == listed);
  // `receptive attention --policy graph` without --self-loops, and model configs' policy sections: the schema
  CHECK(std::get<bool>(policy_schema().find("self_loops")->default_value) == listed);
  // every model with a self_loops key (GAT, graph transformer)
  int models = 0;
  for (const auto& t : models::model_types())
    if (const ParamSpec* s = t.schema.find("self_loops")) {
      INFO("model " << t.type);
      CHECK(std::get<bool>(s->default_value) == listed);
      ++models;
    }
  CHECK(models >= 2);
}

TEST_CASE("receptive list: one set of policy defaults, the ones model configs and the attention command use") {
  const Entry window2d = entry(section(cli::list_text(false), "policies"), "window2d");
  const Entry window1d = entry(section(cli::list_text(false), "policies"), "window1d");
  REQUIRE(window2d.found);
  REQUIRE(window1d.found);
  CHECK(window2d.params[0] == std::pair<std::string, std::string>{"kernel", "3"});
  CHECK(window1d.params[0] == std::pair<std::string, std::string>{"radius", "4"});
  // patch_attention's policy.* keys are the policy schema's, with the same defaults
  const models::ModelType* pa = nullptr;
  for (const auto& t : models::model_types())
    if (t.type == "patch_attention") pa = &t;
  REQUIRE(pa != nullptr);
  for (const ParamSpec& s : policy_schema().params) {
    INFO("policy." << s.name);
    const ParamSpec* m = pa->schema.find("policy." + s.name);
    REQUIRE(m != nullptr);
    CHECK(param_value_str(m->default_value) == param_value_str(s.default_value));
  }
}
