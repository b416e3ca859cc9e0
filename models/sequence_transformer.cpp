#include "models/sequence_transformer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/attention/policy_params.hpp"
#include "framework/nn/init.hpp"
#include "framework/nn/layers.hpp"
#include "framework/nn/transformer_block.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/shape.hpp"

namespace rc::models {

Schema sequence_transformer_schema() {
  Schema s;
  s.params = {
      {"dim", ParamType::Int, int64_t{64}, "embedding dimension", 1.0, {}, {}},
      {"depth", ParamType::Int, int64_t{4}, "number of transformer blocks", 1.0, {}, {}},
      {"heads", ParamType::Int, int64_t{4}, "attention heads (must divide dim)", 1.0, {}, {}},
      {"mlp_ratio", ParamType::Float, 2.0, "MLP hidden size / dim", 0.01, {}, {}},
      {"pooling", ParamType::String, std::string("mean"),
       "mean over the steps, the last step (with a causal policy: the causal reader), or a class token (which "
       "must see every step)",
       {}, {}, {"mean", "last", "cls"}},
      {"position", ParamType::String, std::string("learned"),
       "positional encoding; relative = learned 1-D relative-position bias in every attention layer", {}, {},
       {"none", "sinusoidal", "learned", "relative"}},
  };
  for (ParamSpec spec : policy_schema().params) {  // the attention neighbourhood over the tokens: policy.*
    spec.name = "policy." + spec.name;
    if (spec.when) spec.when->key = "policy." + spec.when->key;
    s.params.push_back(std::move(spec));
  }
  s.params.insert(s.params.end(), {
      {"dropout", ParamType::Float, 0.0, "dropout on residual branches and embeddings", 0.0, 0.95, {}},
      {"attention_dropout", ParamType::Float, 0.0, "dropout on attention probabilities", 0.0, 0.95, {}},
  });
  return s;
}

namespace {

PolicyContext sequence_policy_context(const Params& p, const SequenceShape& shape) {
  PolicyContext c;
  c.first = p.get_string("pooling") == "cls" ? 1 : 0;
  c.tokens = c.first + shape.length;
  c.grid_name = "sequence", c.owner = "sequence_transformer";
  return c;
}

// The class token (token 0) sees every step, or what it misses.
std::string check_class_token(const Policy& policy, const Params& p, int64_t tokens) {
  for (int64_t j = 1; j < tokens; ++j)
    if (!policy.allowed(0, j))
      return fmt::format("pooling cls: under policy.kind = '{}' the class token (token 0) does not see step {} (token "
                         "{}), so it cannot summarise the sequence; use pooling last (the causal reader) or mean, "
                         "or name the class token in the policy, e.g. '{} | global' (then every step also sees it)",
                         p.get_string("policy.kind"), j - 1, j, p.get_string("policy.kind"));
  return "";
}

// The relative-bias radius: max(left, right) of window1d (right = 0 when causal), else every offset (tokens - 1).
int64_t relative_radius(const Params& p, const PolicyContext& ctx) {
  const PolicyArgs a{p, ctx, "policy."};
  const std::vector<std::string> kinds = policy_kind_names(a.get_string("kind"), a.key("kind"));
  if (std::find(kinds.begin(), kinds.end(), "window1d") == kinds.end()) return std::max<int64_t>(ctx.tokens - 1, 0);
  const int64_t r = a.get_int("radius"), left = a.get_int("left"), right = a.get_int("right");
  return std::max(left < 0 ? r : left, a.get_bool("causal") ? 0 : (right < 0 ? r : right));
}

}  // namespace

std::string check_sequence_transformer(const Params& p, const SequenceShape& shape) {
  if (shape.length < 1 || shape.features < 1)
    return fmt::format("the sequences must have at least one step of one feature, got L = {}, F = {}", shape.length,
                       shape.features);
  if (p.get_int("dim") % p.get_int("heads") != 0)
    return fmt::format("heads {} does not divide dim {}", p.get_int("heads"), p.get_int("dim"));
  if (p.get_string("position") == "sinusoidal" && p.get_int("dim") % 2 != 0)
    return fmt::format("position sinusoidal needs an even dim (sin and cos pairs), got dim {}", p.get_int("dim"));
  const PolicyContext ctx = sequence_policy_context(p, shape);
  Policy policy = Policy::full();
  try {
    policy = policy_from_params(p, ctx, "policy.");
  } catch (const Error& e) {
    return e.what();
  }
  return p.get_string("pooling") == "cls" ? check_class_token(policy, p, ctx.tokens) : "";
}

Policy sequence_transformer_policy(const Params& p, const SequenceShape& shape) {
  const std::string bad = check_sequence_transformer(p, shape);
  RC_CHECK(bad.empty(), "sequence_transformer: {}", bad);
  return policy_from_params(p, sequence_policy_context(p, shape), "policy.");
}

namespace {

// Vaswani et al.'s table (N, E): pe[t, 2k] = sin(t / 10000^(2k/E)), pe[t, 2k + 1] = cos(t / 10000^(2k/E)).
Tensor sincos_1d(int64_t n, int64_t dim) {
  Tensor t = Tensor::zeros({n, dim});
  for (int64_t pos = 0; pos < n; ++pos)
    for (int64_t k = 0; 2 * k < dim; ++k) {
      const double angle = double(pos) / std::pow(10000.0, double(2 * k) / double(dim));
      t.data()[pos * dim + 2 * k] = float(std::sin(angle));
      if (2 * k + 1 < dim) t.data()[pos * dim + 2 * k + 1] = float(std::cos(angle));
    }
  return t;
}

class SequenceTransformer : public SequenceModel {
 public:
  SequenceTransformer(const Params& p, const SequenceShape& shape, uint64_t seed) : gen_(seed) {
    policy_ = sequence_transformer_policy(p, shape);
    const PolicyContext ctx = sequence_policy_context(p, shape);
    features_ = shape.features, length_ = shape.length;
    dim_ = p.get_int("dim");
    pooling_ = p.get_string("pooling");
    class_token_ = pooling_ == "cls";
    const std::string position = p.get_string("position");
    embed_ = register_module("embed", std::make_shared<nn::Linear>(features_, dim_, gen_, true, true));
    if (class_token_) {
      Tensor cls = Tensor::empty({1, 1, dim_});
      nn::init::trunc_normal_(cls, gen_, 0.0f, 0.02f, -0.04f, 0.04f);
      cls_ = register_parameter("cls_token", cls, true);
    }
    if (position == "learned") {
      Tensor pos = Tensor::empty({1, ctx.tokens, dim_});
      nn::init::trunc_normal_(pos, gen_, 0.0f, 0.02f, -0.04f, 0.04f);
      pos_ = register_parameter("pos_embed", pos, true);
    }
    sinusoidal_ = position == "sinusoidal";
    nn::TransformerBlockOptions bo;
    bo.attention.dim = dim_;
    bo.attention.heads = p.get_int("heads");
    bo.attention.attention_dropout = float(p.get_float("attention_dropout"));
    if (position == "relative") bo.attention.bias_table = 2 * relative_radius(p, ctx) + 1;
    bo.mlp_hidden = std::max<int64_t>(1, std::llround(p.get_float("mlp_ratio") * dim_));
    bo.dropout = float(p.get_float("dropout"));
    blocks_ = register_module("blocks", std::make_shared<nn::ModuleList>());
    for (int64_t i = 0; i < p.get_int("depth"); ++i)
      blocks_->push_back(std::make_shared<nn::TransformerBlock>(bo, gen_, mix_seed(seed, 100 + i)));
    drop_ = register_module("drop", std::make_shared<nn::Dropout>(bo.dropout, seed + 3));
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(dim_));
    head_ = register_module("head", std::make_shared<nn::Linear>(dim_, shape.num_classes, gen_, true, true));
  }

