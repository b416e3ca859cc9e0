#include "framework/ops/activation.hpp"
#include "framework/ops/activation_ref.hpp"
#include "support/gradcheck.hpp"

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
