#include "framework/ops/sparse.hpp"

#include <limits>

#include <climits>
#include <cmath>
#include <cstdint>

#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"

namespace rc {

CsrMatrix::CsrMatrix(int64_t rows, int64_t cols, std::vector<int64_t> row_ptr, std::vector<int32_t> col_idx,
                     std::vector<float> values)
    : rows_(rows), cols_(cols) {
  RC_CHECK(rows >= 0 && cols >= 0 && cols <= INT32_MAX, "CsrMatrix: bad size ({}, {})", rows, cols);
  RC_CHECK(static_cast<int64_t>(row_ptr.size()) == rows + 1, "CsrMatrix: row_ptr has {} entries, expected rows + 1 = {}",
           row_ptr.size(), rows + 1);
  RC_CHECK(col_idx.size() == values.size(), "CsrMatrix: col_idx has {} entries but values has {}", col_idx.size(),
           values.size());
  RC_CHECK(row_ptr[0] == 0, "CsrMatrix: row_ptr[0] = {}, must be 0", row_ptr[0]);
  RC_CHECK(row_ptr[rows] == static_cast<int64_t>(values.size()), "CsrMatrix: row_ptr ends at {} but there are {} values",
           row_ptr[rows], values.size());
  for (int64_t r = 0; r < rows; ++r)
    RC_CHECK(row_ptr[r] <= row_ptr[r + 1], "CsrMatrix: row_ptr decreases at row {}: {} then {}", r, row_ptr[r],
             row_ptr[r + 1]);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e) {
      const int32_t c = col_idx[e];
      RC_CHECK(c >= 0 && c < cols, "CsrMatrix: row {} has column index {} outside [0, {})", r, c, cols);
      RC_CHECK(e == row_ptr[r] || col_idx[e - 1] < c,
               "CsrMatrix: row {} has column indices not strictly increasing ({} then {})", r, col_idx[e - 1], c);
      RC_CHECK(std::isfinite(values[e]), "CsrMatrix: row {} has non-finite value {} at column {}", r, values[e], c);
    }
  }
  data_ = std::make_shared<const Data>(Data{std::move(row_ptr), std::move(col_idx), std::move(values)});
}

CsrMatrix CsrMatrix::from_pattern(const CsrView& pattern, std::vector<float> values) {
  RC_CHECK(pattern.n <= std::numeric_limits<int32_t>::max(), "CsrMatrix::from_pattern: {} nodes exceed 32-bit columns",
           pattern.n);
  RC_CHECK(static_cast<int64_t>(values.size()) == pattern.edges(),
           "CsrMatrix::from_pattern: {} values for {} edges", values.size(), pattern.edges());
  std::vector<int32_t> cols(pattern.col_idx, pattern.col_idx + pattern.edges());
  return CsrMatrix(pattern.n, pattern.n, std::vector<int64_t>(pattern.row_ptr, pattern.row_ptr + pattern.n + 1),
                   std::move(cols), std::move(values));
}

CsrMatrix CsrMatrix::from_dense(const Tensor& dense) {
  check_ndim(dense, 2, "CsrMatrix::from_dense", "dense");
  const Tensor d = dense.contiguous();
  const int64_t rows = d.dim(0), cols = d.dim(1);
  std::vector<int64_t> row_ptr{0};
  std::vector<int32_t> col_idx;
  std::vector<float> values;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = d.data()[r * cols + c];
      if (v != 0.0f) {
        col_idx.push_back(static_cast<int32_t>(c));
        values.push_back(v);
      }
    }
    row_ptr.push_back(static_cast<int64_t>(values.size()));
  }
  return CsrMatrix(rows, cols, std::move(row_ptr), std::move(col_idx), std::move(values));
}