  size_t depth() const { return blocks_->size(); }

  Var forward(const Var& sequences) override { return head_->forward(pool(tokens(sequences))); }

  // (B, L, F) -> the final-LayerNorm tokens (B, N, E); weights: one request per block (or empty)
  Var tokens(const Var& sequences, const std::vector<AttentionWeights*>& weights = {}) {
    RC_CHECK(sequences.ndim() == 3 && sequences.dim(2) == features_ && sequences.dim(1) >= 1 &&
                 sequences.dim(1) <= length_,
             "sequence_transformer: sequences must be (B, L <= {}, F = {}), got shape {}", length_, features_,
             shape_str(sequences.shape()));
    const int64_t b = sequences.dim(0), l = sequences.dim(1), first = class_token_ ? 1 : 0, n = first + l;
    Var x = embed_->forward(sequences);  // (B, L, E)
    if (class_token_) x = concat({add(Var(Tensor::zeros({b, 1, dim_})), cls_), x}, 1);
    if (pos_.defined()) x = add(x, n == pos_.dim(1) ? pos_ : slice(pos_, 1, 0, n));
    if (sinusoidal_) x = add(x, Var(sinusoidal_table(first, l)));
    x = drop_->forward(x);
    for (size_t i = 0; i < blocks_->size(); ++i)
      x = static_cast<nn::TransformerBlock*>((*blocks_)[i].get())
              ->forward(x, policy_, i < weights.size() ? weights[i] : nullptr);
    return norm_->forward(x);
  }

