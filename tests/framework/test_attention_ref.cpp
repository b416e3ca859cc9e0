// The attention reference: a hand-computed example and finite-difference checks of the whole operator in double.
#include <cmath>

#include "attention_cases.hpp"

using namespace rc;
using namespace rc::test;

TEST_CASE("attention: hand-computed values and gradients (N = 2, D = 1, causal)") {
  // q = [1, 2], k = [1, -1], v = [3, 5], scale 1, causal.
  // query 0 sees key 0 only: out_0 = 3.
  // query 1: s = (2*1, 2*-1) = (2, -2); p = (e^2, e^-2) / (e^2 + e^-2) = (0.98201379, 0.01798621);
  //          out_1 = 3 p_0 + 5 p_1 = 3.03597242.
  // With dout = [1, 1]: dv = (1 + p_0, p_1) = (1.98201379, 0.01798621).
  //   row 1: dp = (3, 5), sum p dp = 3.03597242, ds = p (dp - 3.03597242) = (-0.03532541, 0.03532541)
  //   dq_1 = ds . k = -0.07065082; dk = ds * q_1 = (-0.07065082, 0.07065082); row 0 has one key: ds = 0.
  Tensor q = Tensor::from({1, 1, 2, 1}, {1, 2}), k = Tensor::from({1, 1, 2, 1}, {1, -1});
  Tensor v = Tensor::from({1, 1, 2, 1}, {3, 5}), dout = Tensor::from({1, 1, 2, 1}, {1, 1});
  AttentionOptions o;
  o.scale = 1.0f;
  auto r = run_op([&](const std::vector<Var>& x) { return attention(x[0], x[1], x[2], Policy::causal(), o); },
                  {q, k, v}, dout);
  CHECK(r.out.data()[0] == Approx(3.0f));
  CHECK(r.out.data()[1] == Approx(3.03597242f));
  CHECK(r.grads[0].data()[0] == Approx(0.0f).margin(1e-7));
  CHECK(r.grads[0].data()[1] == Approx(-0.07065082f));
  CHECK(r.grads[1].data()[0] == Approx(-0.07065082f));
  CHECK(r.grads[1].data()[1] == Approx(0.07065082f));
  CHECK(r.grads[2].data()[0] == Approx(1.98201379f));
  CHECK(r.grads[2].data()[1] == Approx(0.01798621f));
}

TEST_CASE("attention: the reference passes finite-difference checks in double") {
  Window2d w;
  w.grid_h = 4, w.grid_w = 5, w.kernel_h = 3, w.kernel_w = 3;
  std::vector<AttnCase> cs(6);
  cs[0].name = "full dot", cs[0].policy = Policy::full();
  cs[1].name = "causal + 1-D bias", cs[1].policy = Policy::causal(), cs[1].bias_T = 5;
  cs[2].name = "window2d + 2-D bias", cs[2].policy = Policy::window2d(w), cs[2].N = 20, cs[2].bias_T = 25;
  cs[3].name = "additive full", cs[3].policy = Policy::full(), cs[3].score = ScoreKind::Additive;
  cs[4].name = "additive window + bias + dropout", cs[4].policy = Policy::window1d(2, 1);
  cs[4].score = ScoreKind::Additive, cs[4].bias_T = 7, cs[4].dropout = 0.25f;
  cs[5].name = "predicate with empty rows", cs[5].policy = Policy::predicate([](int64_t i, int64_t j) {
    return i != 3 && (i + j) % 2 == 0;
  });
  for (AttnCase c : cs) {
    c.B = 2, c.H = 2, c.D = 3;
    if (c.N == 8) c.N = 9;
    INFO(c.name);
    CHECK(reference_fd_error(c) < 1e-6);
  }
}
