// Learnable locality (framework/ops/locality.hpp, nn::MultiHeadAttention's locality options): the Gaussian bias
// table and the gated mix against hand-computed values, their float64 references against finite differences,
// the fast ops against the references on random shapes, the table offsets of every bias layout, and the
// attention layer's locality parameters (additive and gated) through the attention operator against finite
// differences of the float64 composition (locality_bias -> attention -> gated_mix).
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "framework/attention/attention_ref.hpp"
#include "framework/nn/multihead_attention.hpp"
#include "framework/ops/locality.hpp"
#include "framework/ops/locality_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::test;

namespace {

RefD grid_offsets(int64_t gh, int64_t gw) {  // the offsets of the (2gh-1)(2gw-1) table of a gh×gw bias grid
  return ref::to_ref<double>(bias_table_offsets(make_bias_index(Policy::full(), BiasGrid{gh, gw, 0}, (2 * gh - 1) * (2 * gw - 1))));
}

}  // namespace

TEST_CASE("locality: hand-computed bias, gradients and mix") {
  // α = log(e − 1): softplus(α) = 1; μ = (0.5, −1); offsets (0, 0), (1, −1), (−2, 1)
  // ‖Δ − μ‖² = 0.25 + 1 = 1.25, 0.25 + 0 = 0.25, 6.25 + 4 = 10.25 -> b = −1.25, −0.25, −10.25
  const float a = static_cast<float>(std::log(std::exp(1.0) - 1.0));
  Tensor offsets = Tensor::from({3, 2}, {0, 0, 1, -1, -2, 1});
  auto r = run_op([&](const std::vector<Var>& v) { return locality_bias(v[0], v[1], offsets); },
                  {Tensor::from({1}, {a}), Tensor::from({1, 2}, {0.5f, -1.0f})}, Tensor::from({1, 3}, {1, 2, 3}));
  CHECK(r.out.shape() == Shape{1, 3});
  CHECK(r.out.to_vector()[0] == Approx(-1.25f));
  CHECK(r.out.to_vector()[1] == Approx(-0.25f));
  CHECK(r.out.to_vector()[2] == Approx(-10.25f));
  // dα = −sigmoid(α)·Σ db·d² = −(1 − 1/e)(1.25 + 0.5 + 30.75); dμ = 2·Σ db·(Δ − μ) = 2·(−0.5 + 1 − 7.5, 1 + 0 + 6)
  CHECK(r.grads[0].to_vector()[0] == Approx(-(1.0 - std::exp(-1.0)) * 32.5).epsilon(1e-5));
  CHECK(r.grads[1].to_vector()[0] == Approx(-14.0f));
  CHECK(r.grads[1].to_vector()[1] == Approx(14.0f));
  // gated mix with λ = 0 (g = ½): the mean of content and positional
  auto m = run_op([](const std::vector<Var>& v) { return gated_mix(v[0], v[1], v[2]); },
                  {Tensor::from({1, 1, 1, 2}, {1, 3}), Tensor::from({1, 1, 1, 2}, {5, -1}), Tensor::from({1}, {0})},
                  Tensor::from({1, 1, 1, 2}, {1, 1}));
  CHECK(m.out.to_vector() == std::vector<float>{3, 1});
  CHECK(m.grads[0].to_vector() == std::vector<float>{0.5f, 0.5f});
  CHECK(m.grads[2].to_vector()[0] == Approx(0.25 * ((5 - 1) + (-1 - 3))));
  // widths: σ = 1/sqrt(2 softplus α), and back
  CHECK(locality_width(a) == Approx(1.0 / std::sqrt(2.0)));
  for (double w : {0.3, 0.7, 2.0, 9.0}) CHECK(locality_width(locality_alpha_for_width(w)) == Approx(w).epsilon(1e-9));
}

TEST_CASE("locality: references pass a finite-difference check in double") {
  const RefD offsets = grid_offsets(3, 4);
  CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::locality_bias(in[0], in[1], offsets); },
                 [&](const std::vector<RefD>& in, const RefD& db) {
                   return ref::locality_bias_backward(in[0], in[1], offsets, db);
                 },
                 {random_ref({3}, 1, -2.0, 2.0), random_ref({3, 2}, 2, -1.5, 1.5)}) < 1e-7);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::gated_mix(in[0], in[1], in[2]); },
                 [](const std::vector<RefD>& in, const RefD& dy) {
                   return ref::gated_mix_backward(in[0], in[1], in[2], dy);
                 },
                 {random_ref({2, 3, 4, 5}, 3), random_ref({2, 3, 4, 5}, 4), random_ref({3}, 5, -2.0, 2.0)}) < 1e-7);
}

