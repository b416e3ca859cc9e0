#include "models/patch_attention.hpp"

#include <cmath>

#include "framework/attention/policy_params.hpp"
#include "framework/nn/init.hpp"
#include "framework/nn/layers.hpp"
#include "framework/nn/transformer_block.hpp"
#include "framework/ops/activation.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/shape.hpp"

namespace rc::models {

Schema patch_attention_schema() {
  Schema s;
  s.params = {
      {"patch_size", ParamType::Int, int64_t{4}, "patch side in pixels (the image side must be a multiple)", 1.0, {}, {}},
      {"dim", ParamType::Int, int64_t{64}, "embedding dimension", 1.0, {}, {}},
      {"depth", ParamType::Int, int64_t{4}, "number of transformer blocks", 1.0, {}, {}},
      {"merge_after", ParamType::IntList, std::vector<int64_t>{},
       "hierarchical model: after each listed block (counted from 1) every 2×2 group of neighbouring tokens is "
       "merged into one (Swin's patch merging: concatenate, LayerNorm, linear to twice the width), halving the "
       "grid and doubling the width; the policy, position bias and locality of each block follow its grid. "
       "[] = one grid throughout. Needs pooling: mean and an even grid at every merge; e.g. patch_size 2, dim 32, "
       "depth 6, merge_after [3]: blocks 1-3 on the 14×14 grid of a 28×28 image at width 32, blocks 4-6 on 7×7 at "
       "width 64",
       1.0, {}, {}},
      {"heads", ParamType::Int, int64_t{4}, "attention heads (must divide dim)", 1.0, {}, {}},
      {"mlp_ratio", ParamType::Float, 2.0, "MLP hidden size / dim", 0.01, {}, {}},
      {"pooling", ParamType::String, std::string("cls"), "class token or mean over patch tokens", {}, {}, {"cls", "mean"}},
      {"position", ParamType::String, std::string("learned"),
       "positional encoding; relative = learned 2-D relative-position bias table in every attention layer; "
       "locality = a learnable Gaussian bias per head, -softplus(a)|offset - mu|^2 (Cordonnier et al. 2020), added "
       "to the content scores; gated_locality = ConViT's gated positional self-attention: per head "
       "(1-g)*softmax(content) + g*softmax(Gaussian bias), g = sigmoid(learned gate)",
       {}, {}, {"none", "sinusoidal", "learned", "relative", "locality", "gated_locality"}},
      {"locality_init_width", ParamType::Float, 0.7,
       "locality, gated_locality: initial width (std, in patches) of each head's Gaussian, 1/sqrt(2 softplus(a))",
       0.05, 100.0, {}, ParamCondition{"position", {"locality", "gated_locality"}}},
      {"locality_init_spread", ParamType::Float, 1.0,
       "locality, gated_locality: step (patches) of the lattice of initial head centres mu (ConViT: 4 heads at "
       "(+-1/2, +-1/2) x step; 0 = all centred)",
       0.0, 10.0, {}, ParamCondition{"position", {"locality", "gated_locality"}}},
      {"locality_init_gate", ParamType::Float, 1.0,
       "gated_locality: initial gate logit (ConViT: 1, i.e. sigmoid(1) = 0.73 of the attention positional)", -20.0,
       20.0, {}, ParamCondition{"position", {"gated_locality"}}},
  };
  for (ParamSpec spec : policy_schema().params) {  // the attention neighbourhood over the patch grid: policy.*
    spec.name = "policy." + spec.name;
    if (spec.when) spec.when->key = "policy." + spec.when->key;
    s.params.push_back(std::move(spec));
  }
  s.params.insert(s.params.end(), {
      {"norm", ParamType::String, std::string("layer"),
       "the norms before each block's attention and MLP and before pooling: layer = LayerNorm per token; batch = "
       "BatchNorm per channel over all tokens of the batch (as the CNN's; the patch merging keeps LayerNorm)",
       {}, {}, {"layer", "batch"}},
      {"dropout", ParamType::Float, 0.0, "dropout on residual branches and embeddings", 0.0, 0.95, {}},
      {"attention_dropout", ParamType::Float, 0.0, "dropout on attention probabilities", 0.0, 0.95, {}},
  });
  return s;
}

namespace {
PolicyContext patch_policy_context(int64_t gh, int64_t gw, bool class_token) {
  PolicyContext c;
  c.first = class_token ? 1 : 0;
  c.tokens = c.first + gh * gw;
  c.grid_h = gh, c.grid_w = gw;
  c.grid_name = "patch grid", c.owner = "patch_attention";
  return c;
}
}  // namespace

std::string check_patch_attention(const Params& p, const ImageShape& shape) {
  const int64_t ps = p.get_int("patch_size");
  if (shape.height % ps != 0 || shape.width % ps != 0)
    return fmt::format("patch_size {} does not divide the {}×{} image", ps, shape.height, shape.width);
  if (p.get_int("dim") % p.get_int("heads") != 0)
    return fmt::format("heads {} does not divide dim {}", p.get_int("heads"), p.get_int("dim"));
  int64_t gh = shape.height / ps, gw = shape.width / ps;
  const std::vector<int64_t> merges = p.get_int_list("merge_after");
  const int64_t depth = p.get_int("depth");
  const bool cls = p.get_string("pooling") == "cls";
  if (!merges.empty() && cls)
    return "merge_after needs pooling: mean (a class token has no place in a merged 2×2 group)";
  for (size_t i = 0; i < merges.size(); ++i) {
    if (merges[i] < 1 || merges[i] >= depth)
      return fmt::format("merge_after [{}]: every entry must be a block between 1 and depth - 1 = {} (a merge "
                         "follows a block and precedes another)", fmt::join(merges, ", "), depth - 1);
    if (i > 0 && merges[i] <= merges[i - 1])
      return fmt::format("merge_after [{}] must increase strictly", fmt::join(merges, ", "));
  }
  std::string bad = check_policy_params(p, patch_policy_context(gh, gw, cls), "policy.");
  for (size_t i = 0; bad.empty() && i < merges.size(); ++i) {
    if (gh % 2 != 0 || gw % 2 != 0)
      return fmt::format("merge_after [{}]: merge {} (after block {}) halves a {}×{} grid, whose sides must be even "
                         "(image {}×{}, patch_size {})", fmt::join(merges, ", "), i + 1, merges[i], gh, gw,
                         shape.height, shape.width, ps);
    gh /= 2, gw /= 2;
    bad = check_policy_params(p, patch_policy_context(gh, gw, cls), "policy.");
    if (!bad.empty()) bad = fmt::format("after merge {} (a {}×{} grid): {}", i + 1, gh, gw, bad);
  }
  return bad;
}

Policy patch_policy(const Params& p, int64_t gh, int64_t gw, bool class_token) {
  return policy_from_params(p, patch_policy_context(gh, gw, class_token), "policy.");
}

namespace {

// 2-D sine-cosine table (N, E): a quarter of the channels each for sin/cos of row and column position.
Tensor sincos_2d(int64_t gh, int64_t gw, int64_t dim) {
  Tensor t = Tensor::zeros({gh * gw, dim});
  const int64_t quarter = dim / 4;
  for (int64_t r = 0; r < gh; ++r)
    for (int64_t c = 0; c < gw; ++c)
      for (int64_t k = 0; k < quarter; ++k) {
        double omega = 1.0 / std::pow(10000.0, double(k) / std::max<int64_t>(quarter, 1));
        float* row = t.data() + (r * gw + c) * dim;
        row[k] = float(std::sin(r * omega));
        row[quarter + k] = float(std::cos(r * omega));
        row[2 * quarter + k] = float(std::sin(c * omega));
        row[3 * quarter + k] = float(std::cos(c * omega));
      }
  return t;
}

}  // namespace

Var group_2x2(const Var& x, int64_t gh, int64_t gw) {
  RC_CHECK(x.ndim() == 3 && x.dim(1) == gh * gw && gh % 2 == 0 && gw % 2 == 0,
           "group_2x2: x of shape {} is not (B, {}×{}, C) with even sides", shape_str(x.shape()), gh, gw);
  const int64_t b = x.dim(0), c = x.dim(2);
  // (B, gh/2, 2, gw/2, 2, C) -> (B, gh/2, gw/2, 2, 2, C) -> (B, gh/2·gw/2, 4C)
  Var g = permute(reshape(x, {b, gh / 2, 2, gw / 2, 2, c}), {0, 1, 3, 2, 4, 5});
  return reshape(g, {b, gh / 2 * (gw / 2), 4 * c});
}

namespace {

// Swin's patch merging: (B, gh·gw, C) -> (B, gh/2·gw/2, 2C); each output token is LayerNorm then a linear map
// (no bias) of the concatenated 2×2 group [(0,0), (0,1), (1,0), (1,1)] of input tokens.
class PatchMerge : public nn::Module {
 public:
  PatchMerge(int64_t dim, Generator& gen) {
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(4 * dim));
    proj_ = register_module("proj", std::make_shared<nn::Linear>(4 * dim, 2 * dim, gen, false, true));
  }
  Var forward(const Var& x, int64_t gh, int64_t gw) const {
    return proj_->forward(norm_->forward(group_2x2(x, gh, gw)));
  }

