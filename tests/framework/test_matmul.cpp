#include "framework/core/parallel.hpp"
#include "framework/ops/matmul.hpp"
#include "framework/ops/matmul_ref.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
Var op_matmul(const std::vector<Var>& v) { return matmul(v[0], v[1]); }
Var op_linear(const std::vector<Var>& v) { return linear(v[0], v[1], v.size() > 2 ? v[2] : Var()); }
}  // namespace

TEST_CASE("matmul and linear: hand-computed values and gradients") {
  // a = [[1, 2], [3, 4]], b = [[5, 6], [7, 8]]: y = [[19, 22], [43, 50]]
  // dy = ones: da = dy·bᵀ = [[11, 15], [11, 15]], db = aᵀ·dy = [[4, 4], [6, 6]]
  Tensor a = Tensor::from({2, 2}, {1, 2, 3, 4}), b = Tensor::from({2, 2}, {5, 6, 7, 8});
  auto r = run_op(op_matmul, {a, b}, Tensor::ones({2, 2}));
  CHECK(r.out.to_vector() == std::vector<float>{19, 22, 43, 50});
  CHECK(r.grads[0].to_vector() == std::vector<float>{11, 15, 11, 15});
  CHECK(r.grads[1].to_vector() == std::vector<float>{4, 4, 6, 6});
  // linear: x = [[1, 2]], w = [[1, 0], [2, -1], [0.5, 0.5]], b = [1, 2, 3]: y = x·wᵀ + b = [[2, 2, 4.5]]
  // dy = [[1, 2, 3]]: dx = dy·w = [[1 + 4 + 1.5, 0 − 2 + 1.5]] = [[6.5, −0.5]], dw = dyᵀ·x = [[1, 2], [2, 4], [3, 6]],
  // db = [1, 2, 3]
  Tensor x = Tensor::from({1, 2}, {1, 2}), w = Tensor::from({3, 2}, {1, 0, 2, -1, 0.5f, 0.5f});
  auto l = run_op(op_linear, {x, w, Tensor::from({3}, {1, 2, 3})}, Tensor::from({1, 3}, {1, 2, 3}));
  CHECK(l.out.to_vector() == std::vector<float>{2, 2, 4.5f});
  CHECK(l.grads[0].to_vector() == std::vector<float>{6.5f, -0.5f});
  CHECK(l.grads[1].to_vector() == std::vector<float>{1, 2, 2, 4, 3, 6});
  CHECK(l.grads[2].to_vector() == std::vector<float>{1, 2, 3});
}

TEST_CASE("matmul and linear: references pass a finite-difference check in double") {
  auto mm_f = [](const std::vector<RefD>& in) { return ref::matmul(in[0], in[1]); };
  auto mm_b = [](const std::vector<RefD>& in, const RefD& dy) { return ref::matmul_backward(in[0], in[1], dy); };
  CHECK(fd_check(mm_f, mm_b, {random_ref({3, 4}, 1), random_ref({4, 5}, 2)}) < 1e-6);
  CHECK(fd_check(mm_f, mm_b, {random_ref({2, 3, 4}, 3), random_ref({2, 4, 5}, 4)}) < 1e-6);
  auto lin_f = [](const std::vector<RefD>& in) { return ref::linear(in[0], in[1], in[2]); };
  auto lin_b = [](const std::vector<RefD>& in, const RefD& dy) { return ref::linear_backward(in[0], in[1], in[2], dy); };
  CHECK(fd_check(lin_f, lin_b, {random_ref({2, 3, 4}, 5), random_ref({5, 4}, 6), random_ref({5}, 7)}) < 1e-6);
  CHECK(fd_check(lin_f, lin_b, {random_ref({3, 4}, 8), random_ref({2, 4}, 9), RefD({0})}, {0, 1}) < 1e-6);
}

