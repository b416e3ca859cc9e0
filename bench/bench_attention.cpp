// Attention forward + backward, float32, 2 threads. Counters: GFLOP/s of the useful work (12 * edges * D per
// head: QK^T, PV forward; dV, dP, dQ, dK backward; recomputation not counted) and the edge count.
// BM_sgemm_probe (one-thread 512^3 sgemm) is a machine-speed baseline for ratios on a noisy machine.
#include "bench/bench_common.hpp"
#include <sys/resource.h>

#include <cstdlib>
#include <random>

#include "framework/attention/attention.hpp"
#include "framework/core/gemm.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"

using namespace rc;

namespace {

struct Case {
  Policy policy;
  int64_t B, H, N, D;
  ScoreKind score = ScoreKind::Dot;
  bool forward_only = false;  // inference: no autograd graph, no backward
  float dropout = 0.0f;       // attention dropout (training)
};

int64_t count_edges(const Policy& p, int64_t n) {
  int64_t e = 0;
  std::vector<int64_t> keys;
  std::vector<uint8_t> m;
  for (int64_t i = 0; i < n; ++i) {
    auto [lo, hi] = p.key_hull(i, i + 1, n);
    if (lo >= hi) continue;
    keys.resize(hi - lo);
    m.resize(hi - lo);
    for (int64_t j = lo; j < hi; ++j) keys[j - lo] = j;
    p.mask(&i, 1, keys.data(), hi - lo, m.data());
    for (uint8_t x : m) e += x;
  }
  return e;
}

// A random graph with Cora's size: 2708 nodes, 13264 directed edges including one self-loop per node.
Policy cora_like() {
  static std::vector<int64_t> row_ptr, col_idx;
  const int64_t n = 2708, target = 13264 - n;
  std::mt19937_64 gen(7);
  std::vector<std::vector<int64_t>> adj(n);
  int64_t edges = 0;
  std::uniform_int_distribution<int64_t> node(0, n - 1);
  std::geometric_distribution<int> extra(0.5);
  while (edges < target) {  // undirected pairs, skewed degrees via preferential-ish repeats
    int64_t a = node(gen), reps = 1 + extra(gen);
    for (int r = 0; r < reps && edges < target; ++r) {
      int64_t b = node(gen);
      if (a == b || std::find(adj[a].begin(), adj[a].end(), b) != adj[a].end()) continue;
      adj[a].push_back(b);
      adj[b].push_back(a);
      edges += 2;
    }
  }
  row_ptr.assign(1, 0);
  col_idx.clear();
  for (auto& r : adj) {
    std::sort(r.begin(), r.end());
    col_idx.insert(col_idx.end(), r.begin(), r.end());
    row_ptr.push_back(static_cast<int64_t>(col_idx.size()));
  }
  return Policy::graph({n, row_ptr.data(), col_idx.data()}, true);
}

// 2 threads unless RECEPTIVE_BENCH_THREADS says otherwise (to compare 1 and 2 threads)
int bench_threads() {
  const char* s = std::getenv("RECEPTIVE_BENCH_THREADS");
  return s ? std::atoi(s) : 2;
}

void run_case(benchmark::State& state, const Case& c) {
  set_num_threads(bench_threads());
  Generator gen(1);
  Shape s{c.B, c.H, c.N, c.D};
  Var q(randn(s, gen), true), k(randn(s, gen), true), v(randn(s, gen), true);
  Tensor dout = randn(s, gen);
  AttentionOptions o;
  if (c.score == ScoreKind::Additive) {
    o.score = c.score;
    o.a_q = Var(randn({c.H, c.D}, gen, 0.0f, 0.3f), true);
    o.a_k = Var(randn({c.H, c.D}, gen, 0.0f, 0.3f), true);
  }
  o.dropout = c.dropout;
  for (auto _ : state) {
    if (c.forward_only) {
      NoGradGuard no_grad;
      Var out = attention(q, k, v, c.policy, o);
      benchmark::DoNotOptimize(out.value().data());
      continue;
    }
    q.zero_grad(), k.zero_grad(), v.zero_grad();
    Var out = attention(q, k, v, c.policy, o);
    backward(out, dout);
    benchmark::DoNotOptimize(q.grad().data());
  }
  const double edges = static_cast<double>(count_edges(c.policy, c.N));
  const double flops = (c.forward_only ? 4.0 : 12.0) * edges * c.D * c.B * c.H;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["edges"] = edges;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["maxrss_MiB"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}

Window2d grid56() {
  Window2d w;
  w.grid_h = w.grid_w = 56;
  w.kernel_h = w.kernel_w = 7;
  return w;
}

void BM_case1_full_B128_N50(benchmark::State& st) { run_case(st, {Policy::full(), 128, 4, 50, 16}); }
void BM_case2_full_N4096(benchmark::State& st) { run_case(st, {Policy::full(), 1, 4, 4096, 32}); }
void BM_case3_window1d_r64_N4096(benchmark::State& st) { run_case(st, {Policy::window1d(64, 64), 1, 4, 4096, 32}); }
void BM_case4_window2d_56x56_k7(benchmark::State& st) { run_case(st, {Policy::window2d(grid56()), 1, 4, 3136, 32}); }
// The full-attention graph Transformer layer on Cora (all 2708 nodes, hidden 64 in 4 heads), without and with its
// attention dropout 0.1: what the dropout mask costs on the tiled kernel.
void BM_cora_full_H4_D16(benchmark::State& st) { run_case(st, {Policy::full(), 1, 4, 2708, 16}); }
void BM_cora_full_H4_D16_dropout(benchmark::State& st) {
  run_case(st, {Policy::full(), 1, 4, 2708, 16, ScoreKind::Dot, false, 0.1f});
}
void BM_case5_cora_dot(benchmark::State& st) { run_case(st, {cora_like(), 1, 8, 2708, 8}); }
void BM_case5_cora_additive(benchmark::State& st) { run_case(st, {cora_like(), 1, 8, 2708, 8, ScoreKind::Additive}); }
void BM_case5_cora_additive_dropout(benchmark::State& st) {  // the GAT layer as trained (attention dropout 0.6)
  run_case(st, {cora_like(), 1, 8, 2708, 8, ScoreKind::Additive, false, 0.6f});
}
void BM_case5_cora_gat_output_layer(benchmark::State& st) {  // GAT's second layer: one head of 7 classes
  run_case(st, {cora_like(), 1, 1, 2708, 7, ScoreKind::Additive, false, 0.6f});
}
void BM_case5_cora_dot_forward(benchmark::State& st) { run_case(st, {cora_like(), 1, 8, 2708, 8, ScoreKind::Dot, true}); }
void BM_case5_cora_additive_forward(benchmark::State& st) {
  run_case(st, {cora_like(), 1, 8, 2708, 8, ScoreKind::Additive, true});
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
BENCHMARK(BM_case1_full_B128_N50)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case2_full_N4096)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case3_window1d_r64_N4096)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case4_window2d_56x56_k7)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_cora_full_H4_D16)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_cora_full_H4_D16_dropout)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case5_cora_dot)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case5_cora_additive)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case5_cora_additive_dropout)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case5_cora_gat_output_layer)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case5_cora_dot_forward)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(BM_case5_cora_additive_forward)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
int main(int argc, char** argv) { return rc::bench::main(argc, argv); }
