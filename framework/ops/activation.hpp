#pragma once
// Pointwise activations (autograd ops). Any shape; the result has the input's shape.
#include "framework/autograd/var.hpp"

namespace rc {

// relu(x) = max(x, 0)
Var relu(const Var& x);

// gelu(x) = x · Φ(x) with Φ(x) = (1 + erf(x / √2)) / 2 the standard normal CDF (the exact form, not tanh)
Var gelu(const Var& x);

// elu(x) = x for x > 0, alpha · (exp(x) - 1) otherwise; alpha finite
Var elu(const Var& x, float alpha = 1.0f);

// leaky_relu(x) = x for x > 0, negative_slope · x otherwise; negative_slope finite
Var leaky_relu(const Var& x, float negative_slope = 0.01f);

}  // namespace rc
