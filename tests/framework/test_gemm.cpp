#include "framework/core/gemm.hpp"
#include "framework/core/gemm_ref.hpp"
#include "framework/core/parallel.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Runs fast gemm and the double reference on the same random operands (stored with padded leading dimensions)
// and returns the relative error.
double gemm_vs_ref(Op op_a, Op op_b, int64_t M, int64_t N, int64_t K, float alpha, float beta, bool bias,
                   uint64_t seed) {
  const int64_t a_rows = op_a == Op::N ? M : K, a_cols = op_a == Op::N ? K : M;
  const int64_t b_rows = op_b == Op::N ? K : N, b_cols = op_b == Op::N ? N : K;
  const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = N + 2;
  auto A = random_tensor({std::max<int64_t>(a_rows, 1), lda}, seed).to_vector();
  auto B = random_tensor({std::max<int64_t>(b_rows, 1), ldb}, seed + 1).to_vector();
  auto C = random_tensor({std::max<int64_t>(M, 1), ldc}, seed + 2).to_vector();
  auto bias_v = random_tensor({std::max<int64_t>(N, 1)}, seed + 3).to_vector();
  auto Ad = to_double(A), Bd = to_double(B), Cd = to_double(C), biasd = to_double(bias_v);
  gemm(op_a, op_b, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc, bias ? bias_v.data() : nullptr);
  ref::gemm<double>(op_a, op_b, M, N, K, alpha, Ad.data(), lda, Bd.data(), ldb, beta, Cd.data(), ldc,
                    bias ? biasd.data() : nullptr);
  return rel_error(C, Cd);
}
}  // namespace

TEST_CASE("gemm: hand-computed values with alpha, beta and a row bias") {
  // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]: A·B = [[19, 22], [43, 50]]
  // C = 2·A·B + 0.5·[[1, 1], [1, 1]] + bias [10, 20] = [[48.5, 64.5], [96.5, 120.5]]
  std::vector<float> A{1, 2, 3, 4}, B{5, 6, 7, 8}, C{1, 1, 1, 1}, bias{10, 20};
  gemm(Op::N, Op::N, 2, 2, 2, 2.0f, A.data(), 2, B.data(), 2, 0.5f, C.data(), 2, bias.data());
  CHECK(C == std::vector<float>{48.5f, 64.5f, 96.5f, 120.5f});
  // Aᵀ·Bᵀ = [[1, 3], [2, 4]]·[[5, 7], [6, 8]] = [[23, 31], [34, 46]]; beta = 0 ignores C (even NaN)
  std::vector<float> D{NAN, NAN, NAN, NAN};
  gemm(Op::T, Op::T, 2, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, D.data(), 2);
  CHECK(D == std::vector<float>{23, 31, 34, 46});
}

TEST_CASE("gemm: matches the triple loop for all transposes, odd sizes, alpha/beta and bias") {
  struct Case {
    int64_t M, N, K;
  };
  uint64_t seed = 10;
  for (Case c : {Case{1, 1, 1}, Case{3, 5, 7}, Case{17, 1, 33}, Case{1, 29, 4}, Case{65, 31, 9}, Case{257, 130, 97},
                 Case{600, 70, 300}, Case{40, 700, 300}}) {
    for (Op op_a : {Op::N, Op::T})
      for (Op op_b : {Op::N, Op::T}) {
        CAPTURE(c.M, c.N, c.K, op_a == Op::T, op_b == Op::T);
        CHECK(gemm_vs_ref(op_a, op_b, c.M, c.N, c.K, 1.0f, 0.0f, false, seed++) < 1e-6);
        CHECK(gemm_vs_ref(op_a, op_b, c.M, c.N, c.K, -0.5f, 1.5f, true, seed++) < 1e-6);
      }
  }
  CHECK(gemm_vs_ref(Op::N, Op::N, 4, 3, 0, 1.0f, 0.5f, true, seed++) < 1e-7);  // K = 0: C = beta·C + bias
}

