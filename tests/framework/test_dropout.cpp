#include "framework/ops/dropout.hpp"
#include "framework/ops/dropout_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::test;

namespace {
double fraction_dropped(const std::vector<uint8_t>& keep) {
  int64_t dropped = 0;
  for (uint8_t k : keep) dropped += k == 0;
  return static_cast<double>(dropped) / static_cast<double>(keep.size());
}
}  // namespace

TEST_CASE("dropout: hand-computed values and gradient") {
  // p = 0.5 scales kept values by 1 / (1 - 0.5) = 2: every y_i is 0 or 2 x_i, and dx_i = 2 dy_i where kept
  Tensor x = Tensor::from({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto keep = dropout_mask(8, 0.5f, 42);
  auto r = run_op([](const std::vector<Var>& v) { return dropout(v[0], 0.5f, true, 42); }, {x}, Tensor::ones({2, 4}));
  for (int i = 0; i < 8; ++i) {
    CHECK(r.out.data()[i] == (keep[i] ? 2.0f * (i + 1) : 0.0f));
    CHECK(r.grads[0].data()[i] == (keep[i] ? 2.0f : 0.0f));
  }
}

TEST_CASE("dropout: reference passes a finite-difference check in double") {
  RefD x = random_ref({4, 9}, 1);
  auto keep = dropout_mask(36, 0.3f, 7);
  CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::dropout(in[0], keep, 0.3); },
                 [&](const std::vector<RefD>&, const RefD& dy) {
                   return std::vector<RefD>{ref::dropout_backward(keep, 0.3, dy)};
                 },
                 {x}) < 1e-6);
}

TEST_CASE("dropout: fast op matches the reference on random shapes") {
  for (Shape shape : {Shape{1}, Shape{17}, Shape{4, 33}, Shape{2, 3, 5, 7}, Shape{70001}}) {
    for (float p : {0.1f, 0.5f, 0.9f}) {
      INFO(shape_str(shape) << " p " << p);
      Tensor x = random_tensor(shape, 3), dy = random_tensor(shape, 4);
      auto keep = dropout_mask(x.numel(), p, 99);
      auto r = run_op([p](const std::vector<Var>& v) { return dropout(v[0], p, true, 99); }, {x}, dy);
      RefD xr = ref::to_ref<double>(x), dyr = ref::to_ref<double>(dy);
      CHECK(rel_error(r.out, ref::dropout(xr, keep, static_cast<double>(p))) < 1e-6);
      CHECK(rel_error(r.grads[0], ref::dropout_backward(keep, static_cast<double>(p), dyr)) < 1e-6);
    }
  }
}

TEST_CASE("dropout: the mask drops a fraction p, is a function of the seed and keeps the expectation") {
  const int64_t n = 1 << 20;  // the dropped fraction has standard deviation sqrt(p (1 - p) / n) < 5e-4
  for (float p : {0.1f, 0.3f, 0.75f}) {
    INFO("p " << p);
    auto keep = dropout_mask(n, p, 5);
    CHECK(std::fabs(fraction_dropped(keep) - p) < 3e-3);
    CHECK(dropout_mask(n, p, 5) == keep);
    auto other = dropout_mask(n, p, 6);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; ++i) differ += keep[i] != other[i];
    // independent masks disagree on a fraction 2 p (1 - p)
    CHECK(std::fabs(static_cast<double>(differ) / n - 2.0 * p * (1.0 - p)) < 5e-3);
    // E[y] = x: with x = 1 the mean of y is (kept fraction) / (1 - p) ≈ 1
    Var y = dropout(Var(Tensor::ones({n})), p, true, 5);
    double mean = 0;
    for (float v : y.value().to_vector()) mean += v;
    mean /= n;
    CHECK(std::fabs(mean - 1.0) < 3e-3 / (1.0 - p));
  }
}

TEST_CASE("dropout: output and gradient do not depend on the thread count") {
  Tensor x = random_tensor({300001}, 8), dy = random_tensor({300001}, 9);
  auto [r1, r2] = at_one_and_two_threads(
      [&] { return run_op([](const std::vector<Var>& v) { return dropout(v[0], 0.4f, true, 123); }, {x}, dy); });
  auto [keep1, keep2] = at_one_and_two_threads([&] { return dropout_mask(x.numel(), 0.4f, 123); });
  CHECK(keep1 == keep2);
  CHECK(r1.out.to_vector() == r2.out.to_vector());
  CHECK(r1.grads[0].to_vector() == r2.grads[0].to_vector());
}

TEST_CASE("dropout: the gradient is mask times scale") {
  Tensor x = random_tensor({50, 41}, 10);
  auto r = run_op([](const std::vector<Var>& v) { return dropout(v[0], 0.2f, true, 77); }, {x}, Tensor::ones({50, 41}));
  auto keep = dropout_mask(x.numel(), 0.2f, 77);
  const float scale = 1.0f / (1.0f - 0.2f);
  for (int64_t i = 0; i < x.numel(); ++i) CHECK(r.grads[0].data()[i] == (keep[i] ? scale : 0.0f));
}

TEST_CASE("dropout: eval mode and p = 0 return x unchanged") {
  Var x(random_tensor({3, 4}, 11), true);
  CHECK(dropout(x, 0.5f, false, 1).node() == x.node());
  CHECK(dropout(x, 0.0f, true, 1).node() == x.node());
}

TEST_CASE("dropout: p outside 0 <= p < 1 throws with the value") {
  Var x(Tensor::ones({4}));
  CHECK_THROWS_WITH(dropout(x, 1.0f, true, 1), Catch::Contains("dropout") && Catch::Contains("got 1"));
  CHECK_THROWS_WITH(dropout(x, -0.25f, false, 1), Catch::Contains("p must be in [0, 1)") && Catch::Contains("-0.25"));
  CHECK_THROWS_WITH(dropout(x, std::nanf(""), true, 1), Catch::Contains("nan"));
  CHECK_THROWS_WITH(dropout_mask(4, 1.5f, 1), Catch::Contains("1.5"));
}
