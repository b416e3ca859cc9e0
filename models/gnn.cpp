#include "models/gnn.hpp"

#include <cmath>
#include <regex>
#include <tuple>

#include "framework/attention/attention.hpp"
#include "framework/nn/call_counter.hpp"
#include "framework/nn/init.hpp"
#include "framework/nn/layers.hpp"
#include "framework/nn/transformer_block.hpp"
#include "framework/ops/activation.hpp"
#include "framework/ops/dropout.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/matmul.hpp"
#include "framework/ops/shape.hpp"
#include "framework/ops/spmm.hpp"

namespace rc::models {

namespace {
ParamSpec hidden_spec(int64_t d, const char* doc = "hidden units per layer") {
  return {"hidden", ParamType::Int, d, doc, 1.0, {}, {}};
}
ParamSpec dropout_spec(double d) { return {"dropout", ParamType::Float, d, "dropout on every layer's input", 0.0, 0.95, {}}; }
ParamSpec self_loops_spec(std::optional<ParamCondition> when = {}) {
  return {"self_loops", ParamType::Bool, true, "each node also attends to itself (policy graph)", {}, {}, {}, when};
}
ParamSpec layers_spec(int64_t d) { return {"layers", ParamType::Int, d, "number of layers (including the output layer)", 1.0, {}, {}}; }

// A linear map of the node features: sparse features through spmm_linear (with dropout on the stored values),
// dense through linear (bias may be undefined).
Var input_linear(const GraphInput& g, const Var& weight, const Var& bias, float p, bool training, uint64_t seed) {
  const bool drop = training && p > 0;
  if (g.sparse_features) {
    CsrMatrix x = drop ? dropout_values(*g.sparse_features, p, seed) : *g.sparse_features;
    return spmm_linear(x, weight, bias);
  }
  Var x(g.dense_features);
  return linear(drop ? dropout(x, p, true, seed) : x, weight, bias);
}

// First layer on node features (input_linear): weight (out, in), optional bias (out).
class InputLinear : public nn::Module {
 public:
  InputLinear(int64_t in, int64_t out, Generator& gen, bool bias) {
    Tensor w = Tensor::empty({out, in});
    nn::init::xavier_uniform_(w, gen);
    weight_ = register_parameter("weight", w);
    if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}), true);
  }
  Var forward(const GraphInput& g, float p, uint64_t seed) {
    return input_linear(g, weight_, bias_, p, is_training(), seed);
  }

 private:
  Var weight_, bias_;
};

Policy adjacency_policy(const GraphInput& g, bool self_loops) {
  return Policy::graph(g.adjacency.view(), self_loops);
}

class Mlp : public GraphModel, public nn::CallCounted {
 public:
  Mlp(const Params& p, const GraphInput& g, uint64_t seed) : gen_(seed), seed_(seed) {
    dropout_ = float(p.get_float("dropout"));
    const int64_t hidden = p.get_int("hidden"), layers = p.get_int("layers");
    auto list = register_module("layers", std::make_shared<nn::ModuleList>());  // layers.<l>.weight, .bias
    in_ = list->push_back(std::make_shared<InputLinear>(g.num_features, layers == 1 ? g.num_classes : hidden, gen_,
                                                        true));
    for (int64_t l = 1; l < layers; ++l)
      rest_.push_back(
          list->push_back(std::make_shared<nn::Linear>(hidden, l + 1 == layers ? g.num_classes : hidden, gen_)));
  }
  Var forward(const GraphInput& g) override {
    uint64_t s = mix_seed(seed_, calls_++);
    Var x = in_->forward(g, dropout_, s);
    for (size_t l = 0; l < rest_.size(); ++l)
      x = rest_[l]->forward(dropout(relu(x), dropout_, is_training(), mix_seed(s, l + 1)));
    return x;
  }

  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  Generator gen_;
  uint64_t seed_, calls_ = 0;
  float dropout_;
  std::shared_ptr<InputLinear> in_;
  std::vector<std::shared_ptr<nn::Linear>> rest_;
};

