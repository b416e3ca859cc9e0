#pragma once
// Gradient clipping with PyTorch's semantics (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
// Parameters without a gradient are ignored.
#include <vector>

#include "framework/autograd/var.hpp"

namespace rc::optim {

// total = (sum over all gradient elements of |g|^norm_type)^(1 / norm_type), or max |g| for norm_type = inf
// (float partial sums over 1024-element tiles, accumulated in double, in an order fixed by the sizes alone,
// so the result does not depend on the thread count). Every gradient is then scaled by
// min(1, max_norm / (total + 1e-6)). Returns total, the norm before clipping. max_norm >= 0, norm_type > 0.
float clip_grad_norm(const std::vector<Var>& params, float max_norm, float norm_type = 2.0f);

// g = clamp(g, -clip_value, clip_value) elementwise; clip_value >= 0.
void clip_grad_value(const std::vector<Var>& params, float clip_value);

}  // namespace rc::optim
