#include "framework/core/parallel.hpp"
#include "framework/ops/matmul_ref.hpp"
#include "framework/ops/sparse.hpp"
#include "framework/ops/sparse_ref.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
// A random (rows, cols) matrix with about `density` of its entries non-zero (and never near zero).
CsrMatrix random_csr(int64_t rows, int64_t cols, double density, uint64_t seed) {
  Generator gen(seed);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  Tensor dense = random_tensor({rows, cols}, seed + 1);
  for (int64_t i = 0; i < dense.numel(); ++i)
    if (keep(gen) >= density) dense.data()[i] = 0.0f;
  return CsrMatrix::from_dense(dense);
}

// runs spmm_linear on leaves w (and b) and returns {y, dw, db}
OpRun run_spmm(const CsrMatrix& x, const Tensor& w, const Tensor& b, const Tensor& dy) {
  std::vector<Tensor> inputs{w};
  if (b.defined()) inputs.push_back(b);
  return run_op([&](const std::vector<Var>& v) { return spmm_linear(x, v[0], v.size() > 1 ? v[1] : Var()); }, inputs,
                dy);
}
}  // namespace

TEST_CASE("spmm_linear: hand-computed values and gradients") {
  // x = [[0, 2, 0], [1, 0, 3]], w = [[1, 1, 1], [1, -1, 2]], b = [0.5, -0.5]
  // y = x·wᵀ + b = [[2 + 0.5, −2 − 0.5], [1 + 3 + 0.5, 1 + 6 − 0.5]] = [[2.5, −2.5], [4.5, 6.5]]
  // dy = [[1, 2], [3, 4]]: dw = dyᵀ·x = [[3, 2, 9], [4, 4, 12]], db = [4, 6]
  CsrMatrix x(2, 3, {0, 1, 3}, {1, 0, 2}, {2, 1, 3});
  CHECK(x.to_dense().to_vector() == std::vector<float>{0, 2, 0, 1, 0, 3});
  auto r = run_spmm(x, Tensor::from({2, 3}, {1, 1, 1, 1, -1, 2}), Tensor::from({2}, {0.5f, -0.5f}),
                    Tensor::from({2, 2}, {1, 2, 3, 4}));
  CHECK(r.out.to_vector() == std::vector<float>{2.5f, -2.5f, 4.5f, 6.5f});
  CHECK(r.grads[0].to_vector() == std::vector<float>{3, 2, 9, 4, 4, 12});
  CHECK(r.grads[1].to_vector() == std::vector<float>{4, 6});
}

TEST_CASE("spmm_linear: reference passes a finite-difference check in double and equals the dense linear") {
  CsrMatrix x = random_csr(6, 9, 0.3, 1);
  auto f = [&](const std::vector<RefD>& in) { return ref::spmm_linear(x, in[0], in[1]); };
  auto b = [&](const std::vector<RefD>& in, const RefD& dy) { return ref::spmm_linear_backward(x, in[0], in[1], dy); };
  RefD w = random_ref({4, 9}, 2), bias = random_ref({4}, 3);
  CHECK(fd_check(f, b, {w, bias}) < 1e-6);
  // equivalence: the sparse layer is the dense linear on x.to_dense()
  RefD xd = ref::to_ref<double>(x.to_dense()), dy = random_ref({6, 4}, 4);
  CHECK(rel_error(ref::spmm_linear(x, w, bias).data, ref::linear(xd, w, bias).data) < 1e-15);
  auto gs = ref::spmm_linear_backward(x, w, bias, dy);
  auto gd = ref::linear_backward(xd, w, bias, dy);
  CHECK(rel_error(gs[0].data, gd[1].data) < 1e-15);
  CHECK(rel_error(gs[1].data, gd[2].data) < 1e-15);
}

