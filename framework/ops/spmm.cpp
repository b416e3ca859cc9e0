#include "framework/ops/spmm.hpp"

#include "framework/core/parallel.hpp"
#include "framework/ops/dropout.hpp"

namespace rc {

namespace {
// y[i, :] = Σ_j a[i, j] h[j, :]; one task per block of rows, so each output row has one writer
Tensor csr_times_dense(const CsrMatrix& a, const Tensor& h_in) {
  Tensor h = h_in.contiguous();
  const int64_t d = h.dim(1);
  Tensor y = Tensor::zeros({a.rows(), d});
  const auto& rp = a.row_ptr();
  const auto& ci = a.col_idx();
  const auto& val = a.values();
  const float* hp = h.data();
  float* yp = y.data();
  parallel_for(a.rows(), std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* out = yp + r * d;
      for (int64_t e = rp[r]; e < rp[r + 1]; ++e) {
        const float w = val[e];
        const float* src = hp + static_cast<int64_t>(ci[e]) * d;
        for (int64_t c = 0; c < d; ++c) out[c] += w * src[c];
      }
    }
  });
  return y;
}
}  // namespace

Var spmm(const CsrMatrix& a, const Var& h, const CsrMatrix* a_transposed) {
  RC_CHECK(a.defined(), "spmm: the sparse matrix is undefined");
  RC_CHECK(h.ndim() == 2 && h.dim(0) == a.cols(), "spmm: a is ({}, {}) so h must be ({}, D), got {}", a.rows(),
           a.cols(), a.cols(), shape_str(h.shape()));
  if (a_transposed)
    RC_CHECK(a_transposed->rows() == a.cols() && a_transposed->cols() == a.rows(),
             "spmm: a_transposed is ({}, {}), expected ({}, {})", a_transposed->rows(), a_transposed->cols(),
             a.cols(), a.rows());
  Tensor y = csr_times_dense(a, h.value());
  CsrMatrix at = a_transposed ? *a_transposed : CsrMatrix();
  return make_result(y, {&h}, "spmm", [a, at, h](const Tensor& dy) {
    // forward was y = A h, so dh = Aᵀ dy
    accumulate_grad(h, csr_times_dense(at.defined() ? at : a.transpose(), dy));
  });
}

}  // namespace rc

namespace rc {

CsrMatrix dropout_values(const CsrMatrix& a, float p, uint64_t seed) {
  RC_CHECK(p >= 0 && p < 1, "dropout_values: p = {} must be in [0, 1)", p);
  if (p == 0) return a;
  std::vector<uint8_t> keep = dropout_mask(a.nnz(), p, seed);
  std::vector<float> values = a.values();
  const float scale = 1.0f / (1.0f - p);
  for (size_t i = 0; i < values.size(); ++i) values[i] = keep[i] ? values[i] * scale : 0.0f;
  return CsrMatrix(a.rows(), a.cols(), a.row_ptr(), a.col_idx(), std::move(values));
}

}  // namespace rc
