#include <cmath>

#include "framework/ops/softmax.hpp"
#include "framework/ops/softmax_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/thread_invariance.hpp"

using namespace rc;
using namespace rc::test;

namespace {
Var softmax_op(const std::vector<Var>& v, int dim) { return softmax(v[0], dim); }
Var log_softmax_op(const std::vector<Var>& v, int dim) { return log_softmax(v[0], dim); }
}  // namespace

TEST_CASE("softmax: hand-computed values and gradients") {
  // Row 0 is (log 1, log 3, log 4): exp gives 1, 3, 4, sum 8, so y = (1/8, 3/8, 1/2).
  // Row 1 is row 0 + 100 (the max shift makes it identical).
  // dy = (1, 0, 0): Σ dy y = 1/8, dx = y (dy − 1/8) = (7/64, −3/64, −4/64).
  const float l3 = std::log(3.0f), l4 = std::log(4.0f);
  Tensor x = Tensor::from({2, 3}, {0.0f, l3, l4, 100.0f, 100.0f + l3, 100.0f + l4});
  Tensor dy = Tensor::from({2, 3}, {1, 0, 0, 1, 0, 0});
  auto r = run_op([](const std::vector<Var>& v) { return softmax(v[0]); }, {x}, dy);
  const std::vector<float> y{0.125f, 0.375f, 0.5f}, dx{7 / 64.0f, -3 / 64.0f, -4 / 64.0f};
  for (int row = 0; row < 2; ++row)
    for (int j = 0; j < 3; ++j) {
      CHECK(r.out.at({row, j}) == Approx(y[j]).epsilon(1e-5));
      CHECK(r.grads[0].at({row, j}) == Approx(dx[j]).margin(1e-5));
    }
  // log_softmax: y = (log 1/8, log 3/8, log 1/2); with dy = (1, 0, 0), Σ dy = 1 and dx = dy − softmax
  // = (7/8, −3/8, −1/2).
  auto l = run_op([](const std::vector<Var>& v) { return log_softmax(v[0]); }, {x}, dy);
  const std::vector<float> ly{std::log(0.125f), std::log(0.375f), std::log(0.5f)}, ldx{0.875f, -0.375f, -0.5f};
  for (int row = 0; row < 2; ++row)
    for (int j = 0; j < 3; ++j) {
      CHECK(l.out.at({row, j}) == Approx(ly[j]).epsilon(1e-5));
      CHECK(l.grads[0].at({row, j}) == Approx(ldx[j]).margin(1e-5));
    }
  // Along dim 0 of the transpose, the same numbers come out transposed.
  auto t = run_op([](const std::vector<Var>& v) { return softmax(v[0], 0); }, {x.transpose(0, 1).contiguous()},
                  dy.transpose(0, 1).contiguous());
  for (int j = 0; j < 3; ++j) {
    CHECK(t.out.at({j, 1}) == Approx(y[j]).epsilon(1e-5));
    CHECK(t.grads[0].at({j, 1}) == Approx(dx[j]).margin(1e-5));
  }
}

TEST_CASE("softmax: references pass a finite-difference check in double") {
  RefD x = random_ref({3, 4, 5}, 21, -2.0, 2.0);
  for (int dim : {-1, 0, 1}) {
    INFO("dim " << dim);
    double err = fd_check([dim](const std::vector<RefD>& in) { return ref::softmax(in[0], dim); },
                          [dim](const std::vector<RefD>& in, const RefD& dy) {
                            return std::vector<RefD>{ref::softmax_backward(ref::softmax(in[0], dim), dy, dim)};
                          },
                          {x});
    CHECK(err < 1e-6);
    err = fd_check([dim](const std::vector<RefD>& in) { return ref::log_softmax(in[0], dim); },
                   [dim](const std::vector<RefD>& in, const RefD& dy) {
                     return std::vector<RefD>{ref::log_softmax_backward(ref::log_softmax(in[0], dim), dy, dim)};
                   },
                   {x});
    CHECK(err < 1e-6);
  }
}

