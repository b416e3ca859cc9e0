#pragma once
// The options every graph dataset shares, `dataset: {split, num_val, num_test}`, declared once and bound to their
// struct, and the split of one run: the dataset's own (Planetoid file, built-in) or a seeded random one.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/graph/graph.hpp"
#include "framework/core/params.hpp"

namespace rc::data {

struct GraphSplitOptions {
  std::string split = "planetoid";  // planetoid: the dataset's own split; random: k labelled nodes per class
  int64_t num_val = 500, num_test = 1000;
};

Schema graph_options_schema();
GraphSplitOptions graph_split_options(const Params& options);

// A graph whose nodes all have one class is an error naming the dataset.
void check_graph_data(const GraphDataset& g, const std::string& name);

// One run's split: the dataset's own, or with split: random, `train_size` labelled nodes per class (0: 20) plus
// num_val and num_test, drawn with the run's seed. A split without test nodes or whose training nodes hold one
// class is an error naming the dataset.
Split run_split(const GraphDataset& g, const Params& options, double train_size, uint64_t seed,
                const std::string& dataset);

}  // namespace rc::data
