#pragma once
// Sequence classification as a training task (task.hpp): shuffled mini-batches of (B, L, F) sequences, made on a
// second thread while the model trains on the previous one; validation and test sets evaluated in batches as
// inference. The same loop, selection, checkpoints and metrics as images and graphs (trainer.hpp).
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/sequence/sequence_data.hpp"
#include "experiments/train/outcome.hpp"
#include "experiments/train/settings.hpp"
#include "experiments/train/task.hpp"
#include "experiments/train/trainer.hpp"
#include "framework/core/parallel.hpp"
#include "models/model.hpp"

namespace rc::exp {

// The data of a sequence run.
struct SequenceTask {
  const data::SequenceSet* train = nullptr;  // the training pool; train_idx and val_idx index it
  std::vector<int64_t> train_idx, val_idx;
  const data::SequenceSet* test = nullptr;   // all items are evaluated
};

// Epoch e shuffles the training indices (continuing from the previous epoch's order) with seed
// mix_seed(seed, 1000 + e), as images do; batches of settings.batch_size (the last one smaller), evaluation batches
// of settings.eval_batch_size. Checkpoints record the sequence shape, class names and what a step holds.
class SequenceClassification : public TrainingTask {
 public:
  SequenceClassification(models::SequenceModel& model, const SequenceTask& data, const TrainSettings& settings,
                         uint64_t seed);
  ~SequenceClassification() override;
  nn::Module& model() override { return model_; }
  void shard(int rank, int ranks) override;
  int64_t steps_per_epoch() const override;
  bool has_validation() const override { return !data_.val_idx.empty(); }
  void begin_epoch(int64_t epoch, int64_t steps) override;
  void continue_epoch(int64_t epoch, int64_t first, int64_t steps) override;
  std::string save_state() const override;  // {"order": the current epoch's order of the training indices}
  void load_state(const std::string& json) override;
  TrainBatch next_batch() override;
  void pause() override { next_.wait(); }
  std::vector<Evaluation> evaluate(const std::vector<Split>& splits, Progress* bar, const std::string& note) override;
  io::Metadata checkpoint_metadata() const override;
  // Further keys every checkpoint records (the architecture: model_metadata, checkpoint.hpp).
  void add_metadata(const io::Metadata& m) { extra_metadata_.insert(m.begin(), m.end()); }

 private:
  models::SequenceModel& model_;
  const SequenceTask& data_;
  int64_t batch_, eval_batch_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int rank_ = 0, ranks_ = 1;
  int64_t steps_ = 0, b_ = 0;
  BackgroundTask next_;  // prepares batch b_ into next_x_ and next_labels_
  Tensor next_x_;
  std::vector<int64_t> next_labels_;

  io::Metadata extra_metadata_;

  void prepare(int64_t b);
};

// The metadata a sequence checkpoint carries: domain "sequence", sequence_length, sequence_features, classes,
// class_names (a JSON list) and sequence_description.
io::Metadata sequence_input_metadata(const data::SequenceSet& set);

// Reads what sequence_input_metadata wrote; false when the metadata has no sequence_length (not a sequence
// checkpoint). Malformed values are errors naming `file` and the key.
bool read_sequence_input_metadata(const io::Metadata& metadata, models::SequenceShape& shape,
                                  std::vector<std::string>& class_names, const std::string& file = "");

// The model over the given items (all when `indices` is empty) in order, in evaluation mode, as inference: no
// autograd graph, batches of batch_size; `consume` gets each batch's logits (B, classes) and labels.
void infer_sequence_batches(models::SequenceModel& model, const data::SequenceSet& set,
                            const std::vector<int64_t>& indices, int64_t batch_size, const BatchConsumer& consume,
                            Progress* bar = nullptr, const std::string& what = "");
// Accuracy and mean cross-entropy over the given items (infer_sequence_batches).
Evaluation evaluate_sequence_set(models::SequenceModel& model, const data::SequenceSet& set,
                                 const std::vector<int64_t>& indices, int64_t batch_size, Progress* bar = nullptr,
                                 const std::string& what = "");

// The sequence run through the training loop (trainer.hpp).
RunOutcome train_sequence_model(models::SequenceModel& model, const SequenceTask& task, const TrainSettings& settings,
                                const std::filesystem::path& run_dir, uint64_t seed, const std::string& label,
                                const TrainControl& control = {});

}  // namespace rc::exp
