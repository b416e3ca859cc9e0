#pragma once
// Softmax and log-softmax along one dimension (autograd ops). The result has the input's shape.
// Numerically stable: each row is shifted by its maximum before exp. dim = -1 (the last) is the fast
// path; any other dim is moved last, computed there and moved back.
#include "framework/autograd/var.hpp"

namespace rc {

// x: (..., D, ...) with D = x.dim(dim); y: x's shape
// y_i = exp(x_i - m) / Σ_j exp(x_j - m), m = max_j x_j, along dim. Backward keeps y: dx = y ⊙ (dy − Σ dy ⊙ y).
Var softmax(const Var& x, int dim = -1);

// x: (..., D, ...); y: x's shape
// y_i = x_i − lse, lse = m + log Σ_j exp(x_j − m), along dim. Backward keeps y: dx = dy − exp(y) Σ dy.
Var log_softmax(const Var& x, int dim = -1);

}  // namespace rc
