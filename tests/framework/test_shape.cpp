#include <array>

#include "framework/ops/shape.hpp"
#include "framework/ops/shape_ref.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
using FastOp = std::function<Var(const std::vector<Var>&)>;

// Runs the fast op and checks its output and every input gradient against the reference exactly (these ops
// only move values).
void check_against_ref(const FastOp& fast, const RefForward& forward, const RefBackward& backward,
                       const std::vector<Tensor>& inputs, uint64_t seed) {
  std::vector<RefD> in_ref;
  for (const Tensor& t : inputs) in_ref.push_back(ref::to_ref<double>(t));
  RefD out_ref = forward(in_ref);
  Tensor dy = random_tensor(out_ref.shape, seed);
  auto r = run_op(fast, inputs, dy);
  CHECK(max_abs_diff(r.out, out_ref) == 0.0);
  auto grads = backward(in_ref, ref::to_ref<double>(dy));
  for (size_t k = 0; k < inputs.size(); ++k) CHECK(max_abs_diff(r.grads[k], grads[k]) == 0.0);
}
}  // namespace

TEST_CASE("shape ops: hand-computed values and gradients") {
  Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  // transpose: [[1, 4], [2, 5], [3, 6]]; dy = [[1, 2], [3, 4], [5, 6]] -> dx = dy^T = [[1, 3, 5], [2, 4, 6]]
  Tensor dy32 = Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6});
  auto r = run_op([](const std::vector<Var>& v) { return transpose(v[0], 0, 1); }, {x}, dy32);
  CHECK(r.out.shape() == Shape{3, 2});
  CHECK(r.out.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(r.grads[0].to_vector() == std::vector<float>{1, 3, 5, 2, 4, 6});
  // reshape to (3, -1) = (3, 2): same values; dx = dy read back as (2, 3)
  r = run_op([](const std::vector<Var>& v) { return reshape(v[0], {3, -1}); }, {x}, dy32);
  CHECK(r.out.shape() == Shape{3, 2});
  CHECK(r.out.to_vector() == x.to_vector());
  CHECK(r.grads[0].shape() == Shape{2, 3});
  CHECK(r.grads[0].to_vector() == dy32.to_vector());
  // permute (2, 1, 3) by (2, 0, 1) -> (3, 2, 1): y[k, i, 0] = x[i, 0, k] = [1, 4, 2, 5, 3, 6]
  r = run_op([](const std::vector<Var>& v) { return permute(v[0], {2, 0, 1}); }, {x.reshape({2, 1, 3})},
             Tensor::from({3, 2, 1}, {1, 2, 3, 4, 5, 6}));
  CHECK(r.out.shape() == Shape{3, 2, 1});
  CHECK(r.out.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(r.grads[0].to_vector() == std::vector<float>{1, 3, 5, 2, 4, 6});
  // concat [[7], [8]] and x along dim 1: [[7, 1, 2, 3], [8, 4, 5, 6]];
  // dy = [[1, 2, 3, 4], [5, 6, 7, 8]] splits into [[1], [5]] and [[2, 3, 4], [6, 7, 8]]
  Tensor a = Tensor::from({2, 1}, {7, 8});
  r = run_op([](const std::vector<Var>& v) { return concat({v[0], v[1]}, -1); }, {a, x},
             Tensor::from({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}));
  CHECK(r.out.to_vector() == std::vector<float>{7, 1, 2, 3, 8, 4, 5, 6});
  CHECK(r.grads[0].to_vector() == std::vector<float>{1, 5});
  CHECK(r.grads[1].to_vector() == std::vector<float>{2, 3, 4, 6, 7, 8});
  // slice columns [1, 3): [[2, 3], [5, 6]]; dy = [[1, 2], [3, 4]] scatters to [[0, 1, 2], [0, 3, 4]]
  r = run_op([](const std::vector<Var>& v) { return slice(v[0], 1, 1, 3); }, {x}, Tensor::from({2, 2}, {1, 2, 3, 4}));
  CHECK(r.out.to_vector() == std::vector<float>{2, 3, 5, 6});
  CHECK(r.grads[0].to_vector() == std::vector<float>{0, 1, 2, 0, 3, 4});
}

TEST_CASE("shape ops: references pass a finite-difference check in double") {
  RefD x = random_ref({2, 3, 4}, 1), y = random_ref({2, 2, 4}, 2);
  auto one = [](RefD d) { return std::vector<RefD>{d}; };
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::reshape(in[0], {4, 6}); },
                 [&](const std::vector<RefD>& in, const RefD& dy) { return one(ref::reshape_backward(in[0], dy)); },
                 {x}) < 1e-6);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::transpose(in[0], 0, -1); },
                 [&](const std::vector<RefD>& in, const RefD& dy) { return one(ref::transpose_backward(0, -1, dy)); },
                 {x}) < 1e-6);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::permute(in[0], {1, 2, 0}); },
                 [&](const std::vector<RefD>& in, const RefD& dy) { return one(ref::permute_backward({1, 2, 0}, dy)); },
                 {x}) < 1e-6);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::concat(in, 1); },
                 [](const std::vector<RefD>& in, const RefD& dy) { return ref::concat_backward(in, 1, dy); },
                 {x, y}) < 1e-6);
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::slice(in[0], 2, 1, 3); },
                 [&](const std::vector<RefD>& in, const RefD& dy) { return one(ref::slice_backward(in[0], 2, 1, dy)); },
                 {x}) < 1e-6);
}

