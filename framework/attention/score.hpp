#pragma once
// Score settings shared by the fast kernels and the reference: score kind, relative-position bias indexing,
// dropout masks. Everything here is a pure function of indices, so every kernel (and the reference) sees the
// same bias entry and the same dropout decision for a pair (b, h, i, j), whatever the tiling or threads.
#include <cmath>
#include <cstdint>

#include "framework/attention/policy.hpp"
#include "framework/core/random.hpp"

namespace rc {

// Dot:      score(i, j) = scale * q_i . k_j                                 (scale defaults to 1/sqrt(D))
// Additive: score(i, j) = LeakyReLU(a_q[h] . q_i + a_k[h] . k_j, slope)     (GAT)
enum class ScoreKind { Dot, Additive };

// A grid for 2-D relative-position bias under policies other than window2d (e.g. full attention over image
// patches). Tokens first .. first + h*w - 1 form an h x w grid; pairs with a token off the grid get no bias.
struct BiasGrid {
  int64_t h = 0, w = 0, first = 0;
};

// Relative-position bias: score(i, j) += table[h, index(i, j)] for a table of shape (H, T).
//   1-D (default):   T = 2R + 1 (odd);   index = clamp(j - i, -R, R) + R.
//   2-D:             offsets (dr, dc) = (row_j - row_i, col_j - col_i) in units of the dilation, clamped to
//                    [-Rh, Rh] x [-Rw, Rw];  index = (dr + Rh) * (2Rw + 1) + (dc + Rw);  T = (2Rh+1)(2Rw+1).
//     - under a policy with a grid (Policy::grid_offsets): a window2d's grid and dilation with Rh = kernel_h - 1,
//       Rw = kernel_w - 1 (T = (2kh-1)(2kw-1), NATTEN's rpb layout); axial's grid with Rh = h - 1, Rw = w - 1; a
//       composition's parts on one grid with their largest radii (parts on different grids: an error);
//     - with an explicit BiasGrid (h, w): Rh = h - 1, Rw = w - 1, dilation 1.
//     Pairs with a token off the grid, or an offset that is not a multiple of the dilation, get no bias.
struct BiasIndex {
  enum class Mode { None, Offset1d, Offset2d } mode = Mode::None;
  int64_t table_size = 0;
  int64_t radius = 0;                                               // 1-D
  int64_t grid_h = 0, grid_w = 0, first = 0, dil_h = 1, dil_w = 1;  // 2-D
  int64_t radius_h = 0, radius_w = 0;

  int64_t index(int64_t i, int64_t j) const {  // -1: no bias for this pair
    if (mode == Mode::Offset1d) return clamp(j - i, radius) + radius;
    if (mode == Mode::None) return -1;
    int64_t a = i - first, b = j - first, cells = grid_h * grid_w;
    if (a < 0 || b < 0 || a >= cells || b >= cells) return -1;
    int64_t dr = b / grid_w - a / grid_w, dc = b % grid_w - a % grid_w;
    if (dr % dil_h != 0 || dc % dil_w != 0) return -1;
    return (clamp(dr / dil_h, radius_h) + radius_h) * (2 * radius_w + 1) + clamp(dc / dil_w, radius_w) + radius_w;
  }

 private:
  static int64_t clamp(int64_t x, int64_t r) { return x < -r ? -r : (x > r ? r : x); }
};

// Resolves the bias layout (see above) for a table with T entries per head; checks T. T = 0: no bias.
BiasIndex make_bias_index(const Policy& policy, const BiasGrid& grid, int64_t table_size);

// Attention dropout: pair (bh, i, j) of a (B*H, N, N) problem is kept with probability 1 - p, decided by a
// hash of (seed, pair), so forward, backward, every kernel and the reference agree.
inline bool dropout_keep(uint64_t seed, int64_t bh, int64_t i, int64_t j, int64_t n, float p) {
  uint64_t h = mix_seed(seed, (static_cast<uint64_t>(bh) * static_cast<uint64_t>(n) + static_cast<uint64_t>(i)) *
                                      static_cast<uint64_t>(n) +
                                  static_cast<uint64_t>(j));
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f) >= p;
}

// dropout_keep(seed, bh, i, j, n, p) in integers, for kernels that test many pairs at once without a branch:
// keep iff (mix_seed(seed, row_base + j) >> 40) >= dropout_threshold(p), with row_base = (bh·n + i)·n. Exact:
// h >> 40 < 2^24 and p·2^24 are both exact, so "h·2^-24 >= p" and "h >= ceil(p·2^24)" agree.
inline uint64_t dropout_threshold(float p) { return static_cast<uint64_t>(std::ceil(static_cast<double>(p) * 16777216.0)); }

inline float leaky_relu(float x, float slope) { return x > 0 ? x : slope * x; }
inline double leaky_relu(double x, double slope) { return x > 0 ? x : slope * x; }

}  // namespace rc
