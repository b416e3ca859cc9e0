#include "framework/ops/conv.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"

namespace rc {

namespace {
// One image's convolution geometry: input (C, H, W), kernel (kh, kw), output (Ho, Wo).
struct Geometry {
  int64_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
  int64_t rows() const { return C * kh * kw; }  // rows of the im2col matrix = GEMM depth
  int64_t out_plane() const { return Ho * Wo; }
  // the im2col matrix is the input itself (1×1 kernel, stride 1, no padding)
  bool col_is_input() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

Geometry make_geometry(int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, const Conv2dOptions& o) {
  Geometry g{C, H, W, kh, kw, o.stride[0], o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], 0, 0};
  g.Ho = (H + 2 * g.ph - g.dh * (kh - 1) - 1) / g.sh + 1;
  g.Wo = (W + 2 * g.pw - g.dw * (kw - 1) - 1) / g.sw + 1;
  return g;
}

// Output columns j with 0 <= j·s + off < size, as [lo, hi).
std::pair<int64_t, int64_t> valid_range(int64_t off, int64_t s, int64_t size, int64_t count) {
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t hi = size - off <= 0 ? 0 : (size - off + s - 1) / s;
  lo = std::min(lo, count);
  hi = std::clamp(hi, lo, count);
  return {lo, hi};
}

// col (C·kh·kw, Ho·Wo): col[(c, ki, kj), (i, j)] = x[c, i·sh − ph + ki·dh, j·sw − pw + kj·dw] (0 outside)
void im2col(const Geometry& g, const float* x, float* col) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        float* dst_row = col + ((c * g.kh + ki) * g.kw + kj) * g.out_plane();
        const int64_t col_off = kj * g.dw - g.pw;
        const auto [lo, hi] = valid_range(col_off, g.sw, g.W, g.Wo);
        for (int64_t i = 0; i < g.Ho; ++i) {
          float* dst = dst_row + i * g.Wo;
          const int64_t ih = i * g.sh - g.ph + ki * g.dh;
          if (ih < 0 || ih >= g.H) {
            std::fill_n(dst, g.Wo, 0.0f);
            continue;
          }
          const float* src = x + (c * g.H + ih) * g.W + col_off;
          std::fill_n(dst, lo, 0.0f);
          if (g.sw == 1) {
            std::memcpy(dst + lo, src + lo, sizeof(float) * (hi - lo));
          } else {
            for (int64_t j = lo; j < hi; ++j) dst[j] = src[j * g.sw];
          }
          std::fill(dst + hi, dst + g.Wo, 0.0f);
        }
      }
}

// The adjoint of im2col: dx[c, ih, iw] += dcol[(c, ki, kj), (i, j)] for every position im2col read (dx zeroed first).
void col2im(const Geometry& g, const float* dcol, float* dx) {
  std::fill_n(dx, g.C * g.H * g.W, 0.0f);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const float* src_row = dcol + ((c * g.kh + ki) * g.kw + kj) * g.out_plane();
        const int64_t col_off = kj * g.dw - g.pw;
        const auto [lo, hi] = valid_range(col_off, g.sw, g.W, g.Wo);
        for (int64_t i = 0; i < g.Ho; ++i) {
          const int64_t ih = i * g.sh - g.ph + ki * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const float* src = src_row + i * g.Wo;
          float* dst = dx + (c * g.H + ih) * g.W + col_off;
          for (int64_t j = lo; j < hi; ++j) dst[j * g.sw] += src[j];
        }
      }
}

// Per-thread scratch reused across calls (sized up as needed). Only used inside leaf tasks that do not wait on
// nested parallel work, so no other task can run on this thread while the buffer is in use.
float* thread_scratch(size_t n) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// The im2col matrix of one image: the image itself when the kernel is 1×1 with stride 1, else built in scratch.
const float* image_columns(const Geometry& g, const float* x, float* scratch) {
  if (g.col_is_input()) return x;
  im2col(g, x, scratch);
  return scratch;
}

// Images per chunk: enough work per task to amortise scheduling, from the shape only (never the thread count).
int64_t images_per_chunk(const Geometry& g, int64_t out_channels) {
  const double flops = 2.0 * static_cast<double>(out_channels) * g.rows() * g.out_plane();
  return std::max<int64_t>(1, static_cast<int64_t>(16e6 / std::max(flops, 1.0)));
}

