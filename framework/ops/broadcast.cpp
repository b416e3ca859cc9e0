#include "framework/ops/broadcast.hpp"

#include <algorithm>
#include <cstring>

#include "framework/core/parallel.hpp"

namespace rc {

namespace {
constexpr int64_t kReduceBlock = 1 << 14;  // elements summed by one task before partials are combined
constexpr int64_t kCopyGrain = 1 << 15;

Shape pad_front(const Shape& s, size_t nd) {
  Shape p(nd - s.size(), 1);
  p.insert(p.end(), s.begin(), s.end());
  return p;
}

// Sum of n contiguous floats with 16 independent lanes (vectorizes); the order depends only on n.
float sum_contiguous(const float* p, int64_t n) {
  float lane[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) lane[l] += p[i + l];
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s += lane[l];
  for (; i < n; ++i) s += p[i];
  return s;
}
}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t nd = std::max(a.size(), b.size());
  Shape pa = pad_front(a, nd), pb = pad_front(b, nd), out(nd);
  for (size_t d = 0; d < nd; ++d) {
    RC_CHECK(pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1,
             "{}: shapes {} and {} do not broadcast (size {} vs {} in dimension {} of the result)", op, shape_str(a),
             shape_str(b), pa[d], pb[d], d);
    out[d] = pa[d] == 1 ? pb[d] : pa[d];
  }
  return out;
}

BroadcastLayout broadcast_layout(const Shape& a, const Shape& b, const char* op) {
  BroadcastLayout L;
  L.out = broadcast_shapes(a, b, op);
  const size_t nd = L.out.size();
  Shape pa = pad_front(a, nd), pb = pad_front(b, nd);
  Shape sa = contiguous_strides(pa), sb = contiguous_strides(pb);
  int prev_flags = -1;
  for (size_t d = 0; d < nd; ++d) {
    if (L.out[d] == 1) continue;  // size-1 result dims carry no data
    const bool a_bc = pa[d] == 1, b_bc = pb[d] == 1;
    const int flags = (a_bc ? 1 : 0) | (b_bc ? 2 : 0);
    const int64_t ast = a_bc ? 0 : sa[d], bst = b_bc ? 0 : sb[d];
    if (flags == prev_flags) {  // packed strides make the merged run contiguous: keep the inner strides
      L.dims.back() *= L.out[d];
      L.a_strides.back() = ast;
      L.b_strides.back() = bst;
    } else {
      L.dims.push_back(L.out[d]);
      L.a_strides.push_back(ast);
      L.b_strides.push_back(bst);
      prev_flags = flags;
    }
  }
  if (L.dims.empty()) {  // a one-element result
    L.dims = {1};
    L.a_strides = {0};
    L.b_strides = {0};
  }
  return L;
}

Tensor sum_middle(const Tensor& x_in, int64_t outer, int64_t mid, int64_t inner) {
  Tensor x = x_in.contiguous();
  RC_CHECK(outer * mid * inner == x.numel(), "sum_middle: cannot view shape {} as ({}, {}, {})",
           shape_str(x.shape()), outer, mid, inner);
  Tensor out = Tensor::zeros({outer * inner});
  if (outer * inner == 0 || mid == 0) return out;
  // forward of the blocks: partial[o, c, i] = Σ_{d in block c} x[o, d, i]; then out[o, i] = Σ_c partial[o, c, i]
  const int64_t block = std::max<int64_t>(1, kReduceBlock / inner);
  const int64_t nblocks = num_chunks(mid, block);
  Tensor partial = nblocks == 1 ? out : Tensor::empty({outer, nblocks, inner});
  const float* xp = x.data();
  float* pp = partial.data();
  const int64_t task_elems = std::min(mid, block) * inner;
  parallel_for(outer * nblocks, std::max<int64_t>(1, kReduceBlock / task_elems), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / nblocks, c = t % nblocks;
      const int64_t d0 = c * block, d1 = std::min(mid, d0 + block);
      const float* src = xp + (o * mid + d0) * inner;
      float* dst = pp + t * inner;
      if (inner == 1) {
        dst[0] = sum_contiguous(src, d1 - d0);
        continue;
      }
      std::memcpy(dst, src, sizeof(float) * inner);
      for (int64_t d = d0 + 1; d < d1; ++d) {
        src += inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
      }
    }
  });
  if (nblocks == 1) return out;
  float* op = out.data();
  parallel_for(outer, std::max<int64_t>(1, kReduceBlock / (nblocks * inner)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      float* dst = op + o * inner;
      for (int64_t c = 0; c < nblocks; ++c) {
        const float* src = pp + (o * nblocks + c) * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
      }
    }
  });
  return out;
}

Tensor expand_middle(const Tensor& y_in, int64_t outer, int64_t mid, int64_t inner) {
  Tensor y = y_in.contiguous();
  RC_CHECK(outer * inner == y.numel(), "expand_middle: shape {} does not have {} x {} elements",
           shape_str(y.shape()), outer, inner);
  Tensor out = Tensor::empty({outer * mid * inner});
  const float* yp = y.data();
  float* op = out.data();
  parallel_for(outer * mid, std::max<int64_t>(1, kCopyGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = yp + (r / std::max<int64_t>(mid, 1)) * inner;
      if (inner == 1)
        op[r] = src[0];
      else
        std::memcpy(op + r * inner, src, sizeof(float) * inner);
    }
  });
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g.contiguous();
  const Shape& gs = g.shape();
  RC_CHECK(shape.size() <= gs.size(), "sum_to: cannot reduce shape {} to {} (more dimensions)", shape_str(gs),
           shape_str(shape));
  Shape ts = pad_front(shape, gs.size());
  // merge runs of dimensions that are all kept or all reduced
  std::vector<int64_t> dims;
  std::vector<bool> reduce;
  for (size_t d = 0; d < gs.size(); ++d) {
    RC_CHECK(ts[d] == gs[d] || ts[d] == 1, "sum_to: cannot reduce shape {} to {} (dimension {}: {} vs {})",
             shape_str(gs), shape_str(shape), d, gs[d], ts[d]);
    if (gs[d] == 1) continue;
    const bool r = ts[d] == 1;
    if (!dims.empty() && reduce.back() == r) {
      dims.back() *= gs[d];
    } else {
      dims.push_back(gs[d]);
      reduce.push_back(r);
    }
  }
  // reduce the innermost reduced run first, one sum_middle pass per run
  Tensor cur = g.contiguous();
  for (int k = static_cast<int>(dims.size()) - 1; k >= 0; --k) {
    if (!reduce[k]) continue;
    int64_t outer = 1, inner = 1;
    for (int j = 0; j < k; ++j) outer *= dims[j];
    for (size_t j = k + 1; j < dims.size(); ++j) inner *= dims[j];
    cur = sum_middle(cur, outer, dims[k], inner);
    dims.erase(dims.begin() + k);
    reduce.erase(reduce.begin() + k);
  }
  return cur.reshape(shape);
}

}  // namespace rc