TEST_CASE("locality: fast ops match the references on random shapes") {
  for (auto [H, gh, gw] : {std::array<int64_t, 3>{1, 1, 1}, {3, 2, 5}, {4, 7, 7}, {9, 4, 3}}) {
    INFO("H " << H << " grid " << gh << "x" << gw);
    const Tensor off = bias_table_offsets(make_bias_index(Policy::full(), BiasGrid{gh, gw, 0}, (2 * gh - 1) * (2 * gw - 1)));
    const Tensor alpha = random_tensor({H}, 10 + H, -3, 3), mu = random_tensor({H, 2}, 20 + H, -2, 2);
    const Tensor db = random_tensor({H, off.dim(0)}, 30 + H);
    auto r = run_op([&](const std::vector<Var>& v) { return locality_bias(v[0], v[1], off); }, {alpha, mu}, db);
    const RefD ra = ref::to_ref<double>(alpha), rm = ref::to_ref<double>(mu), ro = ref::to_ref<double>(off);
    CHECK(rel_error(r.out, ref::locality_bias(ra, rm, ro)) < 1e-6);
    auto g = ref::locality_bias_backward(ra, rm, ro, ref::to_ref<double>(db));
    CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
    CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
  }
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{2, 3, 5, 7}, Shape{3, 4, 50, 16}}) {
    INFO("gated_mix " << shape_str(s));
    const Tensor c = random_tensor(s, 1), p = random_tensor(s, 2), l = random_tensor({s[1]}, 3, -3, 3);
    const Tensor dy = random_tensor(s, 4);
    auto r = run_op([](const std::vector<Var>& v) { return gated_mix(v[0], v[1], v[2]); }, {c, p, l}, dy);
    const RefD rc_ = ref::to_ref<double>(c), rp = ref::to_ref<double>(p), rl = ref::to_ref<double>(l);
    CHECK(rel_error(r.out, ref::gated_mix(rc_, rp, rl)) < 1e-6);
    auto g = ref::gated_mix_backward(rc_, rp, rl, ref::to_ref<double>(dy));
    for (int k = 0; k < 3; ++k) CHECK(rel_error(r.grads[k], g[k]) < 1e-5);
  }
}

TEST_CASE("locality: the gate gradient does not depend on the thread count") {
  const Shape s{4, 4, 49, 16};
  const Tensor c = random_tensor(s, 5), p = random_tensor(s, 6), l = random_tensor({4}, 7), dy = random_tensor(s, 8);
  auto run = [&] { return run_op([](const std::vector<Var>& v) { return gated_mix(v[0], v[1], v[2]); }, {c, p, l}, dy); };
  auto [r1, r2] = at_one_and_two_threads(run);
  CHECK(r1.grads[2].to_vector() == r2.grads[2].to_vector());
  CHECK(r1.out.to_vector() == r2.out.to_vector());
}

TEST_CASE("locality: table offsets of a bias grid and of a dilated window2d") {
  // 2×3 grid: radii (1, 2), 3×5 entries, row-major over (dr, dc)
  const Tensor g = bias_table_offsets(make_bias_index(Policy::full(), BiasGrid{2, 3, 0}, 15));
  REQUIRE(g.shape() == Shape{15, 2});
  CHECK(g.to_vector()[0] == -1.0f);
  CHECK(g.to_vector()[1] == -2.0f);
  CHECK(g.to_vector()[2 * 7] == 0.0f);  // the centre entry
  CHECK(g.to_vector()[2 * 7 + 1] == 0.0f);
  CHECK(g.to_vector()[2 * 14] == 1.0f);
  CHECK(g.to_vector()[2 * 14 + 1] == 2.0f);
  // window2d 3×3 with dilation 2 over an 8×8 grid: offsets in cells are multiples of 2, up to ±4
  const Policy w = Policy::window2d(Window2d{8, 8, 3, 3, 2, 2, 0});
  const Tensor d = bias_table_offsets(make_bias_index(w, {}, 25));
  CHECK(d.to_vector()[0] == -4.0f);
  CHECK(d.to_vector()[2 * 24 + 1] == 4.0f);
  CHECK_THROWS_WITH(bias_table_offsets(make_bias_index(Policy::causal(), {}, 5)), Catch::Contains("2-D offsets"));
  CHECK_THROWS_WITH(locality_bias(Var(Tensor::ones({2})), Var(Tensor::ones({3, 2})), g),
                    Catch::Contains("(H, 2) = (2, 2)") && Catch::Contains("(3, 2)"));
  CHECK_THROWS_WITH(locality_alpha_for_width(0.0), Catch::Contains("width must be > 0"));
}