 private:
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Linear> proj_;
};

class PatchAttention : public ImageModel {
 public:
  PatchAttention(const Params& p, const ImageShape& shape, uint64_t seed) : gen_(seed) {
    std::string bad = check_patch_attention(p, shape);
    RC_CHECK(bad.empty(), "patch_attention: {}", bad);
    patch_ = p.get_int("patch_size");
    dim_ = p.get_int("dim");
    gh_ = shape.height / patch_;
    gw_ = shape.width / patch_;
    class_token_ = p.get_string("pooling") == "cls";
    position_ = p.get_string("position");
    const int64_t tokens = gh_ * gw_ + (class_token_ ? 1 : 0);
    embed_ = register_module("embed", std::make_shared<nn::Conv2d>(shape.channels, dim_, patch_, gen_, patch_, 0, true));
    if (class_token_) {
      Tensor cls = Tensor::empty({1, 1, dim_});
      nn::init::trunc_normal_(cls, gen_, 0.0f, 0.02f, -0.04f, 0.04f);
      cls_ = register_parameter("cls_token", cls, true);
    }
    if (position_ == "learned") {
      Tensor pos = Tensor::empty({1, tokens, dim_});
      nn::init::trunc_normal_(pos, gen_, 0.0f, 0.02f, -0.04f, 0.04f);
      pos_ = register_parameter("pos_embed", pos, true);
    } else if (position_ == "sinusoidal") {
      Tensor table = sincos_2d(gh_, gw_, dim_);
      Tensor pos = Tensor::zeros({1, tokens, dim_});
      std::copy(table.data(), table.data() + table.numel(), pos.data() + (class_token_ ? dim_ : 0));
      pos_ = Var(pos, false);
    }
    const std::vector<int64_t> merges = p.get_int_list("merge_after");
    const bool batch_norm = p.get_string("norm") == "batch";
    blocks_ = register_module("blocks", std::make_shared<nn::ModuleList>());
    if (!merges.empty()) merges_ = register_module("merges", std::make_shared<nn::ModuleList>());
    int64_t gh = gh_, gw = gw_, width = dim_;
    size_t next_merge = 0;
    for (int64_t i = 0; i < p.get_int("depth"); ++i) {
      if (next_merge < merges.size() && merges[next_merge] == i) {  // merge before block i (after block i, from 1)
        merges_->push_back(std::make_shared<PatchMerge>(width, gen_));
        gh /= 2, gw /= 2, width *= 2;
        ++next_merge;
      }
      if (stages_.empty() || stages_.back().grid_h != gh) {
        stages_.push_back({gh, gw, patch_policy(p, gh, gw, class_token_)});
      }
      const Stage& st = stages_.back();
      nn::TransformerBlockOptions bo;
      nn::MultiHeadAttentionOptions& mo = bo.attention;
      mo.dim = width;
      mo.heads = p.get_int("heads");
      mo.attention_dropout = float(p.get_float("attention_dropout"));
      if (position_ == "locality" || position_ == "gated_locality") {  // a table over every offset of the grid
        mo.bias_grid = BiasGrid{gh, gw, class_token_ ? 1 : 0};
        mo.bias_table = (2 * gh - 1) * (2 * gw - 1);
        mo.locality.mode = position_ == "locality" ? nn::Locality::Additive : nn::Locality::Gated;
        mo.locality.init_width = p.get_float("locality_init_width");
        mo.locality.init_spread = p.get_float("locality_init_spread");
        mo.locality.init_gate = p.get_float("locality_init_gate");
      } else if (position_ == "relative") {
        if (const Window2d* w = st.policy.find_window2d()) {
          mo.bias_table = (2 * w->kernel_h - 1) * (2 * w->kernel_w - 1);
        } else {
          mo.bias_grid = BiasGrid{gh, gw, class_token_ ? 1 : 0};
          mo.bias_table = (2 * gh - 1) * (2 * gw - 1);
        }
      }
      bo.mlp_hidden = std::max<int64_t>(1, std::llround(p.get_float("mlp_ratio") * width));
      bo.dropout = float(p.get_float("dropout"));
      bo.batch_norm = batch_norm;
      blocks_->push_back(std::make_shared<nn::TransformerBlock>(bo, gen_, mix_seed(seed, 100 + i)));
      block_stage_.push_back(stages_.size() - 1);
    }
    drop_ = register_module("drop", std::make_shared<nn::Dropout>(float(p.get_float("dropout")), seed + 3));
    if (batch_norm)
      final_bn_ = register_module("norm", std::make_shared<nn::BatchNorm>(width));
    else
      norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(width));
    head_ = register_module("head", std::make_shared<nn::Linear>(width, shape.num_classes, gen_, true, true));
  }

