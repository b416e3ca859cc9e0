// Finite differences of the float attention() operator itself (test_attention_ref.cpp checks the double reference
// the same way; the kernels are compared with that reference elsewhere). For loss = sum(out * W) with random W and
// a random direction U per input (q, k, v, a_q, a_k, the bias table), the central difference
//   (L(x + hU) - L(x - hU)) / 2h,  L accumulated in double,
// must match the directional derivative <dL/dx, U> that backward() returns.
//
// Step and tolerance (float32 forward, inputs of O(1)): the truncation error is O(h^2) relative, ~1e-4 at h = 1e-2;
// rounding makes each L uncertain by a few eps_f * sum|out * W| of which a part survives the difference, measured
// here as up to ~4e-5 absolute on the quotient (smaller h would raise it as 1/h). So numeric and analytic values
// must agree within 5e-3 relative + 1e-4 absolute, and every directional derivative checked must exceed 1e-3 (ten
// times the absolute part): a wrong sign, factor or missing term then fails by a wide margin (a sign flip on a
// derivative of 1e-3 is off by 2e-3 against an allowance of 1.1e-4).
// Additive (LeakyReLU) scores are not differentiable at pre = 0: their data keep every pair's pre-activation away
// from 0 (|a_k . k_j| in [1, 1.5] with both signs, |a_q . q_i| <= 0.3), and the test checks that no pair changes
// side between x - hU and x + hU.
#include <cmath>

#include "attention_cases.hpp"

using namespace rc;
using namespace rc::test;

namespace {

constexpr double kStep = 1e-2, kRel = 5e-3, kAbs = 1e-4;

// loss = sum(out * W), forward only, the inputs in op_inputs order
double loss(const AttnCase& c, const std::vector<Tensor>& in, const Tensor& w) {
  NoGradGuard no_grad;
  AttentionOptions o = base_options(c);
  size_t next = 3;
  if (c.score == ScoreKind::Additive) o.a_q = Var(in[next]), o.a_k = Var(in[next + 1]), next += 2;
  if (c.bias_T) o.rel_bias = Var(in[next]);
  Tensor out = attention(Var(in[0]), Var(in[1]), Var(in[2]), c.policy, o).value();
  double s = 0;
  for (int64_t i = 0; i < out.numel(); ++i) s += static_cast<double>(out.data()[i]) * w.data()[i];
  return s;
}

// Moves each k_j along a_k[h] so that a_k[h] . k_j = +-(1 .. 1.5), and scales each q_i so that |a_q[h] . q_i| <= 0.3:
// every pre-activation a_q . q_i + a_k . k_j is then at least 0.7 away from the LeakyReLU kink, and each row has
// keys on both sides (with one side only, a_q . q_i would shift a row's scores uniformly and get no gradient).
void keep_off_kink(const AttnCase& c, AttnData& d) {
  Generator gen(77);
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t bh = 0; bh < c.B * c.H; ++bh) {
    const float *aq = d.aq.data() + (bh % c.H) * c.D, *ak = d.ak.data() + (bh % c.H) * c.D;
    float ak2 = 0;
    for (int64_t e = 0; e < c.D; ++e) ak2 += ak[e] * ak[e];
    for (int64_t i = 0; i < c.N; ++i) {
      float *q = d.q.data() + (bh * c.N + i) * c.D, *k = d.k.data() + (bh * c.N + i) * c.D;
      float eq = 0, ek = 0;
      for (int64_t e = 0; e < c.D; ++e) eq += aq[e] * q[e], ek += ak[e] * k[e];
      const float target = (u(gen) < 0.5f ? -1.0f : 1.0f) * (1.0f + 0.5f * u(gen));
      for (int64_t e = 0; e < c.D; ++e) k[e] += (target - ek) / ak2 * ak[e];
      if (std::fabs(eq) > 0.3f)
        for (int64_t e = 0; e < c.D; ++e) q[e] *= 0.3f / std::fabs(eq);
    }
  }
}

// The sign of every pre-activation a_q[h] . q_i + a_k[h] . k_j (all pairs, whatever the policy).
std::vector<bool> kink_sides(const AttnCase& c, const std::vector<Tensor>& in) {
  const Tensor &q = in[0], &k = in[1], &aq = in[3], &ak = in[4];
  std::vector<bool> side;
  for (int64_t bh = 0; bh < c.B * c.H; ++bh)
    for (int64_t i = 0; i < c.N; ++i)
      for (int64_t j = 0; j < c.N; ++j) {
        double pre = 0;
        for (int64_t e = 0; e < c.D; ++e)
          pre += double(aq.data()[(bh % c.H) * c.D + e]) * q.data()[(bh * c.N + i) * c.D + e] +
                 double(ak.data()[(bh % c.H) * c.D + e]) * k.data()[(bh * c.N + j) * c.D + e];
        side.push_back(pre > 0);
      }
  return side;
}

