#pragma once
// Sparse input features (CSR) and the linear layer on them. Bag-of-words features such as Cora's (2708 × 1433,
// 1.3 % non-zero) stay sparse: the product costs O(nnz · out) instead of O(rows · in · out).
#include <memory>
#include <vector>

#include "framework/autograd/var.hpp"
#include "framework/core/csr.hpp"

namespace rc {

// A constant CSR matrix (rows, cols): row r holds columns col_idx[row_ptr[r] .. row_ptr[r+1]) with the matching
// values. Validated on construction: row_ptr has rows + 1 non-decreasing entries from 0 to nnz, column indices
// are in [0, cols) and strictly increasing within each row, values are finite. Copies share the storage.
class CsrMatrix {
 public:
  CsrMatrix() = default;
  CsrMatrix(int64_t rows, int64_t cols, std::vector<int64_t> row_ptr, std::vector<int32_t> col_idx,
            std::vector<float> values);
  // the non-zero entries of a 2-D tensor
  static CsrMatrix from_dense(const Tensor& dense);
  // (n, n) with the layout of a CSR adjacency (framework/core/csr.hpp) and one value per edge
  static CsrMatrix from_pattern(const CsrView& pattern, std::vector<float> values);

  bool defined() const { return data_ != nullptr; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t nnz() const { return data_ ? static_cast<int64_t>(data_->values.size()) : 0; }
  const std::vector<int64_t>& row_ptr() const { return data_->row_ptr; }
  const std::vector<int32_t>& col_idx() const { return data_->col_idx; }
  const std::vector<float>& values() const { return data_->values; }

  CsrMatrix transpose() const;  // (cols, rows), rows of the result sorted by the original row index
  Tensor to_dense() const;      // (rows, cols)

 private:
  struct Data {
    std::vector<int64_t> row_ptr;
    std::vector<int32_t> col_idx;
    std::vector<float> values;
  };
  int64_t rows_ = 0, cols_ = 0;
  std::shared_ptr<const Data> data_;
};

// x: CSR (N, in), w: (out, in), b: (out) or undefined Var for no bias -> (N, out)
// y = x · wᵀ + b; x is a constant input, so only w and b get gradients: dw = dyᵀ · x (sparse), db = Σ_rows dy
Var spmm_linear(const CsrMatrix& x, const Var& w, const Var& b = Var());

}  // namespace rc
