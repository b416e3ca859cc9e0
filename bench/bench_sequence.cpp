// The lectures' parallelism claim, measured: one training step (forward, cross-entropy, backward, AdamW update) of
// a GRU, an LSTM and sequence Transformers (full, causal and window1d attention) on the marked-sum task's input
// (F = 11 values per step, 10 classes) at sequence lengths L = 64 … 4096, batch 1 (only the sequence itself can
// be split across cores) and batch 32, on 1 and 2 threads.
//   ./build/bench_sequence --benchmark_filter='seq_step/gru/L:784/' --benchmark_repetitions=5
// bench/sequence_length.sh runs every case in its own process to read its peak memory (RSS) beside its time.
// Counters: sequences/s, tokens/s (sequences × L), params.
#include "bench/bench_common.hpp"

#include <string>
#include <utility>
#include <vector>

#include "experiments/train/settings.hpp"
#include "framework/ops/loss.hpp"
#include "models/registry.hpp"

namespace {

using Overrides = std::vector<std::pair<std::string, rc::ParamValue>>;

struct SequenceCase {
  std::string name, type;
  Overrides params;
};

// The models of sequence_length.yaml (experiments/configs), with the same sizes.
std::vector<SequenceCase> cases() {
  const Overrides transformer{{"dim", int64_t{64}}, {"depth", int64_t{2}}, {"heads", int64_t{4}},
                              {"position", std::string("sinusoidal")}, {"pooling", std::string("mean")}};
  auto with = [](Overrides base, Overrides more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  return {{"gru", "rnn", {{"cell", std::string("gru")}, {"hidden", int64_t{128}}}},
          {"lstm", "rnn", {{"cell", std::string("lstm")}, {"hidden", int64_t{128}}}},
          {"attention_full", "sequence_transformer", with(transformer, {{"policy.kind", std::string("full")}})},
          {"attention_causal", "sequence_transformer",
           with(transformer, {{"policy.kind", std::string("causal")}, {"pooling", std::string("last")}})},
          {"attention_window16", "sequence_transformer",
           with(transformer, {{"policy.kind", std::string("window1d")}, {"policy.radius", int64_t{16}}})}};
}

void BM_seq_step(benchmark::State& state, const SequenceCase& c, int64_t L, int64_t B, int threads) {
  rc::set_num_threads(threads);
  const auto& mt = rc::models::model_type(c.type);
  rc::Params p = mt.schema.defaults();
  for (const auto& [k, v] : c.params) p.set(k, v);
  auto model = mt.make_sequence(p, {L, 11, 10}, 0);
  rc::exp::TrainSettings s;
  auto opt = rc::exp::make_optimizer(s, *model);
  rc::Generator gen(1);
  rc::Tensor x = rc::randn({B, L, 11}, gen);
  std::vector<int64_t> labels(B);
  for (int64_t i = 0; i < B; ++i) labels[i] = (i * 7) % 10;
  for (auto _ : state) {
    rc::Var loss = rc::cross_entropy(model->forward(rc::Var(x)), labels);
    rc::backward(loss);
    opt->step();
    opt->zero_grad();
  }
  rc::set_num_threads(0);
  state.counters["sequences/s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens/s"] = benchmark::Counter(double(B * L), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["params"] = double(model->num_parameters());
}

void register_all() {
  static const std::vector<SequenceCase> all = cases();
  for (const SequenceCase& c : all)
    for (int64_t L : {64, 256, 784, 1024, 4096})
      for (int64_t B : {1, 32})
        for (int threads : {1, 2})
          benchmark::RegisterBenchmark(fmt::format("seq_step/{}/L:{}/B:{}/threads:{}", c.name, L, B, threads).c_str(),
                                       [&c, L, B, threads](benchmark::State& st) { BM_seq_step(st, c, L, B, threads); })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return rc::bench::run_benchmarks(argc, argv);
}
