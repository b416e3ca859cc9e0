#include "framework/ops/pool.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "framework/core/parallel.hpp"

namespace rc {

namespace {
struct PoolGeometry {
  int64_t planes, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo;
  int64_t in_plane() const { return H * W; }
  int64_t out_plane() const { return Ho * Wo; }
};

PoolGeometry pool_geometry(const char* op, const Var& x, const Pool2dOptions& o) {
  RC_CHECK(x.defined() && x.ndim() == 4, "{}: x must be (N, C, H, W), got {}", op,
           x.defined() ? shape_str(x.shape()) : "undefined");
  const auto [kh, kw] = o.kernel;
  const auto [ph, pw] = o.padding;
  RC_CHECK(kh >= 1 && kw >= 1, "{}: kernel ({}, {}) must be >= 1", op, kh, kw);
  RC_CHECK(o.stride[0] >= 0 && o.stride[1] >= 0, "{}: stride ({}, {}) must be >= 1 (or 0 for the kernel size)", op,
           o.stride[0], o.stride[1]);
  RC_CHECK(ph >= 0 && pw >= 0 && 2 * ph <= kh && 2 * pw <= kw, "{}: padding ({}, {}) must be in [0, kernel / 2] for kernel ({}, {})",
           op, ph, pw, kh, kw);
  PoolGeometry g{x.dim(0) * x.dim(1), x.dim(2), x.dim(3), kh, kw, o.stride[0] ? o.stride[0] : kh,
                 o.stride[1] ? o.stride[1] : kw, ph, pw, 0, 0};
  RC_CHECK(g.H + 2 * ph >= kh && g.W + 2 * pw >= kw, "{}: padded input {}x{} is smaller than the kernel {}x{} (x {})", op,
           g.H + 2 * ph, g.W + 2 * pw, kh, kw, shape_str(x.shape()));
  g.Ho = (g.H + 2 * ph - kh) / g.sh + 1;
  g.Wo = (g.W + 2 * pw - kw) / g.sw + 1;
  return g;
}

// Calls f(plane, i, j, a0, a1, b0, b1) for every output position; [a0, a1) × [b0, b1) is its window clipped to x.
template <class F>
void for_each_window(const PoolGeometry& g, F&& f) {
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(g.in_plane(), 1));
  parallel_for(g.planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      for (int64_t i = 0; i < g.Ho; ++i) {
        const int64_t a0 = std::max<int64_t>(0, i * g.sh - g.ph), a1 = std::min(g.H, i * g.sh - g.ph + g.kh);
        for (int64_t j = 0; j < g.Wo; ++j) {
          const int64_t b0 = std::max<int64_t>(0, j * g.sw - g.pw), b1 = std::min(g.W, j * g.sw - g.pw + g.kw);
          f(p, i * g.Wo + j, a0, a1, b0, b1);
        }
      }
  });
}

Shape out_shape(const Var& x, const PoolGeometry& g) { return {x.dim(0), x.dim(1), g.Ho, g.Wo}; }
}  // namespace

