#include "framework/ops/softmax.hpp"

#include <cmath>

#include "framework/core/parallel.hpp"
#include "framework/ops/row_kernels.hpp"

namespace rc {

namespace {
using rowk::in;
using rowk::out;

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

// f(a_row, b_row, out_row, D) on every row of the packed tensors a and b (b may be undefined); returns out.
template <class F>
Tensor map_rows(const Tensor& a, const Tensor& b, F f) {
  Tensor o = Tensor::empty(a.shape());
  if (a.numel() == 0) return o;
  const int64_t D = a.shape().back(), rows = a.numel() / D;
  const float* ap = a.data();
  const float* bp = b.defined() ? b.data() : nullptr;
  float* op = o.data();
  parallel_for(rows, rowk::row_grain(D), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) f(ap + r * D, bp ? bp + r * D : nullptr, op + r * D, D);
  });
  return o;
}

// y = exp(x − m) / Σ exp(x − m)
void softmax_row(const float* x, const float*, float* y, int64_t D) {
  const float m = rowk::max(x, D);
  const float s = rowk::sum(D, [&](int64_t i, auto len) {
    auto e = (in(x + i, len) - m).exp().eval();
    out(y + i, len) = e;
    return e;
  });
  const float inv = 1.0f / s;
  rowk::for_each_segment(D, [&](int64_t i, auto len) { out(y + i, len) *= inv; });
}

// y = (x − m) − log Σ exp(x − m)  (not x − lse: exact for x near m even when |m| is large)
void log_softmax_row(const float* x, const float*, float* y, int64_t D) {
  const float m = rowk::max(x, D);
  const float log_s = std::log(rowk::sum(D, [&](int64_t i, auto len) { return (in(x + i, len) - m).exp().eval(); }));
  rowk::for_each_segment(D, [&](int64_t i, auto len) { out(y + i, len) = (in(x + i, len) - m) - log_s; });
}

// dx = y ⊙ (dy − Σ dy ⊙ y)
void softmax_backward_row(const float* y, const float* dy, float* dx, int64_t D) {
  const float dot = rowk::sum(D, [&](int64_t i, auto len) { return (in(dy + i, len) * in(y + i, len)).eval(); });
  rowk::for_each_segment(D, [&](int64_t i, auto len) { out(dx + i, len) = in(y + i, len) * (in(dy + i, len) - dot); });
}

// dx = dy − exp(y) Σ dy
void log_softmax_backward_row(const float* y, const float* dy, float* dx, int64_t D) {
  const float s = rowk::sum(D, [&](int64_t i, auto len) { return in(dy + i, len).eval(); });
  rowk::for_each_segment(D,
                         [&](int64_t i, auto len) { out(dx + i, len) = in(dy + i, len) - in(y + i, len).exp() * s; });
}

using RowFn = void (*)(const float*, const float*, float*, int64_t);

// The autograd op for a row function and its backward, along dimension dim; backward keeps y (row layout).
Var row_op(const Var& x, int dim, const char* name, RowFn forward, RowFn backward_fn) {
  const int d = normalize_dim(x.value(), dim, name);
  RowsView v = move_dim_last(x.value(), d);
  Tensor y_rows = map_rows(v.rows, Tensor(), forward);
  return make_result(move_back(y_rows, v.back), {&x}, name,
                     [x, y_rows, back = v.back, d, backward_fn](const Tensor& dy) {
                       Tensor dy_rows = back.empty() ? dy.contiguous() : move_dim_last(dy, d).rows;
                       accumulate_grad(x, move_back(map_rows(y_rows, dy_rows, backward_fn), back));
                     });
}
}  // namespace

// forward was y = softmax(x) along the row, so dx = y ⊙ (dy − Σ dy ⊙ y)
Var softmax(const Var& x, int dim) { return row_op(x, dim, "softmax", softmax_row, softmax_backward_row); }

// forward was y = x − lse(x) along the row, ∂lse/∂x = exp(y), so dx = dy − exp(y) Σ dy
Var log_softmax(const Var& x, int dim) {
  return row_op(x, dim, "log_softmax", log_softmax_row, log_softmax_backward_row);
}

}  // namespace rc
