#pragma once
// Embedding lookup (autograd op): rows of a table gathered by integer indices.
#include <cstdint>
#include <vector>

#include "framework/autograd/var.hpp"

namespace rc {

// table: (V, D); indices: n values in [0, V) -> (n, D).   y[k, :] = table[indices[k], :]
// Backward scatter-adds dy rows into the table gradient; repeated indices accumulate, in increasing position
// order for every row (deterministic for any thread count).
Var embedding(const Var& table, const std::vector<int64_t>& indices);

// table: (V, D); indices: values in [0, V) laid out row-major with shape index_shape -> (index_shape..., D).
Var embedding(const Var& table, const std::vector<int64_t>& indices, const Shape& index_shape);

}  // namespace rc
