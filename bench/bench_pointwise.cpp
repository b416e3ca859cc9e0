// Pointwise and broadcasting ops on a (128, 50, 64) float tensor (a batch of 128 sequences of 50 tokens of
// width 64): GELU forward+backward and a bias-style broadcast add, fast op vs the float reference, with
// memcpy of the same bytes and relu forward+backward as same-run baselines. Arg = thread count.
#include <benchmark/benchmark.h>

#include <cstring>

#include "framework/autograd/var.hpp"
#include "bench/bench_common.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"
#include "framework/ops/activation.hpp"
#include "framework/ops/activation_ref.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/elementwise_ref.hpp"

using namespace rc;

namespace {
const Shape kShape{128, 50, 64};
const int64_t kN = shape_numel(kShape);
constexpr int64_t kF = sizeof(float);

Tensor input(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen);
}

// One forward + backward of a pointwise activation: reads x, writes y; reads x and dy, writes dx.
template <class Op>
void activation_fwd_bwd(benchmark::State& state, Op op) {
  set_num_threads(static_cast<int>(state.range(0)));
  Tensor x = input(kShape, 1), dy = input(kShape, 2);
  for (auto _ : state) {
    Var xv(x, true);
    Var y = op(xv);
    backward(y, dy);
    benchmark::DoNotOptimize(xv.grad().data());
  }
  state.SetBytesProcessed(state.iterations() * 5 * kN * kF);
}

void BM_memcpy_baseline(benchmark::State& state) {  // the bytes of one fwd+bwd: 5 arrays, as 2.5 copies
  Tensor a = input(kShape, 1), b = Tensor::empty(kShape);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), kN * kF);
    std::memcpy(a.data(), b.data(), kN * kF);
    std::memcpy(b.data(), a.data(), kN * kF / 2);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 5 * kN * kF);
}
void BM_relu_fwd_bwd(benchmark::State& state) { activation_fwd_bwd(state, [](const Var& x) { return relu(x); }); }
void BM_gelu_fwd_bwd(benchmark::State& state) { activation_fwd_bwd(state, [](const Var& x) { return gelu(x); }); }
void BM_gelu_fwd_bwd_ref(benchmark::State& state) {
  auto x = ref::to_ref<float>(input(kShape, 1)), dy = ref::to_ref<float>(input(kShape, 2));
  for (auto _ : state) {
    auto y = ref::gelu(x);
    auto dx = ref::gelu_backward(x, dy);
    benchmark::DoNotOptimize(y.data.data());
    benchmark::DoNotOptimize(dx.data.data());
  }
  state.SetBytesProcessed(state.iterations() * 5 * kN * kF);
}

// a + b with a: (128, 50, 64), b: (64). Forward reads a, writes y.
void BM_bias_add_fwd(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  Var a(input(kShape, 1)), b(input({64}, 2));
  for (auto _ : state) {
    Var y = add(a, b);
    benchmark::DoNotOptimize(y.value().data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * kN * kF);
}
void BM_bias_add_fwd_ref(benchmark::State& state) {
  auto a = ref::to_ref<float>(input(kShape, 1)), b = ref::to_ref<float>(input({64}, 2));
  for (auto _ : state) {
    auto y = ref::add(a, b);
    benchmark::DoNotOptimize(y.data.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * kN * kF);
}
// forward + backward: da = dy (copied into the leaf's gradient), db = Σ over rows of dy.
// Bytes: a read, y written, dy read twice (da, db), da written.
void BM_bias_add_fwd_bwd(benchmark::State& state) {
  set_num_threads(static_cast<int>(state.range(0)));
  Tensor at = input(kShape, 1), bt = input({64}, 2), dy = input(kShape, 3);
  for (auto _ : state) {
    Var a(at, true), b(bt, true);
    Var y = add(a, b);
    backward(y, dy);
    benchmark::DoNotOptimize(b.grad().data());
  }
  state.SetBytesProcessed(state.iterations() * 5 * kN * kF);
}
}  // namespace

BENCHMARK(BM_memcpy_baseline)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_relu_fwd_bwd)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gelu_fwd_bwd)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gelu_fwd_bwd_ref)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_bias_add_fwd)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_bias_add_fwd_ref)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_bias_add_fwd_bwd)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) { return rc::bench::run_benchmarks(argc, argv); }