TEST_CASE("shape ops: fast ops match the reference on random shapes") {
  uint64_t seed = 10;
  for (Shape shape : {Shape{5}, Shape{4, 33}, Shape{3, 1, 7}, Shape{2, 3, 5, 7}, Shape{64, 50, 37}}) {
    const int n = static_cast<int>(shape.size());
    INFO(shape_str(shape));
    Tensor x = random_tensor(shape, ++seed);
    Shape flat{-1};
    Shape flat_ref{x.numel()};
    check_against_ref([&](const std::vector<Var>& v) { return reshape(v[0], flat); },
                      [&](const std::vector<RefD>& in) { return ref::reshape(in[0], flat_ref); },
                      [](const std::vector<RefD>& in, const RefD& dy) { return std::vector<RefD>{ref::reshape_backward(in[0], dy)}; },
                      {x}, ++seed);
    for (int a = 0; a < n; ++a) {
      int b = n - 1 - a;
      check_against_ref([&](const std::vector<Var>& v) { return transpose(v[0], a, b); },
                        [&](const std::vector<RefD>& in) { return ref::transpose(in[0], a, b); },
                        [&](const std::vector<RefD>&, const RefD& dy) { return std::vector<RefD>{ref::transpose_backward(a, b, dy)}; },
                        {x}, ++seed);
    }
    std::vector<int> order(n);
    for (int k = 0; k < n; ++k) order[k] = (k + 1) % n;  // a rotation
    check_against_ref([&](const std::vector<Var>& v) { return permute(v[0], order); },
                      [&](const std::vector<RefD>& in) { return ref::permute(in[0], order); },
                      [&](const std::vector<RefD>&, const RefD& dy) { return std::vector<RefD>{ref::permute_backward(order, dy)}; },
                      {x}, ++seed);
    for (int dim = 0; dim < n; ++dim) {
      INFO("dim " << dim);
      Shape s1 = shape, s2 = shape;
      s1[dim] = 2;
      s2[dim] = 3;
      Tensor x1 = random_tensor(s1, ++seed), x2 = random_tensor(s2, ++seed);
      check_against_ref([&](const std::vector<Var>& v) { return concat(v, dim); },
                        [&](const std::vector<RefD>& in) { return ref::concat(in, dim); },
                        [&](const std::vector<RefD>& in, const RefD& dy) { return ref::concat_backward(in, dim, dy); },
                        {x1, x, x2}, ++seed);
      const int64_t start = shape[dim] / 3, end = shape[dim] - shape[dim] / 4;
      check_against_ref([&](const std::vector<Var>& v) { return slice(v[0], dim, start, end); },
                        [&](const std::vector<RefD>& in) { return ref::slice(in[0], dim, start, end); },
                        [&](const std::vector<RefD>& in, const RefD& dy) {
                          return std::vector<RefD>{ref::slice_backward(in[0], dim, start, dy)};
                        },
                        {x}, ++seed);
    }
  }
}

