#include "framework/autograd/var.hpp"
#include "framework/ops/activation.hpp"
#include "support/gradcheck.hpp"

using namespace rc;

TEST_CASE("autograd: gradients accumulate over shared inputs") {
  Var x(Tensor::from({3}, {-1.0f, 2.0f, 3.0f}), true);
  Var a = relu(x), b = relu(x);
  // a and b both feed a sum through a custom op: out = a + b, elementwise
  Tensor sum = a.value().clone();
  sum.add_(b.value());
  Var out = make_result(sum, {&a, &b}, "add", [a, b](const Tensor& g) {
    accumulate_grad(a, g);
    accumulate_grad(b, g);
  });
  backward(out, Tensor::from({3}, {1.0f, 1.0f, 0.5f}));
  CHECK(x.grad().to_vector() == std::vector<float>{0.0f, 2.0f, 1.0f});
}

TEST_CASE("autograd: no graph is recorded under NoGradGuard") {
  Var x(Tensor::from({2}, {1.0f, -1.0f}), true);
  {
    NoGradGuard guard;
    Var y = relu(x);
    CHECK_FALSE(y.requires_grad());
  }
  Var y = relu(x);
  CHECK(y.requires_grad());
  CHECK_THROWS_WITH(backward(y), Catch::Contains("not a scalar"));
}

TEST_CASE("backward survives intermediates that only the graph owns") {
  // the middle node is owned only by the graph: releasing the outer node's closure must not free it
  // before its own backward ran
  Var x(Tensor::from({2}, {1.0f, 2.0f}), true);
  Var y = [&] {
    Var mid = relu(x);
    return relu(mid);
  }();
  backward(y, Tensor::from({2}, {3.0f, 4.0f}));
  CHECK(x.grad().to_vector() == std::vector<float>{3.0f, 4.0f});
}
