#include "datasets/sequence/marked_sum.hpp"

#include <fmt/format.h>

#include <random>

#include "framework/core/error.hpp"
#include "framework/core/param_binding.hpp"
#include "framework/core/random.hpp"

namespace rc::data {

namespace {
const ParamBinding<MarkedSumOptions>& binding() {
  using O = MarkedSumOptions;
  static const auto b =
      ParamBinding<O>()
          .field(&O::length, "length", "marked-sum: sequence length L (marks up to L − 1 steps apart)", 2.0,
                 1'048'576.0)
          .field(&O::train_items, "train_items", "marked-sum: sequences in the training pool", 20.0, 10'000'000.0)
          .field(&O::test_items, "test_items", "marked-sum: sequences in the test set", 10.0, 10'000'000.0)
          .field(&O::data_seed, "data_seed", "marked-sum: seed of the generated data (runs subsample it with their own)",
                 0.0);
  return b;
}

constexpr int64_t kDigits = 10, kFeatures = kDigits + 1, kClasses = 2 * kDigits - 1;

// The generator of one item: its marks and their digits come first, so the label costs four draws.
struct ItemGen {
  std::mt19937_64 gen;
  MarkedSumItem item;
  int da = 0, db = 0;
  ItemGen(const MarkedSumOptions& o, int split, int64_t i)
      : gen(mix_seed(mix_seed(static_cast<uint64_t>(o.data_seed), 0x3a5u + uint64_t(split)), uint64_t(i))) {
    const int64_t half = o.length / 2;
    item.first = std::uniform_int_distribution<int64_t>(0, half - 1)(gen);
    item.second = std::uniform_int_distribution<int64_t>(half, o.length - 1)(gen);
    std::uniform_int_distribution<int> digit(0, kDigits - 1);
    da = digit(gen);
    db = digit(gen);
    item.label = da + db;
  }
};

SequenceSet make_split(const MarkedSumOptions& o, int split, int64_t n) {
  SequenceSet s;
  s.length = o.length;
  s.features = kFeatures;
  for (int c = 0; c < kClasses; ++c) s.class_names.push_back(std::to_string(c));
  s.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) s.labels[static_cast<size_t>(i)] = ItemGen(o, split, i).item.label;
  s.description = fmt::format("marked-sum L={} (digit one-hot + mark per step)", o.length);
  s.fill = [o, split](int64_t i, float* out) {
    ItemGen g(o, split, i);
    std::uniform_int_distribution<int> digit(0, kDigits - 1);
    std::fill(out, out + o.length * kFeatures, 0.0f);
    for (int64_t t = 0; t < o.length; ++t) {
      int d = digit(g.gen);
      if (t == g.item.first) d = g.da;
      if (t == g.item.second) d = g.db;
      out[t * kFeatures + d] = 1.0f;
    }
    out[g.item.first * kFeatures + kDigits] = 1.0f;
    out[g.item.second * kFeatures + kDigits] = 1.0f;
  };
  return s;
}
}  // namespace

Schema marked_sum_schema() { return binding().schema(); }
MarkedSumOptions marked_sum_options(const Params& options) { return binding().from(options); }

MarkedSumItem marked_sum_item(const MarkedSumOptions& o, int split, int64_t i) { return ItemGen(o, split, i).item; }

SequenceData marked_sum(const MarkedSumOptions& o) {
  RC_CHECK(o.length >= 2, "dataset.length: {} is too short; marked-sum needs L >= 2 (one mark in each half)", o.length);
  RC_CHECK(double(o.train_items) * double(o.length) * kFeatures <= double(int64_t{1} << 40),
           "dataset: train_items {} × length {} is too large", o.train_items, o.length);
  return {make_split(o, 0, o.train_items), make_split(o, 1, o.test_items)};
}

}  // namespace rc::data
