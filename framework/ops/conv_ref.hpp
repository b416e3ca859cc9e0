#pragma once
// Reference 2-D convolution: the direct loops, forward and backward, templated on the scalar type.
#include <vector>

#include "framework/ops/conv.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// Calls f(y_index, w_index, x_index) for every product term w[w_index] · x[x_index] of the forward sum into
// y[y_index] (terms that read the zero padding are skipped).
template <class F>
void conv2d_for_each_term(const Shape& xs, const Shape& ws, const Conv2dOptions& opt, F&& f) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], kh = ws[2], kw = ws[3];
  const auto [sh, sw] = opt.stride;
  const auto [ph, pw] = opt.padding;
  const auto [dh, dw] = opt.dilation;
  const int64_t Ho = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1, Wo = (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ki = 0; ki < kh; ++ki)
              for (int64_t kj = 0; kj < kw; ++kj) {
                const int64_t ih = i * sh - ph + ki * dh, iw = j * sw - pw + kj * dw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  f((((n * O + o) * Ho + i) * Wo + j), ((o * C + c) * kh + ki) * kw + kj, ((n * C + c) * H + ih) * W + iw);
              }
}

inline Shape conv2d_out_shape(const Shape& xs, const Shape& ws, const Conv2dOptions& opt) {
  return {xs[0], ws[0], (xs[2] + 2 * opt.padding[0] - opt.dilation[0] * (ws[2] - 1) - 1) / opt.stride[0] + 1,
          (xs[3] + 2 * opt.padding[1] - opt.dilation[1] * (ws[3] - 1) - 1) / opt.stride[1] + 1};
}

// y[n, o, i, j] = b[o] + Σ_{c, ki, kj} w[o, c, ki, kj] · x[n, c, i·sh − ph + ki·dh, j·sw − pw + kj·dw]; b empty = none
template <class T>
RefTensor<T> conv2d(const RefTensor<T>& x, const RefTensor<T>& w, const RefTensor<T>& b, const Conv2dOptions& opt) {
  RefTensor<T> y(conv2d_out_shape(x.shape, w.shape, opt));
  const int64_t plane = y.dim(2) * y.dim(3), O = w.dim(0);
  if (b.numel())
    for (int64_t i = 0; i < y.numel(); ++i) y[i] = b[(i / plane) % O];
  conv2d_for_each_term(x.shape, w.shape, opt,
                       [&](int64_t yi, int64_t wi, int64_t xi) { y[yi] += w[wi] * x[xi]; });
  return y;
}

// forward was a sum of terms w[wi] · x[xi] into y[yi], so each term sends dy[yi] · x[xi] to dw[wi] and
// dy[yi] · w[wi] to dx[xi]; db[o] = Σ dy[:, o]. Returns {dx, dw, db} (db empty when b is empty).
template <class T>
std::vector<RefTensor<T>> conv2d_backward(const RefTensor<T>& x, const RefTensor<T>& w, const RefTensor<T>& b,
                                          const RefTensor<T>& dy, const Conv2dOptions& opt) {
  RefTensor<T> dx(x.shape), dw(w.shape), db(b.shape);
  const int64_t plane = dy.dim(2) * dy.dim(3), O = w.dim(0);
  if (b.numel())
    for (int64_t i = 0; i < dy.numel(); ++i) db[(i / plane) % O] += dy[i];
  conv2d_for_each_term(x.shape, w.shape, opt, [&](int64_t yi, int64_t wi, int64_t xi) {
    dw[wi] += dy[yi] * x[xi];
    dx[xi] += dy[yi] * w[wi];
  });
  return {dx, dw, db};
}

}  // namespace rc::ref
