#include "framework/ops/broadcast.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/elementwise_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::test;

namespace {
using BinaryOp = Var (*)(const Var&, const Var&);
using RefBinary = RefD (*)(const RefD&, const RefD&);
using RefBinaryBackward = std::vector<RefD> (*)(const RefD&, const RefD&, const RefD&);

struct Binary {
  const char* name;
  BinaryOp fast;
  RefBinary ref;
  RefBinaryBackward ref_backward;
};
const Binary kBinaries[] = {
    {"add", add, ref::add<double>, ref::add_backward<double>},
    {"sub", sub, ref::sub<double>, ref::sub_backward<double>},
    {"mul", mul, ref::mul<double>, ref::mul_backward<double>},
};

// operand shape pairs: same, bias, scalar, both broadcast, leading ones, odd sizes, big enough to go parallel
const std::pair<Shape, Shape> kShapePairs[] = {
    {{4, 33}, {4, 33}},        {{7, 13}, {13}},     {{5, 6}, {}},          {{1}, {3, 4}},
    {{3, 1, 5}, {4, 1}},       {{2, 3, 1}, {1, 1, 7}}, {{7, 13}, {7, 1}},  {{1, 3, 1}, {2, 1, 5}},
    {{128, 50, 64}, {64}},     {{90001}, {90001}},  {{3, 40000}, {3, 1}},  {{6, 1, 9000}, {5, 1}},
};
}  // namespace

TEST_CASE("add, sub, mul: hand-computed values and gradients with a bias broadcast") {
  Tensor a = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from({3}, {10, 20, 30});
  Tensor dy = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  // a + b = [[11, 22, 33], [14, 25, 36]]; da = dy; db = column sums of dy = [1+4, 2+5, 3+6] = [5, 7, 9]
  auto r = run_op([](const std::vector<Var>& v) { return add(v[0], v[1]); }, {a, b}, dy);
  CHECK(r.out.to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(r.grads[0].to_vector() == dy.to_vector());
  CHECK(r.grads[1].to_vector() == std::vector<float>{5, 7, 9});
  // a - b = [[-9, -18, -27], [-6, -15, -24]]; db = -[5, 7, 9]
  r = run_op([](const std::vector<Var>& v) { return sub(v[0], v[1]); }, {a, b}, dy);
  CHECK(r.out.to_vector() == std::vector<float>{-9, -18, -27, -6, -15, -24});
  CHECK(r.grads[1].to_vector() == std::vector<float>{-5, -7, -9});
  // c: (2, 1) = [[2], [3]], d: (3) = [1, 2, 4] -> c ⊙ d = [[2, 4, 8], [3, 6, 12]];
  // with dy = ones: dc = row sums of d = [[7], [7]], dd = column sums of c = [5, 5, 5]
  Tensor c = Tensor::from({2, 1}, {2, 3}), d = Tensor::from({3}, {1, 2, 4});
  r = run_op([](const std::vector<Var>& v) { return mul(v[0], v[1]); }, {c, d}, Tensor::ones({2, 3}));
  CHECK(r.out.to_vector() == std::vector<float>{2, 4, 8, 3, 6, 12});
  CHECK(r.grads[0].to_vector() == std::vector<float>{7, 7});
  CHECK(r.grads[1].to_vector() == std::vector<float>{5, 5, 5});
}

TEST_CASE("scalars and sums: hand-computed values and gradients") {
  Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  // x + 0.5 and 3x; gradients: dy and 3 dy
  Tensor dy = Tensor::from({2, 3}, {1, -1, 2, -2, 3, -3});
  auto r = run_op([](const std::vector<Var>& v) { return add_scalar(v[0], 0.5f); }, {x}, dy);
  CHECK(r.out.to_vector() == std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f});
  CHECK(r.grads[0].to_vector() == dy.to_vector());
  r = run_op([](const std::vector<Var>& v) { return mul_scalar(v[0], 3.0f); }, {x}, dy);
  CHECK(r.out.to_vector() == std::vector<float>{3, 6, 9, 12, 15, 18});
  CHECK(r.grads[0].to_vector() == std::vector<float>{3, -3, 6, -6, 9, -9});
  // sum = 21 with dx = 2 everywhere for dy = 2; mean = 21 / 6 = 3.5 with dx = 2 / 6
  r = run_op([](const std::vector<Var>& v) { return sum(v[0]); }, {x}, Tensor::scalar(2.0f));
  CHECK(r.out.shape().empty());
  CHECK(r.out.item() == 21.0f);
  CHECK(r.grads[0].to_vector() == std::vector<float>(6, 2.0f));
  r = run_op([](const std::vector<Var>& v) { return mean(v[0]); }, {x}, Tensor::scalar(2.0f));
  CHECK(r.out.item() == 3.5f);
  CHECK(r.grads[0].to_vector() == std::vector<float>(6, 2.0f / 6.0f));
  // sum over dim 0 = [1+4, 2+5, 3+6] = [5, 7, 9]; over dim 1 (keepdim) = [[6], [15]];
  // backward of dim 1 with dy = [[1], [2]] repeats each row's gradient: [[1, 1, 1], [2, 2, 2]]
  r = run_op([](const std::vector<Var>& v) { return sum(v[0], 0); }, {x}, Tensor::ones({3}));
  CHECK(r.out.shape() == Shape{3});
  CHECK(r.out.to_vector() == std::vector<float>{5, 7, 9});
  r = run_op([](const std::vector<Var>& v) { return sum(v[0], -1, true); }, {x}, Tensor::from({2, 1}, {1, 2}));
  CHECK(r.out.shape() == Shape{2, 1});
  CHECK(r.out.to_vector() == std::vector<float>{6, 15});
  CHECK(r.grads[0].to_vector() == std::vector<float>{1, 1, 1, 2, 2, 2});
}

