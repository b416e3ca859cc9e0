#include "framework/ops/spmm.hpp"
#include "framework/ops/spmm_ref.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
// a random sparse matrix (about a third non-zero) and its dense form
CsrMatrix random_csr(int64_t m, int64_t k, uint64_t seed, Tensor* dense) {
  Tensor d = random_tensor({m, k}, seed);
  Tensor keep = random_tensor({m, k}, seed + 1, 0.0f, 1.0f);
  for (int64_t i = 0; i < d.numel(); ++i)
    if (keep.data()[i] > 0.33f) d.data()[i] = 0.0f;
  *dense = d;
  return CsrMatrix::from_dense(d);
}
}  // namespace

TEST_CASE("spmm: hand-computed product and gradient") {
  // A = [[2, 0], [0, 0], [1, 3]], h = [[1, 2], [3, 4]] -> y = [[2, 4], [0, 0], [10, 14]]
  CsrMatrix a(3, 2, {0, 1, 1, 3}, {0, 0, 1}, {2, 1, 3});
  Tensor h = Tensor::from({2, 2}, {1, 2, 3, 4});
  auto r = run_op([&](const std::vector<Var>& v) { return spmm(a, v[0]); }, {h}, Tensor::from({3, 2}, {1, 1, 1, 1, 1, 1}));
  CHECK(r.out.to_vector() == std::vector<float>{2, 4, 0, 0, 10, 14});
  // dh = Aᵀ · 1 = [[3, 3], [3, 3]]
  CHECK(r.grads[0].to_vector() == std::vector<float>{3, 3, 3, 3});
}

TEST_CASE("spmm: reference passes a finite-difference check in double") {
  RefD a = random_ref({5, 4}, 3);
  double err = fd_check([&](const std::vector<RefD>& in) { return ref::spmm(a, in[0]); },
                        [&](const std::vector<RefD>&, const RefD& dy) {
                          return std::vector<RefD>{ref::spmm_backward(a, dy)};
                        },
                        {random_ref({4, 3}, 4)});
  CHECK(err < 1e-6);
}

TEST_CASE("spmm: fast op matches the reference on random shapes, with and without a given transpose") {
  for (auto [m, k, d] : {std::tuple{1, 1, 1}, {7, 5, 3}, {64, 33, 17}, {300, 200, 8}}) {
    Tensor dense;
    CsrMatrix a = random_csr(m, k, 10 + m, &dense);
    CsrMatrix at = a.transpose();
    Tensor h = random_tensor({k, d}, 20), dy = random_tensor({m, d}, 21);
    RefD ar = ref::to_ref<double>(dense);
    for (bool given : {false, true}) {
      auto r = run_op([&](const std::vector<Var>& v) { return spmm(a, v[0], given ? &at : nullptr); }, {h}, dy);
      CHECK(rel_error(r.out, ref::spmm(ar, ref::to_ref<double>(h))) < 1e-6);
      CHECK(rel_error(r.grads[0], ref::spmm_backward(ar, ref::to_ref<double>(dy))) < 1e-6);
    }
  }
}

TEST_CASE("spmm: bad shapes are errors with the values, sparse dropout keeps the pattern") {
  CsrMatrix a(3, 2, {0, 1, 1, 3}, {0, 0, 1}, {2, 1, 3});
  CHECK_THROWS_WITH(spmm(a, Var(Tensor::ones({3, 2}))), Catch::Contains("(3, D)") || Catch::Contains("(2, D)"));
  CsrMatrix big = CsrMatrix::from_dense(random_tensor({100, 100}, 5));
  CsrMatrix dropped = dropout_values(big, 0.5f, 7);
  int64_t zeros = 0;
  for (size_t i = 0; i < dropped.values().size(); ++i) {
    float v = dropped.values()[i];
    if (v == 0) ++zeros;
    else CHECK(v == 2 * big.values()[i]);
  }
  CHECK(zeros > 4500);
  CHECK(zeros < 5500);
  CHECK(dropout_values(big, 0.5f, 7).values() == dropped.values());
}
