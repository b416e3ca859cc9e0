#include "framework/core/parallel.hpp"
#include "framework/ops/conv.hpp"
#include "framework/ops/conv_ref.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
struct ConvCase {
  Shape x, w;
  Conv2dOptions opt;
  bool bias;
};

OpRun run_conv(const ConvCase& c, const std::vector<Tensor>& inputs, const Tensor& dy) {
  return run_op([&](const std::vector<Var>& v) { return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Var(), c.opt); },
                inputs, dy);
}

// the fast op against the double reference: forward, dx, dw, db
void check_against_reference(const ConvCase& c, uint64_t seed) {
  CAPTURE(shape_str(c.x), shape_str(c.w), c.opt.stride[0], c.opt.stride[1], c.opt.padding[0], c.opt.padding[1],
          c.opt.dilation[0], c.opt.dilation[1], c.bias, static_cast<int>(c.opt.algorithm));
  Tensor x = random_tensor(c.x, seed), w = random_tensor(c.w, seed + 1), b = random_tensor({c.w[0]}, seed + 2);
  Tensor dy = random_tensor(ref::conv2d_out_shape(c.x, c.w, c.opt), seed + 3);
  std::vector<Tensor> inputs{x, w};
  if (c.bias) inputs.push_back(b);
  auto r = run_conv(c, inputs, dy);
  RefD xr = ref::to_ref<double>(x), wr = ref::to_ref<double>(w), br = c.bias ? ref::to_ref<double>(b) : RefD({0});
  auto g = ref::conv2d_backward(xr, wr, br, ref::to_ref<double>(dy), c.opt);
  CHECK(rel_error(r.out, ref::conv2d(xr, wr, br, c.opt)) < 1e-6);
  CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
  CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
  if (c.bias) CHECK(rel_error(r.grads[2], g[2]) < 1e-6);
}
}  // namespace

