#include "framework/ops/rnn_kernels.hpp"

#include <cstring>
#include <utility>
#include <vector>

#include "framework/core/gemm.hpp"

namespace rc::rnn_detail {

namespace {
// The gate arithmetic runs on 8-float vectors (GCC/Clang vector extensions: one AVX register), the last H mod 8
// columns on scalars through the same templates. (Plain loops would not vectorize: the clamps below are float
// comparisons, which GCC does not if-convert under the default -ftrapping-math.)
typedef float f8 __attribute__((vector_size(32)));

template <class V>
inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// body.template operator()<V>(j) for j = 0, 8, 16, ... with V = f8, then for the remaining j with V = float
template <class F>
inline void lanes(int64_t n, F&& body) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) body.template operator()<f8>(j);
  for (; j < n; ++j) body.template operator()<float>(j);
}

// tanh as a rational function (Eigen's fast float tanh: relative error a few ulp on [−7.9, 7.9], ±1 outside;
// NaN stays NaN); σ(v) = (1 + tanh(v / 2)) / 2
template <class V>
inline V fast_tanh(V v) {
  const V c = V{} + 7.90531110763549805f;
  V x = v < -c ? -c : v;
  x = x > c ? c : x;
  const V x2 = x * x;
  V p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  V q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return p / q;
}
template <class V>
inline V fast_sigmoid(V v) {
  return 0.5f + 0.5f * fast_tanh<V>(0.5f * v);
}

// The state before step s for rows b0..: the initial state (B, H) at step 0, else the sequence buffer (B, T, H)
// at the previous step's time. Returns the first row and the distance between rows.
std::pair<const float*, int64_t> prev_rows(const Dims& d, const float* init, const float* seq, int64_t b0, int64_t s) {
  if (s == 0) return {init + b0 * d.H, d.H};
  return {seq + (b0 * d.T + d.time(s - 1)) * d.H, d.T * d.H};
}

// a (4H): pre-activations in, i f g o out; c_t = f ⊙ c_prev + i ⊙ g; h_t = o ⊙ tanh(c_t)
void lstm_cell(int64_t H, float* __restrict a, const float* __restrict c_prev, float* __restrict c,
               float* __restrict h) {
  lanes(H, [&]<class V>(int64_t j) {
    const V i = fast_sigmoid(load<V>(a + j)), f = fast_sigmoid(load<V>(a + H + j));
    const V g = fast_tanh(load<V>(a + 2 * H + j)), o = fast_sigmoid(load<V>(a + 3 * H + j));
    const V ct = f * load<V>(c_prev + j) + i * g;
    store(a + j, i), store(a + H + j, f), store(a + 2 * H + j, g), store(a + 3 * H + j, o);
    store(c + j, ct);
    store(h + j, o * fast_tanh(ct));
  });
}

// forward was c_t = f c_prev + i g, h_t = o tanh(c_t): with dc (in: from step t+1, out: for c_prev) and dh
// (of h_t), a (i f g o in) gets the gradients of the four pre-activations, σ' = σ(1 − σ) and tanh' = 1 − tanh²
void lstm_cell_backward(int64_t H, float* __restrict a, const float* __restrict c_prev, const float* __restrict c,
                        const float* __restrict dh, float* __restrict dc) {
  lanes(H, [&]<class V>(int64_t j) {
    const V i = load<V>(a + j), f = load<V>(a + H + j), g = load<V>(a + 2 * H + j), o = load<V>(a + 3 * H + j);
    const V tc = fast_tanh(load<V>(c + j)), dhj = load<V>(dh + j);
    const V dct = load<V>(dc + j) + dhj * o * (1.0f - tc * tc);
    store(a + j, dct * g * i * (1.0f - i));
    store(a + H + j, dct * load<V>(c_prev + j) * f * (1.0f - f));
    store(a + 2 * H + j, dct * i * (1.0f - g * g));
    store(a + 3 * H + j, dhj * tc * o * (1.0f - o));
    store(dc + j, dct * f);
  });
}

// a (3H): input side W_i x + b_i in, r z n out; hs (3H): W_h h_prev + b_h; hn (H) out: its n block
void gru_cell(int64_t H, float* __restrict a, const float* __restrict hs, const float* __restrict h_prev,
              float* __restrict hn, float* __restrict h) {
  lanes(H, [&]<class V>(int64_t j) {
    const V r = fast_sigmoid(load<V>(a + j) + load<V>(hs + j));
    const V z = fast_sigmoid(load<V>(a + H + j) + load<V>(hs + H + j));
    const V hnj = load<V>(hs + 2 * H + j);
    const V n = fast_tanh(load<V>(a + 2 * H + j) + r * hnj);
    store(a + j, r), store(a + H + j, z), store(a + 2 * H + j, n);
    store(hn + j, hnj);
    store(h + j, (1.0f - z) * n + z * load<V>(h_prev + j));
  });
}

// forward was n = tanh(a_n + r ⊙ hn), h_t = (1 − z) n + z h_prev: a (r z n in) gets the gradients of the
// hidden-side pre-activations [r, z, n-block (= dn' ⊙ r)], hn gets that of the input-side n pre-activation
// (dn' = dh (1 − z)(1 − n²)), and dh becomes the direct part dh ⊙ z of the gradient of h_prev
void gru_cell_backward(int64_t H, float* __restrict a, float* __restrict hn, const float* __restrict h_prev,
                       float* __restrict dh) {
  lanes(H, [&]<class V>(int64_t j) {
    const V r = load<V>(a + j), z = load<V>(a + H + j), n = load<V>(a + 2 * H + j), g = load<V>(dh + j);
    const V dan = g * (1.0f - z) * (1.0f - n * n);
    store(a + j, dan * load<V>(hn + j) * r * (1.0f - r));
    store(a + H + j, g * (load<V>(h_prev + j) - n) * z * (1.0f - z));
    store(a + 2 * H + j, dan * r);
    store(hn + j, dan);
    store(dh + j, g * z);
  });
}

