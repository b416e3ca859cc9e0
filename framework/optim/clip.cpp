#include "framework/optim/clip.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>

#include "framework/core/parallel.hpp"

namespace rc::optim {

namespace {
constexpr int64_t kChunk = 1 << 15;

// sum |g|^q (or max |g| when q is inf) over one contiguous gradient: per-chunk partials, combined in chunk
// order, so the result does not depend on the thread count.
double grad_power_sum(const Tensor& g, double q) {
  const float* p = g.data();
  const int64_t n = g.numel(), chunks = num_chunks(n, kChunk);
  const bool is_inf = std::isinf(q);
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t b = c * kChunk, len = std::min(n, (c + 1) * kChunk) - b;
      double acc = 0.0;
      if (is_inf || q == 1.0 || q == 2.0) {
        // float partial sums over tiles of 1024 (vectorized; Eigen's association is fixed for a given
        // length, so this is reproducible), accumulated in double
        for (int64_t t0 = 0; t0 < len; t0 += 1024) {
          const auto a = Eigen::Map<const Eigen::ArrayXf>(p + b + t0, std::min<int64_t>(1024, len - t0)).abs();
          if (is_inf)
            acc = std::max(acc, static_cast<double>(a.maxCoeff()));
          else
            acc += q == 2.0 ? a.square().sum() : a.sum();
        }
      } else {
        acc = Eigen::Map<const Eigen::ArrayXf>(p + b, len).cast<double>().abs().pow(q).sum();
      }
      partial[c] = acc;
    }
  });
  double total = 0.0;
  for (double v : partial) total = is_inf ? std::max(total, v) : total + v;
  return total;
}
}  // namespace

float clip_grad_norm(const std::vector<Var>& params, float max_norm, float norm_type) {
  RC_CHECK(max_norm >= 0.0f, "clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
  RC_CHECK(norm_type > 0.0f, "clip_grad_norm: norm_type must be > 0, got {}", norm_type);
  const double q = norm_type;
  const bool is_inf = std::isinf(q);
  double acc = 0.0;
  for (const Var& v : params) {
    if (!v.defined() || !v.grad().defined()) continue;
    RC_CHECK(v.grad().is_contiguous(), "clip_grad_norm: gradient of shape {} is not contiguous",
             shape_str(v.grad().shape()));
    double s = grad_power_sum(v.grad(), q);
    acc = is_inf ? std::max(acc, s) : acc + s;
  }
  const double total = is_inf ? acc : (q == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / q));
  const float total_f = static_cast<float>(total);
  // clip_coef = max_norm / (total + 1e-6), clamped to at most 1 (a NaN total gives NaN gradients, as in PyTorch)
  const float coef = std::min(max_norm / (total_f + 1e-6f), 1.0f);
  if (coef != 1.0f) {
    for (const Var& v : params) {
      if (!v.defined() || !v.grad().defined()) continue;
      Tensor g = v.grad();
      float* p = g.data();
      parallel_for(g.numel(), kChunk, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) p[i] *= coef;
      });
    }
  }
  return total_f;
}

void clip_grad_value(const std::vector<Var>& params, float clip_value) {
  RC_CHECK(clip_value >= 0.0f, "clip_grad_value: clip_value must be >= 0, got {}", clip_value);
  for (const Var& v : params) {
    if (!v.defined() || !v.grad().defined()) continue;
    Tensor g = v.grad();
    RC_CHECK(g.is_contiguous(), "clip_grad_value: gradient of shape {} is not contiguous", shape_str(g.shape()));
    float* p = g.data();
    parallel_for(g.numel(), kChunk, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = std::clamp(p[i], -clip_value, clip_value);
    });
  }
}

}  // namespace rc::optim
