#include <cmath>

#include "framework/ops/norm.hpp"
#include "framework/ops/norm_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/thread_invariance.hpp"

using namespace rc;
using namespace rc::test;

namespace {
const float kS = std::sqrt(0.5f);  // 1/√2

OpRun run_layer_norm(const Tensor& x, const Tensor& g, const Tensor& b, const Tensor& dy, float eps = 1e-5f) {
  return run_op([&](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2], eps); }, {x, g, b}, dy);
}

// Runs batch_norm on copies of the running stats, which are returned updated in `rm`, `rv`.
OpRun run_batch_norm(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& rm, Tensor& rv, bool training,
                     const Tensor& dy, float momentum = 0.1f, float eps = 1e-5f) {
  return run_op(
      [&](const std::vector<Var>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, training, momentum, eps); },
      {x, g, b}, dy);
}
OpRun run_batch_norm_relu(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& rm, Tensor& rv, bool training,
                          const Tensor& dy) {
  return run_op(
      [&](const std::vector<Var>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, training, 0.1f, 1e-5f, true); },
      {x, g, b}, dy);
}
}  // namespace

TEST_CASE("layer_norm: hand-computed values and gradients") {
  // x = (1, 2, 3, 4): μ = 2.5, var = (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25; eps = 0.75 makes rstd = 1/√2,
  // x̂ = (−1.5, −0.5, 0.5, 1.5)/√2. γ = (1, 2, 1, 1), β = (0, 0, 1, 0):
  // y = (−1.5/√2, −1/√2, 0.5/√2 + 1, 1.5/√2).
  // dy = (1, 0, 0, 0): g = dy γ = (1, 0, 0, 0), mean(g) = 1/4, mean(g x̂) = −1.5/(4√2);
  // x̂ · 1.5/(4√2) = (−0.28125, −0.09375, 0.09375, 0.28125), so
  // dx = (1/√2)(g − 1/4 − x̂ mean(g x̂)) = (1/√2)(0.46875, −0.34375, −0.15625, 0.03125);
  // dγ = dy x̂ = (−1.5/√2, 0, 0, 0), dβ = (1, 0, 0, 0).
  Tensor x = Tensor::from({1, 4}, {1, 2, 3, 4}), g = Tensor::from({4}, {1, 2, 1, 1}),
         b = Tensor::from({4}, {0, 0, 1, 0}), dy = Tensor::from({1, 4}, {1, 0, 0, 0});
  auto r = run_layer_norm(x, g, b, dy, 0.75f);
  const std::vector<float> y{-1.5f * kS, -kS, 0.5f * kS + 1, 1.5f * kS};
  const std::vector<float> dx{0.46875f * kS, -0.34375f * kS, -0.15625f * kS, 0.03125f * kS};
  const std::vector<float> dg{-1.5f * kS, 0, 0, 0}, db{1, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    CHECK(r.out.data()[i] == Approx(y[i]).epsilon(1e-6));
    CHECK(r.grads[0].data()[i] == Approx(dx[i]).margin(1e-6));
    CHECK(r.grads[1].data()[i] == Approx(dg[i]).margin(1e-6));
    CHECK(r.grads[2].data()[i] == Approx(db[i]).margin(1e-6));
  }
}

TEST_CASE("layer_norm: reference passes a finite-difference check in double") {
  for (Shape shape : {Shape{3, 5}, Shape{2, 2, 3}, Shape{4, 1}}) {
    INFO("shape " << shape_str(shape));
    const int64_t D = shape.back();
    double err = fd_check(
        [](const std::vector<RefD>& in) { return ref::layer_norm(in[0], in[1], in[2], 1e-5); },
        [](const std::vector<RefD>& in, const RefD& dy) { return ref::layer_norm_backward(in[0], in[1], 1e-5, dy); },
        {random_ref(shape, 61), random_ref({D}, 62, 0.5, 1.5), random_ref({D}, 63)});
    CHECK(err < 1e-6);
  }
}