TEST_CASE("conv2d: hand-computed values and gradients") {
  // x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[1, 0], [0, −1]], b = 0.5: y[i, j] = x[i, j] − x[i+1, j+1] + 0.5 = −3.5
  // dy = ones (2×2): db = 4; dw[ki, kj] = Σ_{i,j} x[i+ki, j+kj] = [[12, 16], [24, 28]];
  // dx = +1 on the top-left 2×2 (from w00) and −1 on the bottom-right 2×2 (from w11) = [[1, 1, 0], [1, 0, −1], [0, −1, −1]]
  Tensor x = Tensor::from({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = Tensor::from({1, 1, 2, 2}, {1, 0, 0, -1});
  ConvCase c{{1, 1, 3, 3}, {1, 1, 2, 2}, {}, true};
  auto r = run_conv(c, {x, w, Tensor::from({1}, {0.5f})}, Tensor::ones({1, 1, 2, 2}));
  CHECK(r.out.to_vector() == std::vector<float>{-3.5f, -3.5f, -3.5f, -3.5f});
  CHECK(r.grads[0].to_vector() == std::vector<float>{1, 1, 0, 1, 0, -1, 0, -1, -1});
  CHECK(r.grads[1].to_vector() == std::vector<float>{12, 16, 24, 28});
  CHECK(r.grads[2].to_vector() == std::vector<float>{4});
  // padding 1 on the same input: the corner output y[0, 0] sees only x[0, 0] through w11: −1 + 0.5
  c.opt.padding = {1, 1};
  r = run_conv(c, {x, w, Tensor::from({1}, {0.5f})}, Tensor::ones({1, 1, 4, 4}));
  CHECK(r.out.at({0, 0, 0, 0}) == -0.5f);
}

TEST_CASE("conv2d: reference passes a finite-difference check in double") {
  auto check = [](const ConvCase& c) {
    auto f = [&](const std::vector<RefD>& in) { return ref::conv2d(in[0], in[1], in[2], c.opt); };
    auto b = [&](const std::vector<RefD>& in, const RefD& dy) {
      return ref::conv2d_backward(in[0], in[1], in[2], dy, c.opt);
    };
    return fd_check(f, b, {random_ref(c.x, 1), random_ref(c.w, 2), random_ref({c.w[0]}, 3)});
  };
  CHECK(check({{2, 3, 5, 6}, {4, 3, 3, 2}, {}, true}) < 1e-6);
  CHECK(check({{1, 2, 7, 6}, {3, 2, 3, 3}, {{2, 1}, {1, 2}, {1, 2}}, true}) < 1e-6);
  CHECK(check({{2, 2, 6, 7}, {2, 2, 2, 3}, {{2, 3}, {0, 1}, {2, 1}}, true}) < 1e-6);
}

TEST_CASE("conv2d: fast op matches the reference on shapes, strides, padding and dilation") {
  const std::vector<ConvCase> cases = {
      {{1, 1, 1, 1}, {1, 1, 1, 1}, {}, true},                          // the smallest
      {{2, 3, 7, 5}, {4, 3, 3, 3}, {{1, 1}, {1, 1}, {1, 1}}, true},    // 3×3 same padding, odd sizes
      {{3, 5, 9, 8}, {6, 5, 1, 1}, {}, false},                         // 1×1: the image is the im2col matrix
      {{2, 4, 6, 6}, {3, 4, 1, 1}, {{1, 1}, {1, 1}, {1, 1}}, true},    // 1×1 with padding (negative in backward)
      {{2, 3, 11, 9}, {5, 3, 3, 2}, {{2, 3}, {1, 0}, {1, 1}}, true},   // strides: col2im backward
      {{2, 2, 10, 11}, {3, 2, 3, 3}, {{1, 1}, {2, 1}, {2, 3}}, true},  // dilation
      {{1, 3, 8, 9}, {2, 3, 2, 3}, {{3, 2}, {1, 1}, {2, 2}}, false},   // stride and dilation together
      {{2, 2, 5, 5}, {2, 2, 3, 3}, {{1, 1}, {3, 2}, {1, 1}}, true},    // padding larger than the kernel reach
      {{2, 8, 7, 5}, {4, 8, 3, 3}, {{1, 1}, {1, 1}, {1, 1}}, true},    // >= 8 channels: shifted taps
      {{2, 9, 10, 11}, {3, 9, 3, 3}, {{1, 1}, {2, 1}, {2, 3}}, true},  // shifted taps with dilation
      {{2, 8, 6, 6}, {3, 8, 1, 1}, {{1, 1}, {1, 1}, {1, 1}}, false},   // shifted taps, 1×1 with padding
      {{37, 16, 7, 6}, {24, 16, 3, 3}, {{1, 1}, {1, 1}, {1, 1}}, true},   // many chunks, a short last one
      {{20, 8, 6, 7}, {5, 8, 2, 3}, {{1, 1}, {0, 0}, {2, 1}}, false},     // shifted taps, no padding, dilated
      {{3, 32, 20, 19}, {32, 32, 3, 3}, {{1, 1}, {1, 1}, {1, 1}}, true},  // chunks of 2 images and a last one of 1
      {{3, 32, 21, 19}, {32, 32, 3, 3}, {{2, 2}, {1, 1}, {1, 1}}, true},  // the same with stride (col2im)
  };
  uint64_t seed = 100;
  for (ConvCase c : cases) {
    for (ConvAlgorithm algorithm : {ConvAlgorithm::Auto, ConvAlgorithm::Gemm}) {
      c.opt.algorithm = algorithm;
      check_against_reference(c, seed);
    }
    seed += 10;
  }
}

TEST_CASE("conv2d: Winograd F(2x2, 3x3) matches the reference on random shapes") {
  // odd and even output sizes (partial tiles at the right and bottom edges), padding 0-2 in each direction,
  // 1-9 images (groups of images side by side in one GEMM, and a short last group), with and without bias
  Generator gen(42);
  for (int trial = 0; trial < 24; ++trial) {
    auto pick = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(gen() % static_cast<uint64_t>(hi - lo + 1)); };
    const int64_t ph = pick(0, 2), pw = pick(0, 2);
    const int64_t H = pick(std::max<int64_t>(1, 3 - 2 * ph), 17), W = pick(std::max<int64_t>(1, 3 - 2 * pw), 17);
    const ConvCase c{{pick(1, 9), pick(8, 20), H, W},
                     {pick(1, 12), 0, 3, 3},
                     {{1, 1}, {ph, pw}, {1, 1}, ConvAlgorithm::Winograd},
                     trial % 2 == 0};
    ConvCase full = c;
    full.w[1] = c.x[1];
    check_against_reference(full, 1000 + 10 * trial);
  }
  // a layer of the image CNN at its real size, where the tiles of one image fill a group
  check_against_reference({{3, 32, 28, 28}, {32, 32, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, ConvAlgorithm::Winograd}, false},
                          7);
}

TEST_CASE("conv2d: forward and gradients are bit-identical with 1 and 2 threads") {
  // big enough that the batch is cut into several chunks of images
  Tensor x = random_tensor({8, 32, 32, 32}, 1), w = random_tensor({32, 32, 3, 3}, 2), b = random_tensor({32}, 3);
  for (Conv2dOptions opt : {Conv2dOptions{{1, 1}, {1, 1}, {1, 1}}, Conv2dOptions{{2, 2}, {1, 1}, {1, 1}}}) {
    ConvCase c{x.shape(), w.shape(), opt, true};
    Tensor dy = random_tensor(ref::conv2d_out_shape(x.shape(), w.shape(), opt), 4);
    set_num_threads(1);
    auto one = run_conv(c, {x, w, b}, dy);
    set_num_threads(2);
    auto two = run_conv(c, {x, w, b}, dy);
    set_num_threads(0);
    CHECK(one.out.to_vector() == two.out.to_vector());
    for (int i = 0; i < 3; ++i) CHECK(one.grads[i].to_vector() == two.grads[i].to_vector());
  }
  // small planes: many chunks of several images
  Tensor xs = random_tensor({70, 16, 7, 7}, 5), ws = random_tensor({24, 16, 3, 3}, 6), bs = random_tensor({24}, 7);
  ConvCase c{xs.shape(), ws.shape(), Conv2dOptions{{1, 1}, {1, 1}, {1, 1}}, true};
  Tensor dy = random_tensor({70, 24, 7, 7}, 8);
  set_num_threads(1);
  auto one = run_conv(c, {xs, ws, bs}, dy);
  set_num_threads(2);
  auto two = run_conv(c, {xs, ws, bs}, dy);
  set_num_threads(0);
  CHECK(one.out.to_vector() == two.out.to_vector());
  for (int i = 0; i < 3; ++i) CHECK(one.grads[i].to_vector() == two.grads[i].to_vector());
}

TEST_CASE("conv2d: bad inputs name the shapes and options") {
  Var x(random_tensor({2, 3, 5, 5}, 1)), w(random_tensor({4, 3, 3, 3}, 2));
  CHECK_THROWS_WITH(conv2d(Var(random_tensor({3, 5, 5}, 1)), w), Catch::Contains("x must be (N, C, H, W), got shape (3, 5, 5)"));
  CHECK_THROWS_WITH(conv2d(x, Var(random_tensor({4, 2, 3, 3}, 2))),
                    Catch::Contains("x (2, 3, 5, 5) has 3 channels but w (4, 2, 3, 3) expects 2"));
  CHECK_THROWS_WITH(conv2d(x, w, Var(random_tensor({3}, 3))), Catch::Contains("b must be (4) for w (4, 3, 3, 3), got shape (3)"));
  CHECK_THROWS_WITH(conv2d(x, w, Var(), {{0, 1}}), Catch::Contains("stride (0, 1) must be >= 1"));
  CHECK_THROWS_WITH(conv2d(x, w, Var(), {{1, 1}, {-1, 0}}), Catch::Contains("padding (-1, 0) must be >= 0"));
  CHECK_THROWS_WITH(conv2d(x, w, Var(), {{1, 1}, {0, 0}, {3, 1}}),
                    Catch::Contains("padded input 5x5 is smaller than the dilated kernel 7x3"));
  Var x8(random_tensor({2, 8, 5, 5}, 1)), w8(random_tensor({4, 8, 3, 3}, 2));
  CHECK_THROWS_WITH(conv2d(x, w, Var(), {{1, 1}, {1, 1}, {1, 1}, ConvAlgorithm::Winograd}),
                    Catch::Contains("algorithm Winograd needs a 3x3 kernel, stride 1, dilation 1 and at least 8 input channels"));
  CHECK_THROWS_WITH(conv2d(x8, w8, Var(), {{2, 2}, {1, 1}, {1, 1}, ConvAlgorithm::Winograd}),
                    Catch::Contains("w (4, 8, 3, 3), stride (2, 2), dilation (1, 1)"));
}
