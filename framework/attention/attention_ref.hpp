#pragma once
// Reference attention: a dense, masked, plain-loop implementation of the formula in attention.hpp, templated
// on the scalar type (float to compare with the kernels, double for finite differences). It asks the policy
// only allowed(i, j), builds each row of scores over all N keys, and never tiles or caches anything.
#include <cmath>
#include <limits>
#include <vector>

#include "framework/attention/attention.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::ref {

// q, k, v: (B, H, N, D); rel_bias: (H, T) or empty; a_q, a_k: (H, D) for additive scores, else empty.
// The Vars inside AttentionOptions are ignored here; the tables are passed explicitly.
template <class T>
struct AttentionInputs {
  RefTensor<T> q, k, v, rel_bias, a_q, a_k;
};

template <class T>
struct AttentionGrads {
  RefTensor<T> dq, dk, dv, drel_bias, da_q, da_k;  // the last three are empty when unused
};

namespace detail {

// Calls f(b, h, i, keys, p, keep) for every query, where p[t] is the softmax weight of key keys[t] and keep[t]
// its dropout factor (0 or 1/(1-p); 1 without dropout). Rows without allowed keys get empty lists.
template <class T, class F>
void for_each_row(const AttentionInputs<T>& in, const Policy& policy, const AttentionOptions& opt, F&& f) {
  const int64_t B = in.q.dim(0), H = in.q.dim(1), N = in.q.dim(2), D = in.q.dim(3);
  const T scale = opt.scale ? T(*opt.scale) : T(1) / std::sqrt(T(D));
  const BiasIndex bias = make_bias_index(policy, opt.bias_grid, in.rel_bias.numel() ? in.rel_bias.dim(1) : 0);
  const bool drop = opt.training && opt.dropout > 0;
  auto at = [&](const RefTensor<T>& t, int64_t b, int64_t h, int64_t n, int64_t d) {
    return t[((b * H + h) * N + n) * D + d];
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {
        std::vector<int64_t> keys;
        std::vector<T> s, keep;
        for (int64_t j = 0; j < N; ++j) {
          if (!policy.allowed(i, j)) continue;
          T score = 0;
          if (opt.score == ScoreKind::Dot) {
            for (int64_t d = 0; d < D; ++d) score += at(in.q, b, h, i, d) * at(in.k, b, h, j, d);
            score *= scale;
          } else {
            T pre = 0;
            for (int64_t d = 0; d < D; ++d)
              pre += in.a_q[h * D + d] * at(in.q, b, h, i, d) + in.a_k[h * D + d] * at(in.k, b, h, j, d);
            score = leaky_relu(pre, T(opt.leaky_slope));
          }
          int64_t bi = bias.index(i, j);
          if (bi >= 0) score += in.rel_bias[h * bias.table_size + bi];
          keys.push_back(j);
          s.push_back(score);
          keep.push_back(!drop ? T(1)
                               : (dropout_keep(opt.seed, b * H + h, i, j, N, opt.dropout) ? T(1) / T(1 - opt.dropout)
                                                                                         : T(0)));
        }
        T m = -std::numeric_limits<T>::infinity(), sum = 0;
        for (T x : s) m = std::max(m, x);
        for (T& x : s) sum += (x = std::exp(x - m));
        for (T& x : s) x /= sum;
        f(b, h, i, keys, s, keep);
      }
}

}  // namespace detail

template <class T>
RefTensor<T> attention(const AttentionInputs<T>& in, const Policy& policy, const AttentionOptions& opt) {
  const int64_t H = in.q.dim(1), N = in.q.dim(2), D = in.q.dim(3);
  RefTensor<T> out(in.q.shape);
  detail::for_each_row(in, policy, opt, [&](int64_t b, int64_t h, int64_t i, const auto& keys, const auto& p,
                                            const auto& keep) {
    for (size_t t = 0; t < keys.size(); ++t)
      for (int64_t d = 0; d < D; ++d)
        out[((b * H + h) * N + i) * D + d] += p[t] * keep[t] * in.v[((b * H + h) * N + keys[t]) * D + d];
  });
  return out;
}

// The probabilities p_ij (before dropout) as a dense (B, H, N, N) tensor, zero where not allowed.
template <class T>
RefTensor<T> attention_weights(const AttentionInputs<T>& in, const Policy& policy, const AttentionOptions& opt) {
  const int64_t B = in.q.dim(0), H = in.q.dim(1), N = in.q.dim(2);
  RefTensor<T> w({B, H, N, N});
  detail::for_each_row(in, policy, opt, [&](int64_t b, int64_t h, int64_t i, const auto& keys, const auto& p,
                                            const auto&) {
    for (size_t t = 0; t < keys.size(); ++t) w[((b * H + h) * N + i) * N + keys[t]] = p[t];
  });
  return w;
}

// Forward was s = score + bias, p = softmax(s), out_i = sum_j p_ij keep_ij v_j, so now, with g = dout_i:
//   dv_j += p_ij keep_ij g;   dp_ij = keep_ij (g . v_j);   ds_ij = p_ij (dp_ij - sum_t p_it dp_it);
//   dbias[h, index(i, j)] += ds_ij;
//   dot:      dq_i += scale ds_ij k_j,   dk_j += scale ds_ij q_i;
//   additive: e = ds_ij * leaky'(pre_ij): dq_i += e a_q[h], da_q[h] += e q_i, dk_j += e a_k[h], da_k[h] += e k_j.
template <class T>
AttentionGrads<T> attention_backward(const AttentionInputs<T>& in, const Policy& policy, const AttentionOptions& opt,
                                     const RefTensor<T>& dout) {
  const int64_t H = in.q.dim(1), N = in.q.dim(2), D = in.q.dim(3);
  const T scale = opt.scale ? T(*opt.scale) : T(1) / std::sqrt(T(D));
  const BiasIndex bias = make_bias_index(policy, opt.bias_grid, in.rel_bias.numel() ? in.rel_bias.dim(1) : 0);
  AttentionGrads<T> g{RefTensor<T>(in.q.shape), RefTensor<T>(in.k.shape), RefTensor<T>(in.v.shape),
                      RefTensor<T>(in.rel_bias.shape), RefTensor<T>(in.a_q.shape), RefTensor<T>(in.a_k.shape)};
  auto row = [&](int64_t b, int64_t h, int64_t n) { return ((b * H + h) * N + n) * D; };
  detail::for_each_row(in, policy, opt, [&](int64_t b, int64_t h, int64_t i, const auto& keys, const auto& p,
                                            const auto& keep) {
    const int64_t qi = row(b, h, i);
    std::vector<T> dp(keys.size());
    T dot_pdp = 0;
    for (size_t t = 0; t < keys.size(); ++t) {
      const int64_t kj = row(b, h, keys[t]);
      T gv = 0;
      for (int64_t d = 0; d < D; ++d) {
        gv += dout[qi + d] * in.v[kj + d];
        g.dv[kj + d] += p[t] * keep[t] * dout[qi + d];
      }
      dp[t] = keep[t] * gv;
      dot_pdp += p[t] * dp[t];
    }
    for (size_t t = 0; t < keys.size(); ++t) {
      const int64_t j = keys[t], kj = row(b, h, j);
      const T ds = p[t] * (dp[t] - dot_pdp);
      int64_t bi = bias.index(i, j);
      if (bi >= 0) g.drel_bias[h * bias.table_size + bi] += ds;
      if (opt.score == ScoreKind::Dot) {
        for (int64_t d = 0; d < D; ++d) {
          g.dq[qi + d] += scale * ds * in.k[kj + d];
          g.dk[kj + d] += scale * ds * in.q[qi + d];
        }
      } else {
        T pre = 0;
        for (int64_t d = 0; d < D; ++d) pre += in.a_q[h * D + d] * in.q[qi + d] + in.a_k[h * D + d] * in.k[kj + d];
        const T e = ds * (pre > 0 ? T(1) : T(opt.leaky_slope));
        for (int64_t d = 0; d < D; ++d) {
          g.dq[qi + d] += e * in.a_q[h * D + d];
          g.da_q[h * D + d] += e * in.q[qi + d];
          g.dk[kj + d] += e * in.a_k[h * D + d];
          g.da_k[h * D + d] += e * in.k[kj + d];
        }
      }
    }
  });
  return g;
}

}  // namespace rc::ref
