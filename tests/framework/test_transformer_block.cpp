// nn::TransformerBlock: parameter names and initialisation order (checkpoints of patch attention and the graph
// Transformer depend on both), forward against the float64 reference (transformer_block_ref.hpp), gradients of
// the input and of every parameter against finite differences of the reference, residual dropout from the
// block's counter or from caller-given seeds, and bit-identical results at 1 and 2 threads.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "framework/nn/transformer_block.hpp"
#include "framework/nn/transformer_block_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::test;

namespace {

constexpr int64_t kB = 2, kGrid = 3, kN = kGrid * kGrid, kE = 8, kHeads = 2, kHidden = 12;

nn::TransformerBlockOptions small_options(bool bias) {
  nn::TransformerBlockOptions o;
  o.attention.dim = kE;
  o.attention.heads = kHeads;
  if (bias) {  // 2-D relative bias over the 3×3 token grid
    o.attention.bias_grid = BiasGrid{kGrid, kGrid, 0};
    o.attention.bias_table = (2 * kGrid - 1) * (2 * kGrid - 1);
  }
  o.mlp_hidden = kHidden;
  return o;
}

// Every parameter (LayerNorm scales and biases, the bias table included) set to random values, so that no term
// of the formula vanishes.
void randomize(nn::Module& m, uint64_t seed) {
  for (auto& [name, t] : m.state_dict()) Tensor(t).copy_(random_tensor(t.shape(), seed++, -0.5f, 0.5f));
}

ref::RefTensor<double> value_of(const NamedTensors& state, const std::string& name) {
  for (const auto& [n, t] : state)
    if (n == name) return ref::to_ref<double>(t);
  return {};  // absent (rel_bias of a block without a bias table)
}

ref::TransformerBlockParams<double> params_of(const NamedTensors& s) {
  return {value_of(s, "ln1.weight"),      value_of(s, "ln1.bias"),       value_of(s, "attn.qkv.weight"),
          value_of(s, "attn.qkv.bias"),   value_of(s, "attn.out.weight"), value_of(s, "attn.out.bias"),
          value_of(s, "attn.rel_bias"),   value_of(s, "ln2.weight"),     value_of(s, "ln2.bias"),
          value_of(s, "fc1.weight"),      value_of(s, "fc1.bias"),       value_of(s, "fc2.weight"),
          value_of(s, "fc2.bias")};
}

AttentionOptions attention_options(const nn::TransformerBlockOptions& o) {
  AttentionOptions ao;
  ao.bias_grid = o.attention.bias_grid;
  return ao;
}

struct Case {
  const char* name;
  Policy policy;
  bool bias;
};

std::vector<Case> cases() {
  return {{"full attention, 2-D relative bias", Policy::full(), true},
          {"causal attention, no bias", Policy::causal(), false}};
}

}  // namespace

