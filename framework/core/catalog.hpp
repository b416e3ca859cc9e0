#pragma once
// The catalog: what `receptive list` prints. Models, datasets and policies register an entry (name, one
// line of description, and their parameters with defaults) from their own folders; the CLI only reads it.
#include <map>
#include <string>
#include <vector>

namespace rc {

struct CatalogParam {
  std::string name, default_value, doc;
};
struct CatalogEntry {
  std::string name, description;
  std::vector<CatalogParam> params;
};

// section: "models", "datasets", "policies", ...; entries keep registration order.
void catalog_add(const std::string& section, CatalogEntry entry);
const std::map<std::string, std::vector<CatalogEntry>>& catalog();

}  // namespace rc
