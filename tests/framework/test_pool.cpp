#include <cmath>
#include "framework/ops/pool.hpp"
#include "framework/ops/pool_ref.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
// Distinct values spaced by at least 0.01 (a shuffled ramp with jitter), so that max-pool is away from its kinks
// (ties) and finite differences with a small eps never change which element wins.
RefD distinct_ref(const Shape& shape, uint64_t seed) {
  RefD r(shape);
  Generator gen(seed);
  std::vector<int64_t> order(r.numel());
  for (int64_t i = 0; i < r.numel(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), gen);
  for (int64_t i = 0; i < r.numel(); ++i) r[order[i]] = 0.05 + 0.01 * static_cast<double>(i) * (i % 2 ? 1 : -1);
  return r;
}
Tensor distinct_tensor(const Shape& shape, uint64_t seed) { return ref::from_ref(distinct_ref(shape, seed)); }

Pool2dOptions pool(std::array<int64_t, 2> k, std::array<int64_t, 2> s = {0, 0}, std::array<int64_t, 2> p = {0, 0},
                   bool include_pad = true) {
  return Pool2dOptions{k, s, p, include_pad};
}
}  // namespace

TEST_CASE("pooling: hand-computed values and gradients") {
  // x = [[1, 5, 2, 0.5], [3, 4, 8, 7], [−1, −2, 6, 9], [0.25, −3, 1.5, 2.5]], 2×2 windows with stride 2
  // max: [[5, 8], [0.25, 9]]; avg: [[13/4, 17.5/4], [−5.75/4, 19/4]] = [[3.25, 4.375], [−1.4375, 4.75]]
  Tensor x = Tensor::from({1, 1, 4, 4}, {1, 5, 2, 0.5f, 3, 4, 8, 7, -1, -2, 6, 9, 0.25f, -3, 1.5f, 2.5f});
  Tensor dy = Tensor::from({1, 1, 2, 2}, {1, 2, 3, 4});
  auto m = run_op([](const std::vector<Var>& v) { return max_pool2d(v[0], pool({2, 2})); }, {x}, dy);
  CHECK(m.out.to_vector() == std::vector<float>{5, 8, 0.25f, 9});
  CHECK(m.grads[0].to_vector() == std::vector<float>{0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 3, 0, 0, 0});
  auto a = run_op([](const std::vector<Var>& v) { return avg_pool2d(v[0], pool({2, 2})); }, {x}, dy);
  CHECK(a.out.to_vector() == std::vector<float>{3.25f, 4.375f, -1.4375f, 4.75f});
  CHECK(a.grads[0].to_vector() ==
        std::vector<float>{0.25f, 0.25f, 0.5f, 0.5f, 0.25f, 0.25f, 0.5f, 0.5f, 0.75f, 0.75f, 1, 1, 0.75f, 0.75f, 1, 1});
  // global average: row sums 8.5 + 22 + 12 + 1.25 = 43.75, mean 43.75 / 16 = 2.734375; dx = dy / 16
  auto g = run_op([](const std::vector<Var>& v) { return global_avg_pool(v[0]); }, {x}, Tensor::from({1, 1}, {8}));
  CHECK(g.out.to_vector() == std::vector<float>{2.734375f});
  CHECK(g.grads[0].to_vector() == std::vector<float>(16, 0.5f));
  // 3×3 window, stride 1, padding 1 at the corner: avg over the 4 real values / 9 (or / 4 without the padding)
  auto p = run_op([](const std::vector<Var>& v) { return avg_pool2d(v[0], pool({3, 3}, {1, 1}, {1, 1}, false)); }, {x},
                  Tensor::ones({1, 1, 4, 4}));
  CHECK(p.out.at({0, 0, 0, 0}) == (1 + 5 + 3 + 4) / 4.0f);
}

TEST_CASE("pooling: references pass a finite-difference check in double") {
  for (Pool2dOptions opt : {pool({2, 2}), pool({3, 2}, {2, 1}, {1, 1}), pool({3, 3}, {2, 2}, {1, 0}, false)}) {
    RefD x = distinct_ref({2, 3, 7, 6}, 5);
    CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::max_pool2d(in[0], opt); },
                   [&](const std::vector<RefD>& in, const RefD& dy) {
                     return std::vector<RefD>{ref::max_pool2d_backward(in[0], dy, opt)};
                   },
                   {x}) < 1e-6);
    CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::avg_pool2d(in[0], opt); },
                   [&](const std::vector<RefD>& in, const RefD& dy) {
                     return std::vector<RefD>{ref::avg_pool2d_backward(in[0], dy, opt)};
                   },
                   {x}) < 1e-6);
  }
  CHECK(fd_check([](const std::vector<RefD>& in) { return ref::global_avg_pool(in[0]); },
                 [](const std::vector<RefD>& in, const RefD& dy) {
                   return std::vector<RefD>{ref::global_avg_pool_backward(in[0], dy)};
                 },
                 {random_ref({2, 3, 4, 5}, 6)}) < 1e-6);
}

