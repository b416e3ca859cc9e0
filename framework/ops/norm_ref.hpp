#pragma once
// Reference LayerNorm and BatchNorm: plain loops, forward and backward, templated on the scalar type.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// Row r of x (..., D): μ = mean, rstd = 1/√(var + eps) with the biased variance.
template <class T>
std::pair<T, T> row_moments(const RefTensor<T>& x, int64_t r, T eps) {
  const int64_t D = x.dim(-1);
  T mean = 0, var = 0;
  for (int64_t d = 0; d < D; ++d) mean += x[r * D + d];
  mean /= T(D);
  for (int64_t d = 0; d < D; ++d) var += (x[r * D + d] - mean) * (x[r * D + d] - mean);
  var /= T(D);
  return {mean, T(1) / std::sqrt(var + eps)};
}

// x: (..., D); y = (x − μ) / √(var + eps) · γ + β per row (biased var)
template <class T>
RefTensor<T> layer_norm(const RefTensor<T>& x, const RefTensor<T>& gamma, const RefTensor<T>& beta, T eps) {
  const int64_t D = x.dim(-1), rows = x.numel() / D;
  RefTensor<T> y(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const auto [mean, rstd] = row_moments(x, r, eps);
    for (int64_t d = 0; d < D; ++d) y[r * D + d] = (x[r * D + d] - mean) * rstd * gamma[d] + beta[d];
  }
  return y;
}
// forward was y = x̂ γ + β, x̂ = (x − μ) rstd, so dβ = Σ_rows dy, dγ = Σ_rows dy x̂, and with g = dy γ:
// dx = rstd (g − mean(g) − x̂ mean(g x̂))  (the last two terms are the paths through μ and rstd).
// Returns {dx, dgamma, dbeta}.
template <class T>
std::vector<RefTensor<T>> layer_norm_backward(const RefTensor<T>& x, const RefTensor<T>& gamma, T eps,
                                              const RefTensor<T>& dy) {
  const int64_t D = x.dim(-1), rows = x.numel() / D;
  RefTensor<T> dx(x.shape), dgamma(gamma.shape), dbeta(gamma.shape);
  std::vector<T> xhat(D), g(D);
  for (int64_t r = 0; r < rows; ++r) {
    const auto [mean, rstd] = row_moments(x, r, eps);
    T mean_g = 0, mean_gx = 0;
    for (int64_t d = 0; d < D; ++d) {
      xhat[d] = (x[r * D + d] - mean) * rstd;
      g[d] = dy[r * D + d] * gamma[d];
      mean_g += g[d] / T(D);
      mean_gx += g[d] * xhat[d] / T(D);
      dgamma[d] += dy[r * D + d] * xhat[d];
      dbeta[d] += dy[r * D + d];
    }
    for (int64_t d = 0; d < D; ++d) dx[r * D + d] = rstd * (g[d] - mean_g - xhat[d] * mean_gx);
  }
  return {dx, dgamma, dbeta};
}

// x: (N, C) or (N, C, H, W) seen as (N, C, S)
struct ChannelLayout {
  int64_t N, C, S;
  int64_t at(int64_t n, int64_t c, int64_t s) const { return (n * C + c) * S + s; }
};
template <class T>
ChannelLayout channel_layout(const RefTensor<T>& x) {
  return {x.dim(0), x.dim(1), x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1};
}

// Per-channel batch mean and biased variance over N and S.
template <class T>
void batch_stats(const RefTensor<T>& x, std::vector<T>& mean, std::vector<T>& var) {
  ChannelLayout L = channel_layout(x);
  const T count = T(L.N * L.S);
  mean.assign(L.C, T(0));
  var.assign(L.C, T(0));
  for (int64_t c = 0; c < L.C; ++c) {
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t s = 0; s < L.S; ++s) mean[c] += x[L.at(n, c, s)];
    mean[c] /= count;
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t s = 0; s < L.S; ++s) var[c] += (x[L.at(n, c, s)] - mean[c]) * (x[L.at(n, c, s)] - mean[c]);
    var[c] /= count;
  }
}