TEST_CASE("transformer block: parameter names and initialisation draws are those of the models' former blocks") {
  Generator gen(5);
  nn::TransformerBlock b(small_options(true), gen, 11);
  std::vector<std::string> names;
  for (const auto& p : b.named_parameters()) names.push_back(p.name);
  // a module's own parameters before its children's (attn.rel_bias before attn.qkv)
  CHECK(names == std::vector<std::string>{"ln1.weight", "ln1.bias", "attn.rel_bias", "attn.qkv.weight",
                                          "attn.qkv.bias", "attn.out.weight", "attn.out.bias", "ln2.weight",
                                          "ln2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(b.named_buffers().empty());
  // the draws, in order: W_qkv, W_o, W₁, W₂ (transformer init: no bias draws)
  Generator g2(5);
  nn::Linear qkv(kE, 3 * kE, g2, true, true), out(kE, kE, g2, true, true), fc1(kE, kHidden, g2, true, true),
      fc2(kHidden, kE, g2, true, true);
  const NamedTensors s = b.state_dict();
  CHECK(value_of(s, "attn.qkv.weight").data == ref::to_ref<double>(qkv.param("weight").value()).data);
  CHECK(value_of(s, "attn.out.weight").data == ref::to_ref<double>(out.param("weight").value()).data);
  CHECK(value_of(s, "fc1.weight").data == ref::to_ref<double>(fc1.param("weight").value()).data);
  CHECK(value_of(s, "fc2.weight").data == ref::to_ref<double>(fc2.param("weight").value()).data);
  // PyTorch's Linear defaults for the MLP (the graph Transformer): W₁, b₁, W₂, b₂ after W_qkv and W_o
  nn::TransformerBlockOptions plain = small_options(false);
  plain.transformer_init = false;
  Generator g3(6), g4(6);
  nn::TransformerBlock c(plain, g3, 11);
  nn::Linear qkv4(kE, 3 * kE, g4, true, true), out4(kE, kE, g4, true, true), fc14(kE, kHidden, g4),
      fc24(kHidden, kE, g4);
  const NamedTensors t = c.state_dict();
  CHECK(value_of(t, "fc1.bias").data == ref::to_ref<double>(fc14.param("bias").value()).data);
  CHECK(value_of(t, "fc2.weight").data == ref::to_ref<double>(fc24.param("weight").value()).data);
  CHECK(value_of(t, "fc2.bias").data == ref::to_ref<double>(fc24.param("bias").value()).data);
  CHECK(c.options().mlp_hidden == kHidden);
  nn::TransformerBlockOptions wide = small_options(false);
  wide.mlp_hidden = 0;
  Generator g5(1);
  CHECK(nn::TransformerBlock(wide, g5, 0).options().mlp_hidden == 2 * kE);
}

TEST_CASE("transformer block: forward matches the float64 reference") {
  for (const Case& c : cases()) {
    INFO(c.name);
    Generator gen(1);
    const auto opt = small_options(c.bias);
    nn::TransformerBlock b(opt, gen, 3);
    randomize(b, 100);
    b.eval();
    const Tensor x = random_tensor({kB, kN, kE}, 7);
    NoGradGuard no_grad;
    const Tensor y = b.forward(Var(x), c.policy).value();
    const auto expected = ref::transformer_block(ref::to_ref<double>(x), params_of(b.state_dict()), kHeads, c.policy,
                                                 attention_options(opt));
    CHECK(rel_error(y, expected) < 1e-5);
  }
}

TEST_CASE("transformer block: gradients of the input and every parameter match finite differences") {
  for (const Case& c : cases()) {
    INFO(c.name);
    Generator gen(2);
    const auto opt = small_options(c.bias);
    nn::TransformerBlock b(opt, gen, 3);
    randomize(b, 200);
    b.eval();  // no dropout
    const Tensor x = random_tensor({kB, kN, kE}, 9);
    const Tensor w = random_tensor({kB, kN, kE}, 10);
    // float autograd: loss = Σ w ⊙ block(x)
    Var xv(x.clone(), true);
    backward(b.forward(xv, c.policy), w);
    // float64: central differences of the same loss through the reference
    std::vector<std::string> names{"x"};
    std::vector<ref::RefTensor<double>> values{ref::to_ref<double>(x)};
    std::vector<Tensor> grads{xv.grad()};
    for (const auto& p : b.named_parameters()) {
      names.push_back(p.name);
      values.push_back(ref::to_ref<double>(p.var.value()));
      grads.push_back(p.var.grad());
    }
    const ref::RefTensor<double> wd = ref::to_ref<double>(w);
    const NamedTensors state = b.state_dict();
    auto loss = [&]() {
      NamedTensors s = state;
      ref::TransformerBlockParams<double> p = params_of(s);
      ref::RefTensor<double>* slot[] = {&p.ln1_weight, &p.ln1_bias, &p.qkv_weight, &p.qkv_bias, &p.out_weight,
                                        &p.out_bias,   &p.rel_bias, &p.ln2_weight, &p.ln2_bias, &p.fc1_weight,
                                        &p.fc1_bias,   &p.fc2_weight, &p.fc2_bias};
      for (size_t k = 1; k < names.size(); ++k) {
        const std::string n = names[k];
        const std::vector<std::string> order{"ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                             "attn.out.weight", "attn.out.bias", "attn.rel_bias", "ln2.weight",
                                             "ln2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
        for (size_t j = 0; j < order.size(); ++j)
          if (order[j] == n) *slot[j] = values[k];
      }
      const auto y = ref::transformer_block(values[0], p, kHeads, c.policy, attention_options(opt));
      double l = 0;
      for (int64_t i = 0; i < y.numel(); ++i) l += wd[i] * y[i];
      return l;
    };
    const double eps = 1e-6;
    for (size_t k = 0; k < values.size(); ++k) {
      INFO(names[k]);
      REQUIRE(grads[k].defined());
      std::vector<double> numeric(values[k].numel());
      for (int64_t i = 0; i < values[k].numel(); ++i) {
        const double orig = values[k][i];
        values[k][i] = orig + eps;
        const double lp = loss();
        values[k][i] = orig - eps;
        const double lm = loss();
        values[k][i] = orig;
        numeric[i] = (lp - lm) / (2 * eps);
      }
      CHECK(rel_error(grads[k].to_vector(), numeric) < 2e-4);
    }
  }
}

TEST_CASE("transformer block: residual dropout from the block's own counter or from the caller's seeds") {
  Generator gen(4);
  auto opt = small_options(false);
  opt.dropout = 0.5f;
  nn::TransformerBlock b(opt, gen, 3);
  const Var x(random_tensor({kB, kN, kE}, 12));
  NoGradGuard no_grad;
  // caller's seeds: the same seeds give the same masks, another seed other masks
  const nn::ResidualDropoutSeeds seeds{21, 22};
  const Tensor y1 = b.forward(x, Policy::full(), nullptr, seeds).value();
  const Tensor y2 = b.forward(x, Policy::full(), nullptr, seeds).value();
  CHECK(y1.to_vector() == y2.to_vector());
  const Tensor y3 = b.forward(x, Policy::full(), nullptr, nn::ResidualDropoutSeeds{21, 23}).value();
  CHECK(y1.to_vector() != y3.to_vector());
  // without seeds: a fresh mask per call from (seed + 7, call counter); a block built alike repeats the sequence
  Generator gen2(4);
  nn::TransformerBlock twin(opt, gen2, 3);
  const Tensor a1 = b.forward(x, Policy::full()).value(), a2 = b.forward(x, Policy::full()).value();
  CHECK(a1.to_vector() != a2.to_vector());
  CHECK(twin.forward(x, Policy::full()).value().to_vector() == a1.to_vector());
  // the counter's masks are those of nn::Dropout(p, seed + 7): two per forward, attention branch first
  Generator gen3(4);
  nn::TransformerBlock third(opt, gen3, 3);
  const nn::ResidualDropoutSeeds first_call{mix_seed(3 + 7, 0), mix_seed(3 + 7, 1)};
  CHECK(third.forward(x, Policy::full(), nullptr, first_call).value().to_vector() == a1.to_vector());
  // evaluation mode: no dropout at all, with or without seeds
  b.eval();
  CHECK(b.forward(x, Policy::full(), nullptr, seeds).value().to_vector() ==
        b.forward(x, Policy::full()).value().to_vector());
}

TEST_CASE("transformer block: forward and backward are bit-identical at 1 and 2 threads") {
  auto run = [] {
    nn::TransformerBlockOptions o;
    o.attention.dim = 64;
    o.attention.heads = 4;
    o.attention.attention_dropout = 0.1f;
    o.dropout = 0.1f;
    Generator gen(8);
    nn::TransformerBlock b(o, gen, 5);
    Var x(random_tensor({3, 50, 64}, 13), true);
    Var y = b.forward(x, Policy::window1d(4, 4));
    backward(y, random_tensor({3, 50, 64}, 14));
    std::vector<float> out = y.value().to_vector(), gx = x.grad().to_vector();
    for (const auto& p : b.named_parameters()) {
      const auto g = p.var.grad().to_vector();
      out.insert(out.end(), g.begin(), g.end());
    }
    out.insert(out.end(), gx.begin(), gx.end());
    return out;
  };
  auto [one, two] = at_one_and_two_threads(run);
  CHECK(one == two);
}
