#pragma once
// Per-image kernels of conv2d (internal to framework/ops/conv.cpp). Two strategies, both built on GEMM:
//
// Unit stride (any padding, dilation) and at least 8 input channels: "shifted taps". The image is zero-padded once to (C, Hp, Wp) and read
// as a (C, Hp·Wp) matrix; for tap (ki, kj) the product w_tap (O, C) · xp[:, q + ki·dh·Wp + kj·dw] over
// q = i·Wp + j gives the tap's contribution to output (i, j) for j < Wo (columns j >= Wo are ignored). So the
// convolution is kh·kw GEMMs of depth C on shifted views, with no im2col matrix (which would be kh·kw times the
// image). Backward uses the same views: dw_tap += dy_ext · xp_shiftedᵀ, dxp_shifted += w_tapᵀ · dy_ext, where
// dy_ext is dy spread to row length Wp with zeros in the ignored columns.
//
// Other strides, or fewer channels: im2col (C·kh·kw, Ho·Wo) and one GEMM of depth C·kh·kw; backward dcol = wᵀ · dy, then col2im.
//
// All scratch is per thread and reused across calls; the kernels never wait on nested parallel work.
#include <cstdint>

#include "framework/core/tensor.hpp"
#include "framework/ops/conv.hpp"

namespace rc::conv_detail {

struct Geometry {
  int64_t C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
  // shifted taps need unit stride, and enough input channels for the per-tap GEMMs (of depth C) to pay: with
  // fewer, one im2col GEMM of depth C·kh·kw is faster (the first layer of an image model, C = 1 or 3)
  bool shifted_taps() const { return sh == 1 && sw == 1 && C >= 8; }
  int64_t taps() const { return kh * kw; }
  int64_t in_size() const { return C * H * W; }
  int64_t out_plane() const { return Ho * Wo; }
  int64_t out_size() const { return O * Ho * Wo; }
  // padded plane (unit stride): Hp × Wp, and the length of the GEMM rows (last valid output column + 1)
  int64_t Hp() const { return H + 2 * ph; }
  int64_t Wp() const { return W + 2 * pw; }
  int64_t ext_len() const { return (Ho - 1) * Wp() + Wo; }
};
Geometry make_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o);

// The weights in the layout the strategy reads: (O, C·kh·kw) for im2col (w itself), (kh·kw, O, C) for taps.
Tensor prepare_weights(const Geometry& g, const Tensor& w);
// dw partials are accumulated in the same layout; this converts a sum of partials back to (O, C, kh, kw).
Tensor weights_to_standard(const Geometry& g, const Tensor& prepared);

// y (O, Ho, Wo) = conv(x (C, H, W)) + bias (bias may be null)
void forward_image(const Geometry& g, const float* prepared_w, const float* bias, const float* x, float* y);

// dw_acc (prepared layout) = (first ? 0 : dw_acc) + dw of this image (skipped when dw_acc is null);
// dx (C, H, W) = dx of this image (skipped when dx is null)
void backward_image(const Geometry& g, const float* prepared_w, const float* x, const float* dy, float* dw_acc,
                    bool first, float* dx);

}  // namespace rc::conv_detail
