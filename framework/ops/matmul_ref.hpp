#pragma once
// Reference dense products: plain loops, forward and backward, templated on the scalar type.
#include <vector>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// a: (M, K) or (B, M, K); b: (K, N) or (B, K, N);  y[i] = a[i] · b[i]
template <class T>
RefTensor<T> matmul(const RefTensor<T>& a, const RefTensor<T>& b) {
  const bool batched = a.ndim() == 3;
  const int64_t B = batched ? a.dim(0) : 1, M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  RefTensor<T> y(batched ? Shape{B, M, N} : Shape{M, N});
  for (int64_t s = 0; s < B; ++s)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T acc = T(0);
        for (int64_t k = 0; k < K; ++k) acc += a[(s * M + i) * K + k] * b[(s * K + k) * N + j];
        y[(s * M + i) * N + j] = acc;
      }
  return y;
}

// forward was y = a · b, so da[i, k] = Σ_j dy[i, j] b[k, j] and db[k, j] = Σ_i a[i, k] dy[i, j]; returns {da, db}
template <class T>
std::vector<RefTensor<T>> matmul_backward(const RefTensor<T>& a, const RefTensor<T>& b, const RefTensor<T>& dy) {
  const bool batched = a.ndim() == 3;
  const int64_t B = batched ? a.dim(0) : 1, M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  RefTensor<T> da(a.shape), db(b.shape);
  for (int64_t s = 0; s < B; ++s)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) {
          const T g = dy[(s * M + i) * N + j];
          da[(s * M + i) * K + k] += g * b[(s * K + k) * N + j];
          db[(s * K + k) * N + j] += a[(s * M + i) * K + k] * g;
        }
  return {da, db};
}

// x: (..., in), w: (out, in), b: (out) or empty (numel 0 = no bias);  y[r, o] = Σ_k x[r, k] w[o, k] + b[o]
template <class T>
RefTensor<T> linear(const RefTensor<T>& x, const RefTensor<T>& w, const RefTensor<T>& b) {
  const int64_t in = w.dim(1), out = w.dim(0), rows = x.numel() / in;
  Shape shape = x.shape;
  shape.back() = out;
  RefTensor<T> y(shape);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      T acc = b.numel() ? b[o] : T(0);
      for (int64_t k = 0; k < in; ++k) acc += x[r * in + k] * w[o * in + k];
      y[r * out + o] = acc;
    }
  return y;
}

// forward was y = x · wᵀ + b, so dx = dy · w, dw = dyᵀ · x, db = Σ_r dy[r]; returns {dx, dw, db} (db empty
// when there is no bias)
template <class T>
std::vector<RefTensor<T>> linear_backward(const RefTensor<T>& x, const RefTensor<T>& w, const RefTensor<T>& b,
                                          const RefTensor<T>& dy) {
  const int64_t in = w.dim(1), out = w.dim(0), rows = x.numel() / in;
  RefTensor<T> dx(x.shape), dw(w.shape), db(b.shape);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      const T g = dy[r * out + o];
      if (b.numel()) db[o] += g;
      for (int64_t k = 0; k < in; ++k) {
        dx[r * in + k] += g * w[o * in + k];
        dw[o * in + k] += g * x[r * in + k];
      }
    }
  return {dx, dw, db};
}

}  // namespace rc::ref
