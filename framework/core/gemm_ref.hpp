#pragma once
// Reference GEMM: the triple loop, templated on the scalar type (same arguments as rc::gemm).
#include <cstdint>

#include "framework/core/gemm.hpp"

namespace rc::ref {

// C (M, N) = alpha · op(A) · op(B) + beta · C [+ row_bias]
template <class T>
void gemm(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc, const T* row_bias = nullptr) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T acc = T(0);
      for (int64_t k = 0; k < K; ++k) {
        T a = op_a == Op::N ? A[i * lda + k] : A[k * lda + i];
        T b = op_b == Op::N ? B[k * ldb + j] : B[j * ldb + k];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = alpha * acc + (beta == T(0) ? T(0) : beta * c) + (row_bias ? row_bias[j] : T(0));
    }
}

}  // namespace rc::ref