TEST_CASE("layer_norm: fast op matches the reference on random shapes") {
  for (Shape shape :
       {Shape{1, 1}, Shape{7, 1}, Shape{5, 3}, Shape{2, 3, 64}, Shape{9, 257}, Shape{300, 64}, Shape{11, 3, 3}}) {
    INFO("shape " << shape_str(shape));
    const int64_t D = shape.back();
    Tensor x = random_tensor(shape, 71, -3.0f, 5.0f), g = random_tensor({D}, 72, 0.5f, 1.5f),
           b = random_tensor({D}, 73), dy = random_tensor(shape, 74);
    auto r = run_layer_norm(x, g, b, dy);
    RefD xr = ref::to_ref<double>(x), gr = ref::to_ref<double>(g), br = ref::to_ref<double>(b),
         dyr = ref::to_ref<double>(dy);
    CHECK(rel_error(r.out, ref::layer_norm(xr, gr, br, 1e-5)) < 1e-6);
    auto grads = ref::layer_norm_backward(xr, gr, 1e-5, dyr);
    // With D = 1, dx is exactly 0 (x̂ = 0 and g − mean(g) = 0); the float kernel leaves rounding noise of
    // about ulp(dy γ) · rstd there (FMA contraction), so that case is compared in absolute terms.
    if (D == 1)
      CHECK(max_abs_diff(r.grads[0], grads[0]) < 1e-4);  // ulp(1.5) · 1/√1e-5 ≈ 4e-5
    else
      CHECK(rel_error(r.grads[0], grads[0]) < 1e-5);
    for (int k = 1; k < 3; ++k) CHECK(rel_error(r.grads[k], grads[k]) < 1e-5);
  }
}

TEST_CASE("layer_norm_residual: equals x + residual followed by layer_norm, gradients through both outputs") {
  const Shape shape{13, 65};
  Tensor x = random_tensor(shape, 81), res = random_tensor(shape, 82), g = random_tensor({65}, 83, 0.5f, 1.5f),
         b = random_tensor({65}, 84), dout = random_tensor(shape, 85), dsum = random_tensor(shape, 86);
  Var xv(x, true), rv(res, true), gv(g, true), bv(b, true);
  LayerNormResidual lr = layer_norm_residual(xv, rv, gv, bv);
  // one root that feeds dout into out and dsum into sum
  Var root = make_result(Tensor::scalar(0.0f), {&lr.sum, &lr.out}, "pair", [lr, dout, dsum](const Tensor&) {
    accumulate_grad(lr.sum, dsum);
    accumulate_grad(lr.out, dout);
  });
  backward(root);
  RefD h = ref::to_ref<double>(x);
  RefD rr = ref::to_ref<double>(res);
  for (int64_t i = 0; i < h.numel(); ++i) h[i] += rr[i];
  RefD gr = ref::to_ref<double>(g), br = ref::to_ref<double>(b);
  CHECK(rel_error(lr.sum.value(), h) < 1e-7);
  CHECK(rel_error(lr.out.value(), ref::layer_norm(h, gr, br, 1e-5)) < 1e-6);
  auto grads = ref::layer_norm_backward(h, gr, 1e-5, ref::to_ref<double>(dout));
  RefD dh = grads[0], ds = ref::to_ref<double>(dsum);
  for (int64_t i = 0; i < dh.numel(); ++i) dh[i] += ds[i];
  CHECK(rel_error(xv.grad(), dh) < 1e-5);
  CHECK(rel_error(rv.grad(), dh) < 1e-5);
  CHECK(rel_error(gv.grad(), grads[1]) < 1e-5);
  CHECK(rel_error(bv.grad(), grads[2]) < 1e-5);
}

