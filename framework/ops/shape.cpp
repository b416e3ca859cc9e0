#include "framework/ops/shape.hpp"

#include <algorithm>
#include <cstring>

#include "framework/core/parallel.hpp"

namespace rc {

namespace {
constexpr int64_t kCopyGrain = 1 << 15;

int normalize_dim(int dim, int ndim, const char* op, const Shape& shape) {
  RC_CHECK(dim >= -ndim && dim < ndim, "{}: dim {} out of range for x of shape {}", op, dim, shape_str(shape));
  return dim < 0 ? dim + ndim : dim;
}

// dst[r * dst_stride + k] = src[r * src_stride + k] for r < rows, k < len
void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t len) {
  if (len == 0) return;
  parallel_for(rows, std::max<int64_t>(1, kCopyGrain / len), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::memcpy(dst + r * dst_stride, src + r * src_stride, sizeof(float) * len);
  });
}

// A packed copy of a strided view (transpose/permute), row by row: the innermost output dimension is a tight
// strided loop (a memcpy when it is contiguous); the source offset of a task's first row is decoded once and
// then advanced like an odometer, so no row pays for divisions.
Tensor pack(const Tensor& view) {
  Tensor out = Tensor::empty(view.shape());
  const int nd = view.ndim();
  if (out.numel() == 0) return out;
  if (nd == 0) {
    out.data()[0] = view.data()[0];
    return out;
  }
  const Shape& shape = view.shape();
  const Shape& strides = view.strides();
  const int64_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  const float* src = view.data();
  float* dst = out.data();
  parallel_for(out.numel() / inner, std::max<int64_t>(1, kCopyGrain / inner), [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> idx(std::max(nd - 1, 1), 0);  // the outer index of row r, last outer dim fastest
    int64_t rest = r0, off = 0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rest % shape[d];
      off += idx[d] * strides[d];
      rest /= shape[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      const float* s = src + off;
      float* y = dst + r * inner;
      if (inner_stride == 1)
        std::memcpy(y, s, sizeof(float) * inner);
      else
        for (int64_t k = 0; k < inner; ++k) y[k] = s[k * inner_stride];
      for (int d = nd - 2; d >= 0; --d) {  // next row
        off += strides[d];
        if (++idx[d] < shape[d]) break;
        off -= idx[d] * strides[d];
        idx[d] = 0;
      }
    }
  });
  return out;
}

// sizes before and after dim: a packed tensor is (outer, shape[dim], inner)
std::pair<int64_t, int64_t> outer_inner(const Shape& s, int dim) {
  int64_t outer = 1, inner = 1;
  for (int j = 0; j < dim; ++j) outer *= s[j];
  for (size_t j = dim + 1; j < s.size(); ++j) inner *= s[j];
  return {outer, inner};
}
}  // namespace

Var reshape(const Var& x, Shape shape) {
  int64_t known = 1, inferred = 0;
  for (int64_t d : shape) {
    RC_CHECK(d >= -1, "reshape: invalid size {} in target shape {}", d, shape_str(shape));
    if (d == -1)
      ++inferred;
    else
      known *= d;
  }
  const int64_t n = x.value().numel();
  RC_CHECK(inferred <= 1, "reshape: more than one -1 in target shape {}", shape_str(shape));
  RC_CHECK(inferred ? (known > 0 && n % known == 0) : known == n,
           "reshape: cannot reshape x of shape {} ({} elements) into {}", shape_str(x.shape()), n, shape_str(shape));
  Tensor y = x.value().reshape(shape);
  // forward only relabelled the shape, so dx = dy with x's shape
  return make_result(y, {&x}, "reshape", [x](const Tensor& dy) { accumulate_grad(x, dy.reshape(x.shape())); });
}

Var transpose(const Var& x, int a, int b) {
  const int n = x.ndim();
  RC_CHECK(a >= -n && a < n && b >= -n && b < n, "transpose: dims ({}, {}) out of range for x of shape {}", a, b,
           shape_str(x.shape()));
  Tensor y = pack(x.value().transpose(a, b));
  // forward swapped dims a and b, so dx = dy with them swapped back
  return make_result(y, {&x}, "transpose", [x, a, b](const Tensor& dy) {
    accumulate_grad(x, pack(dy.transpose(a, b)));
  });
}

Var permute(const Var& x, const std::vector<int>& order) {
  const int n = x.ndim();
  std::vector<int> inverse(n, -1);
  bool valid = static_cast<int>(order.size()) == n;
  for (size_t k = 0; valid && k < order.size(); ++k) {
    valid = order[k] >= 0 && order[k] < n && inverse[order[k]] < 0;
    if (valid) inverse[order[k]] = static_cast<int>(k);
  }
  RC_CHECK(valid, "permute: order [{}] is not a permutation of 0..{} for x of shape {}", fmt::join(order, ", "),
           n - 1, shape_str(x.shape()));
  Tensor y = pack(x.value().permute(order));
  // forward was y.dim(k) = x.dim(order[k]), so dx = dy permuted by the inverse order
  return make_result(y, {&x}, "permute", [x, inverse](const Tensor& dy) {
    accumulate_grad(x, pack(dy.permute(inverse)));
  });
}

