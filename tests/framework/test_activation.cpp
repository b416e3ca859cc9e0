#include "framework/ops/activation.hpp"
#include "framework/ops/activation_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::test;

TEST_CASE("relu: hand-computed values and gradient") {
  Tensor x = Tensor::from({2, 3}, {-1.5f, 0.5f, 2.0f, 3.0f, -0.25f, 0.75f});
  Tensor dy = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  auto r = run_op([](const std::vector<Var>& v) { return relu(v[0]); }, {x}, dy);
  CHECK(r.out.to_vector() == std::vector<float>{0.0f, 0.5f, 2.0f, 3.0f, 0.0f, 0.75f});
  CHECK(r.grads[0].to_vector() == std::vector<float>{0, 2, 3, 4, 0, 6});
}

TEST_CASE("relu: reference passes a finite-difference check in double") {
  RefD x = random_ref({3, 5, 7}, 11);
  double err = fd_check([](const std::vector<RefD>& in) { return ref::relu(in[0]); },
                        [](const std::vector<RefD>& in, const RefD& dy) {
                          return std::vector<RefD>{ref::relu_backward(in[0], dy)};
                        },
                        {x});
  CHECK(err < 1e-6);
}

TEST_CASE("relu: fast op matches the reference on random shapes") {
  for (Shape shape : {Shape{1}, Shape{17}, Shape{4, 33}, Shape{2, 3, 5, 7}, Shape{70000}}) {
    Tensor x = random_tensor(shape, 3), dy = random_tensor(shape, 4);
    auto r = run_op([](const std::vector<Var>& v) { return relu(v[0]); }, {x}, dy);
    RefD xr = ref::to_ref<double>(x), dyr = ref::to_ref<double>(dy);
    CHECK(max_abs_diff(r.out, ref::relu(xr)) == 0.0);
    CHECK(max_abs_diff(r.grads[0], ref::relu_backward(xr, dyr)) == 0.0);
  }
}

TEST_CASE("gelu, elu, leaky_relu: hand-computed values and gradients") {
  Tensor x = Tensor::from({4}, {-1.0f, 0.5f, 1.0f, 2.0f});
  Tensor dy = Tensor::ones({4});
  // Φ(-1) = 0.158655254, Φ(0.5) = 0.691462461, Φ(1) = 0.841344746, Φ(2) = 0.977249868
  // φ(-1) = φ(1) = 0.241970725, φ(0.5) = 0.352065327, φ(2) = 0.053990967
  // gelu = x Φ(x): -0.158655254, 0.345731231, 0.841344746, 1.954499736
  // gelu' = Φ + x φ: 0.158655254 - 0.241970725 = -0.083315471, 0.691462461 + 0.176032664 = 0.867495125,
  //                  0.841344746 + 0.241970725 = 1.083315471, 0.977249868 + 0.107981934 = 1.085231802
  auto r = run_op([](const std::vector<Var>& v) { return gelu(v[0]); }, {x}, dy);
  const double y_gelu[] = {-0.158655254, 0.345731231, 0.841344746, 1.954499736};
  const double d_gelu[] = {-0.083315471, 0.867495125, 1.083315471, 1.085231802};
  for (int i = 0; i < 4; ++i) {
    CHECK(r.out.data()[i] == Approx(y_gelu[i]).margin(1e-6));
    CHECK(r.grads[0].data()[i] == Approx(d_gelu[i]).margin(1e-6));
  }
  // elu with alpha = 1.5: at -1, 1.5 (e^-1 - 1) = -0.948180838 with slope 1.5 e^-1 = 0.551819162; x > 0 passes
  r = run_op([](const std::vector<Var>& v) { return elu(v[0], 1.5f); }, {x}, dy);
  CHECK(r.out.data()[0] == Approx(-0.948180838).margin(1e-6));
  CHECK(r.grads[0].data()[0] == Approx(0.551819162).margin(1e-6));
  CHECK(r.out.to_vector()[3] == 2.0f);
  CHECK(r.grads[0].to_vector()[3] == 1.0f);
  // leaky_relu with slope 0.1: -1 -> -0.1 (gradient 0.1), positives pass with gradient 1
  r = run_op([](const std::vector<Var>& v) { return leaky_relu(v[0], 0.1f); }, {x}, Tensor::from({4}, {2, 2, 2, 2}));
  CHECK(r.out.to_vector() == std::vector<float>{-0.1f, 0.5f, 1.0f, 2.0f});
  CHECK(r.grads[0].to_vector() == std::vector<float>{0.2f, 2, 2, 2});
}

