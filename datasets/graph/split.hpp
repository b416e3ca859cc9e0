#pragma once
// Node splits: a split file (`<node id>\t<train|val|test>`, `#` comments) or a seeded random split with
// k labelled nodes per class plus validation and test sizes (label-rate sweeps).
#include <cstdint>
#include <string>

#include "datasets/graph/graph.hpp"

namespace rc::data {

// Errors name the file and line: unknown node id, unknown split name, a node listed twice.
Split read_split_file(const std::string& path, const std::vector<std::string>& node_ids);

// k nodes per class for training (every class must have at least k nodes), then num_val and num_test
// nodes drawn from the rest. The same seed gives the same split; for one seed, the training set for k
// contains the one for any smaller k (nested).
Split random_split(const std::vector<int32_t>& labels, int64_t num_classes, int64_t per_class, int64_t num_val,
                   int64_t num_test, uint64_t seed);

}  // namespace rc::data
