#pragma once
// Reference cross-entropy: log-softmax then the smoothed negative log-likelihood, templated on the scalar.
#include <cstdint>
#include <vector>

#include "framework/ops/softmax_ref.hpp"

namespace rc::ref {

// Whether sample i counts (mask empty or nonzero, target not ignored), and the number that do.
inline bool counts(const std::vector<int64_t>& targets, const std::vector<uint8_t>& mask, int64_t ignore_index,
                   int64_t i) {
  return (mask.empty() || mask[i] != 0) && targets[i] != ignore_index;
}
inline int64_t count_samples(const std::vector<int64_t>& targets, const std::vector<uint8_t>& mask,
                             int64_t ignore_index) {
  int64_t n = 0;
  for (size_t i = 0; i < targets.size(); ++i) n += counts(targets, mask, ignore_index, static_cast<int64_t>(i));
  return n;
}

// logits: (N, C) → scalar loss = (1/n) Σ_i −Σ_c q_{i,c} log p_{i,c}, q = (1 − ε) onehot(t_i) + ε/C, p = softmax
template <class T>
RefTensor<T> cross_entropy(const RefTensor<T>& logits, const std::vector<int64_t>& targets, double smoothing = 0.0,
                           const std::vector<uint8_t>& mask = {}, int64_t ignore_index = -1) {
  const int64_t N = logits.dim(0), C = logits.dim(1);
  RefTensor<T> logp = log_softmax(logits, 1);
  const int64_t n = count_samples(targets, mask, ignore_index);
  T total = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (!counts(targets, mask, ignore_index, i)) continue;
    for (int64_t c = 0; c < C; ++c) {
      T q = T(smoothing) / T(C) + (c == targets[i] ? T(1 - smoothing) : T(0));
      total -= q * logp[i * C + c];
    }
  }
  return RefTensor<T>({}, {n == 0 ? T(0) : total / T(n)});
}
// forward was loss = (1/n) Σ_i −Σ_c q log softmax(x_i)_c and Σ_c q = 1, so dx_{i,c} = dloss (p_{i,c} − q_{i,c}) / n
template <class T>
RefTensor<T> cross_entropy_backward(const RefTensor<T>& logits, const std::vector<int64_t>& targets, T dloss,
                                    double smoothing = 0.0, const std::vector<uint8_t>& mask = {},
                                    int64_t ignore_index = -1) {
  const int64_t N = logits.dim(0), C = logits.dim(1);
  RefTensor<T> p = softmax(logits, 1);
  RefTensor<T> dx(logits.shape);
  const int64_t n = count_samples(targets, mask, ignore_index);
  for (int64_t i = 0; i < N; ++i) {
    if (!counts(targets, mask, ignore_index, i)) continue;
    for (int64_t c = 0; c < C; ++c) {
      T q = T(smoothing) / T(C) + (c == targets[i] ? T(1 - smoothing) : T(0));
      dx[i * C + c] = dloss * (p[i * C + c] - q) / T(n);
    }
  }
  return dx;
}

}  // namespace rc::ref
