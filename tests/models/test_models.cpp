#include <algorithm>
#include <cmath>

#include "framework/ops/loss.hpp"
#include "framework/optim/adamw.hpp"
#include "framework/ops/elementwise.hpp"
#include "models/gnn.hpp"
#include "models/patch_attention.hpp"
#include "models/registry.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::models;
using namespace rc::test;

namespace {
Params with(const Schema& s, std::initializer_list<std::pair<const char*, ParamValue>> kv) {
  Params p = s.defaults();
  for (const auto& [k, v] : kv) p.set(k, v);
  return p;
}
// every parameter receives a finite, non-zero gradient (except those named in `may_be_zero`)
void check_gradients_flow(nn::Module& m, const Var& loss, const std::string& may_be_zero = "") {
  backward(loss);
  int64_t with_grad = 0, total = 0;
  for (const auto& p : m.named_parameters()) {
    ++total;
    INFO(p.name);
    REQUIRE(p.var.grad().defined());
    auto g = p.var.grad().to_vector();
    bool nonzero = false, finite = true;
    for (float x : g) {
      finite = finite && std::isfinite(x);
      nonzero = nonzero || x != 0.0f;
    }
    REQUIRE(finite);
    if (!may_be_zero.empty() && p.name == may_be_zero) {
      --total;
      continue;
    }
    with_grad += nonzero;
  }
  CHECK(with_grad == total);
}
// The model's loss gradient against central differences along a random direction in every parameter at once
// (a step eps along it; the parameters' gradients must be unset before).
void check_directional_derivative(ImageModel& m, const Var& x, const std::vector<int64_t>& labels,
                                  float eps = 1e-2f) {
  auto loss_value = [&] { return double(cross_entropy(m.forward(x), labels).value().to_vector()[0]); };
  backward(cross_entropy(m.forward(x), labels));
  auto params = m.named_parameters();
  std::vector<Tensor> dirs;
  double analytic = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    dirs.push_back(random_tensor(params[i].var.value().shape(), 100 + i));
    const auto g = params[i].var.grad().to_vector(), d = dirs.back().to_vector();
    for (size_t j = 0; j < g.size(); ++j) analytic += double(g[j]) * d[j];
  }
  auto shift = [&](float eps) {
    for (size_t i = 0; i < params.size(); ++i) {
      float* w = params[i].var.value().data();
      const float* d = dirs[i].data();
      for (int64_t j = 0; j < dirs[i].numel(); ++j) w[j] += eps * d[j];
    }
  };
  shift(eps);
  const double up = loss_value();
  shift(-2 * eps);
  const double down = loss_value();
  shift(eps);
  const double numeric = (up - down) / (2 * eps);
  INFO("analytic " << analytic << " numeric " << numeric);
  CHECK(std::abs(analytic) > 1e-3);
  CHECK(std::abs(numeric - analytic) < 5e-3 * std::abs(analytic) + 1e-4);
}
}  // namespace

TEST_CASE("models: registry lists every type and suggests near misses") {
  std::vector<std::string> names;
  for (const auto& t : model_types()) names.push_back(t.type);
  CHECK(names == std::vector<std::string>{"cnn", "patch_attention", "mlp", "gcn", "gat", "graph_transformer", "rnn",
                                          "conv1d", "sequence_transformer"});
  CHECK_THROWS_WITH(model_type("patch_atention"), Catch::Contains("did you mean 'patch_attention'"));
}

TEST_CASE("cnn: the benchmark architecture has 140 458 parameters and trains end to end") {
  // conv 1->32, 32->32, 32->64, 64->64, 64->128 (3x3, no bias): 288 + 9216 + 18432 + 36864 + 73728 = 138528
  // batch norms 2 * (32 + 32 + 64 + 64 + 128) = 640; head 128 * 10 + 10 = 1290; total 140458
  const auto& t = model_type("cnn");
  auto m = t.make_image(t.schema.defaults(), ImageShape{1, 28, 28, 10}, 1);
  CHECK(m->num_parameters() == 140458);
  Var x(random_tensor({4, 1, 28, 28}, 5));
  Var logits = m->forward(x);
  CHECK(logits.shape() == Shape{4, 10});
  check_gradients_flow(*m, cross_entropy(logits, {0, 3, 9, 3}));
  auto r = t.make_image(with(t.schema, {{"residual", true}, {"channels", std::vector<int64_t>{8, 16}},
                                        {"blocks", std::vector<int64_t>{1}}}),
                        ImageShape{3, 12, 12, 5}, 2);
  Var y = r->forward(Var(random_tensor({2, 3, 12, 12}, 6)));
  CHECK(y.shape() == Shape{2, 5});
  check_gradients_flow(*r, cross_entropy(y, {1, 4}));
}

