// Sequence models (rnn, conv1d, sequence_transformer): shapes over several sequence shapes and options, whole-model
// finite-difference gradients, what each one's pooling means (an RNN's last state is nn::GRU's h_n by hand; a
// causal Transformer's tokens do not see later steps; a causal conv1d sees exactly its receptive field), thread
// invariance, parameter counts, and clear errors for impossible options.
#include <cmath>

#include "framework/nn/layers.hpp"
#include "framework/nn/recurrent.hpp"
#include "framework/ops/loss.hpp"
#include "framework/ops/shape.hpp"
#include "models/registry.hpp"
#include "models/sequence_cnn.hpp"
#include "models/sequence_transformer.hpp"
#include "support/gradcheck.hpp"
#include "support/thread_invariance.hpp"

using namespace rc;
using namespace rc::models;
using namespace rc::test;

namespace {

using KV = std::vector<std::pair<std::string, ParamValue>>;

Params with(const std::string& type, const KV& kv) {
  Params p = model_type(type).schema.defaults();
  for (const auto& [k, v] : kv) p.set(k, v);
  return p;
}

std::shared_ptr<SequenceModel> make(const std::string& type, const KV& kv, const SequenceShape& shape,
                                    uint64_t seed = 3) {
  register_builtin_models();
  const ModelType& t = model_type(type);
  REQUIRE(t.domain == Domain::Sequence);
  return t.make_sequence(with(type, kv), shape, seed);
}

std::string check(const std::string& type, const KV& kv, const SequenceShape& shape) {
  register_builtin_models();
  return model_type(type).check_sequence(with(type, kv), shape);
}

std::string describe(const std::string& type, const KV& kv) {
  std::string s = type;
  for (const auto& [k, v] : kv) s += " " + k + "=" + param_value_str(v);
  return s;
}

// every parameter receives a finite, non-zero gradient
void check_gradients_flow(nn::Module& m, const Var& loss) {
  m.zero_grad();
  backward(loss);
  for (const auto& p : m.named_parameters()) {
    INFO(p.name);
    REQUIRE(p.var.grad().defined());
    bool nonzero = false;
    for (float x : p.var.grad().to_vector()) {
      REQUIRE(std::isfinite(x));
      nonzero = nonzero || x != 0.0f;
    }
    CHECK(nonzero);
  }
}

// loss = sum(logits · W) in double, forward only
double loss_of(SequenceModel& m, const Tensor& x, const Tensor& w) {
  NoGradGuard no_grad;
  const Tensor y = m.forward(Var(x)).value();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += double(y.data()[i]) * w.data()[i];
  return s;
}

// Whole-model finite differences: for the input and every parameter tensor, the central difference of the loss
// along a random direction must match <gradient, direction> from backward(). Returns how many of them had a
// derivative clearly above the noise (the caller requires most to).
int check_model_fd(SequenceModel& m, const Tensor& x, double step, double rel, double abs) {
  const Tensor w = random_tensor(m.forward(Var(x)).shape(), 91);
  m.zero_grad();
  Var xin(x.clone(), true);
  backward(m.forward(xin), w);
  std::vector<std::pair<std::string, Var>> targets{{"input", xin}};
  for (const auto& p : m.named_parameters()) targets.push_back({p.name, p.var});
  std::vector<Tensor> grads;
  for (auto& [name, v] : targets) grads.push_back(v.grad().clone());
  int clear = 0;
  for (size_t a = 0; a < targets.size(); ++a) {
    const std::string& name = targets[a].first;
    Tensor value = a == 0 ? x : targets[a].second.value();
    const Tensor dir = random_tensor(value.shape(), 300 + a);
    const Tensor saved = value.clone();
    double directional = 0;
    auto shifted = [&](double sign) {
      for (int64_t i = 0; i < value.numel(); ++i)
        value.data()[i] = static_cast<float>(saved.data()[i] + sign * step * dir.data()[i]);
    };
    shifted(+1);
    std::vector<float> plus = value.to_vector();
    const double lp = loss_of(m, x, w);
    shifted(-1);
    const double lm = loss_of(m, x, w);
    for (int64_t i = 0; i < value.numel(); ++i)
      directional += double(grads[a].data()[i]) * (double(plus[size_t(i)]) - value.data()[i]);
    directional /= 2 * step;
    std::copy_n(saved.data(), saved.numel(), value.data());
    const double numeric = (lp - lm) / (2 * step);
    INFO(name << ": numeric " << numeric << ", analytic " << directional);
    CHECK(std::fabs(numeric - directional) <= rel * (std::fabs(numeric) + std::fabs(directional)) + abs);
    clear += std::fabs(numeric) > 20 * abs;
  }
  return clear;
}

int64_t count(SequenceModel& m) { return m.num_parameters(); }

}  // namespace