TEST_CASE("elementwise: references pass a finite-difference check in double") {
  for (const Binary& op : kBinaries) {
    for (auto [sa, sb] : {std::pair<Shape, Shape>{{3, 1, 4}, {2, 4}}, {{2, 3}, {2, 3}}, {{}, {2, 3}}}) {
      INFO(op.name << " " << shape_str(sa) << " " << shape_str(sb));
      double err = fd_check([&](const std::vector<RefD>& in) { return op.ref(in[0], in[1]); },
                            [&](const std::vector<RefD>& in, const RefD& dy) { return op.ref_backward(in[0], in[1], dy); },
                            {random_ref(sa, 1), random_ref(sb, 2)});
      CHECK(err < 1e-6);
    }
  }
  RefD x = random_ref({3, 4, 5}, 3);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::mul_scalar(ref::add_scalar(in[0], 0.3), -1.7); },
                 [](const std::vector<RefD>& in, const RefD& dy) {
                   return std::vector<RefD>{ref::add_scalar_backward(ref::mul_scalar_backward(dy, -1.7))};
                 },
                 {x}) < 1e-6);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::sum(in[0]); },
                 [](const std::vector<RefD>& in, const RefD& dy) { return std::vector<RefD>{ref::sum_backward(in[0], dy)}; },
                 {x}) < 1e-6);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::mean(in[0]); },
                 [](const std::vector<RefD>& in, const RefD& dy) { return std::vector<RefD>{ref::mean_backward(in[0], dy)}; },
                 {x}) < 1e-6);
  for (int dim : {0, 1, -1})
    for (bool keep : {false, true}) {
      INFO("sum dim " << dim << " keepdim " << keep);
      CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::sum(in[0], dim, keep); },
                     [&](const std::vector<RefD>& in, const RefD& dy) {
                       return std::vector<RefD>{ref::sum_backward(in[0], dim, keep, dy)};
                     },
                     {x}) < 1e-6);
    }
}

TEST_CASE("add, sub, mul: fast ops match the reference on broadcast shapes") {
  for (const Binary& op : kBinaries) {
    for (const auto& [sa, sb] : kShapePairs) {
      for (bool swap : {false, true}) {
        const Shape& s0 = swap ? sb : sa;
        const Shape& s1 = swap ? sa : sb;
        INFO(op.name << " " << shape_str(s0) << " " << shape_str(s1));
        Tensor a = random_tensor(s0, 5), b = random_tensor(s1, 6);
        Shape out = broadcast_shapes(s0, s1, "test");
        Tensor dy = random_tensor(out, 7);
        auto r = run_op([&](const std::vector<Var>& v) { return op.fast(v[0], v[1]); }, {a, b}, dy);
        RefD ar = ref::to_ref<double>(a), br = ref::to_ref<double>(b);
        auto g = op.ref_backward(ar, br, ref::to_ref<double>(dy));
        CHECK(rel_error(r.out, op.ref(ar, br)) < 1e-6);
        CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
        CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
      }
    }
  }
}

