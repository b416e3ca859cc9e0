#pragma once
// What the training loop (trainer.hpp) needs from a kind of data: training batches for an epoch and an
// evaluation of a split. A task owns the model's side of a run (its data, batching, augmentation and how the
// model is called); the loop owns everything else (loss, optimizer, schedule, evaluation points, model selection,
// checkpoints, metrics, progress). Implementations: ImageClassification (image_task.hpp, mini-batches) and
// NodeClassification (graph_task.hpp, the whole graph as one batch). A new kind of data is one more task.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiments/train/progress.hpp"
#include "framework/autograd/var.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/core/error.hpp"
#include "framework/nn/module.hpp"

namespace rc::exp {

enum class Split { val, test };

// What an evaluation measured: accuracy, mean cross-entropy (no label smoothing), items and wall seconds.
struct Evaluation {
  double accuracy = 0, loss = 0, seconds = 0;
  int64_t items = 0;
};

// What an inference pass hands on, batch by batch: the logits (B, classes) and the B labels.
using BatchConsumer = std::function<void(const Var& logits, const std::vector<int64_t>& labels)>;

// One training batch through the model in training mode: logits (M, C) and M labels; when `mask` is not empty
// (size M) only the items it marks count in the loss and accuracy. `items`: examples the forward processed.
struct TrainBatch {
  Var logits;
  std::vector<int64_t> labels;
  std::vector<uint8_t> mask;
  int64_t items = 0;
};

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual nn::Module& model() = 0;
  // optimizer steps in one pass over the training data (at least 1)
  virtual int64_t steps_per_epoch() const = 0;
  virtual bool has_validation() const = 0;
  // Epoch `epoch` (from 1) begins and will take `steps` batches (fewer than steps_per_epoch when a step budget
  // ends inside it): the task shuffles, seeds its augmentation and may start preparing batches in the background.
  virtual void begin_epoch(int64_t epoch, int64_t steps) = 0;
  // The epoch's next batch, forward in training mode (the loop has called model().train()).
  virtual TrainBatch next_batch() = 0;
  // Waits for background work (a batch being prepared): before an evaluation and at the end of an epoch.
  virtual void pause() {}
  // The current weights on each split of `splits`, in evaluation mode and without an autograd graph; one result
  // per split, in order. Called once at every evaluation point, also when `splits` is empty (a task whose
  // evaluation has side effects, such as advancing the model's dropout counter, keeps them the same).
  // bar: redrawn during long evaluations; note: shown beside the split's name ("best", "last").
  virtual std::vector<Evaluation> evaluate(const std::vector<Split>& splits, Progress* bar,
                                           const std::string& note = "") = 0;
  // Diagnostics of the current weights that each evaluation point's metrics.jsonl line records under
  // "receptive_field" (e.g. an attention model's receptive field per layer and head); null: nothing.
  virtual nlohmann::json diagnostics() { return nullptr; }
  // What every checkpoint of the run records besides its epoch and step (e.g. how images were prepared).
  virtual io::Metadata checkpoint_metadata() const { return {}; }
  // Continuing a stopped run (trainer.hpp, train_state.hpp): the task's own state as JSON text (e.g. the current
  // epoch's shuffled order), saved with the run's training state and restored before training goes on. A task
  // whose batches depend on nothing but the epoch number keeps the defaults.
  virtual std::string save_state() const { return "null"; }
  virtual void load_state(const std::string& /*json*/) {}
  // Like begin_epoch, for an epoch whose first `first` batches were trained before the run stopped: after
  // load_state it goes on with batch `first` of the same order and augmentation (no reshuffle). `steps` counts
  // the epoch's batches from its start, as in begin_epoch.
  virtual void continue_epoch(int64_t epoch, int64_t first, int64_t steps);
  // Data parallelism (trainer.hpp, train.data_parallel): from now on this rank trains share `rank` of `ranks` of
  // every training batch (the shares together are the whole batch, in order). Errors name the setting that
  // makes the split impossible (e.g. a batch smaller than the ranks). Evaluation is not split.
  virtual void shard(int rank, int ranks);
};

inline void TrainingTask::continue_epoch(int64_t epoch, int64_t first, int64_t steps) {
  RC_CHECK(first == 0, "this kind of task cannot continue a run inside an epoch (batch {} of epoch {})", first, epoch);
  begin_epoch(epoch, steps);
}

inline void TrainingTask::shard(int, int ranks) {
  RC_CHECK(ranks <= 1, "this kind of task cannot be trained data-parallel");
}

// Share `rank` of `ranks` of n items in order: [lo, hi) with lo = ⌊rank·n/ranks⌋.
inline std::pair<int64_t, int64_t> share_of(int64_t n, int rank, int ranks) {
  return {n * rank / ranks, n * (rank + 1) / ranks};
}

}  // namespace rc::exp