TEST_CASE("gelu, elu, leaky_relu: references pass a finite-difference check in double") {
  RefD x = random_ref({3, 5, 7}, 12, -3.0, 3.0);
  auto one = [](RefD d) { return std::vector<RefD>{d}; };
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::gelu(in[0]); },
                 [&](const std::vector<RefD>& in, const RefD& dy) { return one(ref::gelu_backward(in[0], dy)); },
                 {x}) < 1e-6);
  // elu and leaky_relu are kinked at 0; random_ref keeps |x| >= 0.05, far beyond the step 1e-6
  for (double alpha : {1.0, 0.3}) {
    CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::elu(in[0], alpha); },
                   [&](const std::vector<RefD>& in, const RefD& dy) { return one(ref::elu_backward(in[0], alpha, dy)); },
                   {x}) < 1e-6);
  }
  for (double slope : {0.01, -0.5}) {
    CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::leaky_relu(in[0], slope); },
                   [&](const std::vector<RefD>& in, const RefD& dy) {
                     return one(ref::leaky_relu_backward(in[0], slope, dy));
                   },
                   {x}) < 1e-6);
  }
}

TEST_CASE("gelu, elu, leaky_relu: fast ops match the reference on random shapes") {
  for (Shape shape : {Shape{1}, Shape{17}, Shape{4, 33}, Shape{2, 3, 5, 7}, Shape{70001}}) {
    INFO(shape_str(shape));
    Tensor x = random_tensor(shape, 5, -5.0f, 5.0f), dy = random_tensor(shape, 6);
    RefD xr = ref::to_ref<double>(x), dyr = ref::to_ref<double>(dy);
    auto r = run_op([](const std::vector<Var>& v) { return gelu(v[0]); }, {x}, dy);
    CHECK(max_abs_diff(r.out, ref::gelu(xr)) < 2e-6);
    CHECK(max_abs_diff(r.grads[0], ref::gelu_backward(xr, dyr)) < 2e-6);
    r = run_op([](const std::vector<Var>& v) { return elu(v[0], 0.7f); }, {x}, dy);
    CHECK(max_abs_diff(r.out, ref::elu(xr, 0.7)) < 1e-6);
    CHECK(max_abs_diff(r.grads[0], ref::elu_backward(xr, 0.7, dyr)) < 1e-6);
    r = run_op([](const std::vector<Var>& v) { return leaky_relu(v[0], -0.25f); }, {x}, dy);
    CHECK(max_abs_diff(r.out, ref::leaky_relu(xr, -0.25)) == 0.0);
    CHECK(max_abs_diff(r.grads[0], ref::leaky_relu_backward(xr, -0.25, dyr)) == 0.0);
  }
}

TEST_CASE("gelu: results do not depend on the thread count") {
  Tensor x = random_tensor({300001}, 7, -4.0f, 4.0f), dy = random_tensor({300001}, 8);
  auto run = [&] { return run_op([](const std::vector<Var>& v) { return gelu(v[0]); }, {x}, dy); };
  auto [r1, r2] = at_one_and_two_threads(run);
  CHECK(r1.out.to_vector() == r2.out.to_vector());
  CHECK(r1.grads[0].to_vector() == r2.grads[0].to_vector());
}

TEST_CASE("elu, leaky_relu: bad parameters throw with the values") {
  Var x(Tensor::ones({2}));
  CHECK_THROWS_WITH(elu(x, std::nanf("")), Catch::Contains("elu") && Catch::Contains("alpha") && Catch::Contains("nan"));
  CHECK_THROWS_WITH(leaky_relu(x, INFINITY), Catch::Contains("leaky_relu") && Catch::Contains("inf"));
}