// y = (x − μ_c) / √(var_c + eps) · γ_c + β_c; training: batch stats, and running stats updated with the
// unbiased variance; eval: running stats.
template <class T>
RefTensor<T> batch_norm(const RefTensor<T>& x, const RefTensor<T>& gamma, const RefTensor<T>& beta,
                        RefTensor<T>& running_mean, RefTensor<T>& running_var, bool training, T momentum, T eps) {
  ChannelLayout L = channel_layout(x);
  std::vector<T> mean, var;
  if (training) {
    batch_stats(x, mean, var);
    const T count = T(L.N * L.S);
    for (int64_t c = 0; c < L.C; ++c) {
      running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean[c];
      running_var[c] = (T(1) - momentum) * running_var[c] + momentum * var[c] * count / (count - T(1));
    }
  } else {
    mean = running_mean.data;
    var = running_var.data;
  }
  RefTensor<T> y(x.shape);
  for (int64_t n = 0; n < L.N; ++n)
    for (int64_t c = 0; c < L.C; ++c)
      for (int64_t s = 0; s < L.S; ++s)
        y[L.at(n, c, s)] = (x[L.at(n, c, s)] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
  return y;
}
// forward was y = x̂ γ + β, x̂ = (x − μ) rstd per channel, so dβ_c = Σ dy, dγ_c = Σ dy x̂, and
// eval (μ, rstd constant): dx = γ rstd dy;
// training (μ, rstd functions of the batch, m = N·S values per channel): dx = γ rstd (dy − dβ/m − x̂ dγ/m).
// Returns {dx, dgamma, dbeta}.
template <class T>
std::vector<RefTensor<T>> batch_norm_backward(const RefTensor<T>& x, const RefTensor<T>& gamma,
                                              const RefTensor<T>& running_mean, const RefTensor<T>& running_var,
                                              bool training, T eps, const RefTensor<T>& dy) {
  ChannelLayout L = channel_layout(x);
  std::vector<T> mean, var;
  if (training) {
    batch_stats(x, mean, var);
  } else {
    mean = running_mean.data;
    var = running_var.data;
  }
  const T count = T(L.N * L.S);
  RefTensor<T> dx(x.shape), dgamma(gamma.shape), dbeta(gamma.shape);
  for (int64_t c = 0; c < L.C; ++c) {
    const T rstd = T(1) / std::sqrt(var[c] + eps);
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t s = 0; s < L.S; ++s) {
        const int64_t i = L.at(n, c, s);
        dbeta[c] += dy[i];
        dgamma[c] += dy[i] * (x[i] - mean[c]) * rstd;
      }
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t s = 0; s < L.S; ++s) {
        const int64_t i = L.at(n, c, s);
        const T xhat = (x[i] - mean[c]) * rstd;
        dx[i] = training ? gamma[c] * rstd * (dy[i] - dbeta[c] / count - xhat * dgamma[c] / count)
                         : gamma[c] * rstd * dy[i];
      }
  }
  return {dx, dgamma, dbeta};
}

// The fused batch_norm + ReLU: y = max(0, batch_norm(x)); backward masks dy where y = 0, then batch_norm's.
template <class T>
RefTensor<T> batch_norm_relu(const RefTensor<T>& x, const RefTensor<T>& gamma, const RefTensor<T>& beta,
                             RefTensor<T>& running_mean, RefTensor<T>& running_var, bool training, T momentum, T eps) {
  RefTensor<T> y = batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps);
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = std::max(y[i], T(0));
  return y;
}
template <class T>
std::vector<RefTensor<T>> batch_norm_relu_backward(const RefTensor<T>& x, const RefTensor<T>& gamma,
                                                   const RefTensor<T>& beta, const RefTensor<T>& running_mean,
                                                   const RefTensor<T>& running_var, bool training, T eps,
                                                   const RefTensor<T>& dy) {
  RefTensor<T> rm = running_mean, rv = running_var;
  RefTensor<T> pre = batch_norm(x, gamma, beta, rm, rv, training, T(0.1), eps);
  RefTensor<T> masked = dy;
  for (int64_t i = 0; i < pre.numel(); ++i)
    if (!(pre[i] > T(0))) masked[i] = T(0);
  return batch_norm_backward(x, gamma, running_mean, running_var, training, eps, masked);
}

}  // namespace rc::ref