TEST_CASE("batch_norm: hand-computed training step, running stats and gradients") {
  // x (4, 2): channel 0 = (1, 2, 3, 4): μ = 2.5, biased var 1.25, unbiased 5/3;
  //           channel 1 = (−1.5, 0.5, 1.5, 3.5): μ = 1, deviations (−2.5, −0.5, 0.5, 2.5), biased var 13/4, unbiased
  //           13/3.
  // eps = 0.75: rstd = (1/√2, 1/2). γ = (1, 2), β = (0, 1):
  //   y0 = (−1.5, −0.5, 0.5, 1.5)/√2, y1 = 2 · (−1.25, −0.25, 0.25, 1.25) + 1 = (−1.5, 0.5, 1.5, 3.5).
  // running (momentum 0.1, from mean (0, 1), var (1, 1)): mean = 0.9 (0, 1) + 0.1 (2.5, 1) = (0.25, 1),
  //   var = 0.9 (1, 1) + 0.1 (5/3, 13/3) = (1.0666667, 1.3333333).
  // dy = 1 everywhere: dβ = (4, 4), dγ = Σ x̂ = (0, 0), dx = γ rstd (1 − 4/4 − x̂·0) = 0 (the batch mean absorbs it).
  Tensor x = Tensor::from({4, 2}, {1, -1.5f, 2, 0.5f, 3, 1.5f, 4, 3.5f});
  Tensor g = Tensor::from({2}, {1, 2}), b = Tensor::from({2}, {0, 1});
  Tensor rm = Tensor::from({2}, {0, 1}), rv = Tensor::from({2}, {1, 1});
  auto r = run_batch_norm(x, g, b, rm, rv, true, Tensor::ones({4, 2}), 0.1f, 0.75f);
  const std::vector<float> y{-1.5f * kS, -1.5f, -0.5f * kS, 0.5f, 0.5f * kS, 1.5f, 1.5f * kS, 3.5f};
  for (int i = 0; i < 8; ++i) {
    CHECK(r.out.data()[i] == Approx(y[i]).epsilon(1e-6));
    CHECK(r.grads[0].data()[i] == Approx(0.0f).margin(1e-6));
  }
  CHECK(rm.at({0}) == Approx(0.25f));
  CHECK(rm.at({1}) == Approx(1.0f));
  CHECK(rv.at({0}) == Approx(0.9f + 0.5f / 3));
  CHECK(rv.at({1}) == Approx(0.9f + 1.3f / 3));
  CHECK(r.grads[1].to_vector()[0] == Approx(0.0f).margin(1e-6));
  CHECK(r.grads[2].to_vector() == std::vector<float>{4, 4});

  // eval with running stats equal to those batch stats reproduces y; there dx = γ rstd dy = (1/√2, 1).
  Tensor em = Tensor::from({2}, {2.5f, 1}), ev = Tensor::from({2}, {1.25f, 3.25f});
  auto e = run_batch_norm(x, g, b, em, ev, false, Tensor::ones({4, 2}), 0.1f, 0.75f);
  for (int i = 0; i < 8; ++i) {
    CHECK(e.out.data()[i] == Approx(y[i]).epsilon(1e-6));
    CHECK(e.grads[0].data()[i] == Approx(i % 2 == 0 ? kS : 1.0f));
  }
  CHECK(em.to_vector() == std::vector<float>{2.5f, 1});  // eval leaves the running stats alone
  CHECK(ev.to_vector() == std::vector<float>{1.25f, 3.25f});
}

TEST_CASE("batch_norm: reference passes a finite-difference check in double, train and eval") {
  for (Shape shape : {Shape{5, 3}, Shape{3, 2, 2, 3}}) {
    const int64_t C = shape[1];
    RefD rm0 = random_ref({C}, 91), rv0 = random_ref({C}, 92, 0.5, 1.5);
    for (bool training : {true, false}) {
      INFO("shape " << shape_str(shape) << " training " << training);
      double err = fd_check(
          [&](const std::vector<RefD>& in) {
            RefD rm = rm0, rv = rv0;
            return ref::batch_norm(in[0], in[1], in[2], rm, rv, training, 0.1, 1e-5);
          },
          [&](const std::vector<RefD>& in, const RefD& dy) {
            return ref::batch_norm_backward(in[0], in[1], rm0, rv0, training, 1e-5, dy);
          },
          {random_ref(shape, 93), random_ref({C}, 94, 0.5, 1.5), random_ref({C}, 95)});
      CHECK(err < 1e-6);
    }
  }
}

