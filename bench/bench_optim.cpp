// Optimizer steps and gradient clipping on a 4M-parameter tensor: the fast float optimizers against the
// double reference (the baseline) and against a plain copy of the same bytes (the memory-bandwidth limit).
// AdamW reads p, g, m, v and writes p, m, v: 28 bytes per parameter; SGD with momentum: 20; clip: 4 (norm).
#include <benchmark/benchmark.h>

#include <cstring>

#include "bench/bench_common.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"
#include "framework/optim/adamw.hpp"
#include "framework/optim/clip.hpp"
#include "framework/optim/optim_ref.hpp"
#include "framework/optim/sgd.hpp"

using namespace rc;

namespace {
constexpr int64_t kParams = 1 << 22;

Var make_param(uint64_t seed) {
  Generator gen(seed);
  Var p(randn({kParams}, gen), true);
  p.grad() = randn({kParams}, gen, 0.0f, 0.01f);
  return p;
}

void set_counters(benchmark::State& state, int64_t bytes_per_param) {
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * kParams * bytes_per_param,
                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void BM_AdamW(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  Var p = make_param(1);
  optim::AdamW opt({p}, {.lr = 1e-3f});
  for (auto _ : state) {
    opt.step();
    benchmark::DoNotOptimize(p.value().data());
  }
  set_counters(state, 28);
}
BENCHMARK(BM_AdamW)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_AdamW_ref_double(benchmark::State& state) {
  Var p = make_param(1);
  ref::RefTensor<double> pr = ref::to_ref<double>(p.value()), gr = ref::to_ref<double>(p.grad());
  ref::AdamWRefState<double> st;
  for (auto _ : state) {
    ref::adamw_step<double>(pr, gr, st, 1e-3, 0.9, 0.999, 1e-8, 1e-2);
    benchmark::DoNotOptimize(pr.data.data());
  }
  set_counters(state, 28);
}
BENCHMARK(BM_AdamW_ref_double)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SGD_momentum(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  Var p = make_param(2);
  optim::SGD opt({p}, {.lr = 1e-2f, .momentum = 0.9f, .weight_decay = 1e-4f});
  for (auto _ : state) {
    opt.step();
    benchmark::DoNotOptimize(p.value().data());
  }
  set_counters(state, 20);
}
BENCHMARK(BM_SGD_momentum)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_clip_grad_norm(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  Var p = make_param(3);
  for (auto _ : state) benchmark::DoNotOptimize(optim::clip_grad_norm({p}, 1e9f));  // never scales
  set_counters(state, 4);
}
BENCHMARK(BM_clip_grad_norm)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The bandwidth limit: memcpy of 3 floats per parameter (24 bytes of traffic, close to AdamW's 28), one thread.
void BM_memcpy_24_bytes_per_param(benchmark::State& state) {
  std::vector<float> src(kParams * 3, 1.0f), dst(kParams * 3);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), dst.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::DoNotOptimize(src.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, 24);  // reads 12 + writes 12 bytes per parameter
}
BENCHMARK(BM_memcpy_24_bytes_per_param)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return rc::bench::run_benchmarks(argc, argv); }