// One GCN layer's parameters: weight (out, in) and bias (out); the first layer's input is the node features
// (sparse or dense), the others' the previous layer's output.
class GcnLayer : public nn::Module {
 public:
  GcnLayer(int64_t in, int64_t out, Generator& gen) {
    Tensor w = Tensor::empty({out, in});
    nn::init::xavier_uniform_(w, gen);
    weight_ = register_parameter("weight", w);
  }
  void add_bias(int64_t out) { bias_ = register_parameter("bias", Tensor::zeros({out}), true); }
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }

 private:
  Var weight_, bias_;
};

class Gcn : public GraphModel, public nn::CallCounted {
 public:
  Gcn(const Params& p, const GraphInput& g, uint64_t seed) : gen_(seed), seed_(seed) {
    dropout_ = float(p.get_float("dropout"));
    const int64_t hidden = p.get_int("hidden"), layers = p.get_int("layers");
    adj_ = gcn_normalized_adjacency(g);
    auto list = register_module("layers", std::make_shared<nn::ModuleList>());  // layers.<l>.weight, .bias
    auto width = [&](int64_t l) { return l + 1 == layers ? g.num_classes : hidden; };
    // every weight is drawn before any bias (biases start at zero), in layer order, as before the renaming
    for (int64_t l = 0; l < layers; ++l)
      layers_.push_back(list->push_back(std::make_shared<GcnLayer>(l == 0 ? g.num_features : hidden, width(l), gen_)));
    for (int64_t l = 0; l < layers; ++l) layers_[l]->add_bias(width(l));
  }
  Var forward(const GraphInput& g) override {
    uint64_t s = mix_seed(seed_, calls_++);
    // layer l: H' = Â (H W) + b, ReLU between layers; Â is symmetric, so it is its own transpose
    Var x = add(spmm(adj_, input_linear(g, layers_[0]->weight(), Var(), dropout_, is_training(), s), &adj_),
                layers_[0]->bias());
    for (size_t l = 1; l < layers_.size(); ++l) {
      Var h = dropout(relu(x), dropout_, is_training(), mix_seed(s, l));
      x = add(spmm(adj_, linear(h, layers_[l]->weight()), &adj_), layers_[l]->bias());
    }
    return x;
  }

  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  Generator gen_;
  uint64_t seed_, calls_ = 0;
  float dropout_;
  CsrMatrix adj_;
  std::vector<std::shared_ptr<GcnLayer>> layers_;
};

// One GAT layer: h = x W, per head attention over N(i) ∪ {i} with LeakyReLU(a_q·h_i + a_k·h_j), heads
// concatenated or averaged, plus a bias.
class GatLayer : public nn::Module {
 public:
  GatLayer(int64_t in, int64_t out, int64_t heads, bool concat, Generator& gen, bool input_layer)
      : out_(out), heads_(heads), concat_(concat), input_layer_(input_layer) {
    Tensor w = Tensor::empty({heads * out, in});
    nn::init::xavier_uniform_(w, gen);
    weight_ = register_parameter("weight", w);
    Tensor aq = Tensor::empty({heads, out}), ak = Tensor::empty({heads, out});
    nn::init::xavier_uniform_(aq, gen);
    nn::init::xavier_uniform_(ak, gen);
    a_q_ = register_parameter("a_q", aq);
    a_k_ = register_parameter("a_k", ak);
    bias_ = register_parameter("bias", Tensor::zeros({concat ? heads * out : out}), true);
  }
  // x: (N, in) dense (or the graph's features when this is the input layer)
  Var forward(const GraphInput& g, const Var& x, const Policy& policy, float dropout_p, float attn_dropout,
              uint64_t seed) {
    const int64_t n = g.num_nodes;
    Var h = input_layer_ ? input_linear(g, weight_, Var(), dropout_p, is_training(), seed)
                         : linear(dropout(x, dropout_p, is_training(), seed), weight_);
    Var hh = permute(reshape(h, {1, n, heads_, out_}), {0, 2, 1, 3});  // (1, H, N, D)
    AttentionOptions o;
    o.score = ScoreKind::Additive;
    o.a_q = a_q_;
    o.a_k = a_k_;
    o.dropout = attn_dropout;
    o.training = is_training();
    o.seed = mix_seed(seed, 17);
    Var y = permute(attention(hh, hh, hh, policy, o), {0, 2, 1, 3});  // (1, N, H, D)
    Var out = concat_ ? reshape(y, {n, heads_ * out_}) : mul_scalar(sum(reshape(y, {n, heads_, out_}), 1), 1.0f / heads_);
    return add(out, bias_);
  }

