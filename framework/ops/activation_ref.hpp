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

}  // namespace rc::ref
