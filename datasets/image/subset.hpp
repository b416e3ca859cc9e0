#pragma once
// Subsets for data-efficiency studies. Per class, one seeded permutation of that class's items: the
// validation items are its last `val` entries, and a training subset of size k is its first k entries of
// the rest — so for one seed, every smaller subset is contained in every larger one (nested), and no
// subset ever touches the validation items.
#include <cstdint>
#include <string>
#include <vector>

namespace rc::data {

struct SubsetSpec {
  double fraction = 1.0;     // of each class's training pool, in (0, 1]; used when per_class == 0
  int64_t per_class = 0;     // exact count per class (> 0 overrides fraction)
  double val_fraction = 0.0; // of each class held out for validation, in [0, 1)
  uint64_t seed = 0;
};

struct SubsetIndices {
  std::vector<int64_t> train, val;  // sorted indices into the dataset
};

// labels: one class per item, values in [0, num_classes). Errors name the offending value.
SubsetIndices stratified_subset(const std::vector<int32_t>& labels, int64_t num_classes, const SubsetSpec& spec);

// One run's training and validation items of a labelled pool, as every classification domain draws them:
// `train_size` a fraction (<= 1) or a count (> 1, split evenly over the classes), after holding out val_fraction of
// each class. A subset with fewer than 2 classes is an error naming the dataset, the run and `items` ("images").
SubsetIndices run_class_subset(const std::vector<int32_t>& labels, int64_t num_classes, double val_fraction,
                               double train_size, uint64_t seed, const std::string& dataset, const std::string& run,
                               const std::string& items);

// How many different labels the items `idx` (all items when empty) carry.
int64_t distinct_labels(const std::vector<int32_t>& labels, const std::vector<int64_t>& idx);

}  // namespace rc::data
