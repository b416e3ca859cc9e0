#include "framework/ops/softmax.hpp"

#include <cmath>

#include "framework/core/parallel.hpp"

namespace rc {

namespace {
// Rows per task: about 16K floats of work, so small rows do not drown in scheduling.
int64_t row_grain(int64_t row_len) { return std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, row_len)); }

// The input with `dim` moved last and packed, plus the permutation that moves it back (empty: not moved).
struct RowsView {
  Tensor rows;
  std::vector<int> back;
};

int normalize_dim(const Tensor& x, int dim, const char* op) {
  const int n = x.ndim();
  RC_CHECK(n >= 1, "{}: x must have at least 1 dimension, got shape {}", op, shape_str(x.shape()));
  RC_CHECK(dim >= -n && dim < n, "{}: dim {} out of range for x of shape {}", op, dim, shape_str(x.shape()));
  return dim < 0 ? dim + n : dim;
}

RowsView move_dim_last(const Tensor& x, int d) {
  int64_t inner = 1;
  for (int i = d + 1; i < x.ndim(); ++i) inner *= x.shape()[i];
  if (inner == 1) return {x.contiguous(), {}};
  std::vector<int> order, back(x.ndim());
  for (int i = 0; i < x.ndim(); ++i)
    if (i != d) order.push_back(i);
  order.push_back(d);
  for (int i = 0; i < x.ndim(); ++i) back[order[i]] = i;
  return {x.permute(order).contiguous(), back};
}

Tensor move_back(const Tensor& t, const std::vector<int>& back) {
  return back.empty() ? t : t.permute(back).contiguous();
}

// Calls f(row_in, row_out) on every row of `in` (rows of length D), writing a fresh tensor of in's shape.
template <class F>
Tensor map_rows(const Tensor& in, F f) {
  Tensor out = Tensor::empty(in.shape());
  if (in.numel() == 0) return out;
  const int64_t D = in.shape().back(), rows = in.numel() / D;
  const float* ip = in.data();
  float* op = out.data();
  parallel_for(rows, row_grain(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) f(ConstVecMap(ip + r * D, D), VecMap(op + r * D, D));
  });
  return out;
}

// g(y_row, dy_row, dx_row) on every row; y is packed, dy may have any strides
template <class G>
Tensor map_rows_backward(const Tensor& y, const Tensor& dy_in, G g) {
  Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(y.shape());
  if (y.numel() == 0) return dx;
  const int64_t D = y.shape().back(), rows = y.numel() / D;
  const float* yp = y.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  parallel_for(rows, row_grain(D), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      g(ConstVecMap(yp + r * D, D), ConstVecMap(dyp + r * D, D), VecMap(dxp + r * D, D));
  });
  return dx;
}

Tensor softmax_rows(const Tensor& x) {
  return map_rows(x, [](ConstVecMap xr, VecMap yr) {
    const float m = xr.maxCoeff();
    yr = (xr - m).exp();
    yr *= 1.0f / yr.sum();
  });
}

Tensor log_softmax_rows(const Tensor& x) {
  return map_rows(x, [](ConstVecMap xr, VecMap yr) {
    const float m = xr.maxCoeff();
    const float log_s = std::log((xr - m).exp().sum());
    yr = (xr - m) - log_s;  // not x − (m + log s): exact for x near m even when |m| is large
  });
}
}  // namespace

Var softmax(const Var& x, int dim) {
  const int d = normalize_dim(x.value(), dim, "softmax");
  RowsView v = move_dim_last(x.value(), d);
  Tensor y_rows = softmax_rows(v.rows);
  // forward was y = softmax(x) along the row, so dx = y ⊙ (dy − Σ dy ⊙ y); keep y (in row layout)
  return make_result(move_back(y_rows, v.back), {&x}, "softmax", [x, y_rows, back = v.back, d](const Tensor& dy) {
    Tensor dy_rows = back.empty() ? dy : move_dim_last(dy, d).rows;
    Tensor dx = map_rows_backward(y_rows, dy_rows, [](ConstVecMap yr, ConstVecMap dyr, VecMap dxr) {
      const float dot = (dyr * yr).sum();
      dxr = yr * (dyr - dot);
    });
    accumulate_grad(x, move_back(dx, back));
  });
}

Var log_softmax(const Var& x, int dim) {
  const int d = normalize_dim(x.value(), dim, "log_softmax");
  RowsView v = move_dim_last(x.value(), d);
  Tensor y_rows = log_softmax_rows(v.rows);
  // forward was y = x − lse(x) along the row, ∂lse/∂x = exp(y), so dx = dy − exp(y) Σ dy; keep y
  return make_result(move_back(y_rows, v.back), {&x}, "log_softmax",
                     [x, y_rows, back = v.back, d](const Tensor& dy) {
                       Tensor dy_rows = back.empty() ? dy : move_dim_last(dy, d).rows;
                       Tensor dx = map_rows_backward(y_rows, dy_rows, [](ConstVecMap yr, ConstVecMap dyr, VecMap dxr) {
                         const float sum = dyr.sum();
                         dxr = dyr - yr.exp() * sum;
                       });
                       accumulate_grad(x, move_back(dx, back));
                     });
}

}  // namespace rc
