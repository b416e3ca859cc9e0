#pragma once
// Elementwise arithmetic with NumPy-style broadcasting, scalar arithmetic, and sums (autograd ops).
// Broadcasting: a and b are aligned at their trailing dimension; each pair of sizes must be equal or one of
// them 1, e.g. a: (B, N, D) and b: (D) -> (B, N, D). The gradient of a broadcast operand is the output gradient
// summed over the dimensions it was broadcast in (sum_to), in a fixed order (thread-count independent).
#include "framework/autograd/var.hpp"

namespace rc {

// a: any shape, b: broadcastable with a -> broadcast_shapes(a, b).   add(a, b) = a + b
Var add(const Var& a, const Var& b);
// a: any shape, b: broadcastable with a -> broadcast_shapes(a, b).   sub(a, b) = a - b
Var sub(const Var& a, const Var& b);
// a: any shape, b: broadcastable with a -> broadcast_shapes(a, b).   mul(a, b) = a ⊙ b
Var mul(const Var& a, const Var& b);

// x: any shape -> x's shape.   add_scalar(x, s) = x + s
Var add_scalar(const Var& x, float s);
// x: any shape -> x's shape.   mul_scalar(x, s) = s · x
Var mul_scalar(const Var& x, float s);

// x: any shape -> () (a scalar).   sum(x) = Σ_i x_i
Var sum(const Var& x);
// x: any shape with at least one element -> ().   mean(x) = Σ_i x_i / numel(x)
Var mean(const Var& x);
// x: (d_0, ..., d_{n-1}), dim in [-n, n) -> x's shape without dim (or with size 1 there when keepdim).
// sum(x, k)[..., i, ...] = Σ_j x[..., j, i, ...] (j runs over dimension k)
Var sum(const Var& x, int dim, bool keepdim = false);

}  // namespace rc