TEST_CASE("shape ops: head_part is reshape, slice and permute in one copy") {
  auto ref_forward = [](const RefD& x, int64_t P, int64_t p, int64_t H) { return ref::head_part(x, P, p, H); };
  auto ref_backward = [](const RefD& x, int64_t P, int64_t p, int64_t H, const RefD& dy) {
    return ref::head_part_backward(x, P, p, H, dy);
  };
  CHECK(fd_check([&](const std::vector<RefD>& in) { return ref_forward(in[0], 3, 1, 2); },
                 [&](const std::vector<RefD>& in, const RefD& dy) {
                   return std::vector<RefD>{ref_backward(in[0], 3, 1, 2, dy)};
                 },
                 {random_ref({2, 3, 12}, 7)}) < 1e-6);
  uint64_t seed = 300;
  for (auto [B, N, P, H, D] : std::vector<std::array<int64_t, 5>>{
           {1, 1, 1, 1, 1}, {2, 5, 3, 2, 4}, {3, 50, 3, 4, 16}, {2, 7, 2, 3, 5}, {65, 9, 3, 1, 8}}) {
    Tensor x = random_tensor({B, N, P * H * D}, ++seed);
    for (int64_t p = 0; p < P; ++p) {
      INFO("B " << B << " N " << N << " P " << P << " H " << H << " D " << D << " part " << p);
      check_against_ref([&](const std::vector<Var>& v) { return head_part(v[0], P, p, H); },
                        [&](const std::vector<RefD>& in) { return ref_forward(in[0], P, p, H); },
                        [&](const std::vector<RefD>& in, const RefD& dy) {
                          return std::vector<RefD>{ref_backward(in[0], P, p, H, dy)};
                        },
                        {x}, ++seed);
    }
  }
  // the parts of one tensor share its gradient: q, k and v of one projection add into one dx
  Tensor x = random_tensor({2, 4, 12}, 5), dy = random_tensor({2, 2, 4, 2}, 6);
  Var xv(x, true);
  for (int64_t p = 0; p < 3; ++p) backward(head_part(xv, 3, p, 2), dy);
  const RefD dx = ref::to_ref<double>(xv.grad());
  RefD expect = ref_backward(ref::to_ref<double>(x), 3, 0, 2, ref::to_ref<double>(dy));
  for (int64_t p = 1; p < 3; ++p) {
    const RefD part = ref_backward(ref::to_ref<double>(x), 3, p, 2, ref::to_ref<double>(dy));
    for (int64_t i = 0; i < part.numel(); ++i) expect[i] += part[i];
  }
  CHECK(max_abs_diff(xv.grad(), expect) == 0.0);
}

TEST_CASE("shape ops: bad input throws with the values") {
  Var x(Tensor::ones({2, 3}));
  CHECK_THROWS_WITH(reshape(x, {4, 2}), Catch::Contains("reshape") && Catch::Contains("(2, 3)") && Catch::Contains("(4, 2)"));
  CHECK_THROWS_WITH(reshape(x, {-1, -1}), Catch::Contains("more than one -1"));
  CHECK_THROWS_WITH(transpose(x, 0, 2), Catch::Contains("transpose") && Catch::Contains("(0, 2)"));
  CHECK_THROWS_WITH(permute(x, {0, 0}), Catch::Contains("permute") && Catch::Contains("[0, 0]"));
  CHECK_THROWS_WITH(permute(x, {0}), Catch::Contains("permute") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_WITH(concat({}, 0), Catch::Contains("concat") && Catch::Contains("empty"));
  CHECK_THROWS_WITH(concat({x, Var(Tensor::ones({3, 3}))}, 1),
                    Catch::Contains("xs[1]") && Catch::Contains("(3, 3)") && Catch::Contains("dim 1"));
  CHECK_THROWS_WITH(concat({x, x}, 2), Catch::Contains("concat") && Catch::Contains("dim 2"));
  CHECK_THROWS_WITH(slice(x, 1, 2, 4), Catch::Contains("slice") && Catch::Contains("[2, 4)") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_WITH(slice(x, 1, 2, 1), Catch::Contains("[2, 1)"));
  Var x3(Tensor::ones({2, 3, 12}));
  CHECK_THROWS_WITH(head_part(x, 3, 0, 2), Catch::Contains("head_part") && Catch::Contains("(2, 3)"));
  CHECK_THROWS_WITH(head_part(x3, 3, 3, 2), Catch::Contains("part 3 of 3"));
  CHECK_THROWS_WITH(head_part(x3, 5, 0, 1), Catch::Contains("(2, 3, 12)") && Catch::Contains("5 parts"));
}
