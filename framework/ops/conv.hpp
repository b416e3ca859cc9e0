#pragma once
// 2-D convolution (cross-correlation, as in PyTorch) as an autograd op. Groups are not supported.
#include <array>

#include "framework/autograd/var.hpp"

namespace rc {

// How the product is computed (the result is the same up to float rounding):
//   Auto: Winograd where it applies (3×3, unit stride and dilation, >= 8 input channels), else Gemm;
//   Gemm: per-tap GEMMs on shifted views (unit stride, >= 8 channels) or im2col + one GEMM;
//   Winograd: F(2×2, 3×3), 2.25× fewer multiplications (an error if it does not apply).
enum class ConvAlgorithm { Auto, Gemm, Winograd };

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};    // (sh, sw) >= 1
  std::array<int64_t, 2> padding{0, 0};   // (ph, pw) >= 0, zeros
  std::array<int64_t, 2> dilation{1, 1};  // (dh, dw) >= 1
  ConvAlgorithm algorithm = ConvAlgorithm::Auto;
};

// x: (N, C, H, W), w: (O, C, kh, kw), b: (O) or undefined Var for no bias -> (N, O, Ho, Wo)
// Ho = (H + 2·ph − dh·(kh − 1) − 1) / sh + 1 (likewise Wo)
// y[n, o, i, j] = b[o] + Σ_{c, ki, kj} w[o, c, ki, kj] · x[n, c, i·sh − ph + ki·dh, j·sw − pw + kj·dw]
// (x is zero outside the image)
Var conv2d(const Var& x, const Var& w, const Var& b = Var(), const Conv2dOptions& options = {});

}  // namespace rc
