// LayerNorm, softmax and BatchNorm against the memory ceiling: each case reports GB/s (bytes read + written,
// counted once per tensor) next to a parallel memcpy moving the same number of bytes in the same run; the
// table printed at the end gives op / memcpy from the medians. A float reference run shows the baseline.
//   bench_norm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "framework/core/backend.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"
#include "framework/ops/norm.hpp"
#include "framework/ops/norm_ref.hpp"
#include "framework/ops/softmax.hpp"
#include "framework/ops/softmax_ref.hpp"

using namespace rc;

namespace {

Tensor rnd(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen);
}

// One benchmark case: a name, the bytes one iteration reads + writes, and the work.
struct Case {
  std::string name;
  int64_t bytes;
  std::function<void()> run;
};

void run_case(benchmark::State& state, const Case& c) {
  for (auto _ : state) {
    c.run();
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * c.bytes);
}

// memcpy of bytes/2 (so bytes read + written = bytes), split over the same threads as the ops.
void memcpy_ceiling(benchmark::State& state, int64_t bytes) {
  const int64_t n = bytes / 2 / static_cast<int64_t>(sizeof(float));
  Tensor src = Tensor::full({n}, 1.0f), dst = Tensor::empty({n});
  for (auto _ : state) {
    parallel_for(n, 1 << 16,
                 [&](int64_t b, int64_t e) { std::memcpy(dst.data() + b, src.data() + b, sizeof(float) * (e - b)); });
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * static_cast<int64_t>(sizeof(float)));
}

constexpr int64_t kF = sizeof(float);

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  for (int64_t D : {64, 192}) {
    const int64_t N = 128 * 50;
    Tensor x = rnd({N, D}, 1), g = rnd({D}, 2), b = rnd({D}, 3), dy = rnd({N, D}, 4);
    // forward: read x, write y, mean, rstd
    cases.push_back({"layer_norm_fwd/" + std::to_string(N) + "x" + std::to_string(D), (2 * N * D + 2 * N) * kF,
                     [=] { benchmark::DoNotOptimize(layer_norm(Var(x), Var(g), Var(b)).value().data()); }});
    // + backward: read x, dy, mean, rstd, write dx
    cases.push_back(
        {"layer_norm_fwd_bwd/" + std::to_string(N) + "x" + std::to_string(D), (5 * N * D + 4 * N) * kF, [=] {
           Var xv(x, true), gv(g, true), bv(b, true);
           backward(layer_norm(xv, gv, bv), dy);
           benchmark::DoNotOptimize(xv.grad().data());
         }});
  }
  {
    const int64_t N = 128 * 50, D = 64;
    auto xr = ref::to_ref<float>(rnd({N, D}, 1)), gr = ref::to_ref<float>(rnd({D}, 2)),
         br = ref::to_ref<float>(rnd({D}, 3));
    cases.push_back({"ref_layer_norm_fwd/6400x64", 2 * N * D * kF,
                     [=] { benchmark::DoNotOptimize(ref::layer_norm(xr, gr, br, 1e-5f).data.data()); }});
  }
  {
    const int64_t N = 128 * 4 * 50, D = 50;
    Tensor x = rnd({N, D}, 5), dy = rnd({N, D}, 6);
    // forward reads x, writes y; backward reads y, dy, writes dx
    cases.push_back({"softmax_fwd_bwd/25600x50", 5 * N * D * kF, [=] {
                       Var xv(x, true);
                       backward(softmax(xv), dy);
                       benchmark::DoNotOptimize(xv.grad().data());
                     }});
    auto xr = ref::to_ref<float>(x), dyr = ref::to_ref<float>(dy);
    cases.push_back({"ref_softmax_fwd_bwd/25600x50", 5 * N * D * kF, [=] {
                       auto y = ref::softmax(xr);
                       benchmark::DoNotOptimize(ref::softmax_backward(y, dyr).data.data());
                     }});
  }
  {
    const Shape s{128, 32, 28, 28};
    const int64_t n = shape_numel(s);
    Tensor x = rnd(s, 7), g = rnd({32}, 8), b = rnd({32}, 9), dy = rnd(s, 10);
    Tensor rm = Tensor::zeros({32}), rv = Tensor::ones({32});
    cases.push_back({"batch_norm_train_fwd/128x32x28x28", 2 * n * kF, [=]() mutable {
                       benchmark::DoNotOptimize(batch_norm(Var(x), Var(g), Var(b), rm, rv, true).value().data());
                     }});
    cases.push_back({"batch_norm_eval_fwd/128x32x28x28", 2 * n * kF, [=]() mutable {
                       benchmark::DoNotOptimize(batch_norm(Var(x), Var(g), Var(b), rm, rv, false).value().data());
                     }});
    // + backward: read x, dy, write dx
    cases.push_back({"batch_norm_train_fwd_bwd/128x32x28x28", 5 * n * kF, [=]() mutable {
                       Var xv(x, true), gv(g, true), bv(b, true);
                       backward(batch_norm(xv, gv, bv, rm, rv, true), dy);
                       benchmark::DoNotOptimize(xv.grad().data());
                     }});
  }
  return cases;
}

// Console output as usual, plus the medians' bytes/s kept for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> median_bps;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("bytes_per_second");
      if (it == r.counters.end()) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      median_bps[r.run_name.function_name] = it->second.value;  // a single run counts as its own median
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<Case> cases = make_cases();
  for (const Case& c : cases) {
    benchmark::RegisterBenchmark(c.name.c_str(), [&c](benchmark::State& s) { run_case(s, c); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("memcpy_same_bytes/" + c.name).c_str(),
                                 [bytes = c.bytes](benchmark::State& s) { memcpy_ceiling(s, bytes); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  std::fprintf(stderr, "%s\n", rc::machine_line().c_str());
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nmedians, %d threads; GB/s = (bytes read + written) / time; ratio = op / memcpy\n", num_threads());
  std::printf("%-42s %10s %10s %8s\n", "case", "GB/s", "memcpy", "ratio");
  for (const Case& c : cases) {
    auto op = reporter.median_bps.find(c.name), mc = reporter.median_bps.find("memcpy_same_bytes/" + c.name);
    if (op == reporter.median_bps.end() || mc == reporter.median_bps.end()) continue;
    std::printf("%-42s %10.2f %10.2f %8.2f\n", c.name.c_str(), op->second / 1e9, mc->second / 1e9,
                op->second / mc->second);
  }
  benchmark::Shutdown();
  return 0;
}
