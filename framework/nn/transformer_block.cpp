#include "framework/nn/transformer_block.hpp"

#include "framework/ops/activation.hpp"
#include "framework/ops/dropout.hpp"
#include "framework/ops/elementwise.hpp"

namespace rc::nn {

TransformerBlock::TransformerBlock(const TransformerBlockOptions& o, Generator& gen, uint64_t seed) : options_(o) {
  const int64_t dim = o.attention.dim, hidden = o.mlp_hidden > 0 ? o.mlp_hidden : 2 * dim;
  options_.mlp_hidden = hidden;
  if (o.batch_norm)
    bn1_ = register_module("bn1", std::make_shared<BatchNorm>(dim));
  else
    ln1_ = register_module("ln1", std::make_shared<LayerNorm>(dim));
  attn_ = register_module("attn", std::make_shared<MultiHeadAttention>(o.attention, gen, seed));
  if (o.batch_norm)
    bn2_ = register_module("bn2", std::make_shared<BatchNorm>(dim));
  else
    ln2_ = register_module("ln2", std::make_shared<LayerNorm>(dim));
  fc1_ = register_module("fc1", std::make_shared<Linear>(dim, hidden, gen, true, o.transformer_init));
  fc2_ = register_module("fc2", std::make_shared<Linear>(hidden, dim, gen, true, o.transformer_init));
  drop_ = register_module("drop", std::make_shared<Dropout>(o.dropout, seed + 7));
}

Var TransformerBlock::residual_dropout(const Var& branch, std::optional<uint64_t> seed) {
  return seed ? dropout(branch, options_.dropout, is_training(), *seed) : drop_->forward(branch);
}

Var TransformerBlock::norm(int which, const Var& x) {
  if (!options_.batch_norm) return (which == 1 ? ln1_ : ln2_)->forward(x);
  return (which == 1 ? bn1_ : bn2_)->forward_tokens(x);
}

Var TransformerBlock::forward(const Var& x, const Policy& policy, AttentionWeights* weights,
                              std::optional<ResidualDropoutSeeds> seeds) {
  auto seed_of = [&](uint64_t ResidualDropoutSeeds::*which) {
    return seeds ? std::optional<uint64_t>((*seeds).*which) : std::nullopt;
  };
  Var h = add(x, residual_dropout(attn_->forward(norm(1, x), policy, weights),
                                  seed_of(&ResidualDropoutSeeds::attention)));
  Var m = fc2_->forward(gelu(fc1_->forward(norm(2, h))));
  return add(h, residual_dropout(m, seed_of(&ResidualDropoutSeeds::mlp)));
}

}  // namespace rc::nn
