#pragma once
// Image classification as a training task (task.hpp): shuffled mini-batches, augmented and normalised on a
// second thread while the model trains on the previous one; validation and test sets evaluated in batches.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "datasets/image/image_dataset.hpp"
#include "datasets/image/transforms.hpp"
#include "experiments/train/outcome.hpp"
#include "experiments/train/settings.hpp"
#include "experiments/train/task.hpp"
#include "experiments/train/trainer.hpp"
#include "framework/core/parallel.hpp"
#include "models/model.hpp"

namespace rc::exp {

// The data of an image run.
struct ImageTask {
  const data::ImageDataset* train = nullptr;  // the training pool; train_idx and val_idx index it
  std::vector<int64_t> train_idx, val_idx;
  const data::ImageDataset* test = nullptr;   // all items are evaluated
  data::Augment augment;
  data::Normalize normalize;
};

// Epoch e shuffles the training indices (continuing from the previous epoch's order) with seed
// mix_seed(seed, 1000 + e) and augments with mix_seed(seed, 2000 + e); batches of settings.batch_size (the last
// one smaller), evaluation batches of settings.eval_batch_size. Checkpoints record how the input was prepared
// (image_input_metadata, checkpoint.hpp).
class ImageClassification : public TrainingTask {
 public:
  ImageClassification(models::ImageModel& model, const ImageTask& data, const TrainSettings& settings,
                      uint64_t seed);
  ~ImageClassification() override;
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
  // The model's receptive field (models::ReceptiveField) on a fixed batch of up to 32 validation images (test
  // images when there is no validation split): {"mean_distance": [[layer][head]], "width": ..., "gate": ...}.
  nlohmann::json diagnostics() override;
  // Further keys every checkpoint records (the architecture: model_metadata, checkpoint.hpp).
  void add_metadata(const io::Metadata& m) { extra_metadata_.insert(m.begin(), m.end()); }

 private:
  models::ImageModel& model_;
  const ImageTask& data_;
  int64_t batch_, eval_batch_;
  uint64_t seed_, aug_seed_ = 0;
  std::vector<int64_t> order_;
  int rank_ = 0, ranks_ = 1;  // data parallelism: this rank's share of each batch
  int64_t steps_ = 0, b_ = 0;  // this epoch's batches, and the next one's index
  BackgroundTask next_;        // prepares batch b_ into next_x_ and next_labels_
  Tensor next_x_;
  std::vector<int64_t> next_labels_;
  Tensor probe_;  // the diagnostics' fixed images
  io::Metadata extra_metadata_;

  void prepare(int64_t b);
};

// The image run through the training loop (trainer.hpp).
RunOutcome train_image_model(models::ImageModel& model, const ImageTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, uint64_t seed, const std::string& label,
                             const TrainControl& control = {});

struct EvalProgress {
  Progress* bar = nullptr;  // redrawn after every batch when set
  std::string what;         // "val", "test (best)", ...
};

// The model over the given items (all when `indices` is empty) in order, in evaluation mode, as inference: no
// autograd graph, batches of batch_size; `consume` gets each batch's logits (B, classes) and labels.
void infer_image_batches(models::ImageModel& model, const data::ImageDataset& data, const std::vector<int64_t>& indices,
                         const data::Normalize& normalize, int64_t batch_size, const BatchConsumer& consume,
                         const EvalProgress& progress = {});
// Accuracy and mean cross-entropy of the model over the given items (infer_image_batches).
Evaluation evaluate_image_set(models::ImageModel& model, const data::ImageDataset& data,
                              const std::vector<int64_t>& indices, const data::Normalize& normalize, int64_t batch_size,
                              const EvalProgress& progress = {});
// Its accuracy alone.
double evaluate_images(models::ImageModel& model, const data::ImageDataset& data, const std::vector<int64_t>& indices,
                       const data::Normalize& normalize, int64_t batch_size);

}  // namespace rc::exp