TEST_CASE("spmm_linear: fast op matches the reference on random sparse inputs") {
  struct Case {
    int64_t rows, in, out;
    double density;
  };
  uint64_t seed = 10;
  for (Case c : {Case{1, 1, 1, 1.0}, Case{7, 5, 3, 0.5}, Case{33, 65, 17, 0.1}, Case{300, 1433, 64, 0.013},
                 Case{50, 40, 9, 0.0}}) {
    for (bool with_bias : {true, false}) {
      CAPTURE(c.rows, c.in, c.out, c.density, with_bias);
      CsrMatrix x = random_csr(c.rows, c.in, c.density, seed++);
      Tensor w = random_tensor({c.out, c.in}, seed++), b = random_tensor({c.out}, seed++);
      Tensor dy = random_tensor({c.rows, c.out}, seed++);
      auto r = run_spmm(x, w, with_bias ? b : Tensor(), dy);
      RefD wr = ref::to_ref<double>(w), br = with_bias ? ref::to_ref<double>(b) : RefD({0});
      auto g = ref::spmm_linear_backward(x, wr, br, ref::to_ref<double>(dy));
      CHECK(rel_error(r.out, ref::spmm_linear(x, wr, br)) < 1e-6);
      CHECK(rel_error(r.grads[0], g[0]) < 1e-6);
      if (with_bias) CHECK(rel_error(r.grads[1], g[1]) < 1e-6);
    }
  }
}

TEST_CASE("spmm_linear: bit-identical with 1 and 2 threads, transpose round-trips") {
  CsrMatrix x = random_csr(2708, 1433, 0.013, 5);
  CHECK(x.transpose().transpose().to_dense().to_vector() == x.to_dense().to_vector());
  Tensor w = random_tensor({64, 1433}, 6), b = random_tensor({64}, 7), dy = random_tensor({2708, 64}, 8);
  set_num_threads(1);
  auto one = run_spmm(x, w, b, dy);
  set_num_threads(2);
  auto two = run_spmm(x, w, b, dy);
  set_num_threads(0);
  CHECK(one.out.to_vector() == two.out.to_vector());
  CHECK(one.grads[0].to_vector() == two.grads[0].to_vector());
  CHECK(one.grads[1].to_vector() == two.grads[1].to_vector());
}

TEST_CASE("CsrMatrix and spmm_linear: bad inputs name the row and the value") {
  CHECK_THROWS_WITH(CsrMatrix(2, 3, {0, 1}, {0}, {1.0f}), Catch::Contains("row_ptr has 2 entries, expected rows + 1 = 3"));
  CHECK_THROWS_WITH(CsrMatrix(2, 3, {0, 2, 1}, {0}, {1.0f}), Catch::Contains("row_ptr decreases at row 1: 2 then 1"));
  CHECK_THROWS_WITH(CsrMatrix(2, 3, {0, 1, 3}, {0}, {1.0f}), Catch::Contains("row_ptr ends at 3 but there are 1 values"));
  CHECK_THROWS_WITH(CsrMatrix(2, 3, {0, 1, 2}, {0, 5}, {1, 2}), Catch::Contains("row 1 has column index 5 outside [0, 3)"));
  CHECK_THROWS_WITH(CsrMatrix(1, 3, {0, 2}, {2, 1}, {1, 2}),
                    Catch::Contains("row 0 has column indices not strictly increasing (2 then 1)"));
  CHECK_THROWS_WITH(CsrMatrix(2, 3, {0, 1, 2}, {0, 1}, {1, NAN}), Catch::Contains("row 1 has non-finite value nan"));
  CHECK_THROWS_WITH(CsrMatrix(2, 3, {0, 1, 2}, {0, 1}, {1}), Catch::Contains("col_idx has 2 entries but values has 1"));
  CsrMatrix x(1, 3, {0, 1}, {1}, {2.0f});
  CHECK_THROWS_WITH(spmm_linear(x, Var(random_tensor({4, 5}, 1))),
                    Catch::Contains("x (1, 3) has 3 features but w (4, 5) expects 5"));
  CHECK_THROWS_WITH(spmm_linear(x, Var(random_tensor({4, 3}, 1)), Var(random_tensor({3}, 2))),
                    Catch::Contains("b must be (4) for w (4, 3), got shape (3)"));
}