TEST_CASE("sequence models: every type builds for several shapes and options, logits are (B, C), gradients flow") {
  const std::vector<std::pair<std::string, std::vector<KV>>> configs = {
      {"rnn",
       {{{"cell", std::string("gru")}, {"hidden", int64_t{8}}},
        {{"cell", std::string("lstm")}, {"hidden", int64_t{6}}, {"pooling", std::string("mean")}},
        {{"cell", std::string("gru")}, {"hidden", int64_t{5}}, {"layers", int64_t{2}}, {"bidirectional", true},
         {"dropout", 0.3}},
        {{"cell", std::string("lstm")}, {"hidden", int64_t{4}}, {"layers", int64_t{3}}, {"bidirectional", true},
         {"pooling", std::string("mean")}}}},
      {"conv1d",
       {{{"channels", int64_t{8}}, {"layers", int64_t{2}}},
        {{"channels", int64_t{6}}, {"layers", int64_t{3}}, {"dilation", std::string("exponential")},
         {"residual", true}},
        {{"channels", int64_t{5}}, {"layers", int64_t{3}}, {"kernel", int64_t{4}}, {"causal", true},
         {"dilation", std::string("3")}, {"pooling", std::string("last")}, {"dropout", 0.2}},
        {{"channels", int64_t{7}}, {"layers", int64_t{1}}, {"kernel", int64_t{5}}}}},
      {"sequence_transformer",
       {{{"dim", int64_t{8}}, {"depth", int64_t{1}}, {"heads", int64_t{2}}},
        {{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}, {"policy.kind", std::string("causal")},
         {"pooling", std::string("last")}, {"position", std::string("sinusoidal")}},
        {{"dim", int64_t{12}}, {"depth", int64_t{2}}, {"heads", int64_t{3}},
         {"policy.kind", std::string("window1d")}, {"policy.radius", int64_t{2}}, {"policy.dilation", int64_t{2}},
         {"pooling", std::string("cls")}, {"position", std::string("relative")}},
        {{"dim", int64_t{8}}, {"depth", int64_t{1}}, {"heads", int64_t{4}},
         {"policy.kind", std::string("window1d & causal")}, {"policy.radius", int64_t{3}},
         {"position", std::string("relative")}, {"pooling", std::string("last")}},
        {{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{1}},
         {"policy.kind", std::string("window1d | global")}, {"policy.radius", int64_t{1}},
         {"position", std::string("none")}, {"dropout", 0.1}, {"attention_dropout", 0.1}},
        {{"dim", int64_t{8}}, {"depth", int64_t{1}}, {"heads", int64_t{2}}, {"policy.kind", std::string("full")},
         {"pooling", std::string("cls")}, {"position", std::string("relative")}}}},
  };
  const SequenceShape shapes[] = {{7, 3, 4}, {13, 1, 2}, {5, 6, 10}};
  uint64_t seed = 1;
  for (const auto& [type, kvs] : configs)
    for (const KV& kv : kvs)
      for (const SequenceShape& s : shapes) {
        INFO(describe(type, kv) << " on L=" << s.length << " F=" << s.features << " C=" << s.num_classes);
        REQUIRE(check(type, kv, s).empty());
        auto m = make(type, kv, s, seed);
        const int64_t B = 3;
        Var y = m->forward(Var(random_tensor({B, s.length, s.features}, seed++)));
        CHECK(y.shape() == Shape{B, s.num_classes});
        check_gradients_flow(*m, cross_entropy(y, {0, 1 % s.num_classes, (s.num_classes - 1)}));
      }
}