TEST_CASE("pooling: fast ops match the references on shapes, strides and padding") {
  struct Case {
    Shape x;
    Pool2dOptions opt;
  };
  uint64_t seed = 30;
  for (Case c : {Case{{1, 1, 1, 1}, pool({1, 1})}, Case{{2, 3, 8, 8}, pool({2, 2})}, Case{{2, 3, 7, 9}, pool({3, 3}, {2, 2}, {1, 1})},
                 Case{{3, 2, 9, 5}, pool({3, 2}, {1, 2}, {1, 0}, false)}, Case{{2, 4, 11, 10}, pool({2, 3}, {3, 1})},
                 Case{{64, 16, 14, 14}, pool({2, 2})}, Case{{3, 2, 7, 9}, pool({2, 2})}}) {
    CAPTURE(shape_str(c.x), c.opt.kernel[0], c.opt.kernel[1], c.opt.stride[0], c.opt.stride[1], c.opt.padding[0],
            c.opt.padding[1]);
    Tensor x = distinct_tensor(c.x, seed++);
    Tensor dy = random_tensor(ref::pool2d_out_shape(c.x, c.opt), seed++);
    RefD xr = ref::to_ref<double>(x), dyr = ref::to_ref<double>(dy);
    auto m = run_op([&](const std::vector<Var>& v) { return max_pool2d(v[0], c.opt); }, {x}, dy);
    CHECK(max_abs_diff(m.out, ref::max_pool2d(xr, c.opt)) == 0.0);
    CHECK(rel_error(m.grads[0], ref::max_pool2d_backward(xr, dyr, c.opt)) < 1e-6);
    auto a = run_op([&](const std::vector<Var>& v) { return avg_pool2d(v[0], c.opt); }, {x}, dy);
    CHECK(rel_error(a.out, ref::avg_pool2d(xr, c.opt)) < 1e-6);
    CHECK(rel_error(a.grads[0], ref::avg_pool2d_backward(xr, dyr, c.opt)) < 1e-6);
  }
  {  // ties (values in {-1, 0, 1, 2}): the gradient goes to the first maximum in row order, as in the reference
    Tensor x = random_tensor({4, 3, 10, 7}, 62, -1.5f, 2.5f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = std::round(x.data()[i]);
    Tensor dy = random_tensor({4, 3, 5, 3}, 63);
    auto m = run_op([&](const std::vector<Var>& v) { return max_pool2d(v[0], pool({2, 2})); }, {x}, dy);
    RefD xr = ref::to_ref<double>(x);
    CHECK(max_abs_diff(m.out, ref::max_pool2d(xr, pool({2, 2}))) == 0.0);
    CHECK(rel_error(m.grads[0], ref::max_pool2d_backward(xr, ref::to_ref<double>(dy), pool({2, 2}))) < 1e-6);
  }
  Tensor x = random_tensor({5, 7, 9, 11}, 60), dy = random_tensor({5, 7}, 61);
  auto g = run_op([](const std::vector<Var>& v) { return global_avg_pool(v[0]); }, {x}, dy);
  RefD xr = ref::to_ref<double>(x);
  CHECK(rel_error(g.out, ref::global_avg_pool(xr)) < 1e-6);
  CHECK(rel_error(g.grads[0], ref::global_avg_pool_backward(xr, ref::to_ref<double>(dy))) < 1e-6);
}

TEST_CASE("pooling: bad inputs name the shapes and options") {
  Var x(random_tensor({2, 3, 5, 5}, 1));
  CHECK_THROWS_WITH(max_pool2d(Var(random_tensor({3, 5, 5}, 1)), pool({2, 2})),
                    Catch::Contains("max_pool2d: x must be (N, C, H, W), got (3, 5, 5)"));
  CHECK_THROWS_WITH(avg_pool2d(x, pool({0, 2})), Catch::Contains("avg_pool2d: kernel (0, 2) must be >= 1"));
  CHECK_THROWS_WITH(max_pool2d(x, pool({2, 2}, {1, 1}, {2, 0})),
                    Catch::Contains("padding (2, 0) must be in [0, kernel / 2] for kernel (2, 2)"));
  CHECK_THROWS_WITH(max_pool2d(x, pool({6, 2})), Catch::Contains("padded input 5x5 is smaller than the kernel 6x2"));
  CHECK_THROWS_WITH(global_avg_pool(Var(random_tensor({2, 3}, 1))),
                    Catch::Contains("global_avg_pool: x must be (N, C, H, W), got (2, 3)"));
}