 private:
  Generator gen_;
  int64_t features_ = 0, length_ = 0, dim_ = 0;
  std::string pooling_;
  bool class_token_ = false, sinusoidal_ = false;
  std::shared_ptr<nn::Linear> embed_;
  Var cls_, pos_;
  Policy policy_ = Policy::full();
  std::shared_ptr<nn::ModuleList> blocks_;
  std::shared_ptr<nn::Dropout> drop_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Linear> head_;

  // (1, first + l, E): zeros for the class token, then the table's first l rows
  Tensor sinusoidal_table(int64_t first, int64_t l) const {
    const Tensor table = sincos_1d(l, dim_);
    Tensor pos = Tensor::zeros({1, first + l, dim_});
    std::copy(table.data(), table.data() + table.numel(), pos.data() + first * dim_);
    return pos;
  }

  Var pool(const Var& x) const {
    const int64_t b = x.dim(0), n = x.dim(1);
    if (pooling_ == "cls") return reshape(slice(x, 1, 0, 1), {b, dim_});
    if (pooling_ == "last") return reshape(slice(x, 1, n - 1, n), {b, dim_});
    return mul_scalar(sum(x, 1), 1.0f / float(n));
  }
};

}  // namespace

std::shared_ptr<SequenceModel> make_sequence_transformer(const Params& p, const SequenceShape& shape, uint64_t seed) {
  return std::make_shared<SequenceTransformer>(p, shape, seed);
}

Tensor sequence_transformer_tokens(SequenceModel& model, const Tensor& sequences) {
  auto* st = dynamic_cast<SequenceTransformer*>(&model);
  RC_CHECK(st != nullptr, "sequence_transformer_tokens: the model is not a sequence_transformer");
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Tensor out = st->tokens(Var(sequences)).value();
  model.train(was_training);
  return out;
}

std::vector<Tensor> sequence_transformer_weights(SequenceModel& model, const Tensor& sequences,
                                                 const std::vector<int64_t>& queries) {
  auto* st = dynamic_cast<SequenceTransformer*>(&model);
  RC_CHECK(st != nullptr, "attention weights: the model is not a sequence_transformer");
  std::vector<AttentionWeights> w(st->depth());
  std::vector<AttentionWeights*> requests;
  for (AttentionWeights& x : w) {
    x.queries = queries;
    requests.push_back(&x);
  }
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  st->tokens(Var(sequences), requests);
  model.train(was_training);
  std::vector<Tensor> out;
  for (AttentionWeights& x : w) out.push_back(x.dense);
  return out;
}

}  // namespace rc::models