TEST_CASE("scalars and sums: fast ops match the reference on random shapes") {
  for (Shape shape : {Shape{1}, Shape{17}, Shape{4, 33}, Shape{2, 3, 5, 7}, Shape{3, 20001, 5}, Shape{70001}}) {
    INFO(shape_str(shape));
    Tensor x = random_tensor(shape, 8), dy = random_tensor(shape, 9);
    RefD xr = ref::to_ref<double>(x), dyr = ref::to_ref<double>(dy);
    auto r = run_op([](const std::vector<Var>& v) { return add_scalar(v[0], -0.25f); }, {x}, dy);
    CHECK(rel_error(r.out, ref::add_scalar(xr, -0.25)) < 1e-6);
    CHECK(rel_error(r.grads[0], ref::add_scalar_backward(dyr)) < 1e-6);
    r = run_op([](const std::vector<Var>& v) { return mul_scalar(v[0], 1.5f); }, {x}, dy);
    CHECK(rel_error(r.out, ref::mul_scalar(xr, 1.5)) < 1e-6);
    CHECK(rel_error(r.grads[0], ref::mul_scalar_backward(dyr, 1.5)) < 1e-6);
    Tensor ds = Tensor::scalar(0.75f);
    RefD dsr = ref::to_ref<double>(ds);
    r = run_op([](const std::vector<Var>& v) { return sum(v[0]); }, {x}, ds);
    CHECK(std::fabs(r.out.item() - ref::sum(xr)[0]) < 1e-5 * (1 + std::fabs(ref::sum(xr)[0])) * std::sqrt(x.numel()));
    CHECK(rel_error(r.grads[0], ref::sum_backward(xr, dsr)) < 1e-6);
    r = run_op([](const std::vector<Var>& v) { return mean(v[0]); }, {x}, ds);
    CHECK(std::fabs(r.out.item() - ref::mean(xr)[0]) < 1e-5);
    CHECK(rel_error(r.grads[0], ref::mean_backward(xr, dsr)) < 1e-6);
    for (int dim = -1; dim < x.ndim(); ++dim)
      for (bool keep : {false, true}) {
        INFO("dim " << dim << " keepdim " << keep);
        RefD yr = ref::sum(xr, dim, keep);
        Tensor dyd = random_tensor(yr.shape, 10);
        r = run_op([&](const std::vector<Var>& v) { return sum(v[0], dim, keep); }, {x}, dyd);
        CHECK(rel_error(r.out, yr) < 1e-5);
        CHECK(rel_error(r.grads[0], ref::sum_backward(xr, dim, keep, ref::to_ref<double>(dyd))) < 1e-6);
      }
  }
}

TEST_CASE("broadcast gradients and sums do not depend on the thread count") {
  Tensor a = random_tensor({64, 50, 64}, 11), b = random_tensor({64}, 12), c = random_tensor({64, 1, 64}, 13);
  Tensor dy = random_tensor({64, 50, 64}, 14);
  auto run = [&] {
    auto r = run_op([](const std::vector<Var>& v) { return mul(add(v[0], v[1]), v[2]); }, {a, b, c}, dy);
    Var x(a);
    r.grads.push_back(sum(x).value());
    r.grads.push_back(sum(x, 1).value());
    return r;
  };
  auto [r1, r2] = at_one_and_two_threads(run);
  CHECK(r1.out.to_vector() == r2.out.to_vector());
  for (size_t k = 0; k < r1.grads.size(); ++k) CHECK(r1.grads[k].to_vector() == r2.grads[k].to_vector());
}

TEST_CASE("elementwise: bad input throws with the values") {
  Var a(Tensor::ones({2, 3})), b(Tensor::ones({4}));
  CHECK_THROWS_WITH(add(a, b), Catch::Contains("add") && Catch::Contains("(2, 3)") && Catch::Contains("(4)"));
  CHECK_THROWS_WITH(mul(a, Var(Tensor::ones({3, 3}))), Catch::Contains("mul") && Catch::Contains("(3, 3)"));
  CHECK_THROWS_WITH(sum(a, 2), Catch::Contains("sum") && Catch::Contains("dim 2") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_WITH(sum(a, -3), Catch::Contains("dim -3"));
  CHECK_THROWS_WITH(mean(Var(Tensor::ones({0, 3}))), Catch::Contains("mean") && Catch::Contains("(0, 3)"));
  CHECK_THROWS_WITH(sum_to(Tensor::ones({2, 3}), {4}), Catch::Contains("sum_to") && Catch::Contains("(4)"));
}