// wf (C, O, kh, kw): wf[c, o, ki, kj] = w[o, c, kh−1−ki, kw−1−kj] — the kernel of the transposed convolution
Tensor flipped_transposed_kernel(const Tensor& w) {
  const int64_t O = w.dim(0), C = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  Tensor wf = Tensor::empty({C, O, kh, kw});
  const float* src = w.data();
  float* dst = wf.data();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ki = 0; ki < kh; ++ki)
        for (int64_t kj = 0; kj < kw; ++kj)
          dst[((c * O + o) * kh + (kh - 1 - ki)) * kw + (kw - 1 - kj)] = src[((o * C + c) * kh + ki) * kw + kj];
  return wf;
}

void check_conv_args(const Var& x, const Var& w, const Var& b, const Conv2dOptions& o) {
  RC_CHECK(x.defined() && w.defined(), "conv2d: x or w is undefined");
  RC_CHECK(x.ndim() == 4, "conv2d: x must be (N, C, H, W), got shape {}", shape_str(x.shape()));
  RC_CHECK(w.ndim() == 4, "conv2d: w must be (O, C, kh, kw), got shape {}", shape_str(w.shape()));
  RC_CHECK(x.dim(1) == w.dim(1), "conv2d: x {} has {} channels but w {} expects {}", shape_str(x.shape()), x.dim(1),
           shape_str(w.shape()), w.dim(1));
  RC_CHECK(w.dim(2) >= 1 && w.dim(3) >= 1, "conv2d: empty kernel in w {}", shape_str(w.shape()));
  if (b.defined())
    RC_CHECK(b.ndim() == 1 && b.dim(0) == w.dim(0), "conv2d: b must be ({}) for w {}, got shape {}", w.dim(0),
             shape_str(w.shape()), shape_str(b.shape()));
  RC_CHECK(o.stride[0] >= 1 && o.stride[1] >= 1, "conv2d: stride ({}, {}) must be >= 1", o.stride[0], o.stride[1]);
  RC_CHECK(o.padding[0] >= 0 && o.padding[1] >= 0, "conv2d: padding ({}, {}) must be >= 0", o.padding[0], o.padding[1]);
  RC_CHECK(o.dilation[0] >= 1 && o.dilation[1] >= 1, "conv2d: dilation ({}, {}) must be >= 1", o.dilation[0],
           o.dilation[1]);
  const int64_t eff_h = o.dilation[0] * (w.dim(2) - 1) + 1, eff_w = o.dilation[1] * (w.dim(3) - 1) + 1;
  RC_CHECK(x.dim(2) + 2 * o.padding[0] >= eff_h && x.dim(3) + 2 * o.padding[1] >= eff_w,
           "conv2d: padded input {}x{} is smaller than the dilated kernel {}x{} (x {}, w {}, padding ({}, {}))",
           x.dim(2) + 2 * o.padding[0], x.dim(3) + 2 * o.padding[1], eff_h, eff_w, shape_str(x.shape()),
           shape_str(w.shape()), o.padding[0], o.padding[1]);
}
}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dOptions& options) {
  check_conv_args(x, w, b, options);
  const Tensor xv = x.value().contiguous(), wv = w.value().contiguous();
  const Tensor bv = b.defined() ? b.value().contiguous() : Tensor();
  const int64_t N = xv.dim(0), O = wv.dim(0);
  const Geometry g = make_geometry(xv.dim(1), xv.dim(2), xv.dim(3), wv.dim(2), wv.dim(3), options);
  const int64_t in_size = g.C * g.H * g.W, out_size = O * g.out_plane(), K = g.rows(), P = g.out_plane();
  const int64_t per_chunk = images_per_chunk(g, O);

  // y_n (O, Ho·Wo) = w (O, C·kh·kw) · col_n (C·kh·kw, Ho·Wo) + b, per image, the bias written before the product
  Tensor y = Tensor::empty({N, O, g.Ho, g.Wo});
  parallel_for(num_chunks(N, per_chunk), 1, [&](int64_t begin, int64_t end) {
    float* scratch = g.col_is_input() ? nullptr : thread_scratch(static_cast<size_t>(K * P));
    for (int64_t n = begin * per_chunk; n < std::min(N, end * per_chunk); ++n) {
      float* yn = y.data() + n * out_size;
      if (bv.defined())
        for (int64_t o = 0; o < O; ++o) std::fill_n(yn + o * P, P, bv.data()[o]);
      const float* col = image_columns(g, xv.data() + n * in_size, scratch);
      gemm_serial(Op::N, Op::N, O, P, K, 1.0f, wv.data(), K, col, P, bv.defined() ? 1.0f : 0.0f, yn, P);
    }
  });

  return make_result(y, {&x, &w, &b}, "conv2d", [x, w, b, xv, wv, g, options](const Tensor& dy_in) {
    const Tensor dy = dy_in.contiguous();
    const int64_t N = xv.dim(0), O = wv.dim(0), K = g.rows(), P = g.out_plane();
    const int64_t in_size = g.C * g.H * g.W, out_size = O * P, per_chunk = images_per_chunk(g, O);
    const int64_t chunks = num_chunks(N, per_chunk);
    const bool need_dx = x.requires_grad(), need_dw = w.requires_grad(), need_db = b.defined() && b.requires_grad();
    // forward was y_n = w · col_n + b, so dw = Σ_n dy_n · col_nᵀ and db = Σ_n Σ_p dy_n[:, p], summed per chunk of
    // images into partials that are added in chunk order; dx_n is the transposed convolution of dy_n.
    // With stride 1 that is a plain convolution of dy_n with the flipped, transposed kernel and padding
    // d·(k − 1) − p, done like the forward (one GEMM of depth O·kh·kw); otherwise dcol_n = wᵀ · dy_n, then col2im.
    const bool dx_as_conv = g.sh == 1 && g.sw == 1;
    Tensor wf;
    Geometry gt{};
    if (need_dx && dx_as_conv) {
      wf = flipped_transposed_kernel(wv);
      gt = make_geometry(O, g.Ho, g.Wo, g.kh, g.kw,
                         {{1, 1}, {g.dh * (g.kh - 1) - g.ph, g.dw * (g.kw - 1) - g.pw}, {g.dh, g.dw}});
    }
    std::vector<float> dw_part(need_dw ? static_cast<size_t>(chunks * O * K) : 0);
    std::vector<float> db_part(need_db ? static_cast<size_t>(chunks * O) : 0, 0.0f);
    Tensor dx = need_dx ? Tensor::empty(xv.shape()) : Tensor();

    parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
      const size_t col_size = g.col_is_input() ? 0 : static_cast<size_t>(K * P);
      const size_t dcol_size = !need_dx ? 0
                               : dx_as_conv ? (gt.col_is_input() ? 0 : static_cast<size_t>(gt.rows() * gt.out_plane()))
                                            : static_cast<size_t>(K * P);
      float* scratch = thread_scratch(col_size + dcol_size);
      for (int64_t chunk = begin; chunk < end; ++chunk) {
        for (int64_t n = chunk * per_chunk; n < std::min(N, (chunk + 1) * per_chunk); ++n) {
          const float* dyn = dy.data() + n * out_size;
          const bool first = n == chunk * per_chunk;
          if (need_dw) {
            const float* col = image_columns(g, xv.data() + n * in_size, scratch);
            gemm_serial(Op::N, Op::T, O, K, P, 1.0f, dyn, P, col, P, first ? 0.0f : 1.0f, dw_part.data() + chunk * O * K,
                        K);
          }
          if (need_db) {
            float* db = db_part.data() + chunk * O;
            for (int64_t o = 0; o < O; ++o) {
              float s = 0.0f;
              for (int64_t p = 0; p < P; ++p) s += dyn[o * P + p];
              db[o] += s;
            }
          }
          if (need_dx) {
            float* dxn = dx.data() + n * in_size;
            if (dx_as_conv) {
              const float* dcol = image_columns(gt, dyn, scratch + col_size);
              gemm_serial(Op::N, Op::N, g.C, g.H * g.W, gt.rows(), 1.0f, wf.data(), gt.rows(), dcol, g.H * g.W, 0.0f,
                          dxn, g.H * g.W);
            } else {
              float* dcol = scratch + col_size;
              gemm_serial(Op::T, Op::N, K, P, O, 1.0f, wv.data(), K, dyn, P, 0.0f, dcol, P);
              col2im(g, dcol, dxn);
            }
          }
        }
      }
    });

    if (need_dx) accumulate_grad(x, dx);
    if (need_dw) {
      Tensor dw = Tensor::zeros(wv.shape());
      for (int64_t c = 0; c < chunks; ++c) dw.array() += Eigen::Map<const Eigen::ArrayXf>(dw_part.data() + c * O * K, O * K);
      accumulate_grad(w, dw);
    }
    if (need_db) {
      Tensor db = Tensor::zeros({O});
      for (int64_t c = 0; c < chunks; ++c) db.array() += Eigen::Map<const Eigen::ArrayXf>(db_part.data() + c * O, O);
      accumulate_grad(b, db);
    }
  });
}

}  // namespace rc
