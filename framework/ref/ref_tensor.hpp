#pragma once
// RefTensor<T>: the plain, packed, row-major tensor that reference implementations use. References are
// templates over the scalar type so the same code runs in float (compared with fast kernels) and in double
// (finite-difference gradient checks).
#include <cstdint>
#include <vector>

#include "framework/core/tensor.hpp"

namespace rc::ref {

template <class T>
struct RefTensor {
  Shape shape;
  std::vector<T> data;

  RefTensor() = default;
  explicit RefTensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape)), T(0)) {}
  RefTensor(Shape s, std::vector<T> d) : shape(std::move(s)), data(std::move(d)) {
    RC_CHECK(static_cast<int64_t>(data.size()) == shape_numel(shape), "RefTensor: {} values for shape {}",
             data.size(), shape_str(shape));
  }
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[i < 0 ? i + ndim() : i]; }
  T& operator[](int64_t i) { return data[static_cast<size_t>(i)]; }
  const T& operator[](int64_t i) const { return data[static_cast<size_t>(i)]; }
};

template <class T>
RefTensor<T> to_ref(const Tensor& t) {
  Tensor c = t.contiguous();
  RefTensor<T> r(c.shape());
  for (int64_t i = 0; i < c.numel(); ++i) r.data[i] = static_cast<T>(c.data()[i]);
  return r;
}

template <class T>
Tensor from_ref(const RefTensor<T>& r) {
  Tensor t = Tensor::empty(r.shape);
  for (int64_t i = 0; i < r.numel(); ++i) t.data()[i] = static_cast<float>(r.data[i]);
  return t;
}

}  // namespace rc::ref