TEST_CASE("locality: the ConViT lattice of initial centres") {
  const Tensor four = nn::locality_initial_centres(4, 1.0);
  CHECK(four.to_vector() == std::vector<float>{-0.5f, -0.5f, -0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0.5f});
  const Tensor nine = nn::locality_initial_centres(9, 2.0);
  CHECK(nine.to_vector()[0] == -2.0f);
  CHECK(nine.to_vector()[2 * 4] == 0.0f);
  CHECK(nine.to_vector()[2 * 8 + 1] == 2.0f);
  CHECK(nn::locality_initial_centres(1, 1.0).to_vector() == std::vector<float>{0, 0});
}

namespace {

constexpr int64_t kB = 2, kGrid = 3, kN = kGrid * kGrid + 1, kD = 4, kH = 2;  // a class token and a 3×3 grid

struct LocalityCase {
  const char* name;
  Policy policy;
  bool gated;
};

std::vector<LocalityCase> locality_cases() {
  const Policy window = Policy::window2d(Window2d{kGrid, kGrid, 3, 3, 1, 1, 1}) | Policy::global(0, 1);
  return {{"additive, full", Policy::full(), false},
          {"additive, window2d 3x3 (grid tokens) + class token", window, false},
          {"gated, full", Policy::full(), true},
          {"gated, window2d 3x3 (grid tokens) + class token", window, true}};
}

// The float64 composition: b = locality_bias(α, μ); additive: attention(q, k, v; b); gated: gated_mix of
// attention(q, k, v) and attention(0, 0, v; b).
RefD ref_locality_attention(const std::vector<RefD>& in, const RefD& offsets, const Policy& policy, bool gated) {
  AttentionOptions o;
  o.bias_grid = BiasGrid{kGrid, kGrid, 1};
  const RefD bias = ref::locality_bias(in[3], in[4], offsets);
  if (!gated) return ref::attention(ref::AttentionInputs<double>{in[0], in[1], in[2], bias, {}, {}}, policy, o);
  const RefD content = ref::attention(ref::AttentionInputs<double>{in[0], in[1], in[2], {}, {}, {}}, policy, o);
  const RefD zero(in[0].shape);
  const RefD positional = ref::attention(ref::AttentionInputs<double>{zero, zero, in[2], bias, {}, {}}, policy, o);
  return ref::gated_mix(content, positional, in[5]);
}

}  // namespace

TEST_CASE("locality: attention with a locality bias, additive and gated: gradients of α, μ, λ, q, k, v") {
  const RefD offsets = grid_offsets(kGrid, kGrid);
  const Tensor off = bias_table_offsets(make_bias_index(Policy::full(), BiasGrid{kGrid, kGrid, 1}, 25));
  for (const LocalityCase& c : locality_cases()) {
    INFO(c.name);
    std::vector<Tensor> inputs{random_tensor({kB, kH, kN, kD}, 1), random_tensor({kB, kH, kN, kD}, 2),
                               random_tensor({kB, kH, kN, kD}, 3), random_tensor({kH}, 4, -1.5, 1.5),
                               random_tensor({kH, 2}, 5, -1, 1), random_tensor({kH}, 6, -2, 2)};
    const Tensor w = random_tensor({kB, kH, kN, kD}, 7);
    auto r = run_op(
        [&](const std::vector<Var>& v) {
          AttentionOptions o;
          o.bias_grid = BiasGrid{kGrid, kGrid, 1};
          o.rel_bias = locality_bias(v[3], v[4], off);
          if (!c.gated) return attention(v[0], v[1], v[2], c.policy, o);
          Var zero(Tensor::zeros(v[0].shape()));
          Var positional = attention(zero, zero, v[2], c.policy, o);
          o.rel_bias = Var();
          return gated_mix(attention(v[0], v[1], v[2], c.policy, o), positional, v[5]);
        },
        inputs, w);
    std::vector<RefD> in;
    for (const Tensor& t : inputs) in.push_back(ref::to_ref<double>(t));
    CHECK(rel_error(r.out, ref_locality_attention(in, offsets, c.policy, c.gated)) < 1e-5);
    const RefD wd = ref::to_ref<double>(w);
    const std::vector<int> checked = c.gated ? std::vector<int>{0, 1, 2, 3, 4, 5} : std::vector<int>{0, 1, 2, 3, 4};
    for (int k : checked) {
      INFO("input " << k);
      std::vector<double> numeric(in[k].numel());
      for (int64_t i = 0; i < in[k].numel(); ++i) {
        const double orig = in[k][i];
        double l[2];
        for (int s = 0; s < 2; ++s) {
          in[k][i] = orig + (s == 0 ? 1e-6 : -1e-6);
          const RefD y = ref_locality_attention(in, offsets, c.policy, c.gated);
          l[s] = 0;
          for (int64_t e = 0; e < y.numel(); ++e) l[s] += wd[e] * y[e];
        }
        in[k][i] = orig;
        numeric[i] = (l[0] - l[1]) / 2e-6;
      }
      CHECK(rel_error(r.grads[k].to_vector(), numeric) < 1e-4);
    }
  }
}

