#pragma once
// Register-blocked small GEMMs for the tiled attention kernel. A query block of m <= 64 queries is kept
// "transposed": its score tile is S^T (keys x queries, row stride mp = m rounded up to 16), so every softmax step
// is a vector operation over queries, and K, V rows are used as they lie in memory (broadcast operands) with no
// packing. Three shapes cover forward and backward (n keys, D head dims, rows of every matrix contiguous):
//   scores:      c (n x mp)  = a (n x D, stride lda) . bt (D x mp)             S^T = K Q^T,  dP^T = V dO^T
//   accum_t:     ct (D x mp) += a^T (D x n, a stride lda) . x (n x mp)          O^T += V^T P^T, dQ^T += K^T dS^T
//   accum_rows:  c (n x Dp, stride ldc) += x (n x mp, first m columns) . y (m x Dp)   dV += P^T dO, dK += dS^T Q
// mp is a multiple of 16 and at most 64; Dp is a multiple of 16. Summation order is fixed by the sizes only.
#include <cstdint>

namespace rc::attn {

inline constexpr int64_t kMaxBlockQ = 64;
inline int64_t round16(int64_t x) { return (x + 15) / 16 * 16; }

void tile_scores(const float* a, int64_t lda, int64_t n, int64_t D, const float* bt, int64_t mp, float* c);
void tile_accum_t(const float* a, int64_t lda, int64_t n, int64_t D, const float* x, int64_t mp, float* ct);
void tile_accum_rows(const float* x, int64_t n, int64_t mp, int64_t m, const float* y, int64_t Dp, float* c,
                     int64_t ldc);

}  // namespace rc::attn
