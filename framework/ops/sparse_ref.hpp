#pragma once
// Reference sparse linear layer: plain loops over the CSR entries, templated on the scalar type.
#include <vector>

#include "framework/ops/sparse.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// x: CSR (N, in), w: (out, in), b: (out) or empty (no bias);  y[r, o] = Σ_{(r, k) ∈ x} x[r, k] w[o, k] + b[o]
template <class T>
RefTensor<T> spmm_linear(const CsrMatrix& x, const RefTensor<T>& w, const RefTensor<T>& b) {
  const int64_t out = w.dim(0), in = w.dim(1);
  RefTensor<T> y({x.rows(), out});
  for (int64_t r = 0; r < x.rows(); ++r)
    for (int64_t o = 0; o < out; ++o) {
      T acc = b.numel() ? b[o] : T(0);
      for (int64_t e = x.row_ptr()[r]; e < x.row_ptr()[r + 1]; ++e)
        acc += static_cast<T>(x.values()[e]) * w[o * in + x.col_idx()[e]];
      y[r * out + o] = acc;
    }
  return y;
}

// forward was y = x · wᵀ + b, so dw[o, k] = Σ_r dy[r, o] x[r, k] and db[o] = Σ_r dy[r, o]; returns {dw, db}
template <class T>
std::vector<RefTensor<T>> spmm_linear_backward(const CsrMatrix& x, const RefTensor<T>& w, const RefTensor<T>& b,
                                               const RefTensor<T>& dy) {
  const int64_t out = w.dim(0), in = w.dim(1);
  RefTensor<T> dw(w.shape), db(b.shape);
  for (int64_t r = 0; r < x.rows(); ++r)
    for (int64_t o = 0; o < out; ++o) {
      const T g = dy[r * out + o];
      if (b.numel()) db[o] += g;
      for (int64_t e = x.row_ptr()[r]; e < x.row_ptr()[r + 1]; ++e)
        dw[o * in + x.col_idx()[e]] += g * static_cast<T>(x.values()[e]);
    }
  return {dw, db};
}

}  // namespace rc::ref
