#pragma once
// Reference LSTM and GRU layers (framework/ops/rnn.hpp): the formulas element by element, one batch row and one
// step at a time, forward and backward through time, templated on the scalar type (double for the tests).
#include <cmath>
#include <vector>

#include "framework/ops/rnn.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

template <class T>
struct RnnParams {
  RefTensor<T> w_ih, w_hh, b_ih, b_hh;  // (G·H, I), (G·H, H), (G·H), (G·H); an empty bias means none
};

template <class T>
struct RnnResult {
  RefTensor<T> output, h_last, c_last;  // (B, T, H), (B, H), (B, H) (c_last empty for the GRU)
};

template <class T>
struct RnnGrads {
  RefTensor<T> dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0;  // the shapes of the inputs (dc0 empty for the GRU)
};

namespace rnn_detail {
template <class T>
T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

// What backward needs from the forward pass, per step s in processing order (all (B, ·)).
template <class T>
struct Tape {
  std::vector<RefTensor<T>> act;        // activated gates (B, G·H): i, f, g, o or r, z, n
  std::vector<RefTensor<T>> hn;         // GRU: W_hn h_prev + b_hn (B, H)
  std::vector<RefTensor<T>> h_prev;     // (B, H)
  std::vector<RefTensor<T>> c_prev, c;  // LSTM (B, H)
};

// out[k] = b[k] (if any) + Σ_j w[k, j] · v[j] for k < rows; v has `cols` entries
template <class T>
std::vector<T> affine(const RefTensor<T>& w, const RefTensor<T>& b, const T* v, int64_t rows, int64_t cols) {
  std::vector<T> out(static_cast<size_t>(rows));
  for (int64_t k = 0; k < rows; ++k) {
    T s = b.numel() ? b[k] : T(0);
    for (int64_t j = 0; j < cols; ++j) s += w[k * cols + j] * v[j];
    out[k] = s;
  }
  return out;
}

inline int64_t step_time(int64_t s, int64_t T_, bool reverse) { return reverse ? T_ - 1 - s : s; }
}  // namespace rnn_detail

// h0, c0 empty = zeros. Fills *tape when given.
template <class T>
RnnResult<T> rnn(RnnCell cell, const RefTensor<T>& x, const RnnParams<T>& p, const RefTensor<T>& h0,
                 const RefTensor<T>& c0, bool reverse, rnn_detail::Tape<T>* tape = nullptr) {
  using namespace rnn_detail;
  const int64_t B = x.dim(0), T_ = x.dim(1), I = x.dim(2), H = p.w_hh.dim(1), G = rnn_gate_count(cell);
  const bool lstm = cell == RnnCell::lstm;
  RnnResult<T> r{RefTensor<T>({B, T_, H}), h0.numel() ? h0 : RefTensor<T>({B, H}), RefTensor<T>()};
  RefTensor<T> c = lstm ? (c0.numel() ? c0 : RefTensor<T>({B, H})) : RefTensor<T>();
  RefTensor<T>& h = r.h_last;
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = step_time(s, T_, reverse);
    RefTensor<T> act({B, G * H}), hn({B, H}), h_prev = h, c_prev = c;
    for (int64_t b = 0; b < B; ++b) {
      const std::vector<T> xa = affine(p.w_ih, p.b_ih, &x[(b * T_ + t) * I], G * H, I);
      const std::vector<T> ha = affine(p.w_hh, p.b_hh, &h_prev[b * H], G * H, H);
      T* a = &act[b * G * H];
      for (int64_t j = 0; j < H; ++j) {
        T hj;
        if (lstm) {
          a[j] = sigmoid(xa[j] + ha[j]);
          a[H + j] = sigmoid(xa[H + j] + ha[H + j]);
          a[2 * H + j] = std::tanh(xa[2 * H + j] + ha[2 * H + j]);
          a[3 * H + j] = sigmoid(xa[3 * H + j] + ha[3 * H + j]);
          c[b * H + j] = a[H + j] * c_prev[b * H + j] + a[j] * a[2 * H + j];
          hj = a[3 * H + j] * std::tanh(c[b * H + j]);
        } else {
          a[j] = sigmoid(xa[j] + ha[j]);
          a[H + j] = sigmoid(xa[H + j] + ha[H + j]);
          hn[b * H + j] = ha[2 * H + j];
          a[2 * H + j] = std::tanh(xa[2 * H + j] + a[j] * ha[2 * H + j]);
          hj = (T(1) - a[H + j]) * a[2 * H + j] + a[H + j] * h_prev[b * H + j];
        }
        h[b * H + j] = hj;
        r.output[(b * T_ + t) * H + j] = hj;
      }
    }
    if (tape) {
      tape->act.push_back(act);
      tape->hn.push_back(hn);
      tape->h_prev.push_back(h_prev);
      tape->c_prev.push_back(c_prev);
      tape->c.push_back(c);
    }
  }
  if (lstm) r.c_last = c;
  return r;
}

