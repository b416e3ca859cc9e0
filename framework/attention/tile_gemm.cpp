// Register-blocked tile GEMMs (see tile_gemm.hpp). Each kernel keeps an R x MV block of 16-float accumulators in
// registers and streams the shared dimension; R and MV are compile-time so the block is fully unrolled.
#include "framework/attention/tile_gemm.hpp"

#include "framework/attention/simd.hpp"

namespace rc::attn {

namespace {

using simd::f16v;
using simd::load;
using simd::store;

// c[j][:] = sum_d a[j][d] bt[d][:] for R rows j, MV vectors of columns
template <int R, int MV>
inline void scores_block(const float* a, int64_t lda, int64_t D, const float* bt, int64_t mp, float* c) {
  f16v acc[R][MV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < MV; ++v) acc[r][v] = f16v{};
  for (int64_t d = 0; d < D; ++d) {
    f16v b[MV];
    for (int v = 0; v < MV; ++v) b[v] = load(bt + d * mp + 16 * v);
    for (int r = 0; r < R; ++r) {
      const float s = a[r * lda + d];
      for (int v = 0; v < MV; ++v) acc[r][v] += s * b[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < MV; ++v) store(c + r * mp + 16 * v, acc[r][v]);
}

template <int MV>
void scores_mv(const float* a, int64_t lda, int64_t n, int64_t D, const float* bt, int64_t mp, float* c) {
  constexpr int R = MV <= 2 ? 8 : 4;
  int64_t j = 0;
  for (; j + R <= n; j += R) scores_block<R, MV>(a + j * lda, lda, D, bt, mp, c + j * mp);
  for (; j < n; ++j) scores_block<1, MV>(a + j * lda, lda, D, bt, mp, c + j * mp);
}

// ct[d][:] += sum_j a[j][d] x[j][:] for R rows d
template <int R, int MV>
inline void accum_t_block(const float* a, int64_t lda, int64_t n, const float* x, int64_t mp, float* ct) {
  f16v acc[R][MV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < MV; ++v) acc[r][v] = load(ct + r * mp + 16 * v);
  for (int64_t j = 0; j < n; ++j) {
    f16v xv[MV];
    for (int v = 0; v < MV; ++v) xv[v] = load(x + j * mp + 16 * v);
    for (int r = 0; r < R; ++r) {
      const float s = a[j * lda + r];
      for (int v = 0; v < MV; ++v) acc[r][v] += s * xv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < MV; ++v) store(ct + r * mp + 16 * v, acc[r][v]);
}

template <int MV>
void accum_t_mv(const float* a, int64_t lda, int64_t n, int64_t D, const float* x, int64_t mp, float* ct) {
  constexpr int R = MV <= 2 ? 8 : 4;
  int64_t d = 0;
  for (; d + R <= D; d += R) accum_t_block<R, MV>(a + d, lda, n, x, mp, ct + d * mp);
  for (; d < D; ++d) accum_t_block<1, MV>(a + d, lda, n, x, mp, ct + d * mp);
}

// c[j][cols] += sum_{a < m} x[j][a] y[a][cols] for R rows j and DV vectors of columns
template <int R, int DV>
inline void accum_rows_block(const float* x, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                             int64_t ldc) {
  f16v acc[R][DV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < DV; ++v) acc[r][v] = load(c + r * ldc + 16 * v);
  for (int64_t a = 0; a < m; ++a) {
    f16v yv[DV];
    for (int v = 0; v < DV; ++v) yv[v] = load(y + a * Dp + 16 * v);
    for (int r = 0; r < R; ++r) {
      const float s = x[r * mp + a];
      for (int v = 0; v < DV; ++v) acc[r][v] += s * yv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < DV; ++v) store(c + r * ldc + 16 * v, acc[r][v]);
}

template <int DV>
void accum_rows_dv(const float* x, int64_t n, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                   int64_t ldc) {
  constexpr int R = DV == 1 ? 12 : (DV == 2 ? 8 : (DV == 3 ? 6 : 4));
  int64_t j = 0;
  for (; j + R <= n; j += R) accum_rows_block<R, DV>(x + j * mp, mp, m, y, Dp, c + j * ldc, ldc);
  for (; j < n; ++j) accum_rows_block<1, DV>(x + j * mp, mp, m, y, Dp, c + j * ldc, ldc);
}

}  // namespace

void tile_scores(const float* a, int64_t lda, int64_t n, int64_t D, const float* bt, int64_t mp, float* c) {
  switch (mp / 16) {
    case 1: return scores_mv<1>(a, lda, n, D, bt, mp, c);
    case 2: return scores_mv<2>(a, lda, n, D, bt, mp, c);
    case 3: return scores_mv<3>(a, lda, n, D, bt, mp, c);
    default: return scores_mv<4>(a, lda, n, D, bt, mp, c);
  }
}

void tile_accum_t(const float* a, int64_t lda, int64_t n, int64_t D, const float* x, int64_t mp, float* ct) {
  switch (mp / 16) {
    case 1: return accum_t_mv<1>(a, lda, n, D, x, mp, ct);
    case 2: return accum_t_mv<2>(a, lda, n, D, x, mp, ct);
    case 3: return accum_t_mv<3>(a, lda, n, D, x, mp, ct);
    default: return accum_t_mv<4>(a, lda, n, D, x, mp, ct);
  }
}

void tile_accum_rows(const float* x, int64_t n, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                     int64_t ldc) {
  for (int64_t c0 = 0; c0 < Dp; c0 += 64) {  // column chunks of at most 4 vectors
    const int64_t w = Dp - c0 < 64 ? Dp - c0 : 64;
    switch (w / 16) {
      case 1: accum_rows_dv<1>(x, n, mp, m, y + c0, Dp, c + c0, ldc); break;
      case 2: accum_rows_dv<2>(x, n, mp, m, y + c0, Dp, c + c0, ldc); break;
      case 3: accum_rows_dv<3>(x, n, mp, m, y + c0, Dp, c + c0, ldc); break;
      default: accum_rows_dv<4>(x, n, mp, m, y + c0, Dp, c + c0, ldc); break;
    }
  }
}

}  // namespace rc::attn
