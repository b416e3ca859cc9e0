#include "framework/nn/multihead_attention.hpp"

#include <cmath>

#include "framework/ops/locality.hpp"
#include "framework/ops/shape.hpp"

namespace rc::nn {

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& o, Generator& gen, uint64_t seed)
    : options_(o), seed_(seed) {
  RC_CHECK(o.heads >= 1 && o.dim % o.heads == 0, "MultiHeadAttention: dim {} is not divisible by heads {}", o.dim,
           o.heads);
  qkv_ = register_module("qkv", std::make_shared<Linear>(o.dim, 3 * o.dim, gen, o.qkv_bias, true));
  out_ = register_module("out", std::make_shared<Linear>(o.dim, o.dim, gen, true, true));
  if (o.locality.mode == Locality::None) {
    if (o.bias_table > 0) rel_bias_ = register_parameter("rel_bias", Tensor::zeros({o.heads, o.bias_table}), true);
    return;
  }
  RC_CHECK(o.bias_table > 0, "MultiHeadAttention: learnable locality needs a 2-D bias table (bias_table > 0)");
  Tensor alpha = Tensor::full({o.heads}, static_cast<float>(locality_alpha_for_width(o.locality.init_width)));
  loc_alpha_ = register_parameter("locality_alpha", alpha, true);
  loc_mu_ = register_parameter("locality_mu", locality_initial_centres(o.heads, o.locality.init_spread), true);
  if (o.locality.mode == Locality::Gated)
    loc_gate_ = register_parameter("locality_gate", Tensor::full({o.heads}, float(o.locality.init_gate)), true);
}

Tensor locality_initial_centres(int64_t heads, double spread) {
  const int64_t side = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(heads)) - 1e-9));
  const double half = 0.5 * static_cast<double>(side - 1);
  Tensor mu = Tensor::empty({heads, 2});
  for (int64_t h = 0; h < heads; ++h) {
    mu.data()[2 * h] = static_cast<float>((static_cast<double>(h / side) - half) * spread);
    mu.data()[2 * h + 1] = static_cast<float>((static_cast<double>(h % side) - half) * spread);
  }
  return mu;
}

LocalityState MultiHeadAttention::locality_state() const {
  LocalityState s;
  if (!loc_alpha_.defined()) return s;
  for (int64_t h = 0; h < options_.heads; ++h) {
    s.width.push_back(locality_width(loc_alpha_.value().data()[h]));
    s.centre.push_back({loc_mu_.value().data()[2 * h], loc_mu_.value().data()[2 * h + 1]});
    if (loc_gate_.defined()) s.gate.push_back(sigmoid(loc_gate_.value().data()[h]));
  }
  return s;
}

// The (H, T) Gaussian bias over the offsets of the table that the policy (or bias grid) indexes.
Var MultiHeadAttention::locality_table(const Policy& policy) const {
  const BiasIndex index = make_bias_index(policy, options_.bias_grid, options_.bias_table);
  return locality_bias(loc_alpha_, loc_mu_, bias_table_offsets(index));
}

// GPSA: content attention without bias, positional attention from the bias alone (q = k = 0), mixed per head.
// Both calls share the dropout seed, so the masks are those of dropout on the mixed probabilities.
Var MultiHeadAttention::gated_forward(const Var& q, const Var& k, const Var& v, const Policy& policy,
                                      AttentionOptions ao, AttentionWeights* weights) {
  AttentionWeights content_w, positional_w;
  AttentionWeights* cw = nullptr;
  AttentionWeights* pw = nullptr;
  if (weights) {
    content_w.queries = positional_w.queries = weights->queries;
    content_w.edges = positional_w.edges = weights->edges;
    cw = &content_w, pw = &positional_w;
  }
  Var content = attention(q, k, v, policy, ao, cw);
  ao.rel_bias = locality_table(policy);
  Var zero(Tensor::zeros(q.shape()));
  Var positional = attention(zero, zero, v, policy, ao, pw);
  if (weights) {  // A = (1 − g) A_content + g A_positional, per head
    std::vector<double> g = locality_state().gate;
    auto mix = [&](const Tensor& a, const Tensor& b) {
      if (a.ndim() < 2) return Tensor();  // not requested
      Tensor m = Tensor::empty(a.shape());
      const int64_t heads = a.dim(1), inner = a.numel() / (a.dim(0) * heads);
      for (int64_t i = 0; i < a.numel(); ++i) {
        const double gh = g[(i / inner) % heads];
        m.data()[i] = static_cast<float>((1.0 - gh) * a.data()[i] + gh * b.data()[i]);
      }
      return m;
    };
    weights->dense = mix(content_w.dense, positional_w.dense);
    weights->edge_index = content_w.edge_index;
    weights->edge_values = mix(content_w.edge_values, positional_w.edge_values);
  }
  return gated_mix(content, positional, loc_gate_);
}

Var MultiHeadAttention::forward(const Var& x, const Policy& policy, AttentionWeights* weights) {
  RC_CHECK(x.ndim() == 3 && x.dim(2) == options_.dim, "MultiHeadAttention: x must be (B, N, {}), got {}",
           options_.dim, shape_str(x.shape()));
  const int64_t b = x.dim(0), n = x.dim(1), h = options_.heads;
  // (B, N, 3E) -> q, k, v (B, H, N, D), each gathered in one copy
  const Var qkv = qkv_->forward(x);
  const Var q = head_part(qkv, 3, 0, h), k = head_part(qkv, 3, 1, h), v = head_part(qkv, 3, 2, h);
  AttentionOptions ao;
  ao.rel_bias = rel_bias_;
  ao.bias_grid = options_.bias_grid;
  ao.dropout = options_.attention_dropout;
  ao.training = is_training();
  ao.seed = mix_seed(seed_, calls_++);
  Var y;  // (B, H, N, D)
  if (options_.locality.mode == Locality::Gated) {
    y = gated_forward(q, k, v, policy, ao, weights);
  } else {
    if (options_.locality.mode == Locality::Additive) ao.rel_bias = locality_table(policy);
    y = attention(q, k, v, policy, ao, weights);
  }
  return out_->forward(reshape(permute(y, {0, 2, 1, 3}), {b, n, options_.dim}));
}

}  // namespace rc::nn