TEST_CASE("sequence models: whole-model gradients match finite differences on tiny instances") {
  struct Case {
    std::string type;
    KV kv;
    double step, rel, abs;
  };
  const std::vector<Case> cases = {
      {"rnn", {{"cell", std::string("gru")}, {"hidden", int64_t{4}}}, 1e-2, 1e-2, 2e-5},
      {"rnn",
       {{"cell", std::string("lstm")}, {"hidden", int64_t{3}}, {"layers", int64_t{2}}, {"bidirectional", true}},
       1e-2, 1e-2, 2e-5},
      {"rnn", {{"cell", std::string("gru")}, {"hidden", int64_t{3}}, {"bidirectional", true},
               {"pooling", std::string("mean")}}, 1e-2, 1e-2, 2e-5},
      // ReLU kinks: a smaller step, so that no pre-activation changes side
      {"conv1d", {{"channels", int64_t{4}}, {"layers", int64_t{2}}, {"dilation", std::string("2")}}, 1e-3, 2e-2, 5e-5},
      {"conv1d",
       {{"channels", int64_t{3}}, {"layers", int64_t{3}}, {"kernel", int64_t{2}}, {"causal", true},
        {"residual", true}, {"pooling", std::string("last")}},
       1e-3, 2e-2, 5e-5},
      {"sequence_transformer",
       {{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}, {"policy.kind", std::string("causal")},
        {"pooling", std::string("last")}, {"position", std::string("relative")}},
       1e-3, 1e-2, 2e-5},
      {"sequence_transformer",
       {{"dim", int64_t{8}}, {"depth", int64_t{1}}, {"heads", int64_t{2}}, {"policy.kind", std::string("window1d")},
        {"policy.radius", int64_t{1}}, {"policy.dilation", int64_t{2}}, {"position", std::string("relative")},
        {"pooling", std::string("cls")}},
       1e-3, 1e-2, 2e-5},
  };
  const SequenceShape shape{6, 3, 4};
  for (const Case& c : cases) {
    INFO(describe(c.type, c.kv));
    auto m = make(c.type, c.kv, shape, 11);
    // learned tables start at ~0.02 and the relative bias at 0: move them off their initial values so that every
    // parameter's derivative is well above the noise
    for (const auto& p : m->named_parameters())
      if (p.name.find("rel_bias") != std::string::npos || p.name == "pos_embed" || p.name == "cls_token")
      {
        const Tensor r = random_tensor(p.var.shape(), 5, -0.5f, 0.5f);
        Var v = p.var;
        std::copy_n(r.data(), r.numel(), v.value().data());
      }
    const int clear = check_model_fd(*m, random_tensor({2, shape.length, shape.features}, 17), c.step, c.rel, c.abs);
    CHECK(clear >= static_cast<int>(m->named_parameters().size() * 3 / 4));
  }
}

