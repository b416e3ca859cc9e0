#include <cmath>

#include "framework/ops/loss.hpp"
#include "framework/ops/loss_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/thread_invariance.hpp"

using namespace rc;
using namespace rc::test;

namespace {
const float kL3 = std::log(3.0f), kL4 = std::log(4.0f), kL2 = std::log(2.0f);

// One float run of cross_entropy: loss value and d loss / d logits (seed 1).
OpRun run_ce(const Tensor& logits, const std::vector<int64_t>& targets, const CrossEntropyOptions& opt = {},
             float seed = 1.0f) {
  return run_op([&](const std::vector<Var>& v) { return cross_entropy(v[0], targets, opt); }, {logits},
                Tensor::scalar(seed));
}
}  // namespace

TEST_CASE("cross_entropy: hand-computed values and gradients") {
  // Row 0 = (log 1, log 3, log 4): p = (1/8, 3/8, 1/2), target 2: −log(1/2) = ln 2.
  // Row 1 = (log 2, log 2, 0): p = (2/5, 2/5, 1/5), target 0: −log(2/5) = ln 2.5.
  // mean = (ln 2 + ln 2.5)/2 = ln(5)/2; dx = (p − onehot)/2:
  //   row 0 (1/16, 3/16, −1/4), row 1 (−0.3, 0.2, 0.1).
  Tensor x = Tensor::from({2, 3}, {0.0f, kL3, kL4, kL2, kL2, 0.0f});
  auto r = run_ce(x, {2, 0});
  CHECK(r.out.item() == Approx(std::log(5.0) / 2).epsilon(1e-6));
  const std::vector<float> dx{1 / 16.0f, 3 / 16.0f, -0.25f, -0.3f, 0.2f, 0.1f};
  for (int i = 0; i < 6; ++i) CHECK(r.grads[0].data()[i] == Approx(dx[i]).margin(1e-6));

  // Ignoring sample 1 (target −1) leaves ln 2 over n = 1 and a zero row; masking sample 0 leaves ln 2.5.
  auto ig = run_ce(x, {2, -1});
  CHECK(ig.out.item() == Approx(std::log(2.0)).epsilon(1e-6));
  CHECK(ig.grads[0].at({0, 2}) == Approx(-0.5f));
  CHECK(ig.grads[0].at({1, 0}) == 0.0f);
  CrossEntropyOptions masked;
  masked.mask = {0, 1};
  auto mk = run_ce(x, {2, 0}, masked, 2.0f);  // seed 2: dx doubles
  CHECK(mk.out.item() == Approx(std::log(2.5)).epsilon(1e-6));
  CHECK(mk.grads[0].at({0, 1}) == 0.0f);
  CHECK(mk.grads[0].at({1, 0}) == Approx(-1.2f));

  // Nothing counts: loss 0, gradient 0.
  auto none = run_ce(x, {-1, -1});
  CHECK(none.out.item() == 0.0f);
  CHECK(none.grads[0].to_vector() == std::vector<float>(6, 0.0f));
}

TEST_CASE("cross_entropy: label smoothing by hand") {
  // ε = 0.3, C = 3, target 2: q = (0.1, 0.1, 0.8) and p = (1/8, 3/8, 1/2), so
  // loss = −(0.1 ln 1/8 + 0.1 ln 3/8 + 0.8 ln 1/2) = 1.4 ln 2 − 0.1 ln 3 = 0.8605448...
  // dx = p − q = (0.025, 0.275, −0.3).
  Tensor x = Tensor::from({1, 3}, {0.0f, kL3, kL4});
  CrossEntropyOptions opt;
  opt.label_smoothing = 0.3;
  auto r = run_ce(x, {2}, opt);
  CHECK(r.out.item() == Approx(1.4 * std::log(2.0) - 0.1 * std::log(3.0)).epsilon(1e-6));
  CHECK(r.grads[0].at({0, 0}) == Approx(0.025f).margin(1e-6));
  CHECK(r.grads[0].at({0, 1}) == Approx(0.275f).margin(1e-6));
  CHECK(r.grads[0].at({0, 2}) == Approx(-0.3f).margin(1e-6));
}

TEST_CASE("cross_entropy: reference passes a finite-difference check in double") {
  RefD x = random_ref({6, 4}, 31, -2.0, 2.0);
  const std::vector<int64_t> targets{0, 3, -1, 2, 1, 3};
  const std::vector<uint8_t> mask{1, 1, 1, 0, 1, 1};
  for (double eps : {0.0, 0.2}) {
    double err = fd_check([&](const std::vector<RefD>& in) { return ref::cross_entropy(in[0], targets, eps, mask); },
                          [&](const std::vector<RefD>& in, const RefD& dy) {
                            return std::vector<RefD>{ref::cross_entropy_backward(in[0], targets, dy[0], eps, mask)};
                          },
                          {x});
    CHECK(err < 1e-6);
  }
}

