#pragma once
// Reference sparse × dense product: the sparse matrix given densely, plain loops.
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// a: (M, K) dense form of the sparse matrix, h: (K, D) -> (M, D)
template <class T>
RefTensor<T> spmm(const RefTensor<T>& a, const RefTensor<T>& h) {
  const int64_t m = a.dim(0), k = a.dim(1), d = h.dim(1);
  RefTensor<T> y({m, d});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t c = 0; c < d; ++c) y[i * d + c] += a[i * k + j] * h[j * d + c];
  return y;
}
// forward was y = A h, so dh = Aᵀ dy
template <class T>
RefTensor<T> spmm_backward(const RefTensor<T>& a, const RefTensor<T>& dy) {
  const int64_t m = a.dim(0), k = a.dim(1), d = dy.dim(1);
  RefTensor<T> dh({k, d});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t c = 0; c < d; ++c) dh[j * d + c] += a[i * k + j] * dy[i * d + c];
  return dh;
}

}  // namespace rc::ref