TEST_CASE("rnn: pooling last is nn::GRU's final state and a linear head, as by hand, and bidirectional is h_n") {
  const SequenceShape shape{9, 5, 3};
  const Tensor x = random_tensor({4, shape.length, shape.features}, 8);
  auto m = make("rnn", {{"cell", std::string("gru")}, {"hidden", int64_t{6}}, {"layers", int64_t{2}}}, shape, 21);
  Generator gen(21);  // the model draws its GRU, then its head, from a generator seeded with its seed
  nn::RecurrentOptions o;
  o.layers = 2;
  nn::GRU gru(shape.features, 6, gen, o);
  nn::Linear head(6, shape.num_classes, gen);
  std::vector<std::string> names;
  for (const auto& p : m->named_parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                                          "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                                          "head.weight", "head.bias"});
  CHECK(m->named_parameters()[4].var.value().to_vector() == gru.named_parameters()[4].var.value().to_vector());
  const nn::RecurrentOutput r = gru.forward(Var(x));
  // the last layer's state after the last step is its output there
  const Var last = reshape(slice(r.output, 1, shape.length - 1, shape.length), {4, 6});
  const Tensor want = head.forward(last).value(), got = m->forward(Var(x)).value();
  CHECK(got.to_vector() == want.to_vector());

  // bidirectional LSTM: [forward after step L-1 | backward after step 0]
  auto bi = make("rnn", {{"cell", std::string("lstm")}, {"hidden", int64_t{4}}, {"bidirectional", true}}, shape, 22);
  Generator gen2(22);
  nn::RecurrentOptions ob;
  ob.bidirectional = true;
  nn::LSTM lstm(shape.features, 4, gen2, ob);
  nn::Linear head2(8, shape.num_classes, gen2);
  const Var out = lstm.forward(Var(x)).output;  // (B, L, 2H)
  const Var fwd = reshape(slice(slice(out, 1, shape.length - 1, shape.length), 2, 0, 4), {4, 4});
  const Var bwd = reshape(slice(slice(out, 1, 0, 1), 2, 4, 8), {4, 4});
  CHECK(rel_error(bi->forward(Var(x)).value().to_vector(), head2.forward(concat({fwd, bwd}, 1)).value().to_vector()) <
        1e-7);
  // mean pooling is different from last
  auto mean = make("rnn", {{"cell", std::string("lstm")}, {"hidden", int64_t{4}}, {"bidirectional", true},
                           {"pooling", std::string("mean")}}, shape, 22);
  CHECK(rel_error(mean->forward(Var(x)).value().to_vector(), bi->forward(Var(x)).value().to_vector()) > 1e-3);
}

TEST_CASE("sequence_transformer: under a causal policy a token does not see later steps") {
  const SequenceShape shape{12, 4, 3};
  const std::vector<KV> causal = {
      {{"policy.kind", std::string("causal")}, {"position", std::string("learned")}},
      {{"policy.kind", std::string("window1d & causal")}, {"policy.radius", int64_t{3}},
       {"position", std::string("relative")}},
      {{"policy.kind", std::string("window1d")}, {"policy.causal", true}, {"policy.radius", int64_t{2}},
       {"policy.dilation", int64_t{3}}, {"position", std::string("relative")}},
      {{"policy.kind", std::string("causal")}, {"position", std::string("sinusoidal")}}};
  const Tensor x = random_tensor({2, shape.length, shape.features}, 4);
  for (KV kv : causal) {
    kv.insert(kv.end(), {{"dim", int64_t{8}}, {"depth", int64_t{3}}, {"heads", int64_t{2}},
                         {"pooling", std::string("last")}});
    INFO(describe("sequence_transformer", kv));
    auto m = make("sequence_transformer", kv, shape, 5);
    const Tensor base = sequence_transformer_tokens(*m, x);
    const int64_t t = 6;
    Tensor changed = x.clone();
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t s = t + 1; s < shape.length; ++s)
        for (int64_t f = 0; f < shape.features; ++f) changed.data()[(b * shape.length + s) * shape.features + f] += 0.7f;
    const Tensor after = sequence_transformer_tokens(*m, changed);
    // tokens 0..t: unchanged; the rest: changed
    CHECK(base.slice(1, 0, t + 1).clone().to_vector() == after.slice(1, 0, t + 1).clone().to_vector());
    CHECK(rel_error(base.slice(1, t + 1, shape.length).clone().to_vector(),
                    after.slice(1, t + 1, shape.length).clone().to_vector()) > 1e-3);
    // a shorter sequence gives the same first tokens: pooling last on x[:, :t+1] reads token t
    const Tensor prefix = sequence_transformer_tokens(*m, x.slice(1, 0, t + 1).clone());
    CHECK(rel_error(prefix.to_vector(), base.slice(1, 0, t + 1).clone().to_vector()) < 1e-6);
  }
  // the same model under full attention: the first tokens do see the later steps
  auto full = make("sequence_transformer", {{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}},
                   shape, 5);
  Tensor changed = x.clone();
  changed.data()[changed.numel() - 1] += 0.7f;
  CHECK(rel_error(sequence_transformer_tokens(*full, x).slice(1, 0, 1).clone().to_vector(),
                  sequence_transformer_tokens(*full, changed).slice(1, 0, 1).clone().to_vector()) > 1e-6);
}

TEST_CASE("sequence_transformer: attention weights per block follow the policy (causal, dilated window)") {
  const SequenceShape shape{11, 3, 2};
  const Tensor x = random_tensor({2, shape.length, shape.features}, 3);
  auto m = make("sequence_transformer",
                {{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}, {"pooling", std::string("last")},
                 {"policy.kind", std::string("window1d & causal")}, {"policy.radius", int64_t{2}},
                 {"policy.dilation", int64_t{3}}},
                shape, 2);
  const std::vector<int64_t> queries{0, 5, 10};
  const std::vector<Tensor> w = sequence_transformer_weights(*m, x, queries);
  REQUIRE(w.size() == 2);
  for (const Tensor& layer : w) {
    REQUIRE(layer.shape() == Shape{2, 2, 3, shape.length});
    for (int64_t bh = 0; bh < 4; ++bh)
      for (int64_t q = 0; q < 3; ++q) {
        double total = 0;
        for (int64_t j = 0; j < shape.length; ++j) {
          const float p = layer.data()[(bh * 3 + q) * shape.length + j];
          const int64_t off = queries[size_t(q)] - j;
          const bool allowed = off >= 0 && off <= 6 && off % 3 == 0;
          INFO("query " << queries[size_t(q)] << " key " << j);
          CHECK((p > 0.0f) == allowed);
          total += p;
        }
        CHECK(total == Approx(1.0).epsilon(1e-5));
      }
  }
  auto rnn = make("rnn", {{"hidden", int64_t{4}}}, shape);
  CHECK_THROWS_WITH(sequence_transformer_weights(*rnn, x, queries), Catch::Contains("not a sequence_transformer"));
}