TEST_CASE("locality: multi-head attention layers, their parameters and the learned state") {
  for (nn::Locality mode : {nn::Locality::Additive, nn::Locality::Gated}) {
    const bool gated = mode == nn::Locality::Gated;
    INFO((gated ? "gated" : "additive"));
    nn::MultiHeadAttentionOptions o;
    o.dim = kH * kD, o.heads = kH;
    o.bias_grid = BiasGrid{kGrid, kGrid, 1};
    o.bias_table = 25;
    o.locality.mode = mode;
    o.locality.init_width = 0.8;
    o.locality.init_gate = 1.5;
    Generator gen(3);
    nn::MultiHeadAttention mha(o, gen, 9);
    std::vector<std::string> names;
    for (const auto& p : mha.named_parameters()) names.push_back(p.name);
    std::vector<std::string> expected{"locality_alpha", "locality_mu"};
    if (gated) expected.push_back("locality_gate");
    for (const char* n : {"qkv.weight", "qkv.bias", "out.weight", "out.bias"}) expected.push_back(n);
    CHECK(names == expected);
    const nn::LocalityState s = mha.locality_state();
    REQUIRE(s.width.size() == 2u);
    CHECK(s.width[0] == Approx(0.8));
    CHECK(s.width[1] == Approx(0.8));
    CHECK(s.gate.size() == (gated ? 2u : 0u));
    if (gated) CHECK(s.gate[0] == Approx(1.0 / (1.0 + std::exp(-1.5))).epsilon(1e-6));
    // the same draws as a layer without locality: W_qkv and W_o are unchanged
    nn::MultiHeadAttentionOptions plain = o;
    plain.locality.mode = nn::Locality::None;
    Generator gen2(3);
    nn::MultiHeadAttention base(plain, gen2, 9);
    auto weight = [](const nn::Module& m, const std::string& name) {
      for (const auto& p : m.named_parameters())
        if (p.name == name) return p.var.value().to_vector();
      return std::vector<float>{};
    };
    CHECK(weight(base, "qkv.weight") == weight(mha, "qkv.weight"));
    CHECK(weight(base, "out.weight") == weight(mha, "out.weight"));
    // every locality parameter gets a gradient; the weights of a gated layer are the mixed probabilities
    const Tensor x = random_tensor({kB, kN, kH * kD}, 11);
    AttentionWeights aw;
    aw.queries = {0, 4, 9};
    backward(mha.forward(Var(x), Policy::full(), &aw), random_tensor({kB, kN, kH * kD}, 12));
    for (const auto& p : mha.named_parameters()) {
      INFO(p.name);
      REQUIRE(p.var.grad().defined());
      double norm = 0;
      for (float g : p.var.grad().to_vector()) norm += std::fabs(g);
      CHECK(norm > 0);
    }
    REQUIRE(aw.dense.shape() == Shape{kB, kH, 3, kN});
    for (int64_t r = 0; r < kB * kH * 3; ++r) {
      double total = 0;
      for (int64_t j = 0; j < kN; ++j) total += aw.dense.data()[r * kN + j];
      CHECK(total == Approx(1.0).epsilon(1e-5));
    }
  }
  nn::MultiHeadAttentionOptions bad;
  bad.locality.mode = nn::Locality::Additive;
  Generator gen(1);
  CHECK_THROWS_WITH(nn::MultiHeadAttention(bad, gen, 0), Catch::Contains("2-D bias table"));
}