// Checks the directional derivative of every input of case c along two directions: dense random, and random on
// about 1 in 6 entries (so that a wrong gradient in a few rows is less likely to hide in a sum over all entries).
void check_directional(const AttnCase& c, uint64_t seed) {
  AttnData d = make_data(c, seed);
  if (c.score == ScoreKind::Additive) keep_off_kink(c, d);
  const std::vector<Tensor> x = op_inputs(c, d);
  const OpRun analytic = run_fast(c, d);  // gradients of sum(out * d.dout)
  const char* names_dot[] = {"q", "k", "v", "rel_bias"};
  const char* names_add[] = {"q", "k", "v", "a_q", "a_k", "rel_bias"};
  for (size_t a = 0; a < x.size(); ++a)
    for (int sparse = 0; sparse < 2; ++sparse) {
      INFO("case " << c.name << " (" << c.policy.describe() << ", kernel " << int(c.kernel) << "), input "
                   << (c.score == ScoreKind::Additive ? names_add[a] : names_dot[a])
                   << (sparse ? ", sparse direction" : ", dense direction"));
      Tensor dir = random_tensor(x[a].shape(), seed * 31 + a * 2 + sparse);
      if (sparse && dir.numel() >= 60) {  // small tables (a_q, a_k, bias) get a second dense direction instead
        Generator gen(seed + a);
        for (int64_t i = 0; i < dir.numel(); ++i)
          if (gen() % 6 != 0) dir.data()[i] = 0;
      }
      std::vector<Tensor> plus = x, minus = x;
      plus[a] = x[a].clone(), minus[a] = x[a].clone();
      double directional = 0;  // <grad, (x+ - x-)> / 2h with the steps as actually rounded to float
      for (int64_t i = 0; i < dir.numel(); ++i) {
        plus[a].data()[i] = static_cast<float>(x[a].data()[i] + kStep * dir.data()[i]);
        minus[a].data()[i] = static_cast<float>(x[a].data()[i] - kStep * dir.data()[i]);
        directional += double(analytic.grads[a].data()[i]) * (double(plus[a].data()[i]) - minus[a].data()[i]);
      }
      directional /= 2 * kStep;
      if (c.score == ScoreKind::Additive) {
        const std::vector<bool> side = kink_sides(c, x);
        REQUIRE(kink_sides(c, plus) == side);
        REQUIRE(kink_sides(c, minus) == side);
      }
      const double numeric = (loss(c, plus, d.dout) - loss(c, minus, d.dout)) / (2 * kStep);
      INFO("numeric " << numeric << " analytic " << directional);
      REQUIRE(std::fabs(numeric) > 10 * kAbs);  // not a comparison of two numbers in the noise
      CHECK(std::fabs(numeric - directional) <= kRel * (std::fabs(numeric) + std::fabs(directional)) + kAbs);
    }
}

bool every_other(int64_t i, int64_t j) { return (i + j) % 2 == 0 || j == 0; }

std::vector<AttnCase> fd_cases() {
  static const Csr g = random_graph(23, 3.0, 41);
  std::vector<AttnCase> cs;
  auto add = [&](std::string name, Policy p, int64_t N, int64_t D) -> AttnCase& {
    AttnCase c;
    c.name = std::move(name);
    c.policy = std::move(p);
    c.B = 2, c.H = 2, c.N = N, c.D = D;
    cs.push_back(c);
    return cs.back();
  };
  add("graph with self-loops", Policy::graph(g.view(), true), 23, 5);
  add("graph without self-loops", Policy::graph(g.view(), false), 23, 8);
  add("causal window1d", Policy::window1d(4, 0, true), 21, 6);
  add("intersection", Policy::causal() & Policy::window1d(5, 5) & Policy::predicate(every_other), 19, 4);
  add("union with a global token", Policy::window1d(1, 2) | Policy::global(0, 1), 18, 3);
  add("dilated window2d", Policy::window2d(grid(5, 6, 2, 3, 2, 1)), 31, 5);  // token 30 is off the grid
  add("dilated window1d + 1-D bias in dilation steps", Policy::window1d(2, 1, false, 3) | Policy::global(0, 1), 25, 4)
      .bias_T = 5;
  add("window2d + 2-D bias", Policy::window2d(grid(4, 5, 3, 3)), 20, 6).bias_T = 25;
  AttnCase& grid_bias = add("full + 2-D bias on an explicit grid after a class token", Policy::full(), 13, 4);
  grid_bias.grid = {3, 4, 1}, grid_bias.bias_T = 5 * 7;
  add("window2d + class token + 2-D bias", Policy::window2d(grid(3, 4, 2, 2, 1, 1, 1)) | Policy::global(0, 1), 13, 4)
      .bias_T = 9;
  add("overridden scale", Policy::full(), 17, 7).scale = 1.7f;
  add("causal + 1-D bias + dropout", Policy::causal(), 17, 4).bias_T = 7;
  cs.back().dropout = 0.25f;
  AttnCase& add_bias = add("additive + 1-D bias", Policy::window1d(3, 2), 16, 8);
  add_bias.score = ScoreKind::Additive, add_bias.bias_T = 5;
  AttnCase& add_graph = add("additive graph (GAT) + 1-D bias", Policy::graph(g.view(), true), 23, 6);
  add_graph.score = ScoreKind::Additive, add_graph.bias_T = 9;
  AttnCase& add_w2 = add("additive window2d + 2-D bias", Policy::window2d(grid(4, 4, 3, 3)), 16, 5);
  add_w2.score = ScoreKind::Additive, add_w2.bias_T = 25;
  return cs;
}

}  // namespace

TEST_CASE("attention (float op): directional derivatives match central differences, both kernels") {
  uint64_t seed = 100;
  for (AttnCase c : fd_cases())
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
      c.kernel = k;
      check_directional(c, seed++);
    }
}