TEST_CASE("cnn: conv_algorithm gemm computes the same function as the default Winograd, up to rounding") {
  // same seed, same weights: the two models differ only in how the 3x3 convolutions are computed (Winograd
  // F(2x2,3x3) where C >= 8, else GEMM), so logits and every gradient agree to float rounding
  const auto& t = model_type("cnn");
  for (bool residual : {false, true}) {
    auto a = t.make_image(with(t.schema, {{"residual", residual}}), ImageShape{1, 28, 28, 10}, 3);
    auto b = t.make_image(with(t.schema, {{"residual", residual}, {"conv_algorithm", std::string("gemm")}}),
                          ImageShape{1, 28, 28, 10}, 3);
    Var x(random_tensor({3, 1, 28, 28}, 9));
    Var la = a->forward(x), lb = b->forward(x);
    CHECK(rel_error(la.value().to_vector(), lb.value().to_vector()) < 1e-5);
    CHECK(la.value().to_vector() != lb.value().to_vector());  // two algorithms did run (their rounding differs)
    backward(cross_entropy(la, {1, 7, 2}));
    backward(cross_entropy(lb, {1, 7, 2}));
    const auto pa = a->named_parameters(), pb = b->named_parameters();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      INFO(pa[i].name);
      CHECK(rel_error(pa[i].var.grad().to_vector(), pb[i].var.grad().to_vector()) < 1e-4);
    }
  }
}

TEST_CASE("cnn: norm none and activation gelu (the BatchNorm/ReLU ablation)") {
  const auto& t = model_type("cnn");
  const ImageShape shape{1, 28, 28, 10};
  // norm none: the five convs get biases (32 + 32 + 64 + 64 + 128 = 320) instead of BatchNorm's 640 parameters
  auto plain = t.make_image(with(t.schema, {{"norm", std::string("none")}}), shape, 4);
  CHECK(plain->num_parameters() == 140458 - 640 + 320);
  for (const auto& p : plain->named_parameters()) CHECK(p.name.find("bn") == std::string::npos);
  Var x(random_tensor({3, 1, 28, 28}, 11));
  // without BatchNorm nothing depends on the mode: training and evaluation compute the same logits
  const std::vector<float> train_logits = plain->forward(x).value().to_vector();
  plain->eval();
  CHECK(plain->forward(x).value().to_vector() == train_logits);
  plain->train();
  check_gradients_flow(*plain, cross_entropy(plain->forward(x), {2, 5, 5}));
  // gelu instead of relu, same seed: same parameters, other logits
  auto relu_bn = t.make_image(t.schema.defaults(), shape, 4);
  auto gelu_bn = t.make_image(with(t.schema, {{"activation", std::string("gelu")}}), shape, 4);
  CHECK(gelu_bn->num_parameters() == 140458);
  const std::vector<float> lr = relu_bn->forward(x).value().to_vector(), lg = gelu_bn->forward(x).value().to_vector();
  CHECK(lr != lg);
  check_gradients_flow(*gelu_bn, cross_entropy(gelu_bn->forward(x), {0, 1, 9}));
  // residual blocks, every combination: shapes and gradient flow
  for (const char* norm : {"batch", "none"})
    for (const char* act : {"relu", "gelu"}) {
      INFO(norm << " " << act);
      auto r = t.make_image(with(t.schema, {{"residual", true}, {"channels", std::vector<int64_t>{8, 16}},
                                            {"blocks", std::vector<int64_t>{1}}, {"norm", std::string(norm)},
                                            {"activation", std::string(act)}}),
                            ImageShape{3, 12, 12, 5}, 2);
      Var y = r->forward(Var(random_tensor({2, 3, 12, 12}, 6)));
      CHECK(y.shape() == Shape{2, 5});
      check_gradients_flow(*r, cross_entropy(y, {1, 4}));
    }
  // the composed gradient against central differences: a small smooth network (no norm, gelu, average pooling)
  auto small = t.make_image(with(t.schema, {{"channels", std::vector<int64_t>{4, 6}}, {"blocks", std::vector<int64_t>{1}},
                                            {"norm", std::string("none")}, {"activation", std::string("gelu")},
                                            {"pool", std::string("avg")}}),
                            ImageShape{2, 6, 6, 3}, 7);
  check_directional_derivative(*small, Var(random_tensor({2, 2, 6, 6}, 12)), {2, 0});
}

