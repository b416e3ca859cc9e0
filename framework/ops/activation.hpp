#pragma once
// Pointwise activations (autograd ops). Any shape; the result has the input's shape.
#include "framework/autograd/var.hpp"

namespace rc {

// relu(x) = max(x, 0)
Var relu(const Var& x);

}  // namespace rc
