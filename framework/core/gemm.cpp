#include "framework/core/gemm.hpp"

#include <dnnl.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "framework/core/backend.hpp"
#include "framework/core/error.hpp"
#include "framework/core/parallel.hpp"

namespace rc {

namespace {
constexpr double kTileMinFlops = 16e6;  // do not cut C into tiles cheaper than this
constexpr int64_t kMaxTiles = 8;        // enough tiles to balance 2 busy cores; few enough to pack B rarely
constexpr int64_t kMinTileSide = 64;
constexpr int64_t kTileAlign = 16;      // AVX-512 micro-kernel width in floats
constexpr int64_t kMinTileK = 256;      // pieces of K at least this deep

void check_args(const char* fn, Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                int64_t ldc) {
  RC_CHECK(M >= 0 && N >= 0 && K >= 0, "{}: negative size M={} N={} K={}", fn, M, N, K);
  RC_CHECK(M < INT_MAX && N < INT_MAX && K < INT_MAX, "{}: size M={} N={} K={} exceeds BLAS int range", fn, M, N, K);
  const int64_t a_cols = op_a == Op::N ? K : M, b_cols = op_b == Op::N ? N : K;
  RC_CHECK(lda >= std::max<int64_t>(1, a_cols), "{}: lda={} < {} (columns of stored A)", fn, lda, a_cols);
  RC_CHECK(ldb >= std::max<int64_t>(1, b_cols), "{}: ldb={} < {} (columns of stored B)", fn, ldb, b_cols);
  RC_CHECK(ldc >= std::max<int64_t>(1, N), "{}: ldc={} < N={}", fn, ldc, N);
}

// Scales C by beta (beta == 0 writes without reading) and adds row_bias; afterwards C is ready for beta = 1.
void init_c(int64_t M, int64_t N, float beta, float* __restrict C, int64_t ldc, const float* __restrict row_bias) {
  for (int64_t i = 0; i < M; ++i) {
    float* __restrict c = C + i * ldc;
    if (beta == 0.0f) {
      std::memcpy(c, row_bias, static_cast<size_t>(N) * sizeof(float));
    } else {
      for (int64_t j = 0; j < N; ++j) c[j] = beta * c[j] + row_bias[j];
    }
  }
}

// oneDNN (Debian's build) threads its sgemm with OpenMP. Every call here is already one task of the framework's
// TBB arena, so the calling thread's OpenMP team is pinned to itself: no OpenMP thread ever computes, and
// --threads bounds every thread that does. OpenMP's thread count is a per-thread setting, hence once per thread.
void pin_backend_to_this_thread() {
  thread_local bool pinned = false;
  if (!pinned) {
    set_backend_threads_on_this_thread(1);
    pinned = true;
  }
}

void sgemm_call(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_bias) {
  if (M == 0 || N == 0) return;
  if (row_bias) {
    init_c(M, N, beta, C, ldc, row_bias);
    beta = 1.0f;
  }
  if (K == 0) {  // sgemm with K = 0 only scales C
    if (!row_bias)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  pin_backend_to_this_thread();
  const dnnl_status_t status = dnnl_sgemm(op_a == Op::N ? 'N' : 'T', op_b == Op::N ? 'N' : 'T', M, N, K, alpha, A,
                                          lda, B, ldb, beta, C, ldc);
  RC_CHECK(status == dnnl_success, "gemm: oneDNN sgemm failed (status {}) for M={} N={} K={}",
           static_cast<int>(status), M, N, K);
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// C = alpha · Σ_p op(A)[:, K_p] · op(B)[K_p, :] + beta · C + bias with K cut into pieces of t.tile_k: each (tile,
// piece) product goes to the tile's place in the piece's own (M, N) buffer, in parallel; then the buffers are
// added to C in piece order.
void gemm_split_k(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, const GemmTiling& t, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  const float* row_bias) {
  const int64_t pieces = num_chunks(K, t.tile_k), tiles_m = num_chunks(M, t.tile_m), tiles_n = num_chunks(N, t.tile_n);
  const int64_t tiles = tiles_m * tiles_n;
  std::vector<float> part(static_cast<size_t>(pieces * M * N));
  parallel_for(pieces * tiles, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t p = task / tiles, tile = task % tiles;
      const int64_t i0 = (tile / tiles_n) * t.tile_m, j0 = (tile % tiles_n) * t.tile_n, k0 = p * t.tile_k;
      const int64_t m = std::min(t.tile_m, M - i0), n = std::min(t.tile_n, N - j0), k = std::min(t.tile_k, K - k0);
      const float* a = op_a == Op::N ? A + i0 * lda + k0 : A + k0 * lda + i0;
      const float* b = op_b == Op::N ? B + k0 * ldb + j0 : B + j0 * ldb + k0;
      sgemm_call(op_a, op_b, m, n, k, alpha, a, lda, b, ldb, 0.0f, part.data() + p * M * N + i0 * N + j0, N, nullptr);
    }
  });
  // the sum is small next to the product (pieces · M · N adds for 2 · M · N · K flops): one pass, no extra sync
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = (beta == 0.0f ? 0.0f : beta * c[j]) + (row_bias ? row_bias[j] : 0.0f);
    for (int64_t p = 0; p < pieces; ++p) {
      const float* src = part.data() + (p * M + i) * N;
      for (int64_t j = 0; j < N; ++j) c[j] += src[j];
    }
  }
}
}  // namespace

