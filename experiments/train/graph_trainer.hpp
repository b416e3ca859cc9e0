#pragma once
// Full-batch transductive training of a graph model: one forward over the whole graph per epoch, loss on
// the training nodes, accuracy on validation and test nodes from an evaluation pass, early stopping on
// validation accuracy (patience), test accuracy reported at the best-validation epoch.
#include <filesystem>
#include <vector>

#include "datasets/graph/graph.hpp"
#include "experiments/train/outcome.hpp"
#include "experiments/train/settings.hpp"
#include "models/model.hpp"

namespace rc::exp {

struct GraphTask {
  models::GraphInput input;                     // input.sparse_features points into sparse_features
  std::shared_ptr<CsrMatrix> sparse_features;
  std::vector<int64_t> labels;  // per node
  data::Split split;
};

// Builds the model input from a dataset (sparse features when under 10 % are non-zero).
GraphTask make_graph_task(const data::GraphDataset& g, const data::Split& split);

// Writes run_dir/metrics.jsonl (one object per epoch), and at the end run_dir/best.safetensors (the
// best-validation epoch's weights; the last epoch's without a validation set) and run_dir/last.safetensors (the
// last finite epoch's), each with "epoch" and "step" metadata. A run whose loss or weights become NaN or Inf
// stops with a status naming the epoch and step; its files hold the last finite epoch. An interrupted run
// writes no weights (it restarts from scratch).
RunOutcome train_graph_model(models::GraphModel& model, const GraphTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, const std::string& label);

}  // namespace rc::exp
