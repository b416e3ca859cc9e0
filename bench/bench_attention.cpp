// Attention forward + backward, float32, 2 threads, on the cases of tests/support/attention_case.hpp (the same
// description the tests use). Counters: GFLOP/s of the useful work (AttnCase::flops: 12 * edges * D per head,
// QK^T, PV forward; dV, dP, dQ, dK backward; recomputation not counted), the edge count (Policy::count_edges)
// and the peak RSS.
// Beside each case, BM_<case>_reference times the float64 reference (framework/attention/attention_ref.hpp:
// dense rows, plain loops) on one head of the same problem (B = H = 1; it is the slow part) and reports the same
// useful-work counter for that head, so the two GFLOP/s numbers compare directly.
// BM_sgemm_probe (one-thread 512^3 sgemm) is a machine-speed baseline for ratios on a noisy machine.
#include "bench/bench_common.hpp"
#include <sys/resource.h>

#include <cstdlib>

#include "framework/attention/attention_ref.hpp"
#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"
#include "tests/support/attention_case.hpp"

using namespace rc;
using rc::test::AttnCase;

namespace {

// 2 threads unless RECEPTIVE_BENCH_THREADS says otherwise (to compare 1 and 2 threads)
int bench_threads() {
  const char* s = std::getenv("RECEPTIVE_BENCH_THREADS");
  return s ? std::atoi(s) : 2;
}

void set_counters(benchmark::State& state, const AttnCase& c, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["edges"] = static_cast<double>(c.edges());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["maxrss_MiB"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}

AttentionOptions case_options(const AttnCase& c, Generator& gen) {
  AttentionOptions o;
  if (c.score == ScoreKind::Additive) {
    o.score = c.score;
    o.a_q = Var(randn({c.H, c.D}, gen, 0.0f, 0.3f), true);
    o.a_k = Var(randn({c.H, c.D}, gen, 0.0f, 0.3f), true);
  }
  if (c.bias_T) {
    o.rel_bias = Var(randn({c.H, c.bias_T}, gen, 0.0f, 0.5f), true);
    o.bias_grid = c.grid;
  }
  o.dropout = c.dropout;
  o.scale = c.scale;
  o.kernel = c.kernel;
  return o;
}

void run_case(benchmark::State& state, const AttnCase& c) {
  set_num_threads(bench_threads());
  Generator gen(1);
  Shape s{c.B, c.H, c.N, c.D};
  Var q(randn(s, gen), true), k(randn(s, gen), true), v(randn(s, gen), true);
  Tensor dout = randn(s, gen);
  const AttentionOptions o = case_options(c, gen);
  for (auto _ : state) {
    if (c.forward_only) {
      NoGradGuard no_grad;
      Var out = attention(q, k, v, c.policy, o);
      benchmark::DoNotOptimize(out.value().data());
      continue;
    }
    q.zero_grad(), k.zero_grad(), v.zero_grad();
    if (Var bias = o.rel_bias; bias.defined()) bias.zero_grad();
    Var out = attention(q, k, v, c.policy, o);
    backward(out, dout);
    benchmark::DoNotOptimize(q.grad().data());
  }
  set_counters(state, c, c.flops());
}

// The float64 reference on one head of the case (single-threaded plain loops).
void run_reference(benchmark::State& state, AttnCase c) {
  c.B = 1, c.H = 1;
  Generator gen(1);
  Shape s{1, 1, c.N, c.D};
  ref::AttentionInputs<double> in;
  in.q = ref::to_ref<double>(randn(s, gen));
  in.k = ref::to_ref<double>(randn(s, gen));
  in.v = ref::to_ref<double>(randn(s, gen));
  const ref::RefTensor<double> dout = ref::to_ref<double>(randn(s, gen));
  const AttentionOptions o = case_options(c, gen);
  if (c.score == ScoreKind::Additive) in.a_q = ref::to_ref<double>(o.a_q.value()), in.a_k = ref::to_ref<double>(o.a_k.value());
  if (c.bias_T) in.rel_bias = ref::to_ref<double>(o.rel_bias.value());
  for (auto _ : state) {
    auto out = ref::attention(in, c.policy, o);
    benchmark::DoNotOptimize(out.data.data());
    if (c.forward_only) continue;
    auto g = ref::attention_backward(in, c.policy, o, dout);
    benchmark::DoNotOptimize(g.dq.data.data());
  }
  set_counters(state, c, c.flops());
}

void BM_sgemm_probe(benchmark::State& state) {
  const int n = 512;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  for (auto _ : state) {
    gemm_serial(Op::N, Op::N, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_sgemm_probe)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

int main(int argc, char** argv) {
  for (const AttnCase& c : test::bench_cases()) {
    benchmark::RegisterBenchmark(("BM_" + c.name).c_str(), run_case, c)
        ->Unit(benchmark::kMillisecond)
        ->MeasureProcessCPUTime()
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_" + c.name + "_reference").c_str(), run_reference, c)
        ->Unit(benchmark::kMillisecond)
        ->MeasureProcessCPUTime()
        ->UseRealTime();
  }
  return rc::bench::main(argc, argv);
}
