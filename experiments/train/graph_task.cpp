#include "experiments/train/graph_task.hpp"

#include <chrono>

#include "experiments/train/checkpoint.hpp"
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
  t.class_names = g.class_names;
  t.node_ids = g.node_ids;
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
  const auto t0 = std::chrono::steady_clock::now();
  const Var logits = infer_graph(model_, data_.input);
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

Var infer_graph(models::GraphModel& model, const models::GraphInput& input) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Var logits = model.forward(input);
  model.train(was_training);
  return logits;
}

io::Metadata NodeClassification::checkpoint_metadata() const {
  const auto& in = data_.input;
  io::Metadata m = graph_input_metadata({in.num_nodes, in.num_features, in.num_classes, data_.class_names,
                                         data_.node_ids});
  for (const auto& [k, v] : extra_metadata_) m[k] = v;
  return m;
}

RunOutcome train_graph_model(models::GraphModel& model, const GraphTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, const std::string& label,
                             const TrainControl& control) {
  NodeClassification t(model, task);
  t.add_metadata(run_model_metadata(run_dir));  // the architecture, from the run's config.yaml when there is one
  return train(t, settings, run_dir, label, control);
}

}  // namespace rc::exp