TEST_CASE("sequence_transformer: a window1d that covers the sequence is full attention, policies by name") {
  const SequenceShape shape{10, 3, 4};
  const KV base{{"dim", int64_t{8}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}};
  KV window = base;
  window.push_back({"policy.kind", std::string("window1d")});
  window.push_back({"policy.radius", int64_t{9}});
  auto a = make("sequence_transformer", base, shape, 9), b = make("sequence_transformer", window, shape, 9);
  a->eval(), b->eval();
  const Var x(random_tensor({3, shape.length, shape.features}, 2));
  CHECK(rel_error(a->forward(x).value().to_vector(), b->forward(x).value().to_vector()) < 1e-6);
  // the class token is a global token of local kinds
  CHECK(sequence_transformer_policy(with("sequence_transformer", {{"pooling", std::string("cls")},
                                                                  {"policy.kind", std::string("window1d")},
                                                                  {"policy.radius", int64_t{2}},
                                                                  {"policy.dilation", int64_t{2}}}),
                                    shape)
            .describe() == "(window1d(left=2, right=2, causal=false, dilation=2) | global(first=0, count=1))");
  // relative positions: a bias table of 2R+1 per head, R = max(left, right) under window1d, else tokens - 1
  auto rel = [&](const KV& kv) {
    auto m = make("sequence_transformer", kv, shape, 1);
    for (const auto& p : m->named_parameters())
      if (p.name == "blocks.0.attn.rel_bias") return p.var.dim(1);
    return int64_t{0};
  };
  CHECK(rel({{"position", std::string("relative")}}) == 2 * 9 + 1);
  CHECK(rel({{"position", std::string("relative")}, {"pooling", std::string("cls")}}) == 2 * 10 + 1);
  CHECK(rel({{"position", std::string("relative")}, {"policy.kind", std::string("window1d")},
             {"policy.left", int64_t{3}}, {"policy.right", int64_t{1}}, {"policy.dilation", int64_t{2}}}) == 7);
  CHECK(rel({{"position", std::string("learned")}}) == 0);
}

TEST_CASE("conv1d: a causal stack sees exactly its receptive field 1 + (k - 1) * sum of dilations") {
  const SequenceShape shape{40, 2, 3};
  const KV kv{{"channels", int64_t{6}}, {"layers", int64_t{3}}, {"kernel", int64_t{3}}, {"causal", true},
              {"dilation", std::string("exponential")}, {"pooling", std::string("last")}};
  CHECK(conv1d_dilations(with("conv1d", kv)) == std::vector<int64_t>{1, 2, 4});
  const int64_t rf = conv1d_receptive_field(with("conv1d", kv));
  CHECK(rf == 1 + 2 * (1 + 2 + 4));
  auto m = make("conv1d", kv, shape, 4);
  m->eval();  // batch norm with its running statistics: each sequence on its own
  const Tensor x = random_tensor({1, shape.length, shape.features}, 6);
  auto logits_with_step_changed = [&](int64_t step) {
    NoGradGuard no_grad;
    Tensor y = x.clone();
    y.data()[step * shape.features] += 1.0f;
    return m->forward(Var(y)).value().to_vector();
  };
  const std::vector<float> base = [&] {
    NoGradGuard no_grad;
    return m->forward(Var(x)).value().to_vector();
  }();
  CHECK(logits_with_step_changed(shape.length - rf) != base);      // the oldest step it sees
  CHECK(logits_with_step_changed(shape.length - rf - 1) == base);  // one step further back
  CHECK(logits_with_step_changed(0) == base);
  CHECK(conv1d_receptive_field(with("conv1d", {{"layers", int64_t{4}}, {"kernel", int64_t{5}}})) == 17);
  CHECK(conv1d_receptive_field(with("conv1d", {{"layers", int64_t{3}}, {"dilation", std::string("3")}})) == 27);
}