CsrMatrix CsrMatrix::transpose() const {
  RC_CHECK(defined(), "CsrMatrix::transpose: matrix is undefined");
  // counting sort by column; walking rows in order keeps each output row sorted by the original row index
  std::vector<int64_t> ptr(static_cast<size_t>(cols_ + 1), 0);
  for (int32_t c : col_idx()) ++ptr[c + 1];
  for (int64_t c = 0; c < cols_; ++c) ptr[c + 1] += ptr[c];
  std::vector<int64_t> next(ptr.begin(), ptr.end() - 1);
  std::vector<int32_t> idx(static_cast<size_t>(nnz()));
  std::vector<float> val(static_cast<size_t>(nnz()));
  for (int64_t r = 0; r < rows_; ++r)
    for (int64_t e = row_ptr()[r]; e < row_ptr()[r + 1]; ++e) {
      const int64_t dst = next[col_idx()[e]]++;
      idx[dst] = static_cast<int32_t>(r);
      val[dst] = values()[e];
    }
  return CsrMatrix(cols_, rows_, std::move(ptr), std::move(idx), std::move(val));
}

Tensor CsrMatrix::to_dense() const {
  Tensor d({rows_, cols_});
  for (int64_t r = 0; r < rows_; ++r)
    for (int64_t e = row_ptr()[r]; e < row_ptr()[r + 1]; ++e) d.data()[r * cols_ + col_idx()[e]] = values()[e];
  return d;
}

namespace {
constexpr int64_t kRowGrain = 64;

// out[r, :] (out: rows × n) = init_row + Σ_{e ∈ row r of m} values[e] · dense[col_idx[e], :]  (dense: m.cols × n)
void csr_times_dense(const CsrMatrix& m, const float* dense, int64_t n, const float* init_row, float* out) {
  const int64_t* ptr = m.row_ptr().data();
  const int32_t* idx = m.col_idx().data();
  const float* val = m.values().data();
  parallel_for(m.rows(), kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * n;
      for (int64_t j = 0; j < n; ++j) o[j] = init_row ? init_row[j] : 0.0f;
      for (int64_t e = ptr[r]; e < ptr[r + 1]; ++e) {
        const float v = val[e];
        const float* d = dense + static_cast<int64_t>(idx[e]) * n;
        for (int64_t j = 0; j < n; ++j) o[j] += v * d[j];
      }
    }
  });
}

Tensor transpose_2d(const Tensor& t) {
  Tensor c = t.contiguous();
  Tensor out = Tensor::empty({c.dim(1), c.dim(0)});
  out.matrix() = c.matrix().transpose();
  return out;
}
}  // namespace

Var spmm_linear(const CsrMatrix& x, const Var& w, const Var& b) {
  RC_CHECK(x.defined(), "spmm_linear: x is undefined");
  RC_CHECK(w.defined() && w.ndim() == 2, "spmm_linear: w must be (out, in), got {}",
           w.defined() ? shape_str(w.shape()) : "undefined");
  RC_CHECK(w.dim(1) == x.cols(), "spmm_linear: x ({}, {}) has {} features but w {} expects {}", x.rows(), x.cols(),
           x.cols(), shape_str(w.shape()), w.dim(1));
  const int64_t out = w.dim(0);
  if (b.defined())
    RC_CHECK(b.ndim() == 1 && b.dim(0) == out, "spmm_linear: b must be ({}) for w {}, got shape {}", out,
             shape_str(w.shape()), shape_str(b.shape()));

  const Tensor wt = transpose_2d(w.value());  // (in, out): each non-zero reads one contiguous row
  const Tensor bias = b.defined() ? b.value().contiguous() : Tensor();
  Tensor y = Tensor::empty({x.rows(), out});
  csr_times_dense(x, wt.data(), out, bias.defined() ? bias.data() : nullptr, y.data());

  return make_result(y, {&w, &b}, "spmm_linear", [x, w, b, out](const Tensor& dy_in) {
    // forward was y = x · wᵀ + b, so dwᵀ = xᵀ · dy (in, out): row k of dwᵀ sums the dy rows of the nodes that have
    // feature k, in node order (a CSR product over xᵀ, deterministic); db = Σ_rows dy
    const Tensor dy = dy_in.contiguous();
    if (w.requires_grad()) {
      Tensor dwt = Tensor::empty({x.cols(), out});
      csr_times_dense(x.transpose(), dy.data(), out, nullptr, dwt.data());
      accumulate_grad(w, transpose_2d(dwt));
    }
    if (b.defined() && b.requires_grad()) {
      Tensor db = Tensor::empty({out});
      column_sums(x.rows(), out, dy.data(), out, db.data());
      accumulate_grad(b, db);
    }
  });
}

}  // namespace rc
