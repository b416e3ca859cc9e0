#pragma once
// Float GEMM, the one entry point for dense products: oneDNN's sgemm (one thread per call; its kernel chosen from
// the CPU's feature flags, see backend.hpp) on tiles of C, tiles spread over the TBB arena. Row-major throughout.
//
//   C (M, N) = alpha · op(A) · op(B) + beta · C  [+ row_bias broadcast over the rows of C]
//   op(A): (M, K) — A is stored (M, K) with leading dimension lda, or (K, M) when op_a == Op::T
//   op(B): (K, N) — B is stored (K, N) with leading dimension ldb, or (N, K) when op_b == Op::T
//
// Determinism: C is cut into tiles whose sizes depend only on (M, N, K); each tile is one sgemm call done by
// one task, so every element of C is computed by the same code in the same order at any thread count.
// Products with a small C and a long K (weight gradients: dw = dyᵀ·x over many rows) are also cut along K;
// each piece goes to its own buffer and the pieces are added in K order, again fixed by the sizes alone.
#include <cstdint>

namespace rc {

enum class Op { N, T };  // use the stored matrix as is, or its transpose

// Parallel over tiles of C. row_bias (length N, optional) is added to every row of C; it is applied before the
// product, inside each tile (with beta == 0 this is C = op(A)·op(B) + bias in one pass over C).
void gemm(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_bias = nullptr);

// The same product as a single sgemm call on the calling thread (for use inside parallel tasks).
void gemm_serial(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_bias = nullptr);

// batch independent products C_i = alpha · op(A_i) · op(B_i) + beta · C_i with A_i = A + i·stride_a (likewise
// B, C); parallel over the batch (each C_i is one serial call). stride_a = 0 shares one A across the batch.
void gemm_batched(int64_t batch, Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                  int64_t ldc, int64_t stride_c);

// out[j] (+)= Σ_i A[i, j] for A (M, N) with leading dimension lda: the bias gradient of a GEMM whose output
// gradient is A. Summed over fixed row chunks, partials combined in chunk order (thread-count independent).
void column_sums(int64_t M, int64_t N, const float* A, int64_t lda, float* out, bool accumulate = false);

// How gemm cuts the product (exposed for tests): rows and columns per tile of C, depth per piece of K.
struct GemmTiling {
  int64_t tile_m, tile_n, tile_k;
};
GemmTiling gemm_tiling(int64_t M, int64_t N, int64_t K);

}  // namespace rc
