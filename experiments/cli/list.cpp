#include <fmt/format.h>

#include <iterator>
#include <string>

#include "datasets/registry.hpp"
#include "experiments/cli/commands.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/train/settings.hpp"
#include "framework/attention/policy_params.hpp"
#include "framework/core/catalog.hpp"
#include "models/registry.hpp"

namespace rc::cli {

namespace {
std::vector<CatalogParam> params_of(const Schema& s) {
  std::vector<CatalogParam> out;
  for (const auto& p : s.params) {
    std::string doc = p.doc;
    if (!p.choices.empty()) doc += fmt::format(" [{}]", fmt::join(p.choices, " | "));
    out.push_back({p.name, param_value_str(p.default_value), doc});
  }
  return out;
}
}  // namespace

void register_everything() {
  for (const auto& t : models::model_types())
    catalog_add("models", {t.type, fmt::format("({}) {}", models::domain_name(t.domain),
                                               t.description),
                           params_of(t.schema)});
  // every dataset with its own options (those of its domain included); `name` picks the entry
  for (const auto& t : data::dataset_types())
    catalog_add("datasets", {t.name, fmt::format("({}) {}", t.domain, t.description), params_of(t.schema)});
  catalog_add("dataset options", {"dataset", "the key every config's `dataset:` section has; the rest depend on the "
                                             "dataset (above)", params_of(Schema{{data::dataset_name_spec()}})});
  catalog_add("training options", {"train", "keys of a config's `train:` section (or a model's `train:`)",
                                   params_of(exp::train_schema())});
  register_policies();
}

std::string list_text(bool markdown) {
  register_everything();
  const auto& cat = catalog();
  std::string text;
  auto out = std::back_inserter(text);
  if (markdown) {
    auto cell = [](const std::string& t) {  // a literal | would end the table cell
      std::string escaped;
      for (char ch : t) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
      return escaped;
    };
    for (const char* section : {"models", "datasets", "policies", "dataset options", "training options"}) {
      auto it = cat.find(section);
      if (it == cat.end()) continue;
      fmt::format_to(out, "### {}\n\n", section);
      for (const auto& e : it->second) {
        if (e.params.empty()) {
          fmt::format_to(out, "- `{}`: {}\n", e.name, e.description);
          continue;
        }
        fmt::format_to(out, "\n**`{}`**: {}\n\n| key | default | meaning |\n| --- | --- | --- |\n", e.name,
                       e.description);
        for (const auto& p : e.params)
          fmt::format_to(out, "| `{}` | `{}` | {} |\n", p.name, cell(p.default_value), cell(p.doc));
        fmt::format_to(out, "\n");
      }
      fmt::format_to(out, "\n");
    }
    return text;
  }
  for (const char* section : {"models", "datasets", "policies", "dataset options", "training options"}) {
    fmt::format_to(out, "{}:\n", section);
    auto it = cat.find(section);
    if (it == cat.end() || it->second.empty()) {
      fmt::format_to(out, "  (none registered)\n");
      continue;
    }
    for (const auto& e : it->second) {
      fmt::format_to(out, "  {:<20} {}\n", e.name, e.description);
      for (const auto& p : e.params) fmt::format_to(out, "      {:<24} = {:<12} {}\n", p.name, p.default_value, p.doc);
    }
  }
  return text;
}

void print_list(bool markdown) { fmt::print("{}", list_text(markdown)); }

}  // namespace rc::cli
