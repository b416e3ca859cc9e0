#pragma once
// Shared pieces of the Google Benchmark programs: the GFLOP/s counter, the raw sgemm ceiling, and a main
// that sizes the task arena (RECEPTIVE_BENCH_THREADS, default 2: the machine's cores) and prints the machine
// line (CPU, ISA, GEMM backend and kernel, threads) at the top of every benchmark's output.
#include <benchmark/benchmark.h>
#include <dnnl.h>
#include <fmt/format.h>

#include <cstdlib>

#include "framework/core/backend.hpp"

#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"

namespace rc::bench {

// counter "GFLOP/s": flops per iteration over the measured time
inline void set_gflops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The ceiling: one n³ call of the backend's sgemm (oneDNN) with its own OpenMP threads (1 = one core, 2 = both
// cores), restored to one thread afterwards (the framework runs it single-threaded inside its TBB tasks).
inline void sgemm_ceiling(benchmark::State& state, int64_t n, int blas_threads) {
  Generator gen(3);
  Tensor a = randn({n, n}, gen), b = randn({n, n}, gen), c({n, n});
  set_backend_threads_on_this_thread(blas_threads);
  for (auto _ : state) dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  set_backend_threads_on_this_thread(1);
  set_gflops(state, 2.0 * n * n * n);
}

// Prints the machine line, then runs the registered benchmarks (for programs that set their own thread counts).
inline int run_benchmarks(int argc, char** argv) {
  fmt::print(stderr, "{}\n", machine_line());
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

inline int main(int argc, char** argv) {
  const char* threads = std::getenv("RECEPTIVE_BENCH_THREADS");
  set_num_threads(threads ? std::atoi(threads) : 2);
  fmt::print(stderr, "{}\n", machine_line());
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace rc::bench
