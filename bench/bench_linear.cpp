// Dense and sparse linear layers, and the GEMM ceiling measured in the same run.
//   ./build/bench_linear --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Counters: GFLOP/s (2·M·N·K per product). The raw sgemm calls of the backend (oneDNN) are the ceiling:
// Sgemm/blas_threads:1 is one core, blas_threads:2 lets oneDNN use both cores itself (then back to one thread).
#include "bench/bench_common.hpp"

#include <random>

#include "framework/core/gemm.hpp"
#include "framework/ops/matmul.hpp"
#include "framework/ops/matmul_ref.hpp"
#include "framework/ops/sparse.hpp"

using namespace rc;
using rc::bench::set_gflops;

namespace {
// the linear layer of a patch-attention block: (B·N = 128·50) × 64 -> 192
constexpr int64_t kRows = 128 * 50, kIn = 64, kOut = 192;

void BM_Linear_Forward(benchmark::State& state) {
  Generator gen(1);
  Var x(randn({kRows, kIn}, gen)), w(randn({kOut, kIn}, gen)), b(randn({kOut}, gen));
  for (auto _ : state) benchmark::DoNotOptimize(linear(x, w, b).value().data());
  set_gflops(state, 2.0 * kRows * kIn * kOut);
}
BENCHMARK(BM_Linear_Forward)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Linear_ForwardBackward(benchmark::State& state) {
  Generator gen(1);
  Var x(randn({kRows, kIn}, gen), true), w(randn({kOut, kIn}, gen), true), b(randn({kOut}, gen), true);
  Tensor dy = randn({kRows, kOut}, gen);
  for (auto _ : state) {
    Var y = linear(x, w, b);
    backward(y, dy);
    x.zero_grad(), w.zero_grad(), b.zero_grad();
  }
  set_gflops(state, 3 * 2.0 * kRows * kIn * kOut);  // y, dx, dw
}
BENCHMARK(BM_Linear_ForwardBackward)->Unit(benchmark::kMicrosecond)->UseRealTime();

// the reference loops (float) on 1/50 of the rows, for scale
void BM_Linear_Reference_Forward(benchmark::State& state) {
  Generator gen(1);
  auto x = ref::to_ref<float>(randn({kRows / 50, kIn}, gen));
  auto w = ref::to_ref<float>(randn({kOut, kIn}, gen)), b = ref::to_ref<float>(randn({kOut}, gen));
  for (auto _ : state) benchmark::DoNotOptimize(ref::linear(x, w, b).data.data());
  set_gflops(state, 2.0 * (kRows / 50) * kIn * kOut);
}
BENCHMARK(BM_Linear_Reference_Forward)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Cora-like bag of words: 2708 × 1433 at 1.3 % density -> 64
constexpr int64_t kNodes = 2708, kFeatures = 1433, kHidden = 64;
Tensor cora_like_features() {
  Generator gen(7);
  std::bernoulli_distribution keep(0.013);
  Tensor x({kNodes, kFeatures});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = keep(gen) ? 1.0f : 0.0f;
  return x;
}

void BM_Sparse_ForwardBackward(benchmark::State& state) {
  CsrMatrix x = CsrMatrix::from_dense(cora_like_features());
  Generator gen(2);
  Var w(randn({kHidden, kFeatures}, gen), true), b(randn({kHidden}, gen), true);
  Tensor dy = randn({kNodes, kHidden}, gen);
  for (auto _ : state) {
    Var y = spmm_linear(x, w, b);
    backward(y, dy);
    w.zero_grad(), b.zero_grad();
  }
  set_gflops(state, 2 * 2.0 * x.nnz() * kHidden);  // y and dw, sparse FLOPs
  state.counters["nnz"] = static_cast<double>(x.nnz());
}
BENCHMARK(BM_Sparse_ForwardBackward)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SparseAsDense_ForwardBackward(benchmark::State& state) {
  Var x(cora_like_features());  // a constant input, as in the sparse case: no dx
  Generator gen(2);
  Var w(randn({kHidden, kFeatures}, gen), true), b(randn({kHidden}, gen), true);
  Tensor dy = randn({kNodes, kHidden}, gen);
  for (auto _ : state) {
    Var y = linear(x, w, b);
    backward(y, dy);
    w.zero_grad(), b.zero_grad();
  }
  set_gflops(state, 2 * 2.0 * kNodes * kFeatures * kHidden);  // y and dw
}
BENCHMARK(BM_SparseAsDense_ForwardBackward)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Sparse_Forward(benchmark::State& state) {
  CsrMatrix x = CsrMatrix::from_dense(cora_like_features());
  Generator gen(2);
  Var w(randn({kHidden, kFeatures}, gen)), b(randn({kHidden}, gen));
  for (auto _ : state) benchmark::DoNotOptimize(spmm_linear(x, w, b).value().data());
  set_gflops(state, 2.0 * x.nnz() * kHidden);
}
BENCHMARK(BM_Sparse_Forward)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SparseAsDense_Forward(benchmark::State& state) {
  Var x(cora_like_features());
  Generator gen(2);
  Var w(randn({kHidden, kFeatures}, gen)), b(randn({kHidden}, gen));
  for (auto _ : state) benchmark::DoNotOptimize(linear(x, w, b).value().data());
  set_gflops(state, 2.0 * kNodes * kFeatures * kHidden);
}
BENCHMARK(BM_SparseAsDense_Forward)->Unit(benchmark::kMicrosecond)->UseRealTime();

// large square products: rc::gemm (tiles over the TBB arena) against raw single-call sgemm
void BM_Gemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator gen(3);
  Tensor a = randn({n, n}, gen), b = randn({n, n}, gen), c({n, n});
  for (auto _ : state) gemm(Op::N, Op::N, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  set_gflops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_Gemm)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Sgemm(benchmark::State& state) {
  rc::bench::sgemm_ceiling(state, state.range(0), static_cast<int>(state.range(1)));
}
BENCHMARK(BM_Sgemm)->ArgNames({"n", "blas_threads"})->Args({1024, 1})->Args({1024, 2})->Args({2048, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
}  // namespace

int main(int argc, char** argv) { return rc::bench::main(argc, argv); }
