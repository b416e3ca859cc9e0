#pragma once
// A synthetic long-range classification task, generated on the fly: a sequence of L random digits, two of them
// marked — one in the first half, one in the second — and the label is the sum of the two marked digits, 0…18
// (19 classes). Each step is 11 values: the digit one-hot (10) and the mark (1). The most frequent sum (9) has
// probability 10 %, so a constant guess scores at most 10 %. One marked digit alone does not raise accuracy (given
// it, ten sums remain equally likely) but lowers the loss from 2.79 to 2.30 nats: a gradient signal on the way to
// reading both, which alone reach 100 %. The
// marks are between 1 and L − 1 steps apart (L/2 on average), so a model must carry information across up to
// L − 1 positions: an RNN through its state, attention in one hop, a window of radius r only through about
// L/(2r) stacked layers. (With the sum mod 10 one digit alone tells nothing, not even in the loss: a parity-like
// task on which neither a GRU nor attention left chance in 3000 steps at L = 64 in a first trial.)
// Item i of a split is a pure function of (seed, split, i), so nothing is stored but the labels.
#include <cstdint>

#include "datasets/sequence/sequence_data.hpp"

namespace rc::data {

struct MarkedSumOptions {
  int64_t length = 256;       // L
  int64_t train_items = 20000;
  int64_t test_items = 4000;
  int64_t data_seed = 0;      // the data's seed (the same data for every run; runs draw subsets with their own seed)
};

Schema marked_sum_schema();
MarkedSumOptions marked_sum_options(const Params& options);

// The training pool (train_items) and the test set (test_items).
SequenceData marked_sum(const MarkedSumOptions& o);

// The positions (a < b) and digits of item i of a split (0 train, 1 test), and its label, as the generator makes them.
struct MarkedSumItem {
  int64_t first = 0, second = 0;
  int label = 0;
};
MarkedSumItem marked_sum_item(const MarkedSumOptions& o, int split, int64_t i);

}  // namespace rc::data
