// Register-blocked tile GEMMs (see tile_gemm.hpp). Each kernel keeps an R x NV block of accumulators (NV native
// vectors of columns) in registers and streams the shared dimension; R and NV are compile-time so the block is
// fully unrolled. The native vector and the block sizes follow the ISA the build targets, so the accumulators
// fit its register file: AVX-512 has 32 registers of 16 floats, AVX2 16 registers of 8 floats (a 16-float block
// there would spill to memory on every step). Every output element is the same sum in the same order (over the
// shared dimension, ascending) whatever the blocking, so results do not depend on it.
#include "framework/attention/tile_gemm.hpp"

#include <cstring>

namespace rc::attn {

namespace {

#if defined(__AVX512F__)
constexpr int W = 16;      // floats per native vector
constexpr int kRegs = 32;  // vector registers
#else
constexpr int W = 8;
constexpr int kRegs = 16;
#endif
typedef float vf __attribute__((vector_size(W * sizeof(float))));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof(v)); }

// The widest column block (in native vectors) and the rows per block for a kernel that holds R x NV accumulators
// and NV streamed operand vectors: the largest R with R·NV + NV + 1 registers (one for the broadcast scalar).
constexpr int kMaxNV = kRegs == 32 ? 4 : 3;
constexpr int rows_for(int nv) {
  const int r = (kRegs - 1 - nv) / nv;
  return r > 8 ? 8 : r;
}

// c[j][:] = sum_d a[j][d] bt[d][:] for R rows j, NV vectors of columns
template <int R, int NV>
inline void scores_block(const float* a, int64_t lda, int64_t D, const float* bt, int64_t mp, float* c) {
  vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{};
  for (int64_t d = 0; d < D; ++d) {
    vf b[NV];
    for (int v = 0; v < NV; ++v) b[v] = load(bt + d * mp + W * v);
    for (int r = 0; r < R; ++r) {
      const float s = a[r * lda + d];
      for (int v = 0; v < NV; ++v) acc[r][v] += s * b[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(c + r * mp + W * v, acc[r][v]);
}

template <int NV>
void scores_nv(const float* a, int64_t lda, int64_t n, int64_t D, const float* bt, int64_t mp, float* c) {
  constexpr int R = rows_for(NV);
  int64_t j = 0;
  for (; j + R <= n; j += R) scores_block<R, NV>(a + j * lda, lda, D, bt, mp, c + j * mp);
  for (; j < n; ++j) scores_block<1, NV>(a + j * lda, lda, D, bt, mp, c + j * mp);
}

// ct[d][:] += sum_j a[j][d] x[j][:] for R rows d
template <int R, int NV>
inline void accum_t_block(const float* a, int64_t lda, int64_t n, const float* x, int64_t mp, float* ct) {
  vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = load(ct + r * mp + W * v);
  for (int64_t j = 0; j < n; ++j) {
    vf xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = load(x + j * mp + W * v);
    for (int r = 0; r < R; ++r) {
      const float s = a[j * lda + r];
      for (int v = 0; v < NV; ++v) acc[r][v] += s * xv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(ct + r * mp + W * v, acc[r][v]);
}

template <int NV>
void accum_t_nv(const float* a, int64_t lda, int64_t n, int64_t D, const float* x, int64_t mp, float* ct) {
  constexpr int R = rows_for(NV);
  int64_t d = 0;
  for (; d + R <= D; d += R) accum_t_block<R, NV>(a + d, lda, n, x, mp, ct + d * mp);
  for (; d < D; ++d) accum_t_block<1, NV>(a + d, lda, n, x, mp, ct + d * mp);
}

// c[j][cols] += sum_{a < m} x[j][a] y[a][cols] for R rows j and NV vectors of columns
template <int R, int NV>
inline void accum_rows_block(const float* x, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                             int64_t ldc) {
  vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = load(c + r * ldc + W * v);
  for (int64_t a = 0; a < m; ++a) {
    vf yv[NV];
    for (int v = 0; v < NV; ++v) yv[v] = load(y + a * Dp + W * v);
    for (int r = 0; r < R; ++r) {
      const float s = x[r * mp + a];
      for (int v = 0; v < NV; ++v) acc[r][v] += s * yv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(c + r * ldc + W * v, acc[r][v]);
}

template <int NV>
void accum_rows_nv(const float* x, int64_t n, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                   int64_t ldc) {
  constexpr int R = rows_for(NV) + (NV == 1 ? 4 : 0);  // one column vector: more rows (no operand reuse limit)
  int64_t j = 0;
  for (; j + R <= n; j += R) accum_rows_block<R, NV>(x + j * mp, mp, m, y, Dp, c + j * ldc, ldc);
  for (; j < n; ++j) accum_rows_block<1, NV>(x + j * mp, mp, m, y, Dp, c + j * ldc, ldc);
}

// Calls body<NV>(column offset) for consecutive column blocks of at most kMaxNV native vectors covering `cols`
// floats (a multiple of W).
template <class Body>
inline void for_column_blocks(int64_t cols, Body&& body) {
  for (int64_t c0 = 0; c0 < cols; c0 += kMaxNV * W) {
    const int64_t nv = (cols - c0) / W < kMaxNV ? (cols - c0) / W : kMaxNV;
    switch (nv) {
      case 1: body.template operator()<1>(c0); break;
      case 2: body.template operator()<2>(c0); break;
      case 3: body.template operator()<3>(c0); break;
      default: body.template operator()<kMaxNV>(c0); break;
    }
  }
}

}  // namespace

void tile_scores(const float* a, int64_t lda, int64_t n, int64_t D, const float* bt, int64_t mp, float* c) {
  for_column_blocks(mp, [&]<int NV>(int64_t c0) { scores_nv<NV>(a, lda, n, D, bt + c0, mp, c + c0); });
}

void tile_accum_t(const float* a, int64_t lda, int64_t n, int64_t D, const float* x, int64_t mp, float* ct) {
  for_column_blocks(mp, [&]<int NV>(int64_t c0) { accum_t_nv<NV>(a, lda, n, D, x + c0, mp, ct + c0); });
}

void tile_accum_rows(const float* x, int64_t n, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                     int64_t ldc) {
  for_column_blocks(Dp, [&]<int NV>(int64_t c0) { accum_rows_nv<NV>(x, n, mp, m, y + c0, Dp, c + c0, ldc); });
}

}  // namespace rc::attn