void lstm_forward_rows(const Dims& d, const ForwardBuffers& f, int64_t b0, int64_t b1) {
  const int64_t m = b1 - b0, H = d.H, GH = d.G * H, T = d.T;
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = d.time(s);
    const auto [hp, ldh] = prev_rows(d, f.h0, f.y, b0, s);
    const auto [cp, ldc] = prev_rows(d, f.c0, f.aux, b0, s);
    float* g = f.gates + (b0 * T + t) * GH;
    gemm_serial(Op::N, Op::T, m, GH, H, 1.0f, hp, ldh, f.w_hh, H, 1.0f, g, T * GH);  // a_t += W_hh h_prev
    for (int64_t r = 0; r < m; ++r) {
      const int64_t row = (b0 + r) * T + t;
      lstm_cell(H, g + r * T * GH, cp + r * ldc, f.aux + row * H, f.y + row * H);
    }
  }
}

void gru_forward_rows(const Dims& d, const ForwardBuffers& f, int64_t b0, int64_t b1) {
  const int64_t m = b1 - b0, H = d.H, GH = d.G * H, T = d.T;
  std::vector<float> hs(static_cast<size_t>(m * GH));  // W_hh h_prev + b_hh for the block's rows
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = d.time(s);
    const auto [hp, ldh] = prev_rows(d, f.h0, f.y, b0, s);
    gemm_serial(Op::N, Op::T, m, GH, H, 1.0f, hp, ldh, f.w_hh, H, 0.0f, hs.data(), GH, f.b_hh);
    for (int64_t r = 0; r < m; ++r) {
      const int64_t row = (b0 + r) * T + t;
      gru_cell(H, f.gates + row * GH, hs.data() + r * GH, hp + r * ldh, f.aux + row * H, f.y + row * H);
    }
  }
}

// dh (m, H) and dc (m, H) start as the gradients of h_last and c_last (zeros when absent)
void init_state_grads(const float* last, int64_t b0, int64_t m, int64_t H, std::vector<float>& out) {
  out.assign(static_cast<size_t>(m * H), 0.0f);
  if (last) std::memcpy(out.data(), last + b0 * H, sizeof(float) * static_cast<size_t>(m * H));
}

void add_rows(float* __restrict dst, const float* __restrict src, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
}

void lstm_backward_rows(const Dims& d, const BackwardBuffers& bb, int64_t b0, int64_t b1) {
  const int64_t m = b1 - b0, H = d.H, GH = d.G * H, T = d.T;
  std::vector<float> dh, dc;
  init_state_grads(bb.dh_last, b0, m, H, dh);
  init_state_grads(bb.dc_last, b0, m, H, dc);
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = d.time(s);
    const auto [cp, ldc] = prev_rows(d, bb.c0, bb.aux, b0, s);
    float* g = bb.gates + (b0 * T + t) * GH;
    for (int64_t r = 0; r < m; ++r) {
      const int64_t row = (b0 + r) * T + t;
      add_rows(dh.data() + r * H, bb.dy + row * H, H);
      lstm_cell_backward(H, g + r * T * GH, cp + r * ldc, bb.aux + row * H, dh.data() + r * H, dc.data() + r * H);
    }
    // dh_prev = W_hhᵀ da: (m, 4H)·(4H, H)
    gemm_serial(Op::N, Op::N, m, H, GH, 1.0f, g, T * GH, bb.w_hh, H, 0.0f, dh.data(), H);
  }
  std::memcpy(bb.dh0 + b0 * H, dh.data(), sizeof(float) * static_cast<size_t>(m * H));
  std::memcpy(bb.dc0 + b0 * H, dc.data(), sizeof(float) * static_cast<size_t>(m * H));
}

void gru_backward_rows(const Dims& d, const BackwardBuffers& bb, int64_t b0, int64_t b1) {
  const int64_t m = b1 - b0, H = d.H, GH = d.G * H, T = d.T;
  std::vector<float> dh;
  init_state_grads(bb.dh_last, b0, m, H, dh);
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = d.time(s);
    const auto [hp, ldh] = prev_rows(d, bb.h0, bb.y, b0, s);
    float* g = bb.gates + (b0 * T + t) * GH;
    for (int64_t r = 0; r < m; ++r) {
      const int64_t row = (b0 + r) * T + t;
      add_rows(dh.data() + r * H, bb.dy + row * H, H);
      gru_cell_backward(H, g + r * T * GH, bb.aux + row * H, hp + r * ldh, dh.data() + r * H);
    }
    // dh_prev = dh ⊙ z + W_hhᵀ da_h: (m, 3H)·(3H, H) added to the direct part
    gemm_serial(Op::N, Op::N, m, H, GH, 1.0f, g, T * GH, bb.w_hh, H, 1.0f, dh.data(), H);
  }
  std::memcpy(bb.dh0 + b0 * H, dh.data(), sizeof(float) * static_cast<size_t>(m * H));
}
}  // namespace

void forward_rows(const Dims& d, const ForwardBuffers& f, int64_t b0, int64_t b1) {
  if (d.cell == RnnCell::lstm)
    lstm_forward_rows(d, f, b0, b1);
  else
    gru_forward_rows(d, f, b0, b1);
}

void backward_rows(const Dims& d, const BackwardBuffers& b, int64_t b0, int64_t b1) {
  if (d.cell == RnnCell::lstm)
    lstm_backward_rows(d, b, b0, b1);
  else
    gru_backward_rows(d, b, b0, b1);
}

}  // namespace rc::rnn_detail
