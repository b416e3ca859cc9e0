#pragma once
// Shape ops (autograd): reshape, transpose, permute, concat, slice, head_part. Results are packed (row-major
// contiguous); reshape of a packed input shares its storage, the others copy. Dimensions may be negative
// (counted from the end).
#include <vector>

#include "framework/autograd/var.hpp"

namespace rc {

// x: any shape; shape: the same number of elements, one entry may be -1 (inferred) -> shape.
// Same values in row-major order; backward reshapes the gradient back.
Var reshape(const Var& x, Shape shape);

// x: (n dims), a, b in [-n, n) -> x's shape with sizes a and b swapped.   y[.., i, .., j, ..] = x[.., j, .., i, ..]
Var transpose(const Var& x, int a, int b);

// x: (n dims), order: a permutation of 0..n-1 -> (x.shape[order[0]], ..., x.shape[order[n-1]]).
// y[i_0, ..., i_{n-1}] = x[j] with j[order[k]] = i_k
Var permute(const Var& x, const std::vector<int>& order);

// xs: k >= 1 tensors of equal rank whose sizes agree except along dim -> sizes along dim added.
// The inputs laid one after another along dim; backward splits the gradient back.
Var concat(const std::vector<Var>& xs, int dim);

// x: (n dims), 0 <= start <= end <= x.shape[dim] -> x's shape with size end - start along dim.
// y = x[.., start:end, ..]; backward scatters the gradient into zeros.
Var slice(const Var& x, int dim, int64_t start, int64_t end);

// x: (B, N, parts·E) with E = heads·D, 0 <= part < parts -> (B, heads, N, D): the part-th of `parts` fused
// projections split into heads, y[b, h, n, d] = x[b, n, part·E + h·D + d] (q, k, v of a multi-head attention from
// one (B, N, 3E) projection). The same as reshape to (B, N, parts, heads, D), slice, and permute to
// (B, heads, N, D), in one copy; backward adds dy into the gradient of x in place, so the parts share one.
Var head_part(const Var& x, int64_t parts, int64_t part, int64_t heads);

}  // namespace rc