TEST_CASE("patch attention: norm batch (BatchNorm over the tokens instead of LayerNorm)") {
  const auto& t = model_type("patch_attention");
  const ImageShape shape{1, 28, 28, 10};
  auto layer = t.make_image(with(t.schema, {{"pooling", std::string("mean")}, {"position", std::string("locality")}}),
                            shape, 3);
  auto batch = t.make_image(with(t.schema, {{"pooling", std::string("mean")}, {"position", std::string("locality")},
                                            {"norm", std::string("batch")}}),
                            shape, 3);
  CHECK(batch->num_parameters() == layer->num_parameters());  // γ and β per channel either way
  std::vector<std::string> names;
  for (const auto& p : batch->named_parameters()) names.push_back(p.name);
  CHECK(std::find(names.begin(), names.end(), "blocks.0.bn1.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "blocks.3.bn2.bias") != names.end());
  CHECK(std::find(names.begin(), names.end(), "blocks.0.ln1.weight") == names.end());
  Var x(random_tensor({4, 1, 28, 28}, 8));
  Var y = batch->forward(x);
  CHECK(y.shape() == Shape{4, 10});
  CHECK(y.value().to_vector() != layer->forward(x).value().to_vector());
  check_gradients_flow(*batch, cross_entropy(y, {0, 3, 9, 3}));
  // training normalises with the batch's statistics, evaluation with the running ones (updated by that forward)
  batch->eval();
  CHECK(batch->forward(x).value().to_vector() != y.value().to_vector());
  batch->train();
  // hierarchical (the merge keeps its LayerNorm), class token, window policy: the gradient against differences
  auto small = t.make_image(with(t.schema, {{"patch_size", int64_t{2}}, {"dim", int64_t{8}}, {"depth", int64_t{2}},
                                            {"heads", int64_t{2}}, {"merge_after", std::vector<int64_t>{1}},
                                            {"pooling", std::string("mean")}, {"position", std::string("locality")},
                                            {"norm", std::string("batch")}}),
                            ImageShape{1, 8, 8, 3}, 5);
  // (BatchNorm over few tokens bends the loss sharply: central differences of step 1e-2 are 9 % off, 1e-3 0.1 %)
  check_directional_derivative(*small, Var(random_tensor({3, 1, 8, 8}, 13)), {2, 0, 1}, 1e-3f);
  auto windowed = t.make_image(with(t.schema, {{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{2}},
                                               {"position", std::string("relative")},
                                               {"policy.kind", std::string("window2d")},
                                               {"norm", std::string("batch")}}),
                               ImageShape{1, 12, 12, 3}, 6);
  check_directional_derivative(*windowed, Var(random_tensor({3, 1, 12, 12}, 14)), {1, 1, 0});
}

TEST_CASE("patch attention: shapes, gradients, and every positional encoding") {
  const auto& t = model_type("patch_attention");
  for (const char* pos : {"none", "sinusoidal", "learned", "relative"})
    for (const char* policy : {"full", "window2d"})
      for (const char* pooling : {"cls", "mean"}) {
        INFO(pos << " " << policy << " " << pooling);
        Params p = with(t.schema, {{"position", std::string(pos)}, {"policy.kind", std::string(policy)},
                                   {"pooling", std::string(pooling)}, {"dim", int64_t{16}}, {"depth", int64_t{2}},
                                   {"heads", int64_t{2}}});
        auto m = t.make_image(p, ImageShape{1, 12, 16, 3}, 3);
        Var y = m->forward(Var(random_tensor({2, 1, 12, 16}, 7)));
        CHECK(y.shape() == Shape{2, 3});
        // with class-token pooling only the class token's output in the last block matters, and the class token
        // is off the patch grid, so it gets no relative bias: that table's gradient is exactly zero
        const bool cls_relative = std::string(pos) == "relative" && std::string(pooling) == "cls";
        check_gradients_flow(*m, cross_entropy(y, {2, 0}), cls_relative ? "blocks.1.attn.rel_bias" : "");
      }
}

TEST_CASE("patch attention: a window2d that covers the grid is full attention") {
  const auto& t = model_type("patch_attention");
  Params full = with(t.schema, {{"dim", int64_t{16}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}});
  Params window = full;
  window.set("policy.kind", std::string("window2d"));
  window.set("policy.kernel", int64_t{4});  // 16x16 image, patch 4 -> 4x4 grid
  auto a = t.make_image(full, ImageShape{1, 16, 16, 4}, 9), b = t.make_image(window, ImageShape{1, 16, 16, 4}, 9);
  Var x(random_tensor({3, 1, 16, 16}, 8));
  a->eval();
  b->eval();
  CHECK(rel_error(a->forward(x).value().to_vector(), b->forward(x).value().to_vector()) < 1e-6);
}

TEST_CASE("patch attention: impossible combinations are rejected with the values") {
  const auto& t = model_type("patch_attention");
  Params p = with(t.schema, {{"policy.kind", std::string("window2d")}, {"policy.kernel", int64_t{9}}});
  CHECK_THAT(t.check_image(p, ImageShape{1, 28, 28, 10}), Catch::Contains("kernel 9") && Catch::Contains("7×7"));
  p = with(t.schema, {{"patch_size", int64_t{5}}});
  CHECK_THAT(t.check_image(p, ImageShape{1, 28, 28, 10}), Catch::Contains("patch_size 5"));
  CHECK_THROWS_WITH(t.make_image(p, ImageShape{1, 28, 28, 10}, 0), Catch::Contains("patch_size 5"));
}

TEST_CASE("gcn: normalised adjacency by hand on a path 0-1-2") {
  GraphInput g;
  g.num_nodes = 3;
  g.adjacency = {3, {0, 1, 3, 4}, {1, 0, 2, 1}};
  CsrMatrix a = gcn_normalized_adjacency(g);
  // degrees with self-loops: 2, 3, 2; entry (i, j) = 1 / sqrt(d_i d_j)
  Tensor d = a.to_dense();
  CHECK(d.at({0, 0}) == Approx(0.5));
  CHECK(d.at({0, 1}) == Approx(1 / std::sqrt(6.0)));
  CHECK(d.at({1, 1}) == Approx(1 / 3.0));
  CHECK(d.at({0, 2}) == 0.0f);
  CHECK(d.at({2, 1}) == Approx(1 / std::sqrt(6.0)));
}

namespace {
// Two communities of 8 nodes (a ring with chords each) joined by one edge; one-hot node features; the class is
// the community.
struct TwoCommunities {
  GraphInput input;
  std::vector<int64_t> labels;
  TwoCommunities() {
    const int64_t n = 16;
    std::vector<std::vector<int64_t>> adj(n);
    auto link = [&](int64_t a, int64_t b) {
      adj[a].push_back(b);
      adj[b].push_back(a);
    };
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < 8; ++i) {
        link(8 * c + i, 8 * c + (i + 1) % 8);
        if (i < 4) link(8 * c + i, 8 * c + i + 4);
      }
    link(0, 8);
    input.num_nodes = n;
    input.num_features = n;
    input.num_classes = 2;
    input.dense_features = Tensor::zeros({n, n});
    input.adjacency.n = n;
    input.adjacency.row_ptr = {0};
    for (int64_t i = 0; i < n; ++i) {
      input.dense_features.data()[i * n + i] = 1.0f;
      std::sort(adj[i].begin(), adj[i].end());
      input.adjacency.col_idx.insert(input.adjacency.col_idx.end(), adj[i].begin(), adj[i].end());
      input.adjacency.row_ptr.push_back(static_cast<int64_t>(input.adjacency.col_idx.size()));
      labels.push_back(i / 8);
    }
  }
};
}  // namespace

TEST_CASE("graph models: every type trains on two communities (loss falls, gradients flow)") {
  const TwoCommunities graph;
  const GraphInput& in = graph.input;
  for (const char* type : {"mlp", "gcn", "gat", "graph_transformer"}) {
    INFO(type);
    const auto& t = model_type(type);
    Params p = t.schema.defaults();
    p.set("dropout", 0.0);
    auto m = t.make_graph(p, in, 4);
    CrossEntropyOptions ce;
    ce.mask = std::vector<uint8_t>(16, 1);
    Var logits = m->forward(in);
    CHECK(logits.shape() == Shape{16, 2});
    check_gradients_flow(*m, cross_entropy(logits, graph.labels, ce));
    m->zero_grad();
    // 30 full-batch Adam steps on every node
    optim::AdamWOptions ao;
    ao.lr = 0.01f;
    ao.weight_decay = 0.0f;
    optim::AdamW opt(m->parameters(), ao);
    const double before = cross_entropy(m->forward(in), graph.labels, ce).value().item();
    for (int epoch = 0; epoch < 30; ++epoch) {
      backward(cross_entropy(m->forward(in), graph.labels, ce));
      opt.step();
      opt.zero_grad();
    }
    m->eval();
    const double after = cross_entropy(m->forward(in), graph.labels, ce).value().item();
    CHECK(after < before * 0.8);
  }
}

TEST_CASE("gat: without self-loops a node with no neighbour gets only its bias (no NaN)") {
  // path 0-1 plus an isolated node 2
  GraphInput g;
  g.num_nodes = 3;
  g.num_features = 2;
  g.num_classes = 2;
  g.dense_features = Tensor::from({3, 2}, {1, 0, 0, 1, 1, 1});
  g.adjacency = {3, {0, 1, 2, 2}, {1, 0}};
  const auto& t = model_type("gat");
  Params p = t.schema.defaults();
  p.set("self_loops", false);
  p.set("layers", int64_t{1});
  p.set("dropout", 0.0);
  auto m = t.make_graph(p, g, 1);
  m->eval();
  Tensor y = m->forward(g).value();
  // one layer: the isolated node's attention output is zero, so its logits are the (zero-initialised) bias
  CHECK(y.at({2, 0}) == 0.0f);
  CHECK(y.at({2, 1}) == 0.0f);
  CHECK(std::isfinite(y.at({0, 0})));
  CHECK(y.at({0, 0}) != 0.0f);
}

TEST_CASE("graph models: parameters are named <module>.<index>.<param>, and the names of older checkpoints map to them") {
  const TwoCommunities graph;
  // the names each model saved before the common scheme (layers = 2), in the order of the current state dict
  const std::vector<std::pair<const char*, std::vector<std::pair<std::string, std::string>>>> cases = {
      {"mlp", {{"input.weight", "layers.0.weight"}, {"input.bias", "layers.0.bias"}, {"fc1.weight", "layers.1.weight"},
               {"fc1.bias", "layers.1.bias"}}},
      {"gcn", {{"input.weight", "layers.0.weight"}, {"bias0", "layers.0.bias"}, {"weight1", "layers.1.weight"},
               {"bias1", "layers.1.bias"}}},
      {"gat", {{"layer0.input.weight", "layers.0.weight"}, {"layer0.a_q", "layers.0.a_q"}, {"layer0.a_k", "layers.0.a_k"},
               {"layer0.bias", "layers.0.bias"}, {"layer1.weight", "layers.1.weight"}, {"layer1.a_q", "layers.1.a_q"},
               {"layer1.a_k", "layers.1.a_k"}, {"layer1.bias", "layers.1.bias"}}},
  };
  for (const auto& [type, names] : cases) {
    INFO(type);
    auto m = model_type(type).make_graph(model_type(type).schema.defaults(), graph.input, 3);
    NamedTensors now = m->state_dict();
    std::vector<std::string> current;
    for (const auto& [n, t] : now) current.push_back(n);
    std::vector<std::string> expected;
    for (const auto& [old_name, new_name] : names) expected.push_back(new_name);
    std::sort(current.begin(), current.end());
    std::sort(expected.begin(), expected.end());
    CHECK(current == expected);
    for (const auto& [old_name, new_name] : names) CHECK(current_parameter_name(type, old_name) == new_name);
    CHECK(current_parameter_name(type, "layers.1.bias") == "layers.1.bias");  // current names stay
  }
  CHECK(current_parameter_name("graph_transformer", "input.weight") == "embed.weight");
  CHECK(current_parameter_name("graph_transformer", "blocks.0.ln1.weight") == "blocks.0.ln1.weight");
  CHECK(current_parameter_name("cnn", "input.weight") == "input.weight");  // other types are left alone
  // an old-named state dict of another model's weights loads into a fresh model once renamed: same logits
  auto a = model_type("gat").make_graph(model_type("gat").schema.defaults(), graph.input, 3);
  auto b = model_type("gat").make_graph(model_type("gat").schema.defaults(), graph.input, 9);
  NamedTensors old;
  for (const auto& [n, t] : a->state_dict()) {
    std::string legacy = "layer" + n.substr(7);  // layers.<l>.<p> -> layer<l>.<p>, the first weight under .input
    if (legacy == "layer0.weight") legacy = "layer0.input.weight";
    old.emplace_back(legacy, t.clone());
  }
  CHECK(old.front().first.rfind("layer0", 0) == 0);
  CHECK_THROWS(b->load_state_dict(old, true));  // the old names alone do not load
  for (auto& [n, t] : old) n = current_parameter_name("gat", n);
  b->load_state_dict(old, true);
  a->eval(), b->eval();
  const Tensor la = a->forward(graph.input).value(), lb = b->forward(graph.input).value();
  CHECK(la.to_vector() == lb.to_vector());
  const std::vector<float> v = la.to_vector();
  CHECK(std::any_of(v.begin(), v.end(), [](float x) { return x != 0.0f; }));
}

TEST_CASE("patch attention: group_2x2 concatenates each 2×2 group, and its gradient goes back to the same tokens") {
  const int64_t B = 2, gh = 4, gw = 6, C = 3;
  Var x(random_tensor({B, gh * gw, C}, 11), true);
  Var y = models::group_2x2(x, gh, gw);
  REQUIRE(y.shape() == Shape{B, (gh / 2) * (gw / 2), 4 * C});
  const Tensor w = random_tensor(y.shape(), 12);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < gh / 2; ++i)
      for (int64_t j = 0; j < gw / 2; ++j)
        for (int64_t k = 0; k < 4; ++k)  // (0,0), (0,1), (1,0), (1,1)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t src = (2 * i + k / 2) * gw + 2 * j + k % 2;
            CHECK(y.value().at({b, i * (gw / 2) + j, k * C + c}) == x.value().at({b, src, c}));
          }
  backward(sum(mul(y, Var(w))));  // d/dx of sum(w ∘ y) is w sent back through the grouping
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < gh * gw; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t r = t / gw, q = t % gw, k = (r % 2) * 2 + q % 2;
        CHECK(x.grad().at({b, t, c}) == w.at({b, (r / 2) * (gw / 2) + q / 2, k * C + c}));
      }
  CHECK_THROWS_WITH(models::group_2x2(Var(random_tensor({1, 9, 2}, 1)), 3, 3), Catch::Contains("even sides"));
}

