#pragma once
// Reference shape ops: index arithmetic on packed RefTensors, forward and backward, templated on the scalar.
#include <vector>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// multi-index of flat position `lin` in a packed tensor of shape s
inline std::vector<int64_t> unravel(const Shape& s, int64_t lin) {
  std::vector<int64_t> idx(s.size());
  for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
    idx[d] = lin % s[d];
    lin /= s[d];
  }
  return idx;
}
inline int64_t ravel(const Shape& s, const std::vector<int64_t>& idx) {
  int64_t lin = 0;
  for (size_t d = 0; d < s.size(); ++d) lin = lin * s[d] + idx[d];
  return lin;
}

// reshape: the same values with a new shape (no -1 here); backward: dy with x's shape
template <class T>
RefTensor<T> reshape(const RefTensor<T>& x, const Shape& shape) {
  return RefTensor<T>(shape, x.data);
}
template <class T>
RefTensor<T> reshape_backward(const RefTensor<T>& x, const RefTensor<T>& dy) {
  return RefTensor<T>(x.shape, dy.data);
}

// permute: y[i] = x[j] with j[order[k]] = i[k]
template <class T>
RefTensor<T> permute(const RefTensor<T>& x, const std::vector<int>& order) {
  Shape ys(order.size());
  for (size_t k = 0; k < order.size(); ++k) ys[k] = x.shape[order[k]];
  RefTensor<T> y(ys);
  for (int64_t i = 0; i < y.numel(); ++i) {
    std::vector<int64_t> yi = unravel(ys, i), xi(ys.size());
    for (size_t k = 0; k < order.size(); ++k) xi[order[k]] = yi[k];
    y[i] = x[ravel(x.shape, xi)];
  }
  return y;
}
// forward was y = permute(x, order), so dx = permute(dy, inverse of order)
template <class T>
RefTensor<T> permute_backward(const std::vector<int>& order, const RefTensor<T>& dy) {
  std::vector<int> inverse(order.size());
  for (size_t k = 0; k < order.size(); ++k) inverse[order[k]] = static_cast<int>(k);
  return permute(dy, inverse);
}

// transpose(x, a, b) = permute with a and b swapped; it is its own inverse
inline std::vector<int> swap_order(int ndim, int a, int b) {
  std::vector<int> order(ndim);
  for (int k = 0; k < ndim; ++k) order[k] = k;
  std::swap(order[a < 0 ? a + ndim : a], order[b < 0 ? b + ndim : b]);
  return order;
}
template <class T>
RefTensor<T> transpose(const RefTensor<T>& x, int a, int b) {
  return permute(x, swap_order(x.ndim(), a, b));
}
template <class T>
RefTensor<T> transpose_backward(int a, int b, const RefTensor<T>& dy) {
  return transpose(dy, a, b);
}

// concat along dim: output index i along dim comes from the input whose range holds it
template <class T>
RefTensor<T> concat(const std::vector<RefTensor<T>>& xs, int dim) {
  const int d = dim < 0 ? dim + xs[0].ndim() : dim;
  Shape ys = xs[0].shape;
  ys[d] = 0;
  for (const auto& x : xs) ys[d] += x.shape[d];
  RefTensor<T> y(ys);
  for (int64_t i = 0; i < y.numel(); ++i) {
    std::vector<int64_t> idx = unravel(ys, i);
    size_t k = 0;
    while (idx[d] >= xs[k].shape[d]) idx[d] -= xs[k++].shape[d];
    y[i] = xs[k][ravel(xs[k].shape, idx)];
  }
  return y;
}
// forward stacked the inputs along dim, so dx_k is dy's part at input k's range
template <class T>
std::vector<RefTensor<T>> concat_backward(const std::vector<RefTensor<T>>& xs, int dim, const RefTensor<T>& dy) {
  const int d = dim < 0 ? dim + xs[0].ndim() : dim;
  std::vector<RefTensor<T>> dxs;
  int64_t start = 0;
  for (const auto& x : xs) {
    RefTensor<T> dx(x.shape);
    for (int64_t i = 0; i < dx.numel(); ++i) {
      std::vector<int64_t> idx = unravel(x.shape, i);
      idx[d] += start;
      dx[i] = dy[ravel(dy.shape, idx)];
    }
    start += x.shape[d];
    dxs.push_back(dx);
  }
  return dxs;
}

// slice: y[.., i, ..] = x[.., start + i, ..] for i < end - start along dim
template <class T>
RefTensor<T> slice(const RefTensor<T>& x, int dim, int64_t start, int64_t end) {
  const int d = dim < 0 ? dim + x.ndim() : dim;
  Shape ys = x.shape;
  ys[d] = end - start;
  RefTensor<T> y(ys);
  for (int64_t i = 0; i < y.numel(); ++i) {
    std::vector<int64_t> idx = unravel(ys, i);
    idx[d] += start;
    y[i] = x[ravel(x.shape, idx)];
  }
  return y;
}
// forward read x[.., start:end, ..], so dx is dy there and zero elsewhere
template <class T>
RefTensor<T> slice_backward(const RefTensor<T>& x, int dim, int64_t start, const RefTensor<T>& dy) {
  const int d = dim < 0 ? dim + x.ndim() : dim;
  RefTensor<T> dx(x.shape);
  for (int64_t i = 0; i < dy.numel(); ++i) {
    std::vector<int64_t> idx = unravel(dy.shape, i);
    idx[d] += start;
    dx[ravel(x.shape, idx)] = dy[i];
  }
  return dx;
}

// head_part: (B, N, P·H·D) -> (B, N, P, H, D) -> part p -> (B, N, H, D) -> (B, H, N, D)
template <class T>
RefTensor<T> head_part(const RefTensor<T>& x, int64_t parts, int64_t part, int64_t heads) {
  const int64_t B = x.shape[0], N = x.shape[1], D = x.shape[2] / (parts * heads);
  const RefTensor<T> s = slice(reshape(x, {B, N, parts, heads, D}), 2, part, part + 1);
  return permute(reshape(s, {B, N, heads, D}), {0, 2, 1, 3});
}
// the same steps backwards
template <class T>
RefTensor<T> head_part_backward(const RefTensor<T>& x, int64_t parts, int64_t part, int64_t heads,
                                const RefTensor<T>& dy) {
  const int64_t B = x.shape[0], N = x.shape[1], D = x.shape[2] / (parts * heads);
  const RefTensor<T> x5 = reshape(x, {B, N, parts, heads, D});
  const RefTensor<T> ds = reshape(permute_backward({0, 2, 1, 3}, dy), {B, N, 1, heads, D});
  return reshape(slice_backward(x5, 2, part, ds), x.shape);
}

}  // namespace rc::ref