  Var forward(const Var& images) override { return forward_with_weights(images, {}); }

  // weights: one request per block (or empty); a request's queries index the tokens of its block's grid
  Var forward_with_weights(const Var& images, std::vector<AttentionWeights*> weights) {
    const int64_t b = images.dim(0);
    // (B, E, gh, gw) -> (B, N, E)
    Var x = transpose(reshape(embed_->forward(images), {b, dim_, gh_ * gw_}), 1, 2);
    if (class_token_) x = concat({add(Var(Tensor::zeros({b, 1, dim_})), cls_), x}, 1);
    if (pos_.defined()) x = add(x, pos_);
    x = drop_->forward(x);
    for (size_t i = 0; i < blocks_->size(); ++i) {
      const size_t s = block_stage_[i];
      if (i > 0 && s != block_stage_[i - 1]) {
        const Stage& prev = stages_[s - 1];
        x = static_cast<const PatchMerge*>((*merges_)[s - 1].get())->forward(x, prev.grid_h, prev.grid_w);
      }
      x = block(i).forward(x, stages_[s].policy, i < weights.size() ? weights[i] : nullptr);
    }
    const int64_t n = x.dim(1), width = x.dim(2);
    x = norm_ ? norm_->forward(x) : final_bn_->forward_tokens(x);
    Var pooled = class_token_ ? reshape(slice(x, 1, 0, 1), {b, width})
                              : mul_scalar(sum(x, 1), 1.0f / float(n));
    return head_->forward(pooled);
  }