TEST_CASE("batch_norm: fast op matches the reference on random shapes") {
  for (Shape shape : {Shape{2, 1}, Shape{7, 3}, Shape{4, 3, 5, 5}, Shape{3, 8, 1, 1}, Shape{2, 5, 7, 3}, Shape{65, 64},
                      Shape{5, 2, 16, 16}}) {
    const int64_t C = shape[1];
    Tensor x = random_tensor(shape, 101, -2.0f, 4.0f), g = random_tensor({C}, 102, 0.5f, 1.5f),
           b = random_tensor({C}, 103), dy = random_tensor(shape, 104);
    Tensor rm0 = random_tensor({C}, 105), rv0 = random_tensor({C}, 106, 0.5f, 1.5f);
    RefD xr = ref::to_ref<double>(x), gr = ref::to_ref<double>(g), br = ref::to_ref<double>(b),
         dyr = ref::to_ref<double>(dy);
    for (bool training : {true, false}) {
      INFO("shape " << shape_str(shape) << " training " << training);
      Tensor rm = rm0.clone(), rv = rv0.clone();
      RefD rmr = ref::to_ref<double>(rm0), rvr = ref::to_ref<double>(rv0);
      auto r = run_batch_norm(x, g, b, rm, rv, training, dy);
      CHECK(rel_error(r.out, ref::batch_norm(xr, gr, br, rmr, rvr, training, 0.1, 1e-5)) < 1e-6);
      CHECK(rel_error(rm, rmr) < 1e-6);
      CHECK(rel_error(rv, rvr) < 1e-6);
      auto grads =
          ref::batch_norm_backward(xr, gr, ref::to_ref<double>(rm0), ref::to_ref<double>(rv0), training, 1e-5, dyr);
      for (int k = 0; k < 3; ++k) CHECK(rel_error(r.grads[k], grads[k]) < 1e-5);
    }
  }
}

TEST_CASE("batch_norm + relu (fused): reference passes a finite-difference check in double") {
  const Shape shape{4, 3, 2, 3};
  RefD rm0 = random_ref({3}, 191), rv0 = random_ref({3}, 192, 0.5, 1.5);
  for (bool training : {true, false}) {
    INFO("training " << training);
    double err = fd_check(
        [&](const std::vector<RefD>& in) {
          RefD rm = rm0, rv = rv0;
          return ref::batch_norm_relu(in[0], in[1], in[2], rm, rv, training, 0.1, 1e-5);
        },
        [&](const std::vector<RefD>& in, const RefD& dy) {
          return ref::batch_norm_relu_backward(in[0], in[1], in[2], rm0, rv0, training, 1e-5, dy);
        },
        {random_ref(shape, 193), random_ref({3}, 194, 0.5, 1.5), random_ref({3}, 195)});
    CHECK(err < 1e-6);
  }
}

TEST_CASE("batch_norm + relu (fused): fast op matches the reference and the unfused ops on random shapes") {
  for (Shape shape : {Shape{7, 3}, Shape{4, 3, 5, 5}, Shape{2, 5, 7, 3}, Shape{5, 2, 16, 16}, Shape{3, 32, 9, 9}}) {
    const int64_t C = shape[1];
    Tensor x = random_tensor(shape, 201, -2.0f, 4.0f), g = random_tensor({C}, 202, -1.5f, 1.5f),
           b = random_tensor({C}, 203), dy = random_tensor(shape, 204);
    Tensor rm0 = random_tensor({C}, 205), rv0 = random_tensor({C}, 206, 0.5f, 1.5f);
    RefD xr = ref::to_ref<double>(x), gr = ref::to_ref<double>(g), br = ref::to_ref<double>(b);
    for (bool training : {true, false}) {
      INFO("shape " << shape_str(shape) << " training " << training);
      Tensor rm = rm0.clone(), rv = rv0.clone();
      RefD rmr = ref::to_ref<double>(rm0), rvr = ref::to_ref<double>(rv0);
      auto r = run_batch_norm_relu(x, g, b, rm, rv, training, dy);
      RefD want = ref::batch_norm_relu(xr, gr, br, rmr, rvr, training, 0.1, 1e-5);
      CHECK(rel_error(r.out, want) < 1e-6);
      int64_t zeros = 0;
      for (int64_t i = 0; i < want.numel(); ++i) zeros += want[i] == 0.0;
      CHECK(zeros > 0);                 // the ReLU clips something ...
      CHECK(zeros < want.numel());      // ... but not everything
      CHECK(rel_error(rm, rmr) < 1e-6);
      CHECK(rel_error(rv, rvr) < 1e-6);
      auto grads = ref::batch_norm_relu_backward(xr, gr, br, ref::to_ref<double>(rm0), ref::to_ref<double>(rv0),
                                                 training, 1e-5, ref::to_ref<double>(dy));
      for (int k = 0; k < 3; ++k) CHECK(rel_error(r.grads[k], grads[k]) < 1e-5);
    }
  }
}

