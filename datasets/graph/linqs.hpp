#pragma once
// LINQS citation datasets (Cora, CiteSeer): `<name>.content` lines `<paper id> <F binary features> <class>`
// (tab-separated), `<name>.cites` lines `<cited id> <citing id>`; plain or gzip. Paper ids are strings.
#include <string>

#include "datasets/graph/graph.hpp"

namespace rc::data {

struct LinqsOptions {
  bool symmetrise = true;           // add the reverse of every citation
  bool row_normalize = false;       // divide each feature row by its sum
  std::string split_file;           // "" = `<name>.planetoid.split` in the folder if present; "none" = no split
};

struct LinqsReport {
  int64_t citations = 0;            // lines in .cites
  int64_t unknown_citations = 0;    // lines naming a paper absent from .content (skipped)
  int64_t self_citations = 0;       // (dropped)
  int64_t duplicate_citations = 0;  // repeated pairs, either direction (merged)
};

// Loads `<dir>/<name>.content` and `<dir>/<name>.cites` (either may be .gz). Classes are numbered in order of
// first appearance. Errors name the file and line: wrong number of columns, a feature that is not 0/1, a
// duplicated paper id, an empty file.
GraphDataset load_linqs(const std::string& dir, const std::string& name, const LinqsOptions& options = {},
                        LinqsReport* report = nullptr);

// Finds the dataset by name through locate_dataset (config root, $RECEPTIVE_DATA/<name>, data/<name>).
GraphDataset load_linqs_named(const std::string& name, const std::string& root, const LinqsOptions& options = {},
                              LinqsReport* report = nullptr);

}  // namespace rc::data
