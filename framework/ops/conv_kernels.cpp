#include "framework/ops/conv_kernels.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "framework/core/gemm.hpp"

namespace rc::conv_detail {

Geometry make_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o) {
  Geometry g{x[1], x[2], x[3], w[0], w[2], w[3], o.stride[0], o.stride[1], o.padding[0], o.padding[1],
             o.dilation[0], o.dilation[1], 0, 0, Strategy::Im2col};
  g.Ho = (g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.Wo = (g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  // the per-tap GEMMs (and Winograd's, all of depth C) need enough input channels to pay: with fewer, one
  // im2col GEMM of depth C·kh·kw is faster (the first layer of an image model, C = 1 or 3)
  const bool unit = g.sh == 1 && g.sw == 1, deep = g.C >= 8;
  const bool winograd = unit && deep && g.kh == 3 && g.kw == 3 && g.dh == 1 && g.dw == 1;
  RC_CHECK(o.algorithm != ConvAlgorithm::Winograd || winograd,
           "conv2d: algorithm Winograd needs a 3x3 kernel, stride 1, dilation 1 and at least 8 input channels "
           "(w {}, stride ({}, {}), dilation ({}, {}))",
           shape_str(w), g.sh, g.sw, g.dh, g.dw);
  if (winograd && o.algorithm != ConvAlgorithm::Gemm)
    g.strategy = Strategy::Winograd;
  else if (unit && deep)
    g.strategy = Strategy::ShiftedTaps;
  return g;
}

namespace {
// Per-thread scratch, one buffer per purpose, grown as needed and kept for the next call.
enum Slot { kPadded, kExt, kCol, kSlots };
float* scratch(Slot slot, int64_t n) {
  thread_local std::vector<float> buffers[kSlots];
  auto& b = buffers[slot];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

// ---- shifted taps (unit stride) ----

int64_t tap_shift(const Geometry& g, int64_t ki, int64_t kj) { return ki * g.dh * g.Wp() + kj * g.dw; }

// xp (C, Hp, Wp) = x zero-padded; x itself when there is no padding
const float* padded_image(const Geometry& g, const float* x) {
  if (g.ph == 0 && g.pw == 0) return x;
  const int64_t Hp = g.Hp(), Wp = g.Wp();
  float* xp = scratch(kPadded, g.C * Hp * Wp);
  for (int64_t c = 0; c < g.C; ++c) {
    float* plane = xp + c * Hp * Wp;
    std::fill_n(plane, g.ph * Wp, 0.0f);
    for (int64_t h = 0; h < g.H; ++h) {
      float* row = plane + (h + g.ph) * Wp;
      std::fill_n(row, g.pw, 0.0f);
      std::copy_n(x + (c * g.H + h) * g.W, g.W, row + g.pw);
      std::fill_n(row + g.pw + g.W, g.pw, 0.0f);
    }
    std::fill_n(plane + (g.ph + g.H) * Wp, g.ph * Wp, 0.0f);
  }
  return xp;
}

void forward_taps(const Geometry& g, const float* taps, const float* bias, const float* x, float* y) {
  const int64_t Wp = g.Wp(), plane = g.Hp() * Wp, L = g.ext_len();
  const float* xp = padded_image(g, x);
  float* ext = Wp == g.Wo ? y : scratch(kExt, g.O * L);  // rows of length Wp (or y itself when Wp == Wo)
  if (bias)
    for (int64_t o = 0; o < g.O; ++o) std::fill_n(ext + o * L, L, bias[o]);
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      const bool first = ki == 0 && kj == 0 && !bias;
      gemm_serial(Op::N, Op::N, g.O, L, g.C, 1.0f, taps + (ki * g.kw + kj) * g.O * g.C, g.C,
                  xp + tap_shift(g, ki, kj), plane, first ? 0.0f : 1.0f, ext, L);
    }
  if (ext != y)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.Ho; ++i) std::copy_n(ext + o * L + i * Wp, g.Wo, y + (o * g.Ho + i) * g.Wo);
}

void backward_taps(const Geometry& g, const float* taps, const float* x, const float* dy, float* dw_acc, bool first,
                   float* dx) {
  const int64_t Wp = g.Wp(), plane = g.Hp() * Wp, L = g.ext_len();
  // dy_ext (O, L): dy rows spread to length Wp, zeros in the ignored columns (they must not contribute)
  const float* dy_ext = dy;
  if (Wp != g.Wo) {
    float* ext = scratch(kExt, g.O * L);
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.Ho; ++i) {
        float* row = ext + o * L + i * Wp;
        std::copy_n(dy + (o * g.Ho + i) * g.Wo, g.Wo, row);
        if (i + 1 < g.Ho) std::fill_n(row + g.Wo, Wp - g.Wo, 0.0f);
      }
    dy_ext = ext;
  }
  if (dw_acc) {
    // forward added w_tap · xp_shifted to y_ext, so dw_tap += dy_ext · xp_shiftedᵀ
    const float* xp = padded_image(g, x);
    for (int64_t t = 0; t < g.taps(); ++t)
      gemm_serial(Op::N, Op::T, g.O, g.C, L, 1.0f, dy_ext, L, xp + tap_shift(g, t / g.kw, t % g.kw), plane,
                  first ? 0.0f : 1.0f, dw_acc + t * g.O * g.C, g.C);
  }
  if (dx) {
    // ... and dxp_shifted += w_tapᵀ · dy_ext, accumulated tap after tap into the padded plane, then cropped
    const bool padded = g.ph != 0 || g.pw != 0;
    float* dxp = padded ? scratch(kPadded, g.C * plane) : dx;
    std::fill_n(dxp, g.C * plane, 0.0f);
    for (int64_t t = 0; t < g.taps(); ++t)
      gemm_serial(Op::T, Op::N, g.C, L, g.O, 1.0f, taps + t * g.O * g.C, g.C, dy_ext, L, 1.0f,
                  dxp + tap_shift(g, t / g.kw, t % g.kw), plane);
    if (padded)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t h = 0; h < g.H; ++h)
          std::copy_n(dxp + c * plane + (h + g.ph) * Wp + g.pw, g.W, dx + (c * g.H + h) * g.W);
  }
}