namespace rnn_detail {
// Gradients of the gate pre-activations at one (b, step) from dh (total gradient of h_t) and, for the LSTM,
// dc (gradient of c_t from later steps, updated to the gradient of c_prev). Returns {d input-side, d hidden-side}
// pre-activations (equal for the LSTM; the GRU's n block differs by the factor r) and adds the direct part of
// dh_prev (GRU: dh ⊙ z) into dh_prev_direct.
template <class T>
void gate_grads(bool lstm, int64_t H, const T* a, const T* hn, const T* h_prev, const T* c_prev, const T* c,
                const T* dh, T* dc, T* dxa, T* dha, T* dh_prev_direct) {
  for (int64_t j = 0; j < H; ++j) {
    if (lstm) {
      const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j], tc = std::tanh(c[j]);
      const T dct = dc[j] + dh[j] * o * (T(1) - tc * tc);
      dxa[j] = dct * g * i * (T(1) - i);
      dxa[H + j] = dct * c_prev[j] * f * (T(1) - f);
      dxa[2 * H + j] = dct * i * (T(1) - g * g);
      dxa[3 * H + j] = dh[j] * tc * o * (T(1) - o);
      for (int64_t k = 0; k < 4; ++k) dha[k * H + j] = dxa[k * H + j];
      dc[j] = dct * f;
    } else {
      const T r = a[j], z = a[H + j], n = a[2 * H + j];
      const T dan = dh[j] * (T(1) - z) * (T(1) - n * n);
      dxa[j] = dan * hn[j] * r * (T(1) - r);
      dxa[H + j] = dh[j] * (h_prev[j] - n) * z * (T(1) - z);
      dxa[2 * H + j] = dan;
      dha[j] = dxa[j];
      dha[H + j] = dxa[H + j];
      dha[2 * H + j] = dan * r;
      dh_prev_direct[j] += dh[j] * z;
    }
  }
}

// dw[k, :] += da[k] · v, db[k] += da[k], dv += wᵀ da
template <class T>
void affine_backward(const RefTensor<T>& w, const T* v, const T* da, int64_t rows, int64_t cols, RefTensor<T>& dw,
                     RefTensor<T>& db, T* dv) {
  for (int64_t k = 0; k < rows; ++k) {
    if (db.numel()) db[k] += da[k];
    for (int64_t j = 0; j < cols; ++j) {
      dw[k * cols + j] += da[k] * v[j];
      dv[j] += w[k * cols + j] * da[k];
    }
  }
}
}  // namespace rnn_detail

// Backpropagation through time: dy (B, T, H), dh_last (B, H) and dc_last (B, H, LSTM) are the gradients of the
// three results (empty = zero). Returns the gradients of x, the parameters and the initial state.
template <class T>
RnnGrads<T> rnn_backward(RnnCell cell, const RefTensor<T>& x, const RnnParams<T>& p, const RefTensor<T>& h0,
                         const RefTensor<T>& c0, bool reverse, const RefTensor<T>& dy, const RefTensor<T>& dh_last,
                         const RefTensor<T>& dc_last) {
  using namespace rnn_detail;
  const int64_t B = x.dim(0), T_ = x.dim(1), I = x.dim(2), H = p.w_hh.dim(1), G = rnn_gate_count(cell);
  const bool lstm = cell == RnnCell::lstm;
  Tape<T> tape;
  rnn(cell, x, p, h0, c0, reverse, &tape);
  auto zeros_like = [](const RefTensor<T>& t) { return t.numel() ? RefTensor<T>(t.shape) : RefTensor<T>(); };
  RnnGrads<T> g{RefTensor<T>(x.shape), zeros_like(p.w_ih),   zeros_like(p.w_hh),  zeros_like(p.b_ih),
                zeros_like(p.b_hh),    RefTensor<T>({B, H}), RefTensor<T>({B, H})};
  RefTensor<T> dh = dh_last.numel() ? dh_last : RefTensor<T>({B, H});
  RefTensor<T>& dc = g.dc0;
  if (lstm && dc_last.numel()) dc = dc_last;
  std::vector<T> dxa(static_cast<size_t>(G * H)), dha(static_cast<size_t>(G * H));
  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = step_time(s, T_, reverse);
    RefTensor<T> dh_prev({B, H});
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) dh[b * H + j] += dy[(b * T_ + t) * H + j];
      gate_grads(lstm, H, &tape.act[s][b * G * H], &tape.hn[s][b * H], &tape.h_prev[s][b * H],
                 lstm ? &tape.c_prev[s][b * H] : nullptr, lstm ? &tape.c[s][b * H] : nullptr, &dh[b * H],
                 lstm ? &dc[b * H] : nullptr, dxa.data(), dha.data(), &dh_prev[b * H]);
      affine_backward(p.w_ih, &x[(b * T_ + t) * I], dxa.data(), G * H, I, g.dw_ih, g.db_ih, &g.dx[(b * T_ + t) * I]);
      affine_backward(p.w_hh, &tape.h_prev[s][b * H], dha.data(), G * H, H, g.dw_hh, g.db_hh, &dh_prev[b * H]);
    }
    dh = dh_prev;
  }
  g.dh0 = dh;
  if (!lstm) g.dc0 = RefTensor<T>();
  return g;
}

}  // namespace rc::ref
