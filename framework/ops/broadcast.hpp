#pragma once
// Broadcasting (NumPy rules) and the deterministic reductions that undo it in backward passes.
#include <vector>

#include "framework/core/tensor.hpp"

namespace rc {

// Shapes are aligned at their trailing dimension; each pair of sizes must be equal or one of them 1, and
// the result takes the larger: broadcast_shapes((3, 1, 5), (4, 5)) = (3, 4, 5). `op` names the caller.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// How packed operands a and b map onto the broadcast result: runs of dimensions that broadcast alike are
// merged, so same shapes collapse to one dimension and a bias (M, K) + (K) to two.
struct BroadcastLayout {
  Shape out;                                  // the result shape
  std::vector<int64_t> dims;                  // merged sizes, innermost last; never empty
  std::vector<int64_t> a_strides, b_strides;  // element strides into packed a and b (0 where broadcast)
};
BroadcastLayout broadcast_layout(const Shape& a, const Shape& b, const char* op);

// x packed, viewed as (outer, mid, inner): out[o, i] = Σ_d x[o, d, i], as a packed (outer * inner) tensor.
// The mid axis is cut into blocks whose size depends only on (mid, inner); blocks are summed in order, so the
// result is the same for any thread count.
Tensor sum_middle(const Tensor& x, int64_t outer, int64_t mid, int64_t inner);

// The adjoint of sum_middle: y packed (outer * inner) -> out[o, d, i] = y[o, i], packed (outer * mid * inner).
Tensor expand_middle(const Tensor& y, int64_t outer, int64_t mid, int64_t inner);

// g summed over the dimensions in which `shape` was broadcast to g's shape; the result has `shape`
// (g itself when the shapes agree). The gradient of any broadcasting op with respect to an operand.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace rc
