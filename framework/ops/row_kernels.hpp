#pragma once
// Building blocks for kernels that sweep short contiguous rows (softmax, cross-entropy, LayerNorm,
// BatchNorm planes). A row of n floats is visited as fixed 16-float segments (Eigen fixed-size maps: one
// unaligned AVX-512 load/store each, no alignment peeling, vectorized exp) and then one float at a time for
// the tail; the same generic lambda serves both, so each formula is written once. Reductions keep a
// 16-lane accumulator and add the lanes in a fixed order: results do not depend on threads or scheduling.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <limits>

namespace rc::rowk {

constexpr int kSeg = 16;

template <int L>
struct Len {
  static constexpr int value = L;
};
template <int L>
using Arr = Eigen::Array<float, L, 1>;

// Views of L floats at p (L = kSeg in the body, 1 in the tail).
template <int L>
Eigen::Map<const Arr<L>> in(const float* p, Len<L>) {
  return Eigen::Map<const Arr<L>>(p);
}
template <int L>
Eigen::Map<Arr<L>> out(float* p, Len<L>) {
  return Eigen::Map<Arr<L>>(p);
}

// Calls f(i, len) for the segments [i, i + len.value) covering [0, n).
template <class F>
void for_each_segment(int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + kSeg <= n; i += kSeg) f(i, Len<kSeg>{});
  for (; i < n; ++i) f(i, Len<1>{});
}

// Σ over [0, n) of g(i, len), an array of len.value floats (return it evaluated: `.eval()`).
template <class G>
float sum(int64_t n, G&& g) {
  Arr<kSeg> acc = Arr<kSeg>::Zero();
  float tail = 0.0f;
  int64_t i = 0;
  for (; i + kSeg <= n; i += kSeg) acc += g(i, Len<kSeg>{});
  for (; i < n; ++i) tail += g(i, Len<1>{})(0);
  return acc.sum() + tail;
}

// max over [0, n) of x (−inf for n = 0)
inline float max(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  if (n >= kSeg) {
    Arr<kSeg> acc = in(x, Len<kSeg>{});
    for (i = kSeg; i + kSeg <= n; i += kSeg) acc = acc.max(in(x + i, Len<kSeg>{}));
    m = acc.maxCoeff();
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// Rows per parallel task: about 16K floats of work, so that short rows do not drown in scheduling.
inline int64_t row_grain(int64_t row_len) {
  return std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, row_len));
}

}  // namespace rc::rowk