Var max_pool2d(const Var& x, const Pool2dOptions& options) {
  const PoolGeometry g = pool_geometry("max_pool2d", x, options);
  const Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty(out_shape(x, g));
  // argmax: the position inside its plane of the first maximum of each window (padding <= kernel / 2 keeps every
  // window non-empty)
  auto argmax = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(y.numel()));
  if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0) {
    // the common 2×2 / stride 2 case without the generic window walk (same first-maximum rule: >, in row order)
    const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(g.in_plane(), 1));
    parallel_for(g.planes, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float* xp = xv.data() + p * g.in_plane();
        float* yp = y.data() + p * g.out_plane();
        int32_t* ap = argmax->data() + p * g.out_plane();
        for (int64_t i = 0; i < g.Ho; ++i) {
          const float* r0 = xp + 2 * i * g.W;
          const float* r1 = r0 + g.W;
          for (int64_t j = 0; j < g.Wo; ++j) {
            const int64_t at = 2 * i * g.W + 2 * j;
            float best = r0[2 * j];
            int64_t best_at = at;
            if (r0[2 * j + 1] > best) best = r0[2 * j + 1], best_at = at + 1;
            if (r1[2 * j] > best) best = r1[2 * j], best_at = at + g.W;
            if (r1[2 * j + 1] > best) best = r1[2 * j + 1], best_at = at + g.W + 1;
            yp[i * g.Wo + j] = best;
            ap[i * g.Wo + j] = static_cast<int32_t>(best_at);
          }
        }
      }
    });
  } else
  for_each_window(g, [&](int64_t p, int64_t q, int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
    const float* xp = xv.data() + p * g.in_plane();
    float best = -std::numeric_limits<float>::infinity();
    int64_t best_at = a0 * g.W + b0;
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = b0; b < b1; ++b)
        if (xp[a * g.W + b] > best) {
          best = xp[a * g.W + b];
          best_at = a * g.W + b;
        }
    y.data()[p * g.out_plane() + q] = best;
    (*argmax)[p * g.out_plane() + q] = static_cast<int32_t>(best_at);
  });
  return make_result(y, {&x}, "max_pool2d", [x, g, argmax](const Tensor& dy_in) {
    // forward was y = x[argmax], so dx[argmax] += dy (each plane scattered by one task, in order)
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::zeros(x.shape());
    const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(g.in_plane(), 1));
    parallel_for(g.planes, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        float* dxp = dx.data() + p * g.in_plane();
        for (int64_t q = 0; q < g.out_plane(); ++q)
          dxp[(*argmax)[p * g.out_plane() + q]] += dy.data()[p * g.out_plane() + q];
      }
    });
    accumulate_grad(x, dx);
  });
}

Var avg_pool2d(const Var& x, const Pool2dOptions& options) {
  const PoolGeometry g = pool_geometry("avg_pool2d", x, options);
  const bool include_pad = options.count_include_pad;
  const Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty(out_shape(x, g));
  for_each_window(g, [&](int64_t p, int64_t q, int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
    const float* xp = xv.data() + p * g.in_plane();
    float s = 0.0f;
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t b = b0; b < b1; ++b) s += xp[a * g.W + b];
    const int64_t count = include_pad ? g.kh * g.kw : (a1 - a0) * (b1 - b0);
    y.data()[p * g.out_plane() + q] = s / static_cast<float>(count);
  });
  return make_result(y, {&x}, "avg_pool2d", [x, g, include_pad](const Tensor& dy_in) {
    // forward was y = Σ window / count, so every position of the window gets dy / count
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::zeros(x.shape());
    // windows of one plane overlap, so a plane is scattered by one task: for_each_window walks planes in order
    for_each_window(g, [&](int64_t p, int64_t q, int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
      const int64_t count = include_pad ? g.kh * g.kw : (a1 - a0) * (b1 - b0);
      const float share = dy.data()[p * g.out_plane() + q] / static_cast<float>(count);
      float* dxp = dx.data() + p * g.in_plane();
      for (int64_t a = a0; a < a1; ++a)
        for (int64_t b = b0; b < b1; ++b) dxp[a * g.W + b] += share;
    });
    accumulate_grad(x, dx);
  });
}

Var global_avg_pool(const Var& x) {
  RC_CHECK(x.defined() && x.ndim() == 4, "global_avg_pool: x must be (N, C, H, W), got {}",
           x.defined() ? shape_str(x.shape()) : "undefined");
  const int64_t planes = x.dim(0) * x.dim(1), plane = x.dim(2) * x.dim(3);
  RC_CHECK(plane > 0, "global_avg_pool: empty image in x {}", shape_str(x.shape()));
  const Tensor xv = x.value().contiguous();
  Tensor y = Tensor::empty({x.dim(0), x.dim(1)});
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / plane);
  parallel_for(planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* xp = xv.data() + p * plane;
      float s = 0.0f;
      for (int64_t i = 0; i < plane; ++i) s += xp[i];
      y.data()[p] = s / static_cast<float>(plane);
    }
  });
  return make_result(y, {&x}, "global_avg_pool", [x, planes, plane, grain](const Tensor& dy_in) {
    // forward was y = mean over the plane, so dx = dy / (H·W) everywhere in it
    const Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x.shape());
    parallel_for(planes, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        std::fill_n(dx.data() + p * plane, plane, dy.data()[p] / static_cast<float>(plane));
    });
    accumulate_grad(x, dx);
  });
}

}  // namespace rc
