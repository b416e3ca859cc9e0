// Training throughput (images/s) of the two ~140 K-parameter architectures of the Fashion-MNIST comparison:
// the CNN (conv 32-32-pool-64-64-pool-128, BN, GAP, linear) and the ViT (patch 4, dim 64, depth 4, heads 4,
// MLP 128, class token). One iteration = one AdamW step on a batch of 128 random 28×28 images (forward,
// cross-entropy, backward, update), as the trainer runs it. BM_infer: the evaluation path of the trainer —
// evaluation mode, no autograd graph, batches of 64 (train.eval_batch_size's default), 128 and 500.
// bench/pytorch_train.py runs the same two models in PyTorch for comparison.
#include "bench/bench_common.hpp"
#include "experiments/train/settings.hpp"
#include "framework/ops/loss.hpp"
#include "models/registry.hpp"

namespace {

// hierarchical: fashion_data_efficiency_hierarchical's architecture (patch 2, dim 32, depth 6, merge_after [3]:
// three blocks on the 14×14 grid at width 32, three on 7×7 at width 64)
std::shared_ptr<rc::models::ImageModel> make_model(const char* type, const char* policy, const char* position,
                                                   const char* pooling, bool hierarchical = false) {
  const auto& mt = rc::models::model_type(type);
  rc::Params p = mt.schema.defaults();
  if (std::string(type) == "patch_attention") {
    p.set("policy.kind", std::string(policy));
    p.set("position", std::string(position));
    p.set("pooling", std::string(pooling));
  }
  if (hierarchical) {
    p.set("patch_size", int64_t{2});
    p.set("dim", int64_t{32});
    p.set("depth", int64_t{6});
    p.set("merge_after", std::vector<int64_t>{3});
  }
  return mt.make_image(p, {1, 28, 28, 10}, 0);
}

void BM_infer(benchmark::State& state, const char* type, const char* policy, const char* position,
              const char* pooling = "cls") {
  const int64_t batch = state.range(0);
  auto model = make_model(type, policy, position, pooling);
  model->eval();
  rc::Generator gen(1);
  rc::Tensor x = rc::randn({batch, 1, 28, 28}, gen);
  for (auto _ : state) {
    rc::NoGradGuard no_grad;
    benchmark::DoNotOptimize(model->forward(rc::Var(x)).value().data());
  }
  state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}
// Arg: the evaluation batch (train.eval_batch_size's default is 64)
BENCHMARK_CAPTURE(BM_infer, cnn, "cnn", "", "")->Arg(500)->Arg(128)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_infer, vit_full, "patch_attention", "full", "learned")->Arg(500)->Arg(128)->Arg(64)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_infer, vit_window3_relative_mean, "patch_attention", "window2d", "relative", "mean")
    ->Arg(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_train_step(benchmark::State& state, const char* type, const char* policy, const char* position,
                   const char* pooling = "cls", bool hierarchical = false) {
  const int64_t batch = 128;
  auto model = make_model(type, policy, position, pooling, hierarchical);
  rc::exp::TrainSettings s;
  auto opt = rc::exp::make_optimizer(s, *model);
  rc::Generator gen(1);
  rc::Tensor x = rc::randn({batch, 1, 28, 28}, gen);
  std::vector<int64_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = (i * 7) % 10;
  for (auto _ : state) {
    rc::Var loss = rc::cross_entropy(model->forward(rc::Var(x)), labels);
    rc::backward(loss);
    opt->step();
    opt->zero_grad();
  }
  state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["params"] = double(model->num_parameters());
}
BENCHMARK_CAPTURE(BM_train_step, cnn, "cnn", "", "")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_train_step, vit_full, "patch_attention", "full", "learned")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_train_step, vit_window3_relative, "patch_attention", "window2d", "relative")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// Mean pooling instead of a class token: the window needs no global token, so the tiled window kernel runs alone.
BENCHMARK_CAPTURE(BM_train_step, vit_window3_relative_mean, "patch_attention", "window2d", "relative", "mean")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// The attention models of fashion_data_efficiency_converged: full attention with a relative-position bias table,
// and with the learnable locality (a Gaussian bias per head over the same offsets), both mean-pooled.
BENCHMARK_CAPTURE(BM_train_step, vit_full_relative_mean, "patch_attention", "full", "relative", "mean")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_train_step, vit_full_locality_mean, "patch_attention", "full", "locality", "mean")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// fashion_data_efficiency_hierarchical's two models (a 14×14 grid of 2×2-pixel patches, merged to 7×7 after block 3)
BENCHMARK_CAPTURE(BM_train_step, hier_full_locality_mean, "patch_attention", "full", "locality", "mean", true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_train_step, hier_window3_relative_mean, "patch_attention", "window2d", "relative", "mean", true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return rc::bench::main(argc, argv); }
