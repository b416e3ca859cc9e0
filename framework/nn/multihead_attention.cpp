#include "framework/nn/multihead_attention.hpp"

#include "framework/ops/shape.hpp"

namespace rc::nn {

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& o, Generator& gen, uint64_t seed)
    : options_(o), seed_(seed) {
  RC_CHECK(o.heads >= 1 && o.dim % o.heads == 0, "MultiHeadAttention: dim {} is not divisible by heads {}", o.dim,
           o.heads);
  qkv_ = register_module("qkv", std::make_shared<Linear>(o.dim, 3 * o.dim, gen, o.qkv_bias, true));
  out_ = register_module("out", std::make_shared<Linear>(o.dim, o.dim, gen, true, true));
  if (o.bias_table > 0) rel_bias_ = register_parameter("rel_bias", Tensor::zeros({o.heads, o.bias_table}), true);
}

Var MultiHeadAttention::forward(const Var& x, const Policy& policy, AttentionWeights* weights) {
  RC_CHECK(x.ndim() == 3 && x.dim(2) == options_.dim, "MultiHeadAttention: x must be (B, N, {}), got {}",
           options_.dim, shape_str(x.shape()));
  const int64_t b = x.dim(0), n = x.dim(1), h = options_.heads, d = options_.dim / h;
  // (B, N, 3E) -> (B, N, 3, H, D) -> (3, B, H, N, D)
  Var qkv = permute(reshape(qkv_->forward(x), {b, n, 3, h, d}), {2, 0, 3, 1, 4});
  Var q = reshape(slice(qkv, 0, 0, 1), {b, h, n, d});
  Var k = reshape(slice(qkv, 0, 1, 2), {b, h, n, d});
  Var v = reshape(slice(qkv, 0, 2, 3), {b, h, n, d});
  AttentionOptions ao;
  ao.rel_bias = rel_bias_;
  ao.bias_grid = options_.bias_grid;
  ao.dropout = options_.attention_dropout;
  ao.training = is_training();
  ao.seed = mix_seed(seed_, calls_++);
  Var y = attention(q, k, v, policy, ao, weights);  // (B, H, N, D)
  return out_->forward(reshape(permute(y, {0, 2, 1, 3}), {b, n, options_.dim}));
}

}  // namespace rc::nn
