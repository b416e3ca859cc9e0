#pragma once
// Reference activations: plain loops, forward and backward, templated on the scalar type.
#include <cmath>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// relu(x) = max(x, 0)
template <class T>
RefTensor<T> relu(const RefTensor<T>& x) {
  RefTensor<T> y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
  return y;
}
// forward was y = max(x, 0), so dx = dy where x > 0
template <class T>
RefTensor<T> relu_backward(const RefTensor<T>& x, const RefTensor<T>& dy) {
  RefTensor<T> dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
  return dx;
}

// gelu(x) = x Φ(x), Φ(x) = (1 + erf(x / √2)) / 2
template <class T>
RefTensor<T> gelu(const RefTensor<T>& x) {
  RefTensor<T> y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) y[i] = x[i] * T(0.5) * (T(1) + std::erf(x[i] / std::sqrt(T(2))));
  return y;
}
// forward was y = x Φ(x), so dx = dy (Φ(x) + x φ(x)), φ(x) = exp(-x²/2) / √(2π)
template <class T>
RefTensor<T> gelu_backward(const RefTensor<T>& x, const RefTensor<T>& dy) {
  const T pi = std::acos(T(-1));
  RefTensor<T> dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const T cdf = T(0.5) * (T(1) + std::erf(x[i] / std::sqrt(T(2))));
    const T pdf = std::exp(-x[i] * x[i] / T(2)) / std::sqrt(T(2) * pi);
    dx[i] = dy[i] * (cdf + x[i] * pdf);
  }
  return dx;
}

// elu(x) = x for x > 0, alpha (exp(x) - 1) otherwise
template <class T>
RefTensor<T> elu(const RefTensor<T>& x, T alpha) {
  RefTensor<T> y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) y[i] = x[i] > T(0) ? x[i] : alpha * (std::exp(x[i]) - T(1));
  return y;
}
// forward was y = x or alpha (exp(x) - 1), so dx = dy or dy alpha exp(x)
template <class T>
RefTensor<T> elu_backward(const RefTensor<T>& x, T alpha, const RefTensor<T>& dy) {
  RefTensor<T> dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) dx[i] = x[i] > T(0) ? dy[i] : dy[i] * alpha * std::exp(x[i]);
  return dx;
}

// leaky_relu(x) = x for x > 0, slope x otherwise
template <class T>
RefTensor<T> leaky_relu(const RefTensor<T>& x, T slope) {
  RefTensor<T> y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) y[i] = x[i] > T(0) ? x[i] : slope * x[i];
  return y;
}
// forward was y = x or slope x, so dx = dy or slope dy
template <class T>
RefTensor<T> leaky_relu_backward(const RefTensor<T>& x, T slope, const RefTensor<T>& dy) {
  RefTensor<T> dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) dx[i] = x[i] > T(0) ? dy[i] : slope * dy[i];
  return dx;
}

}  // namespace rc::ref