TEST_CASE("patch attention: merge_after builds a hierarchy of grids and widths that trains") {
  const auto& t = model_type("patch_attention");
  // 16×16 image, patch 2: blocks 1 on the 8×8 grid at width 8, merge, blocks 2-3 on 4×4 at width 16
  auto params = [&](const char* pos, const char* policy) {
    return with(t.schema, {{"position", std::string(pos)}, {"policy.kind", std::string(policy)},
                           {"pooling", std::string("mean")}, {"patch_size", int64_t{2}}, {"dim", int64_t{8}},
                           {"depth", int64_t{3}}, {"heads", int64_t{2}}, {"merge_after", std::vector<int64_t>{1}}});
  };
  const ImageShape shape{1, 16, 16, 3};
  {
    // by hand: embed 1·2·2·8 + 8 = 40; a block of width d (mlp 2d) 8d² + 11d: 600 at 8, 2224 at 16; the merge
    // LayerNorm(32) 64 + Linear 32 -> 16 without bias 512; final norm 32; head 16·3 + 3 = 51
    auto m = t.make_image(params("none", "full"), shape, 1);
    CHECK(m->num_parameters() == 40 + 600 + 64 + 512 + 2 * 2224 + 32 + 51);
    const auto layouts = models::patch_block_layouts(*m);
    REQUIRE(layouts.size() == 3);
    CHECK((layouts[0].grid_h == 8 && layouts[0].grid_w == 8 && layouts[0].patch == 2));
    CHECK((layouts[1].grid_h == 4 && layouts[1].grid_w == 4 && layouts[1].patch == 4));
    CHECK(layouts[2].grid_h == 4);
  }
  for (const char* pos : {"none", "relative", "locality", "gated_locality"})
    for (const char* policy : {"full", "window2d"}) {
      INFO(pos << " " << policy);
      auto m = t.make_image(params(pos, policy), shape, 3);
      Var y = m->forward(Var(random_tensor({2, 1, 16, 16}, 7)));
      CHECK(y.shape() == Shape{2, 3});
      check_gradients_flow(*m, cross_entropy(y, {2, 0}));
    }
  auto m = t.make_image(params("locality", "full"), shape, 4);
  const Tensor x = random_tensor({2, 1, 16, 16}, 8);
  // queries name first-grid patches; after the merge each stands for the 2×2 group that holds it
  const std::vector<int64_t> queries{0, 1, 8, 9, 2};
  const auto w = models::patch_attention_weights(*m, x, queries);
  REQUIRE(w.size() == 3);
  CHECK(w[0].shape() == Shape{2, 2, 5, 64});
  CHECK(w[1].shape() == Shape{2, 2, 5, 16});
  auto row = [](const Tensor& p, int64_t b, int64_t h, int64_t q) {
    const int64_t n = p.dim(3);
    return std::vector<float>(p.data() + ((b * p.dim(1) + h) * p.dim(2) + q) * n,
                              p.data() + ((b * p.dim(1) + h) * p.dim(2) + q + 1) * n);
  };
  for (int64_t q = 1; q < 4; ++q) CHECK(row(w[1], 1, 1, q) == row(w[1], 1, 1, 0));  // same merged token
  CHECK(row(w[1], 1, 1, 4) != row(w[1], 1, 1, 0));                                   // the next group
  CHECK(row(w[0], 1, 1, 1) != row(w[0], 1, 1, 0));                                   // before the merge: own rows
  const models::ReceptiveField rf = m->receptive_field(x);
  REQUIRE(rf.mean_distance.size() == 3);
  REQUIRE(rf.width.size() == 3);
  for (size_t l = 0; l < 3; ++l) {
    REQUIRE(rf.mean_distance[l].size() == 2);
    const double widest = l == 0 ? std::hypot(7.0, 7.0) : std::hypot(3.0, 3.0);  // in cells of the layer's grid
    for (double d : rf.mean_distance[l]) CHECK((d > 0.0 && d < widest));
  }
}

