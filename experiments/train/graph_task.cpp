#include "experiments/train/graph_task.hpp"

#include <chrono>

#include "experiments/train/trainer.hpp"
#include "framework/ops/loss.hpp"

namespace rc::exp {

namespace {
std::vector<uint8_t> mask_of(const std::vector<int64_t>& nodes, int64_t n) {
  std::vector<uint8_t> m(n, 0);
  for (int64_t i : nodes) m[i] = 1;
  return m;
}
}  // namespace

GraphTask make_graph_task(const data::GraphDataset& g, const data::Split& split) {
  GraphTask t;
  auto& in = t.input;
  in.num_nodes = g.num_nodes();
  in.num_features = g.features.dim(1);
  in.num_classes = g.num_classes();
  const int64_t nnz = (g.features.array() != 0.0f).count();
  if (nnz * 10 < g.features.numel()) {
    t.sparse_features = std::make_shared<CsrMatrix>(CsrMatrix::from_dense(g.features));
    in.sparse_features = t.sparse_features.get();
  } else {
    in.dense_features = g.features;
  }
  in.adjacency = data::csr_arrays(g.graph, false);
  t.labels.assign(g.labels.begin(), g.labels.end());
  t.split = split;
  return t;
}

NodeClassification::NodeClassification(models::GraphModel& model, const GraphTask& data)
    : model_(model), data_(data) {
  const int64_t n = data.input.num_nodes;
  RC_CHECK(!data.split.train.empty(), "graph task: no training nodes");
  train_mask_ = mask_of(data.split.train, n);
  val_mask_ = mask_of(data.split.val, n);
  test_mask_ = mask_of(data.split.test, n);
}

void NodeClassification::shard(int rank, int ranks) {
  const auto& train = data_.split.train;
  const int64_t n = static_cast<int64_t>(train.size());
  RC_CHECK(n >= ranks, "the split has {} training nodes, fewer than the {} ranks of a data-parallel run", n, ranks);
  const auto [lo, hi] = share_of(n, rank, ranks);
  train_mask_ = mask_of(std::vector<int64_t>(train.begin() + lo, train.begin() + hi), data_.input.num_nodes);
}

TrainBatch NodeClassification::next_batch() {
  TrainBatch b;
  b.logits = model_.forward(data_.input);
  b.labels = data_.labels;
  b.mask = train_mask_;
  b.items = data_.input.num_nodes;
  return b;
}

std::vector<Evaluation> NodeClassification::evaluate(const std::vector<Split>& splits, Progress*, const std::string&) {
  NoGradGuard no_grad;
  const bool was_training = model_.is_training();
  model_.eval();
  const auto t0 = std::chrono::steady_clock::now();
  const Var logits = model_.forward(data_.input);
  model_.train(was_training);
  std::vector<Evaluation> out;
  for (Split split : splits) {
    CrossEntropyOptions ce;
    ce.mask = split == Split::val ? val_mask_ : test_mask_;
    Evaluation e;
    e.accuracy = accuracy(logits.value(), data_.labels, ce.mask);
    e.loss = cross_entropy(logits, data_.labels, ce).value().item();
    e.items = data_.input.num_nodes;
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.push_back(e);
  }
  return out;
}

RunOutcome train_graph_model(models::GraphModel& model, const GraphTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, const std::string& label,
                             const TrainControl& control) {
  NodeClassification t(model, task);
  return train(t, settings, run_dir, label, control);
}

}  // namespace rc::exp