Var concat(const std::vector<Var>& xs, int dim) {
  RC_CHECK(!xs.empty(), "concat: the list of inputs is empty");
  const Shape& s0 = xs[0].shape();
  const int n = static_cast<int>(s0.size());
  const int d = normalize_dim(dim, n, "concat", s0);
  Shape out_shape = s0;
  out_shape[d] = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Shape& sk = xs[k].shape();
    bool ok = static_cast<int>(sk.size()) == n;
    for (int j = 0; ok && j < n; ++j) ok = j == d || sk[j] == s0[j];
    RC_CHECK(ok, "concat: xs[{}] has shape {} but xs[0] has shape {}; sizes must agree except in dim {}", k,
             shape_str(sk), shape_str(s0), d);
    out_shape[d] += sk[d];
  }
  auto [outer, inner] = outer_inner(out_shape, d);
  const int64_t row = out_shape[d] * inner;
  Tensor y = Tensor::empty(out_shape);
  std::vector<int64_t> offsets;  // start of each input along dim
  int64_t off = 0;
  for (const Var& x : xs) {
    Tensor xv = x.value().contiguous();
    const int64_t len = x.shape()[d] * inner;
    copy_rows(xv.data(), len, y.data() + off * inner, row, outer, len);
    offsets.push_back(off);
    off += x.shape()[d];
  }
  // forward laid input k at [offsets[k], offsets[k] + size_k) along dim, so dx_k = that slice of dy
  return make_result(y, xs, "concat", [xs, d, offsets, outer = outer, inner = inner, row](const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    for (size_t k = 0; k < xs.size(); ++k) {
      if (!xs[k].requires_grad()) continue;
      Tensor dx = Tensor::empty(xs[k].shape());
      const int64_t len = xs[k].shape()[d] * inner;
      copy_rows(dy.data() + offsets[k] * inner, row, dx.data(), len, outer, len);
      accumulate_grad(xs[k], dx);
    }
  });
}

Var slice(const Var& x, int dim, int64_t start, int64_t end) {
  const Shape& xs = x.shape();
  const int d = normalize_dim(dim, x.ndim(), "slice", xs);
  RC_CHECK(0 <= start && start <= end && end <= xs[d], "slice: [{}, {}) out of range for dim {} of x of shape {}",
           start, end, dim, shape_str(xs));
  auto [outer, inner] = outer_inner(xs, d);
  Shape ys = xs;
  ys[d] = end - start;
  Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty(ys);
  const int64_t len = ys[d] * inner, row = xs[d] * inner;
  copy_rows(xv.data() + start * inner, row, y.data(), len, outer, len);
  // forward was y = x[.., start:end, ..], so dx is dy in that range and zero elsewhere
  // (added in place, so the slices of one tensor, such as q, k and v, share one zero-filled gradient)
  return make_result(y, {&x}, "slice", [x, start, outer = outer, inner = inner, len, row](const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    accumulate_grad_in_place(x, [&](Tensor& dx) {
      const float* src = dy.data();
      float* dst = dx.data() + start * inner;
      parallel_for(outer, std::max<int64_t>(1, kCopyGrain / std::max<int64_t>(len, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t k = 0; k < len; ++k) dst[r * row + k] += src[r * len + k];
      });
    });
  });
}

Var head_part(const Var& x, int64_t parts, int64_t part, int64_t heads) {
  RC_CHECK(x.ndim() == 3, "head_part: x must be (B, N, parts·E), got shape {}", shape_str(x.shape()));
  RC_CHECK(parts >= 1 && heads >= 1 && part >= 0 && part < parts,
           "head_part: part {} of {} parts with {} heads is not valid", part, parts, heads);
  RC_CHECK(x.dim(2) % (parts * heads) == 0, "head_part: x {} cannot be cut into {} parts of {} heads",
           shape_str(x.shape()), parts, heads);
  const int64_t B = x.dim(0), N = x.dim(1), row = x.dim(2), E = row / parts, D = E / heads;
  const Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty({B, heads, N, D});
  // one task per (b, h) head matrix: y[b, h] (N, D) gathers D values from each of x[b]'s N rows
  const int64_t grain = std::max<int64_t>(1, kCopyGrain / std::max<int64_t>(N * D, 1));
  parallel_for(B * heads, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = xv.data() + (r / heads) * N * row + part * E + (r % heads) * D;
      float* dst = y.data() + r * N * D;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) dst[n * D + d] = src[n * row + d];
    }
  });
  // forward copied x[b, n, part·E + h·D + d] to y[b, h, n, d], so dx gets dy back at those places
  return make_result(y, {&x}, "head_part", [x, heads, part, grain, N, D, row, E](const Tensor& dy_in) {
    const Tensor dy = dy_in.contiguous();
    accumulate_grad_in_place(x, [&](Tensor& dx) {
      parallel_for(dy.dim(0) * heads, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* src = dy.data() + r * N * D;
          float* dst = dx.data() + (r / heads) * N * row + part * E + (r % heads) * D;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t d = 0; d < D; ++d) dst[n * row + d] += src[n * D + d];
        }
      });
    });
  });
}

}  // namespace rc
