#pragma once
// Reference Transformer block (transformer_block.hpp) without dropout: the formula written out with the plain-loop
// references of its parts, templated on the scalar type (double for finite differences).
//   h = x + W_o concat_h(attention(q_h, k_h, v_h)) + b_o,  [q | k | v] = LN₁(x) W_qkvᵀ + b_qkv
//   y = h + W₂ gelu(W₁ LN₂(h) + b₁) + b₂
#include "framework/attention/attention_ref.hpp"
#include "framework/ops/activation_ref.hpp"
#include "framework/ops/matmul_ref.hpp"
#include "framework/ops/norm_ref.hpp"

namespace rc::ref {

// The block's parameters under their state-dict names (rel_bias empty when the block has none).
template <class T>
struct TransformerBlockParams {
  RefTensor<T> ln1_weight, ln1_bias, qkv_weight, qkv_bias, out_weight, out_bias, rel_bias, ln2_weight, ln2_bias,
      fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

// x: (B, N, E) -> (B, N, E). opt: the attention options (bias_grid, scale); its dropout must be 0.
template <class T>
RefTensor<T> transformer_block(const RefTensor<T>& x, const TransformerBlockParams<T>& p, int64_t heads,
                               const Policy& policy, const AttentionOptions& opt, T eps = T(1e-5)) {
  const int64_t B = x.dim(0), N = x.dim(1), E = x.dim(2), D = E / heads;
  const RefTensor<T> qkv = linear(layer_norm(x, p.ln1_weight, p.ln1_bias, eps), p.qkv_weight, p.qkv_bias);
  AttentionInputs<T> in;
  in.q = in.k = in.v = RefTensor<T>({B, heads, N, D});
  in.rel_bias = p.rel_bias;
  // qkv[b, n, s E + h D + d] -> (q | k | v)[b, h, n, d]
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const int64_t src = (b * N + n) * 3 * E + h * D + d, dst = ((b * heads + h) * N + n) * D + d;
          in.q[dst] = qkv[src];
          in.k[dst] = qkv[src + E];
          in.v[dst] = qkv[src + 2 * E];
        }
  const RefTensor<T> y = attention(in, policy, opt);
  RefTensor<T> joined({B, N, E});  // (B, H, N, D) -> (B, N, H D)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) joined[(b * N + n) * E + h * D + d] = y[((b * heads + h) * N + n) * D + d];
  RefTensor<T> h = linear(joined, p.out_weight, p.out_bias);
  for (int64_t i = 0; i < h.numel(); ++i) h[i] += x[i];
  RefTensor<T> out =
      linear(gelu(linear(layer_norm(h, p.ln2_weight, p.ln2_bias, eps), p.fc1_weight, p.fc1_bias)), p.fc2_weight,
             p.fc2_bias);
  for (int64_t i = 0; i < out.numel(); ++i) out[i] += h[i];
  return out;
}

}  // namespace rc::ref