 private:
  int64_t out_, heads_;
  bool concat_, input_layer_;
  Var weight_, a_q_, a_k_, bias_;
};

class Gat : public GraphModel, public nn::CallCounted {
 public:
  Gat(const Params& p, const GraphInput& g, uint64_t seed)
      : gen_(seed), seed_(seed), policy_(adjacency_policy(g, p.get_bool("self_loops"))) {
    dropout_ = float(p.get_float("dropout"));
    attn_dropout_ = float(p.get_float("attention_dropout"));
    const int64_t hidden = p.get_int("hidden"), heads = p.get_int("heads"), layers = p.get_int("layers");
    const int64_t out_heads = p.get_int("output_heads");
    int64_t in = g.num_features;
    auto list = register_module("layers", std::make_shared<nn::ModuleList>());  // layers.<l>.weight, .a_q, ...
    for (int64_t l = 0; l < layers; ++l) {
      const bool last = l + 1 == layers;
      auto layer = std::make_shared<GatLayer>(in, last ? g.num_classes : hidden, last ? out_heads : heads, !last, gen_,
                                              l == 0);
      layers_.push_back(list->push_back(layer));
      in = hidden * heads;
    }
  }
  Var forward(const GraphInput& g) override {
    uint64_t s = mix_seed(seed_, calls_++);
    Var x;
    for (size_t l = 0; l < layers_.size(); ++l) {
      x = layers_[l]->forward(g, x, policy_, dropout_, attn_dropout_, mix_seed(s, l));
      if (l + 1 < layers_.size()) x = elu(x);
    }
    return x;
  }

  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  Generator gen_;
  uint64_t seed_, calls_ = 0;
  float dropout_, attn_dropout_;
  Policy policy_;
  std::vector<std::shared_ptr<GatLayer>> layers_;
};

class GraphTransformer : public GraphModel, public nn::CallCounted {
 public:
  GraphTransformer(const Params& p, const GraphInput& g, uint64_t seed)
      : gen_(seed), seed_(seed),
        policy_(p.get_string("policy") == "full" ? Policy::full() : adjacency_policy(g, p.get_bool("self_loops"))) {
    dropout_ = float(p.get_float("dropout"));
    const int64_t dim = p.get_int("hidden");
    in_ = register_module("embed", std::make_shared<InputLinear>(g.num_features, dim, gen_, true));
    // residual dropout masks come from the forward's seed (below), so the blocks' own dropout stays unused
    nn::TransformerBlockOptions bo;
    bo.attention.dim = dim;
    bo.attention.heads = p.get_int("heads");
    bo.attention.attention_dropout = float(p.get_float("attention_dropout"));
    bo.mlp_hidden = 2 * dim;
    bo.dropout = dropout_;
    bo.transformer_init = false;
    auto blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
    for (int64_t l = 0; l < p.get_int("layers"); ++l)
      blocks_.push_back(blocks->push_back(std::make_shared<nn::TransformerBlock>(bo, gen_, mix_seed(seed, 50 + l))));
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(dim));
    head_ = register_module("head", std::make_shared<nn::Linear>(dim, g.num_classes, gen_));
  }
  Var forward(const GraphInput& g) override {
    uint64_t s = mix_seed(seed_, calls_++);
    const int64_t n = g.num_nodes;
    Var x = reshape(in_->forward(g, dropout_, s), {1, n, -1});
    uint64_t k = 1;
    for (auto& b : blocks_) {
      const nn::ResidualDropoutSeeds seeds{mix_seed(s, k), mix_seed(s, k + 1)};
      x = b->forward(x, policy_, nullptr, seeds);
      k += 2;
    }
    return head_->forward(reshape(norm_->forward(x), {n, -1}));
  }

  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  Generator gen_;
  uint64_t seed_, calls_ = 0;
  float dropout_;
  Policy policy_;
  std::shared_ptr<InputLinear> in_;
  std::vector<std::shared_ptr<nn::TransformerBlock>> blocks_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Linear> head_;
};
}  // namespace

