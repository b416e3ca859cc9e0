#pragma once
// Reference dropout for a given keep mask (the fast op's mask comes from dropout_mask), templated on the scalar.
#include <cstdint>
#include <vector>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// y = x · m / (1 - p)
template <class T>
RefTensor<T> dropout(const RefTensor<T>& x, const std::vector<uint8_t>& keep, T p) {
  RefTensor<T> y(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) y[i] = keep[i] ? x[i] / (T(1) - p) : T(0);
  return y;
}
// forward was y = x · m / (1 - p), so dx = dy · m / (1 - p)
template <class T>
RefTensor<T> dropout_backward(const std::vector<uint8_t>& keep, T p, const RefTensor<T>& dy) {
  return dropout(dy, keep, p);
}

}  // namespace rc::ref
