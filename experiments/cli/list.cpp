#include <fmt/format.h>

#include "experiments/cli/commands.hpp"
#include "framework/core/catalog.hpp"

namespace rc::cli {

void register_everything() {
  // Sections fill up as models, datasets and policies land; each registers itself here.
}

void print_list() {
  register_everything();
  const auto& cat = catalog();
  for (const char* section : {"models", "datasets", "policies"}) {
    fmt::print("{}:\n", section);
    auto it = cat.find(section);
    if (it == cat.end() || it->second.empty()) {
      fmt::print("  (none registered yet)\n");
      continue;
    }
    for (const auto& e : it->second) {
      fmt::print("  {:<20} {}\n", e.name, e.description);
      for (const auto& p : e.params) fmt::print("      {:<18} = {:<10} {}\n", p.name, p.default_value, p.doc);
    }
  }
}

}  // namespace rc::cli