GemmTiling gemm_tiling(int64_t M, int64_t N, int64_t K) {
  GemmTiling t{std::max<int64_t>(M, 1), std::max<int64_t>(N, 1), std::max<int64_t>(K, 1)};
  auto tiles = [&] { return num_chunks(M, t.tile_m) * num_chunks(N, t.tile_n); };
  // halve the longer side of the tile while the tiles stay large enough to pay for packing their operands
  while (tiles() < kMaxTiles) {
    const double tile_flops = 2.0 * static_cast<double>(t.tile_m) * static_cast<double>(t.tile_n) * K;
    if (tile_flops < 2 * kTileMinFlops) break;
    const bool cut_m = t.tile_m >= t.tile_n;
    int64_t& side = cut_m ? t.tile_m : t.tile_n;
    const int64_t half = round_up((side + 1) / 2, kTileAlign);
    if (half < kMinTileSide || half >= side) {
      int64_t& other = cut_m ? t.tile_n : t.tile_m;  // the longer side cannot shrink; try the other one
      const int64_t other_half = round_up((other + 1) / 2, kTileAlign);
      if (other_half < kMinTileSide || other_half >= other) break;
      other = other_half;
    } else {
      side = half;
    }
  }
  // few tiles left but a long K: cut K too (each piece still worth kTileMinFlops)
  while (tiles() * num_chunks(K, t.tile_k) < kMaxTiles) {
    const int64_t half = round_up((t.tile_k + 1) / 2, kTileAlign);
    const double piece_flops = 2.0 * static_cast<double>(t.tile_m) * static_cast<double>(t.tile_n) * half;
    if (half < kMinTileK || half >= t.tile_k || piece_flops < kTileMinFlops) break;
    t.tile_k = half;
  }
  return t;
}

void gemm_serial(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_bias) {
  check_args("gemm_serial", op_a, op_b, M, N, K, lda, ldb, ldc);
  sgemm_call(op_a, op_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_bias);
}

void gemm(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* row_bias) {
  check_args("gemm", op_a, op_b, M, N, K, lda, ldb, ldc);
  const GemmTiling t = gemm_tiling(M, N, K);
  const int64_t tiles_m = num_chunks(M, t.tile_m), tiles_n = num_chunks(N, t.tile_n);
  if (t.tile_k < K) {
    gemm_split_k(op_a, op_b, M, N, K, t, alpha, A, lda, B, ldb, beta, C, ldc, row_bias);
    return;
  }
  if (tiles_m * tiles_n <= 1) {
    sgemm_call(op_a, op_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, row_bias);
    return;
  }
  parallel_for(tiles_m * tiles_n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t i0 = (tile / tiles_n) * t.tile_m, j0 = (tile % tiles_n) * t.tile_n;
      const int64_t m = std::min(t.tile_m, M - i0), n = std::min(t.tile_n, N - j0);
      // rows i0.. of op(A) and columns j0.. of op(B), wherever they sit in the stored matrices
      const float* a = op_a == Op::N ? A + i0 * lda : A + i0;
      const float* b = op_b == Op::N ? B + j0 : B + j0 * ldb;
      sgemm_call(op_a, op_b, m, n, K, alpha, a, lda, b, ldb, beta, C + i0 * ldc + j0, ldc,
                 row_bias ? row_bias + j0 : nullptr);
    }
  });
}

void gemm_batched(int64_t batch, Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta, float* C,
                  int64_t ldc, int64_t stride_c) {
  check_args("gemm_batched", op_a, op_b, M, N, K, lda, ldb, ldc);
  RC_CHECK(batch >= 0, "gemm_batched: negative batch {}", batch);
  RC_CHECK(stride_c >= M * ldc || batch <= 1, "gemm_batched: stride_c={} lets outputs overlap (M·ldc = {})",
           stride_c, M * ldc);
  const double flops = 2.0 * static_cast<double>(M) * N * K;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(kTileMinFlops / std::max(flops, 1.0)));
  parallel_for(batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      sgemm_call(op_a, op_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta, C + i * stride_c,
                 ldc, nullptr);
  });
}

void column_sums(int64_t M, int64_t N, const float* A, int64_t lda, float* out, bool accumulate) {
  RC_CHECK(M >= 0 && N >= 0 && lda >= N, "column_sums: bad sizes M={} N={} lda={}", M, N, lda);
  // fixed row chunks (independent of the thread count), partials added in chunk order
  const int64_t chunk = std::max<int64_t>(64, (1 << 20) / std::max<int64_t>(N, 1));  // ~1M adds per chunk
  const int64_t chunks = num_chunks(M, chunk);
  std::vector<float> partial(static_cast<size_t>(chunks * N), 0.0f);
  parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      // blocks of kBlockRows rows summed first, then added to the chunk's partial (two levels keep the float
      // error small on long columns)
      constexpr int64_t kBlockRows = 256;
      float* p = partial.data() + c * N;
      std::vector<float> block(static_cast<size_t>(N));
      for (int64_t b0 = c * chunk; b0 < std::min(M, (c + 1) * chunk); b0 += kBlockRows) {
        std::fill(block.begin(), block.end(), 0.0f);
        for (int64_t i = b0; i < std::min({M, (c + 1) * chunk, b0 + kBlockRows}); ++i) {
          const float* a = A + i * lda;
          for (int64_t j = 0; j < N; ++j) block[j] += a[j];
        }
        for (int64_t j = 0; j < N; ++j) p[j] += block[j];
      }
    }
  });
  if (!accumulate) std::fill_n(out, N, 0.0f);
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < N; ++j) out[j] += partial[c * N + j];
}

}  // namespace rc
