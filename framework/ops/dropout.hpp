#pragma once
// Inverted dropout (autograd op) with a reproducible, thread-count independent mask.
#include <cstdint>
#include <vector>

#include "framework/autograd/var.hpp"

namespace rc {

// x: any shape; p in [0, 1) -> x's shape.
// Training: y_i = x_i · m_i / (1 - p) with m_i ~ Bernoulli(1 - p), so E[y] = x. Eval (training == false) or
// p == 0: returns x itself. The mask depends only on (seed, i): element i lies in chunk i / 2^14, whose random
// stream starts at mix_seed(seed, chunk). Backward reuses the forward's byte mask: dx = dy · m / (1 - p).
Var dropout(const Var& x, float p, bool training, uint64_t seed);

// The keep mask (1 = kept, 0 = dropped) dropout(x, p, true, seed) applies to an x of n elements.
std::vector<uint8_t> dropout_mask(int64_t n, float p, uint64_t seed);

}  // namespace rc
