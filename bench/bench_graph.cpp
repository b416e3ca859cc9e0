// Graph models on Cora (Planetoid split): one GAT training epoch plus one evaluation pass, and 200 epochs of
// GAT, GCN, MLP and the graph Transformer. Finds Cora through $RECEPTIVE_DATA or the copy in datasets/data.
#include <cstdlib>

#include "bench/bench_common.hpp"
#include "datasets/graph/linqs.hpp"
#include "experiments/train/graph_task.hpp"
#include "framework/ops/loss.hpp"
#include "framework/optim/adamw.hpp"
#include "models/registry.hpp"

namespace {

rc::exp::GraphTask& cora() {
  static rc::exp::GraphTask task = [] {
    const char* env = std::getenv("RECEPTIVE_DATA");
    std::string root = std::string(env && *env ? env : RECEPTIVE_TEST_DATA) + "/cora";
    rc::data::LinqsOptions o;
    o.row_normalize = true;
    rc::data::GraphDataset g = rc::data::load_linqs(root, "cora", o);
    return rc::exp::make_graph_task(g, g.split);
  }();
  return task;
}

// One epoch as the trainer runs it: forward in training mode, loss on the training nodes, backward, an
// Adam step, then a forward in evaluation mode.
void BM_epoch(benchmark::State& state, const char* type) {
  auto& task = cora();
  const auto& mt = rc::models::model_type(type);
  auto model = mt.make_graph(mt.schema.defaults(), task.input, 0);
  rc::optim::AdamW opt(model->parameters(), {.lr = 0.005f, .weight_decay = 5e-4f, .decoupled = false});
  rc::CrossEntropyOptions ce;
  ce.mask.assign(task.input.num_nodes, 0);
  for (int64_t i : task.split.train) ce.mask[i] = 1;
  for (auto _ : state) {
    model->train();
    rc::Var loss = rc::cross_entropy(model->forward(task.input), task.labels, ce);
    rc::backward(loss);
    opt.step();
    opt.zero_grad();
    rc::NoGradGuard no_grad;
    model->eval();
    benchmark::DoNotOptimize(model->forward(task.input).value().data());
  }
}
BENCHMARK_CAPTURE(BM_epoch, gat, "gat")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_epoch, gcn, "gcn")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_epoch, mlp, "mlp")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_epoch, graph_transformer, "graph_transformer")->Unit(benchmark::kMillisecond)->UseRealTime();

// 200 epochs of each of the four models, as the trainer runs them (including metrics and checkpoint files).
void BM_200_epochs_four_models(benchmark::State& state) {
  auto& task = cora();
  rc::exp::TrainSettings s;
  s.epochs = 200;
  s.optimizer = "adam";
  s.schedule = "constant";
  s.lr = 0.005;
  s.weight_decay = 5e-4;
  s.progress = false;
  auto dir = std::filesystem::temp_directory_path() / "receptive_bench_graph";
  for (auto _ : state)
    for (const char* type : {"gat", "gcn", "mlp", "graph_transformer"}) {
      const auto& mt = rc::models::model_type(type);
      auto model = mt.make_graph(mt.schema.defaults(), task.input, 0);
      rc::exp::train_graph_model(*model, task, s, dir / type, type);
    }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_200_epochs_four_models)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

int main(int argc, char** argv) { return rc::bench::main(argc, argv); }
