#pragma once
// Reference pooling: plain loops over windows, forward and backward, templated on the scalar type.
#include <limits>
#include <vector>

#include "framework/ops/pool.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// Calls f(y_index, x_indices_in_window, count) for every output position (window positions inside x only).
template <class F>
void pool2d_for_each_window(const Shape& xs, const Pool2dOptions& opt, F&& f) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], kh = opt.kernel[0], kw = opt.kernel[1];
  const int64_t sh = opt.stride[0] ? opt.stride[0] : kh, sw = opt.stride[1] ? opt.stride[1] : kw;
  const int64_t ph = opt.padding[0], pw = opt.padding[1];
  const int64_t Ho = (H + 2 * ph - kh) / sh + 1, Wo = (W + 2 * pw - kw) / sw + 1;
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        std::vector<int64_t> window;
        for (int64_t a = i * sh - ph; a < i * sh - ph + kh; ++a)
          for (int64_t b = j * sw - pw; b < j * sw - pw + kw; ++b)
            if (a >= 0 && a < H && b >= 0 && b < W) window.push_back((p * H + a) * W + b);
        f((p * Ho + i) * Wo + j, window, opt.count_include_pad ? kh * kw : static_cast<int64_t>(window.size()));
      }
}

inline Shape pool2d_out_shape(const Shape& xs, const Pool2dOptions& opt) {
  const int64_t sh = opt.stride[0] ? opt.stride[0] : opt.kernel[0], sw = opt.stride[1] ? opt.stride[1] : opt.kernel[1];
  return {xs[0], xs[1], (xs[2] + 2 * opt.padding[0] - opt.kernel[0]) / sh + 1,
          (xs[3] + 2 * opt.padding[1] - opt.kernel[1]) / sw + 1};
}

// y = max over the window
template <class T>
RefTensor<T> max_pool2d(const RefTensor<T>& x, const Pool2dOptions& opt) {
  RefTensor<T> y(pool2d_out_shape(x.shape, opt));
  pool2d_for_each_window(x.shape, opt, [&](int64_t yi, const std::vector<int64_t>& win, int64_t) {
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t xi : win) m = x[xi] > m ? x[xi] : m;
    y[yi] = m;
  });
  return y;
}
// forward picked the first maximum of each window, so dx there += dy
template <class T>
RefTensor<T> max_pool2d_backward(const RefTensor<T>& x, const RefTensor<T>& dy, const Pool2dOptions& opt) {
  RefTensor<T> dx(x.shape);
  pool2d_for_each_window(x.shape, opt, [&](int64_t yi, const std::vector<int64_t>& win, int64_t) {
    int64_t best = win[0];
    for (int64_t xi : win) best = x[xi] > x[best] ? xi : best;
    dx[best] += dy[yi];
  });
  return dx;
}

// y = Σ window / count
template <class T>
RefTensor<T> avg_pool2d(const RefTensor<T>& x, const Pool2dOptions& opt) {
  RefTensor<T> y(pool2d_out_shape(x.shape, opt));
  pool2d_for_each_window(x.shape, opt, [&](int64_t yi, const std::vector<int64_t>& win, int64_t count) {
    T s = T(0);
    for (int64_t xi : win) s += x[xi];
    y[yi] = s / T(count);
  });
  return y;
}
// forward was y = Σ window / count, so each window position gets dy / count
template <class T>
RefTensor<T> avg_pool2d_backward(const RefTensor<T>& x, const RefTensor<T>& dy, const Pool2dOptions& opt) {
  RefTensor<T> dx(x.shape);
  pool2d_for_each_window(x.shape, opt, [&](int64_t yi, const std::vector<int64_t>& win, int64_t count) {
    for (int64_t xi : win) dx[xi] += dy[yi] / T(count);
  });
  return dx;
}

// y[n, c] = mean over (h, w)
template <class T>
RefTensor<T> global_avg_pool(const RefTensor<T>& x) {
  const int64_t plane = x.dim(2) * x.dim(3);
  RefTensor<T> y({x.dim(0), x.dim(1)});
  for (int64_t i = 0; i < x.numel(); ++i) y[i / plane] += x[i] / T(plane);
  return y;
}
// forward was the mean over (h, w), so dx = dy / (H·W) everywhere in the plane
template <class T>
RefTensor<T> global_avg_pool_backward(const RefTensor<T>& x, const RefTensor<T>& dy) {
  const int64_t plane = x.dim(2) * x.dim(3);
  RefTensor<T> dx(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) dx[i] = dy[i / plane] / T(plane);
  return dx;
}

}  // namespace rc::ref
