#include "framework/core/catalog.hpp"

namespace rc {

namespace {
std::map<std::string, std::vector<CatalogEntry>>& mutable_catalog() {
  static std::map<std::string, std::vector<CatalogEntry>> c;
  return c;
}
}  // namespace

void catalog_add(const std::string& section, CatalogEntry entry) {
  auto& v = mutable_catalog()[section];
  for (auto& e : v)
    if (e.name == entry.name) {
      e = std::move(entry);
      return;
    }
  v.push_back(std::move(entry));
}

const std::map<std::string, std::vector<CatalogEntry>>& catalog() { return mutable_catalog(); }

}  // namespace rc
