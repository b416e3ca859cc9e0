#pragma once
// 2-D pooling as autograd ops.
#include <array>

#include "framework/autograd/var.hpp"

namespace rc {

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};   // (kh, kw) >= 1
  std::array<int64_t, 2> stride{0, 0};   // (sh, sw); 0 means equal to the kernel
  std::array<int64_t, 2> padding{0, 0};  // (ph, pw), at most half the kernel
  bool count_include_pad = true;         // avg_pool2d: divide by kh·kw even where the window covers padding
};

// x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2·ph − kh) / sh + 1 (likewise Wo)
// y[n, c, i, j] = max over the window rows i·sh − ph .. + kh − 1, columns j·sw − pw .. + kw − 1 (inside x)
// backward: dy goes to the first maximal position of each window
Var max_pool2d(const Var& x, const Pool2dOptions& options);

// Same shapes; y = (Σ over the window inside x) / count, count = kh·kw (count_include_pad) or the number of
// window positions inside x
Var avg_pool2d(const Var& x, const Pool2dOptions& options);

// x: (N, C, H, W) -> (N, C);  y[n, c] = (1 / (H·W)) Σ_{h, w} x[n, c, h, w]
Var global_avg_pool(const Var& x);

}  // namespace rc
