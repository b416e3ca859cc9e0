// LSTM and GRU training steps (forward and backward through time of one layer, framework/ops/rnn.hpp) at the
// shapes bench/pytorch_rnn.py times torch.nn.LSTM / torch.nn.GRU on:
//   rows:   B = 32, T = 28,  I = 28, H = 128 (row-order Fashion-MNIST)
//   pixels: B = 32, T = 784, I = 1,  H = 128 (pixel-order Fashion-MNIST)
// at 1 and 2 threads (the argument; each benchmark sets the thread count itself).
//   ./build/bench_rnn --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// A step: output = layer(x) with x constant (the input data), then backward from a fixed output gradient, which
// gives the gradients of all four parameters. Counters: sequences/s and GFLOP/s (the GEMM flops: input
// projections, recurrence and the three gradient products; the gate arithmetic not counted).
#include "bench/bench_common.hpp"

#include <cmath>

#include "framework/ops/rnn.hpp"

using namespace rc;

namespace {
constexpr int64_t kBatch = 32, kHidden = 128;

void BM_rnn_train_step(benchmark::State& state, RnnCell cell, int64_t T, int64_t I) {
  set_num_threads(static_cast<int>(state.range(0)));
  const int64_t B = kBatch, H = kHidden, GH = rnn_gate_count(cell) * H;
  Generator gen(1);
  const float bound = 1.0f / std::sqrt(static_cast<float>(H));
  Var x(randn({B, T, I}, gen));
  Var w_ih(rand_uniform({GH, I}, gen, -bound, bound), true), w_hh(rand_uniform({GH, H}, gen, -bound, bound), true);
  Var b_ih(rand_uniform({GH}, gen, -bound, bound), true), b_hh(rand_uniform({GH}, gen, -bound, bound), true);
  const Tensor dy = randn({B, T, H}, gen);
  for (auto _ : state) {
    const RnnOutput r = cell == RnnCell::lstm ? lstm(x, w_ih, w_hh, b_ih, b_hh) : gru(x, w_ih, w_hh, b_ih, b_hh);
    backward(r.output, dy);
    benchmark::DoNotOptimize(w_hh.grad().data());
    w_ih.zero_grad(), w_hh.zero_grad(), b_ih.zero_grad(), b_hh.zero_grad();
  }
  set_num_threads(0);
  // forward: x·W_ihᵀ and h·W_hhᵀ; backward: dh·W_hh, dW_ih, dW_hh (dx not needed)
  const double flops = 2.0 * B * T * GH * (I + H) + 2.0 * B * T * GH * (H + I + H);
  rc::bench::set_gflops(state, flops);
  state.counters["sequences/s"] = benchmark::Counter(static_cast<double>(B), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(BM_rnn_train_step, lstm_rows, RnnCell::lstm, 28, 28)
    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_rnn_train_step, gru_rows, RnnCell::gru, 28, 28)
    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_rnn_train_step, lstm_pixels, RnnCell::lstm, 784, 1)
    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_rnn_train_step, gru_pixels, RnnCell::gru, 784, 1)
    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
}  // namespace

int main(int argc, char** argv) { return rc::bench::run_benchmarks(argc, argv); }
