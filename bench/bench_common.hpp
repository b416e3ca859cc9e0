#pragma once
// Shared pieces of the Google Benchmark programs: the GFLOP/s counter, the raw OpenBLAS ceiling, and a main
// that sizes the task arena (RECEPTIVE_BENCH_THREADS, default 2: the machine's cores).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>

#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"

namespace rc::bench {

// counter "GFLOP/s": flops per iteration over the measured time
inline void set_gflops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The ceiling: one n³ sgemm call with OpenBLAS's own threads (1 = one core, 2 = both cores), restored to one
// thread afterwards (the framework keeps BLAS single-threaded inside its TBB tasks).
inline void cblas_ceiling(benchmark::State& state, int64_t n, int blas_threads) {
  Generator gen(3);
  Tensor a = randn({n, n}, gen), b = randn({n, n}, gen), c({n, n});
  const int ni = static_cast<int>(n);
  openblas_set_num_threads(blas_threads);
  for (auto _ : state)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a.data(), ni, b.data(), ni, 0.0f,
                c.data(), ni);
  openblas_set_num_threads(1);
  set_gflops(state, 2.0 * n * n * n);
}

inline int main(int argc, char** argv) {
  const char* threads = std::getenv("RECEPTIVE_BENCH_THREADS");
  set_num_threads(threads ? std::atoi(threads) : 2);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace rc::bench
