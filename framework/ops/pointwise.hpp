#pragma once
// Kernels shared by pointwise ops: fixed-boundary parallel chunks and maps over packed tensors.
// Chunk c always covers [c*chunk, min(n, (c+1)*chunk)), whatever the thread count, so per-chunk random
// streams, partial sums and the vectorized head/tail split of each chunk (and with them the bits of every
// result) are the same for 1 thread or 64.
#include <algorithm>
#include <cstdint>

#include "framework/core/parallel.hpp"
#include "framework/core/tensor.hpp"

namespace rc {

constexpr int64_t kPointwiseChunk = 1 << 15;

// Calls body(chunk_index, begin, end) for every chunk of [0, n), in parallel.
template <class F>
void parallel_chunks(int64_t n, int64_t chunk, F&& body) {
  if (n <= 0) return;
  parallel_for(num_chunks(n, chunk), 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) body(c, c * chunk, std::min(n, (c + 1) * chunk));
  });
}

// y = f over chunks: f(const float* x, float* y, int64_t len) for each chunk of packed x
template <class F>
Tensor map_chunks(const Tensor& x_in, F f) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_chunks(x.numel(), kPointwiseChunk, [&](int64_t, int64_t b, int64_t e) { f(xp + b, yp + b, e - b); });
  return y;
}

// y = f over chunks: f(const float* a, const float* b, float* y, int64_t len); a and b of the same shape
template <class F>
Tensor map_chunks(const Tensor& a_in, const Tensor& b_in, F f) {
  check_same_shape(a_in, b_in, "map_chunks", "a", "b");
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(a.shape());
  const float* ap = a.data();
  const float* bp = b.data();
  float* yp = y.data();
  parallel_chunks(a.numel(), kPointwiseChunk,
                  [&](int64_t, int64_t i0, int64_t i1) { f(ap + i0, bp + i0, yp + i0, i1 - i0); });
  return y;
}

// y[i] = f(x[i])
template <class F>
Tensor map_pointwise(const Tensor& x, F f) {
  return map_chunks(x, [&f](const float* xp, float* yp, int64_t len) {
    for (int64_t i = 0; i < len; ++i) yp[i] = f(xp[i]);
  });
}

// y[i] = f(a[i], b[i]); a and b of the same shape
template <class F>
Tensor map_pointwise(const Tensor& a, const Tensor& b, F f) {
  return map_chunks(a, b, [&f](const float* ap, const float* bp, float* yp, int64_t len) {
    for (int64_t i = 0; i < len; ++i) yp[i] = f(ap[i], bp[i]);
  });
}

}  // namespace rc
