#pragma once
// Reference locality ops (locality.hpp): plain loops, forward and backward, templated on the scalar type.
#include <cmath>
#include <vector>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

template <class T>
T softplus(T x) {
  return x > T(30) ? x : std::log1p(std::exp(x));
}
template <class T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// alpha (H), mu (H, 2), offsets (T, 2) -> (H, T): b[h, t] = −softplus(α_h)·‖Δ_t − μ_h‖²
template <class T>
RefTensor<T> locality_bias(const RefTensor<T>& alpha, const RefTensor<T>& mu, const RefTensor<T>& offsets) {
  const int64_t H = alpha.shape[0], NT = offsets.shape[0];
  RefTensor<T> b({H, NT});
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = 0; t < NT; ++t) {
      T dr = offsets[2 * t] - mu[2 * h], dc = offsets[2 * t + 1] - mu[2 * h + 1];
      b[h * NT + t] = -softplus(alpha[h]) * (dr * dr + dc * dc);
    }
  return b;
}
// d/dα_h = −sigmoid(α_h)·‖Δ_t − μ_h‖²,  d/dμ_h = 2 softplus(α_h)·(Δ_t − μ_h); returns {dalpha, dmu}
template <class T>
std::vector<RefTensor<T>> locality_bias_backward(const RefTensor<T>& alpha, const RefTensor<T>& mu,
                                                 const RefTensor<T>& offsets, const RefTensor<T>& db) {
  const int64_t H = alpha.shape[0], NT = offsets.shape[0];
  RefTensor<T> dalpha(alpha.shape), dmu(mu.shape);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t t = 0; t < NT; ++t) {
      T dr = offsets[2 * t] - mu[2 * h], dc = offsets[2 * t + 1] - mu[2 * h + 1], g = db[h * NT + t];
      dalpha[h] += -sigmoid(alpha[h]) * (dr * dr + dc * dc) * g;
      dmu[2 * h] += T(2) * softplus(alpha[h]) * dr * g;
      dmu[2 * h + 1] += T(2) * softplus(alpha[h]) * dc * g;
    }
  return {dalpha, dmu};
}

// content, positional (B, H, N, D), gate_logit (H): (1 − g_h)·content + g_h·positional, g_h = sigmoid(λ_h)
template <class T>
RefTensor<T> gated_mix(const RefTensor<T>& c, const RefTensor<T>& p, const RefTensor<T>& lambda) {
  const int64_t H = c.shape[1], inner = c.shape[2] * c.shape[3];
  RefTensor<T> y(c.shape);
  for (int64_t i = 0; i < c.numel(); ++i) {
    T g = sigmoid(lambda[(i / inner) % H]);
    y[i] = (T(1) - g) * c[i] + g * p[i];
  }
  return y;
}
// returns {dcontent, dpositional, dgate_logit}; dλ_h = Σ dy·(p − c)·g(1 − g)
template <class T>
std::vector<RefTensor<T>> gated_mix_backward(const RefTensor<T>& c, const RefTensor<T>& p, const RefTensor<T>& lambda,
                                             const RefTensor<T>& dy) {
  const int64_t H = c.shape[1], inner = c.shape[2] * c.shape[3];
  RefTensor<T> dc(c.shape), dp(p.shape), dl(lambda.shape);
  for (int64_t i = 0; i < c.numel(); ++i) {
    const int64_t h = (i / inner) % H;
    T g = sigmoid(lambda[h]);
    dc[i] = (T(1) - g) * dy[i];
    dp[i] = g * dy[i];
    dl[h] += dy[i] * (p[i] - c[i]) * g * (T(1) - g);
  }
  return {dc, dp, dl};
}

}  // namespace rc::ref