CsrMatrix gcn_normalized_adjacency(const GraphInput& g) {
  const Csr a = merge_self_loops(g.adjacency.view());  // A + I
  std::vector<float> vals(a.col_idx.size());
  for (int64_t i = 0; i < a.n; ++i)
    for (int64_t e = a.row_ptr[i]; e < a.row_ptr[i + 1]; ++e) {
      const int64_t j = a.col_idx[e];
      const float di = float(a.row_ptr[i + 1] - a.row_ptr[i]), dj = float(a.row_ptr[j + 1] - a.row_ptr[j]);
      vals[e] = 1.0f / std::sqrt(di * dj);
    }
  return CsrMatrix::from_pattern(a.view(), std::move(vals));
}

std::string current_parameter_name(const std::string& type, const std::string& name) {
  // (type, old pattern, new form): before the GNNs used layers.<l>.<param> (and embed for the graph Transformer)
  static const std::vector<std::tuple<std::string, std::regex, std::string>> table = {
      {"mlp", std::regex(R"(input\.(weight|bias))"), "layers.0.$1"},
      {"mlp", std::regex(R"(fc(\d+)\.(weight|bias))"), "layers.$1.$2"},
      {"gcn", std::regex(R"(input\.weight)"), "layers.0.weight"},
      {"gcn", std::regex(R"((weight|bias)(\d+))"), "layers.$2.$1"},
      {"gat", std::regex(R"(layer(\d+)\.input\.weight)"), "layers.$1.weight"},
      {"gat", std::regex(R"(layer(\d+)\.(weight|a_q|a_k|bias))"), "layers.$1.$2"},
      {"graph_transformer", std::regex(R"(input\.(weight|bias))"), "embed.$1"},
  };
  for (const auto& [t, pattern, form] : table)
    if (t == type && std::regex_match(name, pattern)) return std::regex_replace(name, pattern, form);
  return name;
}

Schema mlp_schema() { return Schema{{hidden_spec(64), layers_spec(2), dropout_spec(0.5)}}; }
Schema gcn_schema() { return Schema{{hidden_spec(16), layers_spec(2), dropout_spec(0.5)}}; }
Schema gat_schema() {
  return Schema{{hidden_spec(8, "hidden units per head"),
                 {"heads", ParamType::Int, int64_t{8}, "attention heads in hidden layers (concatenated)", 1.0, {}, {}},
                 {"output_heads", ParamType::Int, int64_t{1}, "heads in the output layer (averaged)", 1.0, {}, {}},
                 layers_spec(2), dropout_spec(0.6),
                 {"attention_dropout", ParamType::Float, 0.6, "dropout on attention coefficients", 0.0, 0.95, {}},
                 self_loops_spec()}};
}
Schema graph_transformer_schema() {
  return Schema{{hidden_spec(64, "model width (attention and MLP blocks)"),
                 {"heads", ParamType::Int, int64_t{4}, "attention heads (must divide hidden)", 1.0, {}, {}},
                 layers_spec(2), dropout_spec(0.5),
                 {"attention_dropout", ParamType::Float, 0.1, "dropout on attention probabilities", 0.0, 0.95, {}},
                 {"policy", ParamType::String, std::string("graph"),
                  "graph: attend over neighbours (+ self); full: over all nodes (adjacency ignored)", {}, {},
                  {"graph", "full"}},
                 self_loops_spec(ParamCondition{"policy", {"graph"}})}};
}

std::shared_ptr<GraphModel> make_mlp(const Params& p, const GraphInput& g, uint64_t seed) {
  return std::make_shared<Mlp>(p, g, seed);
}
std::shared_ptr<GraphModel> make_gcn(const Params& p, const GraphInput& g, uint64_t seed) {
  return std::make_shared<Gcn>(p, g, seed);
}
std::shared_ptr<GraphModel> make_gat(const Params& p, const GraphInput& g, uint64_t seed) {
  return std::make_shared<Gat>(p, g, seed);
}
std::string check_graph_transformer(const Params& p) {
  if (p.get_int("hidden") % p.get_int("heads") != 0)
    return fmt::format("heads {} does not divide hidden {}", p.get_int("heads"), p.get_int("hidden"));
  return "";
}
std::shared_ptr<GraphModel> make_graph_transformer(const Params& p, const GraphInput& g, uint64_t seed) {
  const std::string bad = check_graph_transformer(p);
  RC_CHECK(bad.empty(), "graph_transformer: {}", bad);
  return std::make_shared<GraphTransformer>(p, g, seed);
}

}  // namespace rc::models