// ---- im2col (strided) ----

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
          for (int64_t j = lo; j < hi; ++j) dst[j] = src[j * g.sw];
          std::fill(dst + hi, dst + g.Wo, 0.0f);
        }
      }
}

// The adjoint of im2col: dx = 0, then dx[c, ih, iw] += dcol[(c, ki, kj), (i, j)] for every position im2col read.
void col2im(const Geometry& g, const float* dcol, float* dx) {
  std::fill_n(dx, g.in_size(), 0.0f);
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

void forward_im2col(const Geometry& g, const float* w, const float* bias, const float* x, float* y) {
  const int64_t K = g.C * g.taps(), P = g.out_plane();
  float* col = scratch(kCol, K * P);
  im2col(g, x, col);
  if (bias)
    for (int64_t o = 0; o < g.O; ++o) std::fill_n(y + o * P, P, bias[o]);
  gemm_serial(Op::N, Op::N, g.O, P, K, 1.0f, w, K, col, P, bias ? 1.0f : 0.0f, y, P);
}

void backward_im2col(const Geometry& g, const float* w, const float* x, const float* dy, float* dw_acc, bool first,
                     float* dx) {
  const int64_t K = g.C * g.taps(), P = g.out_plane();
  float* col = scratch(kCol, K * P);
  if (dw_acc) {  // forward was y = w · col, so dw += dy · colᵀ
    im2col(g, x, col);
    gemm_serial(Op::N, Op::T, g.O, K, P, 1.0f, dy, P, col, P, first ? 0.0f : 1.0f, dw_acc, K);
  }
  if (dx) {  // ... and dcol = wᵀ · dy, scattered back by col2im
    gemm_serial(Op::T, Op::N, K, P, g.O, 1.0f, w, K, dy, P, 0.0f, col, P);
    col2im(g, col, dx);
  }
}
}  // namespace

Shape prepared_shape(const Geometry& g) {
  switch (g.strategy) {
    case Strategy::Winograd: return {16, g.C, g.O};
    case Strategy::ShiftedTaps: return {g.taps(), g.O, g.C};
    case Strategy::Im2col: break;
  }
  return {g.O, g.C * g.taps()};
}

Tensor prepare_weights(const Geometry& g, const Tensor& w) {
  if (g.strategy == Strategy::Winograd) return winograd_weights(g, w);
  if (!g.shifted_taps()) return w.contiguous();
  Tensor taps = Tensor::empty({g.taps(), g.O, g.C});  // taps[(ki, kj), o, c] = w[o, c, ki, kj]
  const Tensor wc = w.contiguous();
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t t = 0; t < g.taps(); ++t) taps.data()[(t * g.O + o) * g.C + c] = wc.data()[(o * g.C + c) * g.taps() + t];
  return taps;
}

Tensor weights_to_standard(const Geometry& g, const Tensor& prepared) {
  if (g.strategy == Strategy::Winograd) return winograd_weights_adjoint(g, prepared);
  if (!g.shifted_taps()) return prepared.reshape({g.O, g.C, g.kh, g.kw});
  Tensor w = Tensor::empty({g.O, g.C, g.kh, g.kw});
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t t = 0; t < g.taps(); ++t) w.data()[(o * g.C + c) * g.taps() + t] = prepared.data()[(t * g.O + o) * g.C + c];
  return w;
}

void forward_images(const Geometry& g, const float* prepared_w, const float* bias, const float* x, float* y,
                    int64_t images) {
  if (g.strategy == Strategy::Winograd) return winograd_forward(g, prepared_w, bias, x, y, images);
  for (int64_t n = 0; n < images; ++n) {
    const float* xn = x + n * g.in_size();
    float* yn = y + n * g.out_size();
    if (g.shifted_taps())
      forward_taps(g, prepared_w, bias, xn, yn);
    else
      forward_im2col(g, prepared_w, bias, xn, yn);
  }
}

void backward_images(const Geometry& g, const float* prepared_w, const float* x, const float* dy, float* dw_acc,
                     bool first, float* dx, int64_t images) {
  if (g.strategy == Strategy::Winograd) return winograd_backward(g, prepared_w, x, dy, dw_acc, first, dx, images);
  for (int64_t n = 0; n < images; ++n) {
    const float* xn = x ? x + n * g.in_size() : nullptr;
    const float* dyn = dy + n * g.out_size();
    float* dxn = dx ? dx + n * g.in_size() : nullptr;
    if (g.shifted_taps())
      backward_taps(g, prepared_w, xn, dyn, dw_acc, first && n == 0, dxn);
    else
      backward_im2col(g, prepared_w, xn, dyn, dw_acc, first && n == 0, dxn);
  }
}

}  // namespace rc::conv_detail