TEST_CASE("sequence models: forward and backward are bit-identical with 1 and 2 threads") {
  const SequenceShape shape{24, 5, 4};
  const std::vector<std::pair<std::string, KV>> configs = {
      {"rnn", {{"cell", std::string("lstm")}, {"hidden", int64_t{16}}, {"layers", int64_t{2}}, {"bidirectional", true}}},
      {"rnn", {{"cell", std::string("gru")}, {"hidden", int64_t{16}}, {"pooling", std::string("mean")}}},
      {"conv1d", {{"channels", int64_t{16}}, {"layers", int64_t{3}}, {"dilation", std::string("2")}, {"residual", true}}},
      {"sequence_transformer",
       {{"dim", int64_t{16}}, {"depth", int64_t{2}}, {"heads", int64_t{2}}, {"policy.kind", std::string("window1d")},
        {"policy.radius", int64_t{3}}, {"policy.dilation", int64_t{2}}, {"position", std::string("relative")},
        {"pooling", std::string("cls")}}},
      {"sequence_transformer",
       {{"dim", int64_t{16}}, {"depth", int64_t{2}}, {"heads", int64_t{4}}, {"policy.kind", std::string("causal")},
        {"pooling", std::string("last")}, {"dropout", 0.1}}},
  };
  const Tensor x = random_tensor({6, shape.length, shape.features}, 12);
  for (const auto& [type, kv] : configs) {
    INFO(describe(type, kv));
    check_same_with_1_and_2_threads([&, type = type, kv = kv] {
      auto m = make(type, kv, shape, 7);
      Var xin(x.clone(), true);
      Var y = m->forward(xin);
      backward(cross_entropy(y, {0, 1, 2, 3, 0, 1}));
      std::vector<std::vector<float>> all{y.value().to_vector(), xin.grad().to_vector()};
      for (const auto& p : m->named_parameters()) all.push_back(p.var.grad().to_vector());
      return all;
    });
  }
}

TEST_CASE("sequence models: parameter counts (the sizes of the sequence_fashion experiment)") {
  const SequenceShape rows{28, 28, 10};
  // GRU: 3 gates × (H·F + H·H + 2H) + head H·C + C
  CHECK(count(*make("rnn", {{"cell", std::string("gru")}}, rows)) == 3 * (128 * 28 + 128 * 128 + 2 * 128) + 1290);
  CHECK(count(*make("rnn", {{"cell", std::string("lstm")}}, rows)) == 4 * (128 * 28 + 128 * 128 + 2 * 128) + 1290);
  CHECK(count(*make("rnn", {{"cell", std::string("gru")}, {"hidden", int64_t{96}}, {"bidirectional", true}}, rows)) ==
        2 * 3 * (96 * 28 + 96 * 96 + 2 * 96) + 192 * 10 + 10);
  // conv1d: F·C·k, then (layers - 1) × C·C·k, 2C per batch norm, head C·10 + 10
  CHECK(count(*make("conv1d", {{"channels", int64_t{64}}, {"layers", int64_t{4}}}, rows)) ==
        28 * 64 * 3 + 3 * 64 * 64 * 3 + 4 * 2 * 64 + 64 * 10 + 10);
  // sized for a ~100-150 K budget: conv1d 112 wide, 4 layers, dilations 1, 2, 4, 8 (receptive field 31 >= 28)
  CHECK(count(*make("conv1d", {{"channels", int64_t{112}}, {"layers", int64_t{4}},
                               {"dilation", std::string("exponential")}}, rows)) == 124330);
  // Transformer dim 64, depth 4, heads 4, MLP 128: per block 4E² + 2E·M + 9E + M = 33472; embedding 28E + E,
  // learned positions 28E, final norm 2E, head 10E + 10
  const int64_t E = 64, M = 128, block = 4 * E * E + 2 * E * M + 9 * E + M;
  CHECK(block == 33472);
  CHECK(count(*make("sequence_transformer", {}, rows)) == 4 * block + 29 * E + 28 * E + 2 * E + 10 * E + 10);
  CHECK(count(*make("sequence_transformer", {}, rows)) == 138314);
  // relative positions instead: no table of positions, a (heads, 2·27 + 1) bias per block
  CHECK(count(*make("sequence_transformer", {{"position", std::string("relative")}}, rows)) ==
        138314 - 28 * E + 4 * 4 * 55);
}

