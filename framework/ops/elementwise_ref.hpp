#pragma once
// Reference elementwise ops and sums: plain index loops, forward and backward, templated on the scalar type.
#include <vector>

#include "framework/ops/broadcast.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// The flat index into x (of shape xs, right-aligned against out) for the multi-index of out element `lin`.
inline int64_t broadcast_source(const Shape& out, const Shape& xs, int64_t lin) {
  int64_t src = 0, stride = 1;
  const int shift = static_cast<int>(out.size() - xs.size());
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    const int64_t idx = lin % out[d];
    lin /= out[d];
    const int xd = d - shift;
    if (xd < 0) continue;
    if (xs[xd] != 1) src += idx * stride;
    stride *= xs[xd];
  }
  return src;
}

// x repeated along the dimensions where it has size 1 (or is missing) to shape `out`
template <class T>
RefTensor<T> broadcast_to(const RefTensor<T>& x, const Shape& out) {
  RefTensor<T> y(out);
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = x[broadcast_source(out, x.shape, i)];
  return y;
}

// the adjoint of broadcast_to: every element of g added into the element of `shape` it was copied from
template <class T>
RefTensor<T> sum_to(const RefTensor<T>& g, const Shape& shape) {
  RefTensor<T> y(shape);
  for (int64_t i = 0; i < g.numel(); ++i) y[broadcast_source(g.shape, shape, i)] += g[i];
  return y;
}

template <class T, class F>
RefTensor<T> broadcast_binary(const RefTensor<T>& a, const RefTensor<T>& b, F f) {
  const Shape out = broadcast_shapes(a.shape, b.shape, "ref");
  RefTensor<T> A = broadcast_to(a, out), B = broadcast_to(b, out), y(out);
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = f(A[i], B[i]);
  return y;
}

// add(a, b) = a + b (broadcast)
template <class T>
RefTensor<T> add(const RefTensor<T>& a, const RefTensor<T>& b) {
  return broadcast_binary(a, b, [](T u, T v) { return u + v; });
}
// forward was y = a + b, so da = sum_to(dy, a), db = sum_to(dy, b)
template <class T>
std::vector<RefTensor<T>> add_backward(const RefTensor<T>& a, const RefTensor<T>& b, const RefTensor<T>& dy) {
  return {sum_to(dy, a.shape), sum_to(dy, b.shape)};
}

// sub(a, b) = a - b (broadcast)
template <class T>
RefTensor<T> sub(const RefTensor<T>& a, const RefTensor<T>& b) {
  return broadcast_binary(a, b, [](T u, T v) { return u - v; });
}
// forward was y = a - b, so da = sum_to(dy, a), db = -sum_to(dy, b)
template <class T>
std::vector<RefTensor<T>> sub_backward(const RefTensor<T>& a, const RefTensor<T>& b, const RefTensor<T>& dy) {
  RefTensor<T> db = sum_to(dy, b.shape);
  for (auto& v : db.data) v = -v;
  return {sum_to(dy, a.shape), db};
}

// mul(a, b) = a ⊙ b (broadcast)
template <class T>
RefTensor<T> mul(const RefTensor<T>& a, const RefTensor<T>& b) {
  return broadcast_binary(a, b, [](T u, T v) { return u * v; });
}
// forward was y = a ⊙ b, so da = sum_to(dy ⊙ b, a), db = sum_to(dy ⊙ a, b)
template <class T>
std::vector<RefTensor<T>> mul_backward(const RefTensor<T>& a, const RefTensor<T>& b, const RefTensor<T>& dy) {
  return {sum_to(mul(dy, b), a.shape), sum_to(mul(dy, a), b.shape)};
}

// add_scalar(x, s) = x + s; backward: dx = dy
template <class T>
RefTensor<T> add_scalar(const RefTensor<T>& x, T s) {
  RefTensor<T> y = x;
  for (auto& v : y.data) v += s;
  return y;
}
template <class T>
RefTensor<T> add_scalar_backward(const RefTensor<T>& dy) {
  return dy;
}

// mul_scalar(x, s) = s · x; backward: dx = s · dy
template <class T>
RefTensor<T> mul_scalar(const RefTensor<T>& x, T s) {
  RefTensor<T> y = x;
  for (auto& v : y.data) v *= s;
  return y;
}
template <class T>
RefTensor<T> mul_scalar_backward(const RefTensor<T>& dy, T s) {
  return mul_scalar(dy, s);
}

// sum(x) = Σ x, shape (); backward: dx = dy everywhere
template <class T>
RefTensor<T> sum(const RefTensor<T>& x) {
  RefTensor<T> y(Shape{});
  for (int64_t i = 0; i < x.numel(); ++i) y[0] += x[i];
  return y;
}
template <class T>
RefTensor<T> sum_backward(const RefTensor<T>& x, const RefTensor<T>& dy) {
  RefTensor<T> dx(x.shape);
  for (auto& v : dx.data) v = dy[0];
  return dx;
}

// mean(x) = Σ x / n; backward: dx = dy / n everywhere
template <class T>
RefTensor<T> mean(const RefTensor<T>& x) {
  RefTensor<T> y = sum(x);
  y[0] /= static_cast<T>(x.numel());
  return y;
}
template <class T>
RefTensor<T> mean_backward(const RefTensor<T>& x, const RefTensor<T>& dy) {
  RefTensor<T> dx = sum_backward(x, dy);
  for (auto& v : dx.data) v /= static_cast<T>(x.numel());
  return dx;
}

// sum(x, dim, keepdim): x's shape with dim set to 1, then dropped unless keepdim; y[.., 0, ..] = Σ_j x[.., j, ..]
template <class T>
RefTensor<T> sum(const RefTensor<T>& x, int dim, bool keepdim) {
  const int d = dim < 0 ? dim + x.ndim() : dim;
  Shape kept = x.shape;
  kept[d] = 1;
  RefTensor<T> y = sum_to(x, kept);
  if (!keepdim) y.shape.erase(y.shape.begin() + d);
  return y;
}
// forward was y = sum over dim, so dx[.., j, ..] = dy[.., 0, ..] for every j
template <class T>
RefTensor<T> sum_backward(const RefTensor<T>& x, int dim, bool keepdim, const RefTensor<T>& dy) {
  const int d = dim < 0 ? dim + x.ndim() : dim;
  RefTensor<T> g = dy;
  g.shape = x.shape;
  g.shape[d] = 1;
  return broadcast_to(g, x.shape);
}

}  // namespace rc::ref
