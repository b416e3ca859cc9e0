// Experiment configs: YAML text through the duplicate-key check, `--set` overrides and the full validation and
// expansion into runs (where an empty grid list once crashed). Input: the YAML, then optionally "\n--set--\n" and
// one override per line (key.path=value).
#include <yaml-cpp/yaml.h>

#include <set>

#include "experiments/config/experiment.hpp"
#include "experiments/config/yaml_params.hpp"
#include "framework/core/error.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = rc::fuzz::split_input(data, size, "\n--set--\n");
  try {
    YAML::Node root = YAML::Load(std::string(parts[0]));
    rc::config::check_duplicate_keys(root, "fuzz.yaml");
    if (parts.size() > 1)
      for (auto line : rc::fuzz::split_input(reinterpret_cast<const uint8_t*>(parts[1].data()), parts[1].size(), "\n"))
        rc::config::apply_override(root, std::string(line));
    rc::exp::Experiment e = rc::exp::parse_experiment(root, "fuzz.yaml");
    std::set<std::string> ids;
    for (const auto& r : e.runs)
      if (!ids.insert(r.id).second) __builtin_trap();  // run ids are unique by construction
  } catch (const YAML::ParserException&) {  // a syntax error: load_experiment reports it with file:line
  } catch (const rc::Error&) {
  }
  return 0;
}
