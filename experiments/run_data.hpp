#pragma once
// A finished run folder (results/<experiment>/runs/<run>, as `receptive run` writes it) loaded back: its
// resolved config, its model rebuilt from a checkpoint, and its data and split prepared exactly as the runner
// prepared them. `predict`, `evaluate`, `attention-map` and `receptive-field` start here.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "datasets/graph/graph.hpp"
#include "datasets/image/subset.hpp"
#include "datasets/sequence/sequence_data.hpp"
#include "experiments/runner.hpp"
#include "experiments/train/checkpoint.hpp"
#include "experiments/train/graph_task.hpp"
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::exp {

// What runs/<run>/config.yaml says. Errors name the file, line and key.
struct RunConfig {
  std::filesystem::path dir;
  std::string model_type;
  Params model_params, dataset;
  double train_size = 1.0;
  int64_t seed = 0;
  bool graph = false;     // the dataset's domain is graph
  bool sequence = false;  // ... or sequence (else image)
};
RunConfig read_run_config(const std::filesystem::path& run_dir);

// runs/<run>/best.safetensors or last.safetensors (`which`: best | last); an error names what is missing.
std::filesystem::path run_checkpoint(const std::filesystem::path& run_dir, const std::string& which);

// Loads a checkpoint's tensors into `model` (strict: names and shapes must match), first mapping parameter
// names of older checkpoints to the current scheme (models/gnn.hpp, current_parameter_name for `type`).
// Refuses non-finite weights. Returns the checkpoint's metadata.
io::Metadata load_checkpoint(const std::filesystem::path& file, const std::string& type, nn::Module& model);

// The run's data as the runner prepared it: images (training pool, test set, normalisation) with the run's
// subset (its validation items), or the graph with the run's split and model input.
struct RunData {
  std::optional<ImageData> images;
  data::SubsetIndices subset;
  std::optional<data::GraphDataset> graph;
  std::optional<GraphTask> graph_task;  // points into *graph: keep RunData where it is
  std::optional<data::SequenceData> sequences;  // with `subset` as for images
};
std::unique_ptr<RunData> load_run_data(const RunConfig& config);

// An image run's model from a checkpoint. The input (shape, normalisation, class names) comes from the
// checkpoint's metadata, or from `data` when the checkpoint predates it (then `data` must be given).
struct ImageRun {
  std::shared_ptr<models::ImageModel> model;
  ImageInputInfo input;
  io::Metadata metadata;
};
ImageRun load_image_run(const RunConfig& config, const std::filesystem::path& checkpoint, const RunData* data);
// True when the checkpoint records its input (so an image run needs no dataset to prepare new images).
bool checkpoint_records_input(const std::filesystem::path& checkpoint);

// A graph run's model from a checkpoint, built for the run's graph (data.graph_task). When the checkpoint
// records its graph (node count, feature count, classes, node ids), they must match the dataset's.
struct GraphRun {
  std::shared_ptr<models::GraphModel> model;
  GraphInputInfo input;
  io::Metadata metadata;
};
GraphRun load_graph_run(const RunConfig& config, const std::filesystem::path& checkpoint, const RunData& data);

// A sequence run's model from a checkpoint; the shape (length, features, classes) and class names come from the
// checkpoint's metadata, else from `data` (then it must be given). When both are there they must agree.
struct SequenceRun {
  std::shared_ptr<models::SequenceModel> model;
  models::SequenceShape shape;
  std::vector<std::string> class_names;
  io::Metadata metadata;
};
SequenceRun load_sequence_run(const RunConfig& config, const std::filesystem::path& checkpoint, const RunData* data);

}  // namespace rc::exp
