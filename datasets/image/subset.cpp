#include "datasets/image/subset.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "framework/core/error.hpp"
#include "framework/core/random.hpp"

namespace rc::data {

SubsetIndices stratified_subset(const std::vector<int32_t>& labels, int64_t num_classes, const SubsetSpec& s) {
  RC_CHECK(s.per_class > 0 || (s.fraction > 0 && s.fraction <= 1), "subset: fraction {} must be in (0, 1]",
           s.fraction);
  RC_CHECK(s.val_fraction >= 0 && s.val_fraction < 1, "subset: val_fraction {} must be in [0, 1)", s.val_fraction);
  std::vector<std::vector<int64_t>> by_class(num_classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    RC_CHECK(labels[i] >= 0 && labels[i] < num_classes, "subset: label {} of item {} is outside [0, {})", labels[i],
             i, num_classes);
    by_class[labels[i]].push_back(static_cast<int64_t>(i));
  }
  SubsetIndices out;
  for (int64_t c = 0; c < num_classes; ++c) {
    auto& items = by_class[c];
    std::mt19937_64 gen(mix_seed(s.seed, static_cast<uint64_t>(c)));
    std::shuffle(items.begin(), items.end(), gen);
    const int64_t n = static_cast<int64_t>(items.size());
    const int64_t nval = static_cast<int64_t>(std::llround(s.val_fraction * n));
    const int64_t pool = n - nval;
    int64_t k = s.per_class > 0 ? s.per_class : static_cast<int64_t>(std::llround(s.fraction * pool));
    if (s.per_class == 0 && pool > 0) k = std::max<int64_t>(k, 1);
    RC_CHECK(k <= pool, "subset: class {} has {} training items, fewer than the {} per class asked for", c, pool, k);
    out.train.insert(out.train.end(), items.begin(), items.begin() + k);
    out.val.insert(out.val.end(), items.begin() + pool, items.end());
  }
  std::sort(out.train.begin(), out.train.end());
  std::sort(out.val.begin(), out.val.end());
  return out;
}

SubsetIndices run_class_subset(const std::vector<int32_t>& labels, int64_t num_classes, double val_fraction,
                               double train_size, uint64_t seed, const std::string& dataset, const std::string& run,
                               const std::string& items) {
  SubsetSpec spec;
  spec.seed = seed;
  spec.val_fraction = val_fraction;
  if (train_size <= 1.0) spec.fraction = train_size;
  else spec.per_class = std::max<int64_t>(1, std::llround(train_size / double(num_classes)));
  SubsetIndices sub = stratified_subset(labels, num_classes, spec);
  const int64_t held = distinct_labels(labels, sub.train);
  RC_CHECK(held >= 2, "dataset {}: the {} training {} of run {} hold {} class(es); classification needs at least 2",
           dataset, sub.train.size(), items, run, held);
  return sub;
}

int64_t distinct_labels(const std::vector<int32_t>& labels, const std::vector<int64_t>& idx) {
  std::vector<int32_t> seen;
  if (idx.empty()) seen = labels;
  for (int64_t i : idx) seen.push_back(labels[static_cast<size_t>(i)]);
  std::sort(seen.begin(), seen.end());
  return std::unique(seen.begin(), seen.end()) - seen.begin();
}

}  // namespace rc::data
