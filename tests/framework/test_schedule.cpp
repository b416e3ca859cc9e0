#include "framework/optim/schedule.hpp"
#include "framework/optim/sgd.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::optim;

TEST_CASE("schedule: constant") {
  ConstantLr s(0.3f);
  CHECK(s.lr_at(0) == 0.3f);
  CHECK(s.lr_at(1000000) == 0.3f);
}

TEST_CASE("schedule: step decay, hand-computed") {
  // lr 0.1, step_size 3, gamma 0.5: steps 0-2 -> 0.1, 3-5 -> 0.05, 6-8 -> 0.025, 9 -> 0.0125
  StepDecayLr s(0.1f, 3, 0.5f);
  CHECK(s.lr_at(0) == Approx(0.1f));
  CHECK(s.lr_at(2) == Approx(0.1f));
  CHECK(s.lr_at(3) == Approx(0.05f));
  CHECK(s.lr_at(5) == Approx(0.05f));
  CHECK(s.lr_at(6) == Approx(0.025f));
  CHECK(s.lr_at(9) == Approx(0.0125f));
}

TEST_CASE("schedule: cosine with linear warm-up, hand-computed") {
  // lr 0.1, warmup 4, total 12, min_lr 0.01
  // warm-up: 0.1 * (s + 1) / 4 = 0.025, 0.05, 0.075, 0.1
  // cosine:  0.01 + 0.09 * (1 + cos(pi * (s - 4) / 8)) / 2:
  //          s=4 -> 0.1, s=5 -> 0.01 + 0.045 * (1 + 0.92388) = 0.0965746, s=8 -> 0.01 + 0.045 = 0.055,
  //          s=11 -> 0.01 + 0.045 * (1 - 0.92388) = 0.0134254
  // after:   s >= 12 -> 0.01
  CosineWarmupLr s(0.1f, 4, 12, 0.01f);
  const double expected[] = {0.025, 0.05, 0.075, 0.1, 0.1, 0.0965745790, 0.0868198052, 0.0722207545, 0.055,
                             0.0377792455, 0.0231801948, 0.0134254210, 0.01, 0.01};
  for (int step = 0; step < 14; ++step) {
    INFO("step " << step);
    CHECK(s.lr_at(step) == Approx(expected[step]).epsilon(1e-6));
  }
  // without warm-up the first step uses the full lr, and the schedule never increases
  CosineWarmupLr plain(1.0f, 0, 100);
  CHECK(plain.lr_at(0) == 1.0f);
  for (int step = 1; step < 110; ++step) CHECK(plain.lr_at(step) <= plain.lr_at(step - 1));
}

TEST_CASE("schedule: make_schedule builds each kind from data") {
  CHECK(make_schedule({.kind = "constant", .lr = 0.2f})->lr_at(7) == 0.2f);
  CHECK(make_schedule({.kind = "step", .lr = 1.0f, .step_size = 2, .gamma = 0.1f})->lr_at(2) == Approx(0.1f));
  CHECK(make_schedule({.kind = "cosine", .lr = 1.0f, .warmup_steps = 2, .total_steps = 10})->lr_at(0) ==
        Approx(0.5f));
  CHECK_THROWS_WITH(make_schedule({.kind = "linear"}), Catch::Contains("unknown schedule kind 'linear'"));
}

TEST_CASE("schedule: drives an optimizer's lr") {
  Var p(Tensor::from({1}, {0.0f}), true);
  SGD opt({p}, {.lr = 1.0f});
  StepDecayLr s(1.0f, 1, 0.5f);
  for (int step = 0; step < 3; ++step) {
    p.grad() = Tensor::from({1}, {1.0f});
    opt.set_lr(s.lr_at(step));
    opt.step();
  }
  CHECK(p.value().item() == Approx(-1.75f));  // -(1 + 0.5 + 0.25)
}

TEST_CASE("schedule: bad arguments give errors naming the values") {
  CHECK_THROWS_WITH(StepDecayLr(0.1f, 0, 0.5f), Catch::Contains("step_size must be >= 1, got 0"));
  CHECK_THROWS_WITH(StepDecayLr(0.1f, 2, 0.0f), Catch::Contains("gamma must be > 0, got 0"));
  CHECK_THROWS_WITH(CosineWarmupLr(0.1f, 10, 10), Catch::Contains("got warmup_steps 10 and total_steps 10"));
  CHECK_THROWS_WITH(CosineWarmupLr(0.1f, 0, 10, 0.5f), Catch::Contains("got min_lr 0.5 and lr 0.1"));
  CHECK_THROWS_WITH(ConstantLr(0.1f).lr_at(-1), Catch::Contains("step must be >= 0, got -1"));
}