  ReceptiveField receptive_field(const Tensor& images) override;

  nn::TransformerBlock& block(size_t i) { return *static_cast<nn::TransformerBlock*>((*blocks_)[i].get()); }
  PatchLayout layout() const { return {gh_, gw_, patch_, class_token_}; }
  // The grid that block i attends over (its patches span patch · 2^merges pixels).
  PatchLayout block_layout(size_t i) const {
    const Stage& st = stages_[block_stage_.at(i)];
    return {st.grid_h, st.grid_w, patch_ * (gh_ / st.grid_h), class_token_};
  }
  size_t depth() const { return blocks_->size(); }

 private:
  struct Stage {  // the blocks between two merges: their grid and policy
    int64_t grid_h, grid_w;
    Policy policy;
  };
  Generator gen_;
  int64_t patch_ = 4, dim_ = 64, gh_ = 7, gw_ = 7;
  bool class_token_ = true;
  std::string position_;
  std::shared_ptr<nn::Conv2d> embed_;
  Var cls_, pos_;
  std::vector<Stage> stages_;
  std::vector<size_t> block_stage_;
  std::shared_ptr<nn::ModuleList> blocks_, merges_;
  std::shared_ptr<nn::Dropout> drop_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::BatchNorm> final_bn_;  // instead of norm_ with norm: batch
  std::shared_ptr<nn::Linear> head_;
};