TEST_CASE("patch attention: merge_after rejects what cannot be merged, with the values") {
  const auto& t = model_type("patch_attention");
  const ImageShape fashion{1, 28, 28, 10};
  auto p = [&](std::initializer_list<std::pair<const char*, ParamValue>> kv) {
    Params q = with(t.schema, {{"pooling", std::string("mean")}, {"depth", int64_t{4}}});
    for (const auto& [k, v] : kv) q.set(k, v);
    return q;
  };
  CHECK_THAT(t.check_image(p({{"merge_after", std::vector<int64_t>{2}}}), fashion),
             Catch::Contains("7×7 grid") && Catch::Contains("even"));  // patch 4: 7×7 cannot halve
  CHECK_THAT(t.check_image(p({{"merge_after", std::vector<int64_t>{1}}, {"pooling", std::string("cls")}}), fashion),
             Catch::Contains("pooling: mean"));
  CHECK_THAT(t.check_image(p({{"patch_size", int64_t{2}}, {"merge_after", std::vector<int64_t>{4}}}), fashion),
             Catch::Contains("between 1 and depth - 1 = 3"));
  CHECK_THAT(t.check_image(p({{"patch_size", int64_t{2}}, {"merge_after", std::vector<int64_t>{2, 2}}}), fashion),
             Catch::Contains("increase strictly"));
  CHECK_THAT(t.check_image(p({{"patch_size", int64_t{2}}, {"merge_after", std::vector<int64_t>{1, 2}}}), fashion),
             Catch::Contains("merge 2") && Catch::Contains("7×7"));
  CHECK_THAT(t.check_image(p({{"patch_size", int64_t{2}}, {"merge_after", std::vector<int64_t>{1}},
                              {"policy.kind", std::string("window2d")}, {"policy.kernel", int64_t{9}}}),
                           fashion),
             Catch::Contains("after merge 1 (a 7×7 grid)") && Catch::Contains("kernel 9"));
  CHECK(t.check_image(p({{"patch_size", int64_t{2}}, {"merge_after", std::vector<int64_t>{2}}}), fashion).empty());
  CHECK_THROWS_WITH(t.make_image(p({{"merge_after", std::vector<int64_t>{2}}}), fashion, 0),
                    Catch::Contains("merge_after [2]"));
}