TEST_CASE("softmax: fast ops match the references on random shapes and dims") {
  struct Case {
    Shape shape;
    int dim;
  };
  for (Case c :
       {Case{{1}, -1}, Case{{7, 1}, -1}, Case{{5, 3}, -1}, Case{{9, 64}, -1}, Case{{3, 257}, -1}, Case{{130, 50}, 1},
        Case{{4, 3}, 0}, Case{{2, 3, 5}, 1}, Case{{3, 257, 2}, 1}, Case{{64, 3, 7}, 0}, Case{{2, 1, 5}, 1}}) {
    INFO("shape " << shape_str(c.shape) << " dim " << c.dim);
    Tensor x = random_tensor(c.shape, 5, -4.0f, 4.0f), dy = random_tensor(c.shape, 6);
    RefD xr = ref::to_ref<double>(x), dyr = ref::to_ref<double>(dy);
    auto s = run_op([&](const std::vector<Var>& v) { return softmax_op(v, c.dim); }, {x}, dy);
    RefD ys = ref::softmax(xr, c.dim);
    CHECK(rel_error(s.out, ys) < 1e-6);
    CHECK(rel_error(s.grads[0], ref::softmax_backward(ys, dyr, c.dim)) < 1e-5);
    auto l = run_op([&](const std::vector<Var>& v) { return log_softmax_op(v, c.dim); }, {x}, dy);
    RefD yl = ref::log_softmax(xr, c.dim);
    CHECK(rel_error(l.out, yl) < 1e-6);
    CHECK(rel_error(l.grads[0], ref::log_softmax_backward(yl, dyr, c.dim)) < 1e-5);
  }
}

TEST_CASE("softmax: extreme logits give finite results") {
  // ±1e4: the max shift keeps exp in range; softmax is (1, 0, ~0) and log_softmax (0, −2e4, −1e4)
  Tensor x = Tensor::from({2, 3}, {1e4f, -1e4f, 0.0f, -1e4f, -1e4f, -1e4f});
  Tensor dy = Tensor::from({2, 3}, {0.5f, -1.0f, 2.0f, 1.0f, 2.0f, 3.0f});
  auto s = run_op([](const std::vector<Var>& v) { return softmax(v[0]); }, {x}, dy);
  auto l = run_op([](const std::vector<Var>& v) { return log_softmax(v[0]); }, {x}, dy);
  for (const Tensor* t : {&s.out, &s.grads[0], &l.out, &l.grads[0]})
    for (float v : t->to_vector()) CHECK(std::isfinite(v));
  CHECK(s.out.at({0, 0}) == 1.0f);
  CHECK(s.out.at({1, 0}) == Approx(1.0f / 3));
  CHECK(l.out.at({0, 1}) == Approx(-2e4f));
  CHECK(l.out.at({1, 2}) == Approx(-std::log(3.0f)));
}

TEST_CASE("softmax: bad dim throws naming the values") {
  Var x(random_tensor({2, 3}, 1), true);
  CHECK_THROWS_WITH(softmax(x, 2), Catch::Contains("softmax: dim 2 out of range") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_WITH(log_softmax(x, -3), Catch::Contains("log_softmax: dim -3"));
  CHECK_THROWS_WITH(softmax(Var(Tensor::scalar(1.0f))), Catch::Contains("at least 1 dimension"));
}

TEST_CASE("softmax: 1 and 2 threads give bit-identical results") {
  Tensor x = random_tensor({3000, 50}, 8, -3.0f, 3.0f), dy = random_tensor({3000, 50}, 9);
  for (int dim : {-1, 0}) {
    check_same_with_1_and_2_threads(
        [&] { return flatten(run_op([&](const std::vector<Var>& v) { return softmax_op(v, dim); }, {x}, dy)); });
    check_same_with_1_and_2_threads(
        [&] { return flatten(run_op([&](const std::vector<Var>& v) { return log_softmax_op(v, dim); }, {x}, dy)); });
  }
}
