#pragma once
// Dense products as autograd ops. Inputs may be strided views: a matrix stored transposed (e.g. the result of
// transpose(-2, -1)) is passed to BLAS as a transposed operand without a copy; other layouts are packed first.
#include "framework/autograd/var.hpp"

namespace rc {

// a: (M, K), b: (K, N) -> (M, N)             y = a · b
// a: (B, M, K), b: (B, K, N) -> (B, M, N)    y[i] = a[i] · b[i]
// backward: da = dy · bᵀ, db = aᵀ · dy (per batch item)
Var matmul(const Var& a, const Var& b);

// x: (..., in), w: (out, in) (PyTorch layout), b: (out) or undefined Var for no bias -> (..., out)
// y = x · wᵀ + b, the bias written into the output before the product (one pass over y)
// backward: dx = dy · w, dw = dyᵀ · x, db = Σ_rows dy (all rows of x flattened)
Var linear(const Var& x, const Var& w, const Var& b = Var());

}  // namespace rc
