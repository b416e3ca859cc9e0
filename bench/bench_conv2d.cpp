// conv2d 3×3, padding 1, batch 128, 32 -> 32 channels, 28 × 28: forward and forward + backward, with the raw
// OpenBLAS GEMM ceiling measured in the same run.
//   ./build/bench_conv2d --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include "bench/bench_common.hpp"

#include "framework/ops/conv.hpp"
#include "framework/ops/conv_ref.hpp"

using namespace rc;
using rc::bench::set_gflops;

namespace {
constexpr int64_t kBatch = 128, kChannels = 32, kSize = 28;

// one pass = 2·N·O·C·kh·kw·Ho·Wo
double conv_flops(int64_t channels, int64_t kernel) {
  return 2.0 * kBatch * channels * channels * kernel * kernel * kSize * kSize;
}

void BM_Conv2d_Forward(benchmark::State& state) {
  const int64_t k = state.range(0);
  Generator gen(1);
  Var x(randn({kBatch, kChannels, kSize, kSize}, gen)), w(randn({kChannels, kChannels, k, k}, gen)),
      b(randn({kChannels}, gen));
  const Conv2dOptions opt{{1, 1}, {k / 2, k / 2}, {1, 1}};
  for (auto _ : state) benchmark::DoNotOptimize(conv2d(x, w, b, opt).value().data());
  set_gflops(state, conv_flops(kChannels, k));
}
BENCHMARK(BM_Conv2d_Forward)->ArgName("k")->Arg(3)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Conv2d_ForwardBackward(benchmark::State& state) {
  const int64_t k = state.range(0);
  Generator gen(1);
  Var x(randn({kBatch, kChannels, kSize, kSize}, gen), true), w(randn({kChannels, kChannels, k, k}, gen), true),
      b(randn({kChannels}, gen), true);
  Tensor dy = randn({kBatch, kChannels, kSize, kSize}, gen);
  const Conv2dOptions opt{{1, 1}, {k / 2, k / 2}, {1, 1}};
  for (auto _ : state) {
    Var y = conv2d(x, w, b, opt);
    backward(y, dy);
    x.zero_grad(), w.zero_grad(), b.zero_grad();
  }
  set_gflops(state, 3 * conv_flops(kChannels, k));  // y, dx, dw
}
BENCHMARK(BM_Conv2d_ForwardBackward)->ArgName("k")->Arg(3)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The layers of the Fashion-MNIST CNN (batch 128, 3×3, padding 1, no bias), forward + backward (dx, dw; no dx
// for the first layer as in training): which layers run near the GEMM ceiling and which do not. winograd:1 is
// the default (Auto) algorithm, winograd:0 the per-tap GEMMs; GFLOP/s count the direct product's FLOPs for both,
// so Winograd's figure is the effective rate (it does 2.25× fewer multiplications).
void BM_Conv2d_CnnLayer(benchmark::State& state) {
  const int64_t C = state.range(0), O = state.range(1), S = state.range(2);
  Generator gen(1);
  Var x(randn({kBatch, C, S, S}, gen), C > 1), w(randn({O, C, 3, 3}, gen), true);
  Tensor dy = randn({kBatch, O, S, S}, gen);
  const Conv2dOptions opt{{1, 1}, {1, 1}, {1, 1}, state.range(3) ? ConvAlgorithm::Auto : ConvAlgorithm::Gemm};
  for (auto _ : state) {
    Var y = conv2d(x, w, Var(), opt);
    backward(y, dy);
    x.zero_grad(), w.zero_grad();
  }
  set_gflops(state, (C > 1 ? 3.0 : 2.0) * 2.0 * kBatch * O * C * 9 * S * S);
}
BENCHMARK(BM_Conv2d_CnnLayer)
    ->ArgNames({"C", "O", "size", "winograd"})
    ->Args({1, 32, 28, 1})
    ->Args({32, 32, 28, 0})
    ->Args({32, 32, 28, 1})
    ->Args({32, 64, 14, 0})
    ->Args({32, 64, 14, 1})
    ->Args({64, 64, 14, 0})
    ->Args({64, 64, 14, 1})
    ->Args({64, 128, 7, 0})
    ->Args({64, 128, 7, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// the reference loops (float) on 2 images of the same layer, for scale
void BM_Conv2d_Reference_Forward(benchmark::State& state) {
  Generator gen(1);
  const Conv2dOptions opt{{1, 1}, {1, 1}, {1, 1}};
  auto x = ref::to_ref<float>(randn({2, kChannels, kSize, kSize}, gen));
  auto w = ref::to_ref<float>(randn({kChannels, kChannels, 3, 3}, gen)), b = ref::to_ref<float>(randn({kChannels}, gen));
  for (auto _ : state) benchmark::DoNotOptimize(ref::conv2d(x, w, b, opt).data.data());
  set_gflops(state, conv_flops(kChannels, 3) * 2 / kBatch);
}
BENCHMARK(BM_Conv2d_Reference_Forward)->Unit(benchmark::kMillisecond)->UseRealTime();

// the ceiling: one 1024³ sgemm call of the backend with its own threads (1 or 2)
void BM_Sgemm1024(benchmark::State& state) { rc::bench::sgemm_ceiling(state, 1024, static_cast<int>(state.range(0))); }
BENCHMARK(BM_Sgemm1024)->ArgName("blas_threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
}  // namespace

int main(int argc, char** argv) { return rc::bench::main(argc, argv); }
