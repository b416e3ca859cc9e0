#pragma once
// Mini-batch training of an image classifier: shuffled batches prepared on a second thread while the model
// trains, cross-entropy with label smoothing, the configured optimizer and schedule, gradient clipping,
// evaluation on validation after every epoch, best-on-validation checkpoint, metrics.jsonl, test at the end.
#include <atomic>
#include <filesystem>
#include <vector>

#include "datasets/image/image_dataset.hpp"
#include "datasets/image/transforms.hpp"
#include "experiments/train/outcome.hpp"
#include "experiments/train/progress.hpp"
#include "experiments/train/settings.hpp"
#include "models/model.hpp"

namespace rc::exp {

// Set (e.g. by a SIGINT handler) to stop training after the current step; the run reports "interrupted".
std::atomic<bool>& stop_requested();

struct ImageTask {
  const data::ImageDataset* train = nullptr;  // the training pool; train_idx and val_idx index it
  std::vector<int64_t> train_idx, val_idx;
  const data::ImageDataset* test = nullptr;   // all items are evaluated
  data::Augment augment;
  data::Normalize normalize;
};

// Writes run_dir/metrics.jsonl (one object per epoch), run_dir/best.safetensors (best validation accuracy,
// or the last epoch when there is no validation set) and run_dir/last.safetensors (last finite epoch). Both
// carry metadata: epoch, step, and the input as image_input_metadata (experiments/train/checkpoint.hpp) writes
// it. Weights are checked before each evaluation: a run whose loss or weights become NaN or Inf stops with a
// status naming the epoch and step, and the files keep the last finite weights.
// The validation set is evaluated at every evaluation point (accuracy and loss in metrics.jsonl); the test set
// once at the end, for best.safetensors (test_accuracy: the best-validation epoch) and last.safetensors
// (last_test_accuracy), unless settings.test_every_eval also logs it at every evaluation point.
RunOutcome train_image_model(models::ImageModel& model, const ImageTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, uint64_t seed, const std::string& label);

// What an evaluation measured: accuracy, mean cross-entropy (no label smoothing), items and wall seconds.
struct EvalResult {
  double accuracy = 0, loss = 0, seconds = 0;
  int64_t items = 0;
};
struct EvalProgress {
  Progress* bar = nullptr;  // redrawn after every batch when set
  std::string what;         // "val", "test (best)", ...
};

// The model over the given items (all when `indices` is empty), in evaluation mode, as inference: no autograd
// graph, batches of batch_size.
EvalResult evaluate_image_set(models::ImageModel& model, const data::ImageDataset& data,
                              const std::vector<int64_t>& indices, const data::Normalize& normalize, int64_t batch_size,
                              const EvalProgress& progress = {});
// Its accuracy alone.
double evaluate_images(models::ImageModel& model, const data::ImageDataset& data, const std::vector<int64_t>& indices,
                       const data::Normalize& normalize, int64_t batch_size);

}  // namespace rc::exp