// E_A[‖Δ‖] of one layer's probabilities (B, H, grid tokens, tokens), per head: for each grid query, the mean
// offset distance under its attention restricted to grid keys (renormalised), averaged over queries and images.
std::vector<double> mean_offset_distance(const Tensor& p, const PatchLayout& l) {
  const int64_t B = p.dim(0), H = p.dim(1), Q = p.dim(2), N = p.dim(3), f = l.first_patch();
  std::vector<double> out(H, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t q = 0; q < Q; ++q) {
        const float* row = p.data() + ((b * H + h) * Q + q) * N;
        double mass = 0, dist = 0;
        for (int64_t j = f; j < N; ++j) {
          const double dr = double((j - f) / l.grid_w - q / l.grid_w), dc = double((j - f) % l.grid_w - q % l.grid_w);
          mass += row[j];
          dist += row[j] * std::sqrt(dr * dr + dc * dc);
        }
        out[h] += mass > 0 ? dist / mass : 0.0;
      }
  for (double& x : out) x /= double(B * Q);
  return out;
}

ReceptiveField PatchAttention::receptive_field(const Tensor& images) {
  ReceptiveField rf;
  std::vector<uint64_t> calls;  // a diagnostic forward leaves the attention-dropout masks of training unchanged
  for (size_t i = 0; i < blocks_->size(); ++i) calls.push_back(block(i).attention().calls());
  std::vector<AttentionWeights> w(depth());
  std::vector<AttentionWeights*> req;
  for (size_t i = 0; i < depth(); ++i) {  // every grid token of the block's own grid
    const PatchLayout l = block_layout(i);
    for (int64_t t = 0; t < l.grid_h * l.grid_w; ++t) w[i].queries.push_back(l.first_patch() + t);
    req.push_back(&w[i]);
  }
  {
    NoGradGuard no_grad;
    const bool was_training = is_training();
    eval();
    forward_with_weights(Var(images), req);
    train(was_training);
  }
  for (size_t i = 0; i < blocks_->size(); ++i) block(i).attention().set_calls(calls[i]);
  for (size_t i = 0; i < depth(); ++i) rf.mean_distance.push_back(mean_offset_distance(w[i].dense.contiguous(), block_layout(i)));
  for (size_t i = 0; i < blocks_->size(); ++i) {
    const nn::LocalityState s = block(i).attention().locality_state();
    if (!s.width.empty()) rf.width.push_back(s.width);
    if (!s.gate.empty()) rf.gate.push_back(s.gate);
  }
  return rf;
}

PatchAttention& as_patch_attention(const ImageModel& model) {
  auto* pa = dynamic_cast<const PatchAttention*>(&model);
  RC_CHECK(pa != nullptr, "attention weights: the model is not a patch_attention model");
  return const_cast<PatchAttention&>(*pa);
}

}  // namespace

std::vector<Tensor> patch_attention_weights(ImageModel& model, const Tensor& images, const std::vector<int64_t>& queries) {
  PatchAttention& pa = as_patch_attention(model);
  const PatchLayout first = pa.layout();
  std::vector<AttentionWeights> w(pa.depth());
  std::vector<AttentionWeights*> req;
  for (size_t i = 0; i < pa.depth(); ++i) {
    const PatchLayout l = pa.block_layout(i);
    const int64_t shrink = first.grid_h / l.grid_h;  // 2^merges before block i
    for (int64_t q : queries) {
      RC_CHECK(q >= 0 && q < first.tokens(), "attention weights: query {} outside the {} tokens", q, first.tokens());
      if (q < first.first_patch() || shrink == 1) {
        w[i].queries.push_back(q);
      } else {  // the merged token that contains the query's patch
        const int64_t t = q - first.first_patch();
        w[i].queries.push_back(l.first_patch() + t / first.grid_w / shrink * l.grid_w + t % first.grid_w / shrink);
      }
    }
    req.push_back(&w[i]);
  }
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  pa.forward_with_weights(Var(images), req);
  model.train(was_training);
  std::vector<Tensor> out;
  for (auto& x : w) out.push_back(x.dense);
  return out;
}

PatchLayout patch_layout(const ImageModel& model) { return as_patch_attention(model).layout(); }

std::vector<PatchLayout> patch_block_layouts(const ImageModel& model) {
  const PatchAttention& pa = as_patch_attention(model);
  std::vector<PatchLayout> out;
  for (size_t i = 0; i < pa.depth(); ++i) out.push_back(pa.block_layout(i));
  return out;
}

std::shared_ptr<ImageModel> make_patch_attention(const Params& p, const ImageShape& shape, uint64_t seed) {
  return std::make_shared<PatchAttention>(p, shape, seed);
}

}  // namespace rc::models