TEST_CASE("norm: bad input throws naming the values") {
  Var x(random_tensor({3, 4}, 1), true), g4(random_tensor({4}, 2)), g3(random_tensor({3}, 3));
  CHECK_THROWS_WITH(layer_norm(x, g3, g4),
                    Catch::Contains("layer_norm: gamma must have shape (4)") && Catch::Contains("(3, 4), got (3)"));
  CHECK_THROWS_WITH(layer_norm(x, g4, g3), Catch::Contains("beta must have shape (4)"));
  CHECK_THROWS_WITH(layer_norm(x, g4, g4, 0.0f), Catch::Contains("eps must be positive, got 0"));
  CHECK_THROWS_WITH(layer_norm_residual(x, Var(random_tensor({3, 5}, 4)), g4, g4),
                    Catch::Contains("x has shape (3, 4) but residual has shape (3, 5)"));

  Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4}), none;
  CHECK_THROWS_WITH(batch_norm(Var(random_tensor({2, 4, 3}, 5)), g4, g4, rm, rv, true),
                    Catch::Contains("(N, C) or (N, C, H, W), got shape (2, 4, 3)"));
  CHECK_THROWS_WITH(batch_norm(x, g3, g4, rm, rv, true), Catch::Contains("gamma must have shape (4)"));
  Tensor rm3 = Tensor::zeros({3});
  CHECK_THROWS_WITH(batch_norm(x, g4, g4, rm3, rv, true), Catch::Contains("running_mean must have shape (4)"));
  CHECK_THROWS_WITH(batch_norm(x, g4, g4, none, none, false), Catch::Contains("eval mode needs running_mean"));
  CHECK_THROWS_WITH(batch_norm(x, g4, g4, rm, none, true), Catch::Contains("both be given"));
  CHECK_THROWS_WITH(batch_norm(Var(random_tensor({1, 4}, 6)), g4, g4, rm, rv, true),
                    Catch::Contains("more than 1 value per channel, x has shape (1, 4)"));
  CHECK_THROWS_WITH(batch_norm(x, g4, g4, rm, rv, true, 1.5f), Catch::Contains("momentum must be in [0, 1], got 1.5"));
  // training without running stats is allowed (nothing tracked)
  CHECK_NOTHROW(batch_norm(x, g4, g4, none, none, true));
}

TEST_CASE("norm: 1 and 2 threads give bit-identical results") {
  Tensor x = random_tensor({1000, 64}, 111), g = random_tensor({64}, 112), b = random_tensor({64}, 113),
         dy = random_tensor({1000, 64}, 114);
  check_same_with_1_and_2_threads([&] { return flatten(run_layer_norm(x, g, b, dy)); });
  Tensor xb = random_tensor({16, 8, 12, 12}, 115), gb = random_tensor({8}, 116), bb = random_tensor({8}, 117),
         dyb = random_tensor({16, 8, 12, 12}, 118);
  for (bool training : {true, false}) {
    check_same_with_1_and_2_threads([&] {
      Tensor rm = Tensor::zeros({8}), rv = Tensor::ones({8});
      auto v = flatten(run_batch_norm(xb, gb, bb, rm, rv, training, dyb));
      v.push_back(rm.to_vector());
      v.push_back(rv.to_vector());
      return v;
    });
    check_same_with_1_and_2_threads([&] {
      Tensor rm = Tensor::zeros({8}), rv = Tensor::ones({8});
      return flatten(run_batch_norm_relu(xb, gb, bb, rm, rv, training, dyb));
    });
  }
}
