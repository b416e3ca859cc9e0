#include "datasets/sequence/sequence_data.hpp"

#include <fmt/format.h>

#include "framework/core/error.hpp"
#include "framework/core/param_binding.hpp"
#include "framework/core/parallel.hpp"

namespace rc::data {

namespace {
const ParamBinding<SequenceOptions>& sequence_binding() {
  static const auto b = ParamBinding<SequenceOptions>().field(
      &SequenceOptions::val_fraction, "val_fraction",
      "sequences: fraction of each class held out of the training pool for validation", 0.0, 0.9);
  return b;
}
}  // namespace

Schema sequence_options_schema() { return sequence_binding().schema(); }
SequenceOptions sequence_options(const Params& options) { return sequence_binding().from(options); }

void check_sequence_data(const SequenceData& d, const std::string& name) {
  RC_CHECK(d.train.size() > 0, "dataset {}: no training sequences", name);
  RC_CHECK(d.test.size() > 0, "dataset {}: no test sequences; a test accuracy over none would be meaningless", name);
  RC_CHECK(d.train.fill && d.test.fill, "dataset {}: its loader gave no way to make the sequences (fill)", name);
  RC_CHECK(d.train.length >= 1 && d.train.features >= 1, "dataset {}: sequences of {} steps × {} features", name,
           d.train.length, d.train.features);
  RC_CHECK(d.train.num_classes() >= 2, "dataset {}: {} class(es); classification needs at least 2", name,
           d.train.num_classes());
  RC_CHECK(distinct_labels(d.train.labels, {}) >= 2,
           "dataset {}: every training sequence has the same class; classification needs at least 2 classes", name);
  RC_CHECK(d.test.length == d.train.length && d.test.features == d.train.features,
           "dataset {}: test sequences are {} steps × {} features but training sequences {} × {}", name, d.test.length,
           d.test.features, d.train.length, d.train.features);
  for (const SequenceSet* s : {&d.train, &d.test})
    for (int32_t y : s->labels)
      RC_CHECK(y >= 0 && y < d.train.num_classes(), "dataset {}: label {} outside [0, {})", name, y,
               d.train.num_classes());
}

SubsetIndices run_subset(const SequenceData& d, const Params& options, double train_size, uint64_t seed,
                         const std::string& dataset, const std::string& run) {
  return run_class_subset(d.train.labels, d.train.num_classes(), sequence_options(options).val_fraction, train_size,
                          seed, dataset, run, "sequences");
}

Tensor make_sequence_batch(const SequenceSet& set, const std::vector<int64_t>& idx, std::vector<int64_t>* labels) {
  const int64_t b = static_cast<int64_t>(idx.size()), item = set.length * set.features;
  Tensor x = Tensor::empty({b, set.length, set.features});
  float* out = x.data();
  // items are independent and each fills its own slice: the result does not depend on the thread count
  parallel_for(b, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, item)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      RC_CHECK(idx[i] >= 0 && idx[i] < set.size(), "sequence batch: item {} of a set of {}", idx[i], set.size());
      set.fill(idx[i], out + i * item);
    }
  });
  if (labels)
    for (int64_t i : idx) labels->push_back(set.labels[static_cast<size_t>(i)]);
  return x;
}

}  // namespace rc::data
