#include "datasets/graph/graph_data.hpp"

#include <cmath>

#include "datasets/graph/split.hpp"
#include "datasets/image/subset.hpp"
#include "framework/core/error.hpp"
#include "framework/core/param_binding.hpp"

namespace rc::data {

namespace {
const ParamBinding<GraphSplitOptions>& split_binding() {
  using O = GraphSplitOptions;
  static const auto b =
      ParamBinding<O>()
          .field(&O::split, "split",
                 "graphs: planetoid (the split file beside the data; karate/csbm: built-in) or random (k per class)",
                 {}, {}, {"planetoid", "random"})
          .field(&O::num_val, "num_val", "graphs, random split: validation nodes", 0.0)
          .when("split", {"random"})
          .field(&O::num_test, "num_test", "graphs, random split: test nodes", 1.0)
          .when("split", {"random"});
  return b;
}
}  // namespace

Schema graph_options_schema() { return split_binding().schema(); }
GraphSplitOptions graph_split_options(const Params& options) { return split_binding().from(options); }

void check_graph_data(const GraphDataset& g, const std::string& name) {
  RC_CHECK(distinct_labels(g.labels, {}) >= 2,
           "dataset {}: every node has the same class; classification needs at least 2 classes", name);
}

Split run_split(const GraphDataset& g, const Params& options, double train_size, uint64_t seed,
                const std::string& dataset) {
  const GraphSplitOptions o = graph_split_options(options);
  Split split = g.split;
  if (o.split == "random")
    split = random_split(g.labels, g.num_classes(), std::max<int64_t>(1, std::llround(train_size == 0 ? 20 : train_size)),
                         o.num_val, o.num_test, seed);
  RC_CHECK(!split.train.empty(), "dataset {}: no split (set dataset.split: random)", dataset);
  RC_CHECK(!split.test.empty(),
           "dataset {}: the split names no test node; a test accuracy over no nodes would be meaningless (add test "
           "nodes to the split file, or use dataset.split: random)",
           dataset);
  RC_CHECK(distinct_labels(g.labels, split.train) >= 2,
           "dataset {}: the split's {} training nodes all have one class; classification needs at least 2", dataset,
           split.train.size());
  return split;
}

}  // namespace rc::data
