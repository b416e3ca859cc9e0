#pragma once
// Reference embedding lookup: plain loops, forward and backward, templated on the scalar type.
#include <cstdint>
#include <vector>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// table: (V, D), indices with shape index_shape -> (index_shape..., D); y[k, :] = table[indices[k], :]
template <class T>
RefTensor<T> embedding(const RefTensor<T>& table, const std::vector<int64_t>& indices, const Shape& index_shape) {
  const int64_t D = table.shape[1];
  Shape ys = index_shape;
  ys.push_back(D);
  RefTensor<T> y(ys);
  for (size_t k = 0; k < indices.size(); ++k)
    for (int64_t i = 0; i < D; ++i) y[k * D + i] = table[indices[k] * D + i];
  return y;
}
// forward was y[k] = table[indices[k]], so dtable[indices[k]] += dy[k] for every k
template <class T>
RefTensor<T> embedding_backward(const RefTensor<T>& table, const std::vector<int64_t>& indices, const RefTensor<T>& dy) {
  const int64_t D = table.shape[1];
  RefTensor<T> dtable(table.shape);
  for (size_t k = 0; k < indices.size(); ++k)
    for (int64_t i = 0; i < D; ++i) dtable[indices[k] * D + i] += dy[k * D + i];
  return dtable;
}

}  // namespace rc::ref
