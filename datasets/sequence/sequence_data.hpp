#pragma once
// Sequence classification data: N sequences of `length` steps with `features` floats per step, one label each.
// Items are made on demand by `fill` (a reordered image, a generated task), so a dataset of long sequences costs
// only its labels in memory. Batches are (B, L, F), step-major, as models::SequenceModel expects.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "datasets/image/subset.hpp"
#include "framework/core/params.hpp"
#include "framework/core/tensor.hpp"

namespace rc::data {

struct SequenceSet {
  int64_t length = 0, features = 0;
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;
  // writes item i (0 <= i < size()) as length × features floats, step-major; thread-safe (called from
  // several threads at once)
  std::function<void(int64_t i, float* out)> fill;
  // what one item is, for checkpoints and `receptive list` (e.g. "fashion-mnist rows", "marked-sum L=256")
  std::string description;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
};

// Training pool and test set.
struct SequenceData {
  SequenceSet train, test;
};

struct SequenceOptions {
  double val_fraction = 0.1;  // of each class held out of the training pool for validation
};

// val_fraction (what every sequence dataset accepts besides its own options).
Schema sequence_options_schema();
SequenceOptions sequence_options(const Params& options);

// Errors that would make a number meaningless (no training or test items, one class, test items of another
// length or feature count, a set without a fill function), naming the dataset.
void check_sequence_data(const SequenceData& d, const std::string& name);

// One run's items: the same class-stratified, seeded, nested subsets as images (image_data.hpp run_subset):
// `train_size` a fraction (<= 1) or a count (> 1, split evenly over the classes), after holding out val_fraction.
SubsetIndices run_subset(const SequenceData& d, const Params& options, double train_size, uint64_t seed,
                         const std::string& dataset, const std::string& run);

// Items `idx` of `set` as a (idx.size(), L, F) tensor, filled in parallel; labels appended to *labels when given.
Tensor make_sequence_batch(const SequenceSet& set, const std::vector<int64_t>& idx, std::vector<int64_t>* labels);

}  // namespace rc::data
