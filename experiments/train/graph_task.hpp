#pragma once
// Transductive node classification as a training task (task.hpp): every step is one forward over the whole
// graph (one step per epoch), with the loss and accuracy on the training nodes; an evaluation is one
// evaluation-mode forward, measured on the validation and test nodes.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "datasets/graph/graph.hpp"
#include "experiments/train/outcome.hpp"
#include "experiments/train/settings.hpp"
#include "experiments/train/task.hpp"
#include "experiments/train/trainer.hpp"
#include "models/model.hpp"

namespace rc::exp {

// The data of a graph run.
struct GraphTask {
  models::GraphInput input;                     // input.sparse_features points into sparse_features
  std::shared_ptr<CsrMatrix> sparse_features;
  std::vector<int64_t> labels;  // per node
  data::Split split;
  std::vector<std::string> class_names, node_ids;  // the dataset's, recorded in checkpoints
};

// Builds the model input from a dataset (sparse features when under 10 % are non-zero).
GraphTask make_graph_task(const data::GraphDataset& g, const data::Split& split);

// Every call of evaluate() does one forward, even with no split to measure: the graph models draw their
// dropout seeds from a per-forward counter, so the number of forwards is part of a run's result.
class NodeClassification : public TrainingTask {
 public:
  NodeClassification(models::GraphModel& model, const GraphTask& data);
  nn::Module& model() override { return model_; }
  int64_t steps_per_epoch() const override { return 1; }
  bool has_validation() const override { return !data_.split.val.empty(); }
  void begin_epoch(int64_t, int64_t) override {}
  void shard(int rank, int ranks) override;
  TrainBatch next_batch() override;
  std::vector<Evaluation> evaluate(const std::vector<Split>& splits, Progress* bar, const std::string& note) override;
  // graph_input_metadata (checkpoint.hpp) plus the keys given to add_metadata (the architecture)
  io::Metadata checkpoint_metadata() const override;
  void add_metadata(const io::Metadata& m) { extra_metadata_.insert(m.begin(), m.end()); }

 private:
  models::GraphModel& model_;
  const GraphTask& data_;
  io::Metadata extra_metadata_;
  std::vector<uint8_t> train_mask_, val_mask_, test_mask_;
};

// The model's logits (N, classes) over the whole graph: one forward in evaluation mode, without an autograd graph.
Var infer_graph(models::GraphModel& model, const models::GraphInput& input);

// The graph run through the training loop (trainer.hpp).
RunOutcome train_graph_model(models::GraphModel& model, const GraphTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, const std::string& label,
                             const TrainControl& control = {});

}  // namespace rc::exp
