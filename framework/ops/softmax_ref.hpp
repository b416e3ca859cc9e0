#pragma once
// Reference softmax / log-softmax along any dim: plain loops over (outer, D, inner), templated on the scalar.
#include <cmath>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// The tensor seen as (outer, D, inner) around dimension dim (negative counts from the end).
struct AxisSplit {
  int64_t outer = 1, size = 1, inner = 1;
};
template <class T>
AxisSplit split_at(const RefTensor<T>& x, int dim) {
  int d = dim < 0 ? dim + x.ndim() : dim;
  AxisSplit s;
  for (int i = 0; i < x.ndim(); ++i) {
    if (i < d) s.outer *= x.shape[i];
    if (i == d) s.size = x.shape[i];
    if (i > d) s.inner *= x.shape[i];
  }
  return s;
}

// Calls f(at) for every line along the split dimension; at(j) is the flat index of the line's element j.
template <class F>
void for_each_line(const AxisSplit& s, F f) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) f([&](int64_t j) { return (o * s.size + j) * s.inner + i; });
}

// log Σ_j exp(x_j) over one line, computed as m + log Σ_j exp(x_j − m) with m = max_j x_j
template <class T, class At>
T line_lse(const RefTensor<T>& x, int64_t n, At at) {
  T m = x[at(0)];
  for (int64_t j = 1; j < n; ++j) m = std::max(m, x[at(j)]);
  T sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += std::exp(x[at(j)] - m);
  return m + std::log(sum);
}

// y_i = exp(x_i) / Σ_j exp(x_j) = exp(x_i − lse) along dim
template <class T>
RefTensor<T> softmax(const RefTensor<T>& x, int dim = -1) {
  AxisSplit s = split_at(x, dim);
  RefTensor<T> y(x.shape);
  for_each_line(s, [&](auto at) {
    const T lse = line_lse(x, s.size, at);
    for (int64_t j = 0; j < s.size; ++j) y[at(j)] = std::exp(x[at(j)] - lse);
  });
  return y;
}
// forward was y = softmax(x), so dx_i = Σ_j dy_j ∂y_j/∂x_i = y_i (dy_i − Σ_j dy_j y_j)
template <class T>
RefTensor<T> softmax_backward(const RefTensor<T>& y, const RefTensor<T>& dy, int dim = -1) {
  AxisSplit s = split_at(y, dim);
  RefTensor<T> dx(y.shape);
  for_each_line(s, [&](auto at) {
    T dot = 0;
    for (int64_t j = 0; j < s.size; ++j) dot += dy[at(j)] * y[at(j)];
    for (int64_t j = 0; j < s.size; ++j) dx[at(j)] = y[at(j)] * (dy[at(j)] - dot);
  });
  return dx;
}

// y_i = x_i − log Σ_j exp(x_j) along dim
template <class T>
RefTensor<T> log_softmax(const RefTensor<T>& x, int dim = -1) {
  AxisSplit s = split_at(x, dim);
  RefTensor<T> y(x.shape);
  for_each_line(s, [&](auto at) {
    const T lse = line_lse(x, s.size, at);
    for (int64_t j = 0; j < s.size; ++j) y[at(j)] = x[at(j)] - lse;
  });
  return y;
}
// forward was y = x − lse(x), ∂lse/∂x_i = softmax_i = exp(y_i), so dx_i = dy_i − exp(y_i) Σ_j dy_j
template <class T>
RefTensor<T> log_softmax_backward(const RefTensor<T>& y, const RefTensor<T>& dy, int dim = -1) {
  AxisSplit s = split_at(y, dim);
  RefTensor<T> dx(y.shape);
  for_each_line(s, [&](auto at) {
    T sum = 0;
    for (int64_t j = 0; j < s.size; ++j) sum += dy[at(j)];
    for (int64_t j = 0; j < s.size; ++j) dx[at(j)] = dy[at(j)] - std::exp(y[at(j)]) * sum;
  });
  return dx;
}

}  // namespace rc::ref
