#pragma once
// Subcommands of the `receptive` CLI, one function each.
#include <string>
#include <vector>

namespace rc::cli {

void register_everything();  // fills the catalog from models/, datasets/ and the attention policies
void print_list(bool markdown = false);  // `receptive list [--markdown]`

struct RunArgs {
  std::string config, out;
  std::vector<std::string> overrides;  // --set key=value
  bool dry_run = false, resume = false;
};
int run(const RunArgs& args);  // `receptive run`; returns the process exit code

}  // namespace rc::cli