TEST_CASE("matmul: fast op matches the reference on random shapes, batched and with transposed views") {
  struct Case {
    Shape a, b;
  };
  uint64_t seed = 20;
  for (Case c : {Case{{1, 1}, {1, 1}}, Case{{3, 7}, {7, 5}}, Case{{33, 17}, {17, 65}}, Case{{300, 129}, {129, 250}},
                 Case{{4, 5, 3}, {4, 3, 9}}, Case{{3, 70, 33}, {3, 33, 41}}}) {
    CAPTURE(shape_str(c.a), shape_str(c.b));
    Tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++);
    Shape ys = c.a;
    ys.back() = c.b.back();
    Tensor dy = random_tensor(ys, seed++);
    auto r = run_op(op_matmul, {a, b}, dy);
    RefD ar = ref::to_ref<double>(a), br = ref::to_ref<double>(b);
    auto g = ref::matmul_backward(ar, br, ref::to_ref<double>(dy));
    CHECK(rel_error(r.out, ref::matmul(ar, br)) < 1e-6);
    CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
    CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
  }
  // a stored transposed (a view of (K, M)) and b a strided column slice: same answers as packed copies
  Tensor at = random_tensor({40, 30}, 90), bs = random_tensor({40, 50}, 91);
  Tensor dy = random_tensor({30, 20}, 92);
  auto view_op = [](const std::vector<Var>& v) {
    Var a = Var(v[0].value().transpose(0, 1));
    Var b = Var(v[1].value().slice(1, 5, 25));
    return matmul(a, b);
  };
  std::vector<Var> leaves{Var(at), Var(bs)};
  Var y = view_op(leaves);
  CHECK(rel_error(y.value(), ref::matmul(ref::to_ref<double>(at.transpose(0, 1)), ref::to_ref<double>(bs.slice(1, 5, 25)))) <
        1e-6);
  // gradients through views: a (M, K) = atᵀ as a transposed leaf
  auto r = run_op(op_matmul, {at.transpose(0, 1), bs.slice(1, 5, 25)}, dy);
  auto g = ref::matmul_backward(ref::to_ref<double>(at.transpose(0, 1)), ref::to_ref<double>(bs.slice(1, 5, 25)),
                                ref::to_ref<double>(dy));
  CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
  CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
}

TEST_CASE("linear: fast op matches the reference with and without bias, 2-D and 3-D inputs") {
  struct Case {
    Shape x;
    int64_t out;
  };
  uint64_t seed = 40;
  for (Case c : {Case{{1, 1}, 1}, Case{{5, 3}, 7}, Case{{2, 9, 13}, 11}, Case{{128, 50, 64}, 192}, Case{{777, 65}, 33}}) {
    for (bool with_bias : {true, false}) {
      CAPTURE(shape_str(c.x), c.out, with_bias);
      const int64_t in = c.x.back();
      Tensor x = random_tensor(c.x, seed++), w = random_tensor({c.out, in}, seed++), b = random_tensor({c.out}, seed++);
      Shape ys = c.x;
      ys.back() = c.out;
      Tensor dy = random_tensor(ys, seed++);
      std::vector<Tensor> inputs{x, w};
      if (with_bias) inputs.push_back(b);
      auto r = run_op(op_linear, inputs, dy);
      RefD xr = ref::to_ref<double>(x), wr = ref::to_ref<double>(w), br = with_bias ? ref::to_ref<double>(b) : RefD({0});
      auto g = ref::linear_backward(xr, wr, br, ref::to_ref<double>(dy));
      CHECK(rel_error(r.out, ref::linear(xr, wr, br)) < 1e-6);
      CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
      CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
      if (with_bias) CHECK(rel_error(r.grads[2], g[2]) < 1e-6);
    }
  }
}

TEST_CASE("linear: forward and gradients are bit-identical with 1 and 2 threads") {
  Tensor x = random_tensor({128, 50, 64}, 1), w = random_tensor({192, 64}, 2), b = random_tensor({192}, 3);
  Tensor dy = random_tensor({128, 50, 192}, 4);
  auto run = [&](int threads) {
    set_num_threads(threads);
    return run_op(op_linear, {x, w, b}, dy);
  };
  auto one = run(1), two = run(2);
  set_num_threads(0);
  CHECK(one.out.to_vector() == two.out.to_vector());
  for (int i = 0; i < 3; ++i) CHECK(one.grads[i].to_vector() == two.grads[i].to_vector());
}

TEST_CASE("matmul and linear: bad inputs name the shapes") {
  Var a(random_tensor({3, 4}, 1)), b(random_tensor({5, 6}, 2)), c(random_tensor({2, 3, 4}, 3));
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("a (3, 4) has K = 4 but b (5, 6) has K = 5"));
  CHECK_THROWS_WITH(matmul(a, c), Catch::Contains("got a (3, 4) and b (2, 3, 4)"));
  CHECK_THROWS_WITH(matmul(c, Var(random_tensor({3, 4, 2}, 4))), Catch::Contains("batch sizes differ"));
  CHECK_THROWS_WITH(linear(a, b), Catch::Contains("x (3, 4) has 4 features but w (5, 6) expects 6"));
  CHECK_THROWS_WITH(linear(a, Var(random_tensor({5, 4}, 5)), Var(random_tensor({4}, 6))),
                    Catch::Contains("b must be (5) for w (5, 4), got shape (4)"));
  CHECK_THROWS_WITH(linear(a, Var(random_tensor({4}, 7))), Catch::Contains("w must be (out, in), got shape (4)"));
}
