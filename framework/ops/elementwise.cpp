#include "framework/ops/elementwise.hpp"

#include <algorithm>

#include "framework/core/parallel.hpp"
#include "framework/ops/broadcast.hpp"
#include "framework/ops/pointwise.hpp"

namespace rc {

namespace {
constexpr int64_t kGrain = 1 << 15;

// out = f(a, b) with broadcasting. Same shapes run one tight loop; otherwise the merged layout is walked row
// by row (a row = the innermost merged dimension) with a tight inner loop per stride pattern.
template <class F>
Tensor broadcast_apply(const Tensor& a_in, const Tensor& b_in, const char* op, F f) {
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const float* ap = a.data();
  const float* bp = b.data();
  if (a.shape() == b.shape()) return map_pointwise(a, b, f);
  const BroadcastLayout L = broadcast_layout(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(L.out);
  float* yp = out.data();
  const int outer_dims = static_cast<int>(L.dims.size()) - 1;
  const int64_t inner = L.dims.back(), sa = L.a_strides.back(), sb = L.b_strides.back();
  parallel_for(out.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    int64_t pos = i0;
    while (pos < i1) {
      // locate row r = pos / inner in a and b
      int64_t r = pos / inner, col = pos % inner, oa = 0, ob = 0;
      for (int d = outer_dims - 1; d >= 0; --d) {
        const int64_t idx = r % L.dims[d];
        r /= L.dims[d];
        oa += idx * L.a_strides[d];
        ob += idx * L.b_strides[d];
      }
      const int64_t len = std::min(inner - col, i1 - pos);
      float* y = yp + pos;
      const float* pa = ap + oa + col * sa;
      const float* pb = bp + ob + col * sb;
      if (sa && sb) {
        for (int64_t i = 0; i < len; ++i) y[i] = f(pa[i], pb[i]);
      } else if (sa) {
        const float bv = pb[0];
        for (int64_t i = 0; i < len; ++i) y[i] = f(pa[i], bv);
      } else if (sb) {
        const float av = pa[0];
        for (int64_t i = 0; i < len; ++i) y[i] = f(av, pb[i]);
      } else {
        const float v = f(pa[0], pb[0]);
        for (int64_t i = 0; i < len; ++i) y[i] = v;
      }
      pos += len;
    }
  });
  return out;
}

const auto kAdd = [](float u, float v) { return u + v; };
const auto kSub = [](float u, float v) { return u - v; };
const auto kMul = [](float u, float v) { return u * v; };

int normalize_dim(int dim, int ndim, const char* op, const Shape& shape) {
  RC_CHECK(dim >= -ndim && dim < ndim, "{}: dim {} out of range for x of shape {}", op, dim, shape_str(shape));
  return dim < 0 ? dim + ndim : dim;
}
}  // namespace

Var add(const Var& a, const Var& b) {
  Tensor y = broadcast_apply(a.value(), b.value(), "add", kAdd);
  // forward was y = a + b (broadcast), so da = sum_to(dy, a), db = sum_to(dy, b)
  return make_result(y, {&a, &b}, "add", [a, b](const Tensor& dy) {
    if (a.requires_grad()) accumulate_grad(a, sum_to(dy, a.shape()));
    if (b.requires_grad()) accumulate_grad(b, sum_to(dy, b.shape()));
  });
}

Var sub(const Var& a, const Var& b) {
  Tensor y = broadcast_apply(a.value(), b.value(), "sub", kSub);
  // forward was y = a - b (broadcast), so da = sum_to(dy, a), db = -sum_to(dy, b)
  return make_result(y, {&a, &b}, "sub", [a, b](const Tensor& dy) {
    if (a.requires_grad()) accumulate_grad(a, sum_to(dy, a.shape()));
    if (b.requires_grad()) accumulate_grad(b, map_pointwise(sum_to(dy, b.shape()), [](float g) { return -g; }));
  });
}

Var mul(const Var& a, const Var& b) {
  Tensor y = broadcast_apply(a.value(), b.value(), "mul", kMul);
  // forward was y = a ⊙ b (broadcast), so da = sum_to(dy ⊙ b, a), db = sum_to(dy ⊙ a, b)
  return make_result(y, {&a, &b}, "mul", [a, b](const Tensor& dy) {
    if (a.requires_grad()) accumulate_grad(a, sum_to(broadcast_apply(dy, b.value(), "mul", kMul), a.shape()));
    if (b.requires_grad()) accumulate_grad(b, sum_to(broadcast_apply(dy, a.value(), "mul", kMul), b.shape()));
  });
}

Var add_scalar(const Var& x, float s) {
  Tensor y = map_pointwise(x.value(), [s](float v) { return v + s; });
  // forward was y = x + s, so dx = dy
  return make_result(y, {&x}, "add_scalar", [x](const Tensor& dy) { accumulate_grad(x, dy); });
}

Var mul_scalar(const Var& x, float s) {
  Tensor y = map_pointwise(x.value(), [s](float v) { return s * v; });
  // forward was y = s · x, so dx = s · dy
  return make_result(y, {&x}, "mul_scalar", [x, s](const Tensor& dy) {
    accumulate_grad(x, map_pointwise(dy, [s](float g) { return s * g; }));
  });
}

Var sum(const Var& x) {
  Tensor y = sum_middle(x.value(), 1, x.value().numel(), 1).reshape({});
  // forward was y = Σ x, so dx = dy everywhere
  return make_result(y, {&x}, "sum", [x](const Tensor& dy) {
    accumulate_grad(x, Tensor::full(x.shape(), dy.item()));
  });
}

Var mean(const Var& x) {
  const int64_t n = x.value().numel();
  RC_CHECK(n > 0, "mean: x of shape {} has no elements", shape_str(x.shape()));
  Tensor y = sum_middle(x.value(), 1, n, 1).reshape({});
  y.data()[0] /= static_cast<float>(n);
  // forward was y = Σ x / n, so dx = dy / n everywhere
  return make_result(y, {&x}, "mean", [x, n](const Tensor& dy) {
    accumulate_grad(x, Tensor::full(x.shape(), dy.item() / static_cast<float>(n)));
  });
}

Var sum(const Var& x, int dim, bool keepdim) {
  const Shape& xs = x.shape();
  const int d = normalize_dim(dim, x.ndim(), "sum", xs);
  int64_t outer = 1, inner = 1;
  for (int j = 0; j < d; ++j) outer *= xs[j];
  for (int j = d + 1; j < x.ndim(); ++j) inner *= xs[j];
  const int64_t mid = xs[d];
  Shape ys = xs;
  if (keepdim)
    ys[d] = 1;
  else
    ys.erase(ys.begin() + d);
  Tensor y = sum_middle(x.value(), outer, mid, inner).reshape(ys);
  // forward was y[o, i] = Σ_j x[o, j, i], so dx[o, j, i] = dy[o, i]
  return make_result(y, {&x}, "sum_dim", [x, outer, mid, inner](const Tensor& dy) {
    accumulate_grad(x, expand_middle(dy, outer, mid, inner).reshape(x.shape()));
  });
}

}  // namespace rc