TEST_CASE("cross_entropy: fast op matches the reference on random shapes") {
  struct Case {
    int64_t N, C;
  };
  for (Case c : {Case{1, 1}, Case{7, 3}, Case{33, 64}, Case{5, 257}, Case{300, 10}}) {
    Tensor x = random_tensor({c.N, c.C}, 41, -5.0f, 5.0f);
    std::vector<int64_t> targets(c.N);
    std::vector<uint8_t> mask(c.N);
    for (int64_t i = 0; i < c.N; ++i) {
      targets[i] = i % 5 == 3 ? -1 : (i * 7 + 1) % c.C;
      mask[i] = i % 4 != 2;
    }
    for (double eps : {0.0, 0.1}) {
      for (bool use_mask : {false, true}) {
        INFO("N " << c.N << " C " << c.C << " eps " << eps << " mask " << use_mask);
        CrossEntropyOptions opt;
        opt.label_smoothing = eps;
        if (use_mask) opt.mask = mask;
        auto r = run_ce(x, targets, opt, 0.7f);
        RefD xr = ref::to_ref<double>(x);
        RefD loss = ref::cross_entropy(xr, targets, eps, opt.mask);
        CHECK(r.out.item() == Approx(loss[0]).epsilon(1e-6));
        CHECK(rel_error(r.grads[0], ref::cross_entropy_backward(xr, targets, 0.7, eps, opt.mask)) < 1e-5);
      }
    }
  }
}

TEST_CASE("cross_entropy: extreme logits give finite results") {
  // Row (1e4, −1e4, 0) with target 1: loss = lse − x_1 = 1e4 + 1e4 = 2e4 (the other terms underflow).
  Tensor x = Tensor::from({2, 3}, {1e4f, -1e4f, 0.0f, -1e4f, -1e4f, 1e4f});
  auto r = run_ce(x, {1, 2});
  CHECK(std::isfinite(r.out.item()));
  CHECK(r.out.item() == Approx(1e4f));  // (2e4 + 0) / 2
  for (float g : r.grads[0].to_vector()) CHECK(std::isfinite(g));
  CHECK(r.grads[0].at({0, 0}) == Approx(0.5f));
  CHECK(r.grads[0].at({0, 1}) == Approx(-0.5f));
  CrossEntropyOptions opt;
  opt.label_smoothing = 0.1;
  auto s = run_ce(x, {1, 2}, opt);
  CHECK(std::isfinite(s.out.item()));
}

TEST_CASE("cross_entropy: bad input throws naming the values") {
  Var x(random_tensor({3, 4}, 1), true);
  CHECK_THROWS_WITH(cross_entropy(x, {0, 5, 1}), Catch::Contains("target 5 of sample 1 is out of range [0, 4)"));
  CHECK_THROWS_WITH(cross_entropy(x, {0, -2, 1}), Catch::Contains("target -2 of sample 1"));
  CHECK_THROWS_WITH(cross_entropy(x, {0, 1}), Catch::Contains("2 targets for logits of shape (3, 4)"));
  CrossEntropyOptions opt;
  opt.label_smoothing = 1.0;
  CHECK_THROWS_WITH(cross_entropy(x, {0, 1, 2}, opt), Catch::Contains("label_smoothing must be in [0, 1), got 1"));
  opt.label_smoothing = 0.0;
  opt.mask = {1, 0};
  CHECK_THROWS_WITH(cross_entropy(x, {0, 1, 2}, opt), Catch::Contains("mask has 2 entries"));
  CHECK_THROWS_WITH(cross_entropy(Var(random_tensor({3}, 1)), {0, 1, 2}), Catch::Contains("logits must have 2"));
  CHECK_THROWS_WITH(accuracy(x.value(), {0, 9, 1}), Catch::Contains("accuracy: target 9 of sample 1"));
}

TEST_CASE("accuracy: hand-counted") {
  // arg-max per row: 2, 0, 1 (ties go to the first), 1
  Tensor x = Tensor::from({4, 3}, {0.1f, 0.2f, 0.9f, 3.0f, -1.0f, 2.0f, 0.5f, 0.7f, 0.7f, -2.0f, 1.0f, 0.0f});
  CHECK(accuracy(x, {2, 0, 2, 1}) == Approx(0.75));
  CHECK(accuracy(x, {2, 1, -1, 0}) == Approx(1.0 / 3));
  CHECK(accuracy(x, {2, 0, 2, 1}, {1, 0, 1, 0}) == Approx(0.5));
  CHECK(accuracy(x, {-1, -1, -1, -1}) == 0.0);
}

TEST_CASE("cross_entropy: 1 and 2 threads give bit-identical results") {
  Tensor x = random_tensor({5000, 10}, 51, -4.0f, 4.0f);
  std::vector<int64_t> targets(5000);
  for (int64_t i = 0; i < 5000; ++i) targets[i] = (i * 3) % 10;
  CrossEntropyOptions opt;
  opt.label_smoothing = 0.1;
  check_same_with_1_and_2_threads([&] { return flatten(run_ce(x, targets, opt)); });
}