TEST_CASE("sequence models: impossible options are rejected with the values") {
  const SequenceShape s{20, 4, 3};
  CHECK_THAT(check("rnn", {{"dropout", 0.2}}, s), Catch::Contains("dropout 0.2") && Catch::Contains("layers = 1"));
  CHECK_THAT(check("conv1d", {{"kernel", int64_t{4}}}, s), Catch::Contains("kernel 4 is even"));
  CHECK(check("conv1d", {{"kernel", int64_t{4}}, {"causal", true}}, s).empty());
  CHECK_THAT(check("conv1d", {{"dilation", std::string("fast")}}, s),
             Catch::Contains("dilation = 'fast'") && Catch::Contains("exponential"));
  CHECK_THAT(check("conv1d", {{"dilation", std::string("0")}}, s), Catch::Contains("dilation = '0'"));
  CHECK_THAT(check("conv1d", {{"dilation", std::string("10")}, {"layers", int64_t{9}}}, s),
             Catch::Contains("layer 8 would dilate by 10^8"));
  CHECK_THAT(check("sequence_transformer", {{"heads", int64_t{3}}}, s), Catch::Contains("heads 3 does not divide dim 64"));
  CHECK_THAT(check("sequence_transformer", {{"dim", int64_t{7}}, {"heads", int64_t{1}},
                                            {"position", std::string("sinusoidal")}}, s),
             Catch::Contains("even dim"));
  CHECK_THAT(check("sequence_transformer", {{"pooling", std::string("cls")}, {"policy.kind", std::string("causal")}}, s),
             Catch::Contains("pooling cls") && Catch::Contains("does not see step 0") &&
                 Catch::Contains("pooling last"));
  CHECK(check("sequence_transformer", {{"pooling", std::string("cls")}, {"policy.kind", std::string("causal | global")}},
              s).empty());
  CHECK(check("sequence_transformer", {{"pooling", std::string("cls")}, {"policy.kind", std::string("window1d & causal")}},
              s).empty());  // the class token joins local kinds as a global token
  CHECK_THAT(check("sequence_transformer", {{"policy.kind", std::string("window2d")}}, s),
             Catch::Contains("window2d needs a token grid, and sequence_transformer has none"));
  CHECK_THAT(check("sequence_transformer", {{"policy.kind", std::string("graph")}}, s),
             Catch::Contains("needs an adjacency"));
  CHECK_THAT(check("sequence_transformer", {{"policy.kind", std::string("window1d")}, {"policy.kernel", int64_t{5}}}, s),
             Catch::Contains("policy.kernel = 5 does not apply"));
  CHECK_THROWS_WITH(make("sequence_transformer", {{"heads", int64_t{3}}}, s),
                    Catch::Contains("sequence_transformer: heads 3"));
  CHECK_THROWS_WITH(make("conv1d", {{"kernel", int64_t{2}}}, s), Catch::Contains("conv1d: kernel 2 is even"));
  // input shapes
  auto t = make("sequence_transformer", {{"dim", int64_t{8}}, {"heads", int64_t{2}}, {"depth", int64_t{1}}}, s);
  CHECK_THROWS_WITH(t->forward(Var(random_tensor({1, 21, 4}, 1))), Catch::Contains("(B, L <= 20, F = 4)"));
  CHECK_THROWS_WITH(t->forward(Var(random_tensor({1, 20, 5}, 1))), Catch::Contains("got shape (1, 20, 5)"));
  auto r = make("rnn", {{"hidden", int64_t{4}}}, s);
  CHECK_THROWS_WITH(r->forward(Var(random_tensor({2, 20, 3}, 1))), Catch::Contains("rnn: sequences must be"));
  auto c = make("conv1d", {{"channels", int64_t{4}}}, s);
  CHECK_THROWS_WITH(c->forward(Var(random_tensor({2, 20}, 1))), Catch::Contains("conv1d: sequences must be"));
  CHECK_THROWS_WITH(sequence_transformer_tokens(*r, random_tensor({1, 20, 4}, 1)),
                    Catch::Contains("not a sequence_transformer"));
}