TEST_CASE("gemm: large products are cut into several tiles and all tiles are right") {
  GemmTiling t = gemm_tiling(1024, 1024, 1024);
  CHECK(num_chunks(1024, t.tile_m) * num_chunks(1024, t.tile_n) >= 4);
  t = gemm_tiling(6400, 192, 64);
  CHECK(num_chunks(6400, t.tile_m) >= 4);
  t = gemm_tiling(16, 16, 16);
  CHECK((t.tile_m == 16 && t.tile_n == 16 && t.tile_k == 16));
  CHECK(gemm_vs_ref(Op::N, Op::T, 1000, 96, 200, 1.0f, 0.0f, true, 77) < 1e-6);
  // a weight gradient: small C, long K, cut along K; pieces added in order
  t = gemm_tiling(192, 64, 6400);
  CHECK(num_chunks(6400, t.tile_k) > 1);
  t = gemm_tiling(96, 48, 12000);
  CHECK(num_chunks(12000, t.tile_k) > 1);
  for (Op op_a : {Op::N, Op::T})
    for (Op op_b : {Op::N, Op::T}) CHECK(gemm_vs_ref(op_a, op_b, 96, 48, 12000, 0.5f, 2.0f, true, 78) < 1e-6);
}

TEST_CASE("gemm: results are bit-identical with 1 and 2 threads") {
  for (const auto& mnk : {std::array<int64_t, 3>{700, 300, 160}, std::array<int64_t, 3>{96, 48, 12000}}) {
  // plain locals, not structured bindings: a lambda below captures them (clang 14 cannot capture bindings)
  const int64_t M = mnk[0], N = mnk[1], K = mnk[2];
  auto A = random_tensor({M, K}, 1).to_vector(), B = random_tensor({K, N}, 2).to_vector();
  auto bias = random_tensor({N}, 3).to_vector();
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> C(M * N);
    gemm(Op::N, Op::N, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N, bias.data());
    return C;
  };
  auto one = run(1), two = run(2);
  set_num_threads(0);
  CHECK(one == two);
  }
}

TEST_CASE("gemm_batched: every item matches the reference, including a shared A") {
  const int64_t batch = 5, M = 7, N = 9, K = 11;
  auto A = random_tensor({batch, M, K}, 4).to_vector(), B = random_tensor({batch, N, K}, 5).to_vector();
  auto C = random_tensor({batch, M, N}, 6).to_vector();
  for (int64_t stride_a : {M * K, int64_t{0}}) {
    auto Cf = C;
    auto Cd = to_double(C), Ad = to_double(A), Bd = to_double(B);
    gemm_batched(batch, Op::N, Op::T, M, N, K, 1.0f, A.data(), K, stride_a, B.data(), K, N * K, 0.5f, Cf.data(), N,
                 M * N);
    for (int64_t i = 0; i < batch; ++i)
      ref::gemm<double>(Op::N, Op::T, M, N, K, 1.0, Ad.data() + i * stride_a, K, Bd.data() + i * N * K, K, 0.5,
                        Cd.data() + i * M * N, N);
    CHECK(rel_error(Cf, Cd) < 1e-6);
  }
}

TEST_CASE("column_sums: sums every column over many row chunks") {
  const int64_t M = 200000, N = 13, lda = 15;  // several chunks of ~1M adds
  auto A = random_tensor({M, lda}, 8).to_vector();
  std::vector<float> out(N, 1.0f);
  column_sums(M, N, A.data(), lda, out.data(), /*accumulate=*/true);
  std::vector<double> expect(N, 1.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) expect[j] += A[i * lda + j];
  CHECK(rel_error(out, expect) < 1e-6);
}

TEST_CASE("gemm: bad arguments name the values") {
  std::vector<float> A(12), B(12), C(12);
  CHECK_THROWS_WITH(gemm(Op::N, Op::N, 3, 4, 3, 1.0f, A.data(), 2, B.data(), 4, 0.0f, C.data(), 4),
                    Catch::Contains("lda=2 < 3"));
  CHECK_THROWS_WITH(gemm(Op::N, Op::T, 3, 4, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 4),
                    Catch::Contains("ldb=2 < 3"));
  CHECK_THROWS_WITH(gemm(Op::N, Op::N, 3, 4, 3, 1.0f, A.data(), 3, B.data(), 4, 0.0f, C.data(), 3),
                    Catch::Contains("ldc=3 < N=4"));
  CHECK_THROWS_WITH(gemm(Op::N, Op::N, -1, 4, 3, 1.0f, A.data(), 3, B.data(), 4, 0.0f, C.data(), 4),
                    Catch::Contains("M=-1"));
}
