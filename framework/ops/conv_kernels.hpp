#pragma once
// Kernels of conv2d (internal to framework/ops/conv.cpp), for a run of consecutive images. Three strategies:
//
// Winograd F(2×2, 3×3) (3×3 kernels, unit stride and dilation, at least 8 input channels; conv_winograd.cpp):
// 16 GEMMs of depth C over the transformed tiles of a group of images, 2.25× fewer multiplications than the
// direct product; backward is its exact adjoint (the weight gradient a GEMM of depth tiles).
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

enum class Strategy { Winograd, ShiftedTaps, Im2col };

struct Geometry {
  int64_t C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
  Strategy strategy;
  bool shifted_taps() const { return strategy == Strategy::ShiftedTaps; }
  int64_t taps() const { return kh * kw; }
  int64_t in_size() const { return C * H * W; }
  int64_t out_plane() const { return Ho * Wo; }
  int64_t out_size() const { return O * Ho * Wo; }
  // padded plane (unit stride): Hp × Wp, and the length of the GEMM rows (last valid output column + 1)
  int64_t Hp() const { return H + 2 * ph; }
  int64_t Wp() const { return W + 2 * pw; }
  int64_t ext_len() const { return (Ho - 1) * Wp() + Wo; }
};
// Picks the strategy from the shapes and o.algorithm (an error when Winograd is asked for and does not apply).
Geometry make_geometry(const Shape& x, const Shape& w, const Conv2dOptions& o);

// The weights in the layout the strategy reads: (O, C·kh·kw) for im2col (w itself), (kh·kw, O, C) for taps,
// U = G w Gᵀ (16, C, O) for Winograd.
Tensor prepare_weights(const Geometry& g, const Tensor& w);
Shape prepared_shape(const Geometry& g);
// dw partials are accumulated in the same layout; this maps a sum of partials back to a gradient of w
// (O, C, kh, kw): the inverse permutation for taps, the adjoint Gᵀ dU G for Winograd.
Tensor weights_to_standard(const Geometry& g, const Tensor& prepared);

// y (images, O, Ho, Wo) = conv(x (images, C, H, W)) + bias (bias may be null)
void forward_images(const Geometry& g, const float* prepared_w, const float* bias, const float* x, float* y,
                    int64_t images);

// dw_acc (prepared layout) = (first ? 0 : dw_acc) + dw of these images (skipped when dw_acc is null);
// dx (images, C, H, W) = dx of these images (skipped when dx is null)
void backward_images(const Geometry& g, const float* prepared_w, const float* x, const float* dy, float* dw_acc,
                     bool first, float* dx, int64_t images);

// Winograd F(2×2, 3×3) (conv_winograd.cpp): U = G w Gᵀ, its adjoint, and the kernels on prepared U
Tensor winograd_weights(const Geometry& g, const Tensor& w);
Tensor winograd_weights_adjoint(const Geometry& g, const Tensor& du);
void winograd_forward(const Geometry& g, const float* u, const float* bias, const float* x, float* y,
                      int64_t images);
void winograd_backward(const Geometry& g, const float* u, const float* x, const float* dy, float* du_acc, bool first,
                       float* dx, int64_t images);

}  // namespace rc::conv_detail
