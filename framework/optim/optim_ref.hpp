#pragma once
// Reference optimizer steps in the textbook form (one loop, no fused arithmetic), templated on the scalar
// so that tests can run them in double and compare the fast float optimizers against them.
#include <cmath>

#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

template <class T>
struct SGDRefState {
  RefTensor<T> buf;  // empty until the first step
};

// g' = g + wd p; buf = g' (first step) or momentum buf + (1 - dampening) g'; d = nesterov ? g' + momentum buf
// : buf (or g' without momentum); p -= lr d
template <class T>
void sgd_step(RefTensor<T>& p, const RefTensor<T>& g, SGDRefState<T>& st, T lr, T momentum, T dampening, T wd,
              bool nesterov) {
  const bool first = st.buf.data.empty();
  if (first && momentum != T(0)) st.buf = RefTensor<T>(p.shape);
  for (int64_t i = 0; i < p.numel(); ++i) {
    T gi = g[i] + wd * p[i];
    T d = gi;
    if (momentum != T(0)) {
      st.buf[i] = first ? gi : momentum * st.buf[i] + (T(1) - dampening) * gi;
      d = nesterov ? gi + momentum * st.buf[i] : st.buf[i];
    }
    p[i] -= lr * d;
  }
}

template <class T>
struct AdamWRefState {
  RefTensor<T> m, v;
  int64_t step = 0;
};

// t += 1; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; m_hat = m / (1 - b1^t); v_hat = v / (1 - b2^t);
// p = p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps)
template <class T>
void adamw_step(RefTensor<T>& p, const RefTensor<T>& g_in, AdamWRefState<T>& st, T lr, T beta1, T beta2, T eps, T wd,
                bool decoupled = true) {
  RefTensor<T> g = g_in;
  if (!decoupled)
    for (int64_t i = 0; i < p.numel(); ++i) g[i] += wd * p[i];  // Adam with L2: the decay joins the gradient
  if (!decoupled) wd = T(0);
  if (st.step == 0) st.m = RefTensor<T>(p.shape), st.v = RefTensor<T>(p.shape);
  ++st.step;
  const T bc1 = T(1) - std::pow(beta1, static_cast<T>(st.step));
  const T bc2 = T(1) - std::pow(beta2, static_cast<T>(st.step));
  for (int64_t i = 0; i < p.numel(); ++i) {
    st.m[i] = beta1 * st.m[i] + (T(1) - beta1) * g[i];
    st.v[i] = beta2 * st.v[i] + (T(1) - beta2) * g[i] * g[i];
    const T m_hat = st.m[i] / bc1, v_hat = st.v[i] / bc2;
    p[i] = p[i] * (T(1) - lr * wd) - lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

}  // namespace rc::ref
