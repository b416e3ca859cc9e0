#include "experiments/train/image_task.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "experiments/train/checkpoint.hpp"
#include "experiments/train/train_state.hpp"
#include "experiments/train/trainer.hpp"
#include "framework/core/random.hpp"
#include "framework/ops/loss.hpp"

namespace rc::exp {

void infer_image_batches(models::ImageModel& model, const data::ImageDataset& d, const std::vector<int64_t>& indices,
                         const data::Normalize& normalize, int64_t batch_size, const BatchConsumer& consume,
                         const EvalProgress& progress) {
  // inference: no autograd graph is recorded (nothing is saved for a backward pass), evaluation-mode layers
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = indices.empty() ? d.size() : static_cast<int64_t>(indices.size());
  std::vector<int64_t> idx, labels;
  for (int64_t start = 0; start < n; start += batch_size) {
    idx.clear();
    for (int64_t i = start; i < std::min(n, start + batch_size); ++i) idx.push_back(indices.empty() ? i : indices[i]);
    Tensor x = data::make_batch(d, idx, {}, normalize, false, 0, &labels);
    consume(model.forward(Var(x)), labels);
    if (progress.bar)
      progress.bar->evaluation(progress.what, start + static_cast<int64_t>(idx.size()), n,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  model.train(was_training);
}

Evaluation evaluate_image_set(models::ImageModel& model, const data::ImageDataset& d,
                              const std::vector<int64_t>& indices, const data::Normalize& normalize, int64_t batch_size,
                              const EvalProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = indices.empty() ? d.size() : static_cast<int64_t>(indices.size());
  int64_t correct = 0;
  double loss_sum = 0;
  infer_image_batches(model, d, indices, normalize, batch_size, [&](const Var& logits, const std::vector<int64_t>& labels) {
    const double b = static_cast<double>(labels.size());
    correct += std::llround(accuracy(logits.value(), labels) * b);
    loss_sum += cross_entropy(logits, labels).value().item() * b;  // batch mean → sum
  }, progress);
  Evaluation r;
  r.items = n;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.accuracy = n > 0 ? double(correct) / double(n) : 0.0;
  r.loss = n > 0 ? loss_sum / double(n) : 0.0;
  return r;
}

double evaluate_images(models::ImageModel& model, const data::ImageDataset& d, const std::vector<int64_t>& indices,
                       const data::Normalize& normalize, int64_t batch_size) {
  return evaluate_image_set(model, d, indices, normalize, batch_size).accuracy;
}

ImageClassification::ImageClassification(models::ImageModel& model, const ImageTask& data, const TrainSettings& s,
                                         uint64_t seed)
    : model_(model), data_(data), eval_batch_(s.eval_batch_size), seed_(seed), order_(data.train_idx) {
  RC_CHECK(data.train && data.test, "image task: missing training or test data");
  RC_CHECK(!data.train_idx.empty(), "image task: empty training set");
  batch_ = std::min<int64_t>(s.batch_size, static_cast<int64_t>(order_.size()));
}

ImageClassification::~ImageClassification() { next_.wait(); }

int64_t ImageClassification::steps_per_epoch() const {
  return (static_cast<int64_t>(order_.size()) + batch_ - 1) / batch_;
}

void ImageClassification::prepare(int64_t b) {
  next_.run([this, b] {
    const int64_t n = static_cast<int64_t>(order_.size());
    const int64_t lo = b * batch_, hi = std::min(n, (b + 1) * batch_);
    const auto [s0, s1] = share_of(hi - lo, rank_, ranks_);
    std::vector<int64_t> idx(order_.begin() + lo + s0, order_.begin() + lo + s1);
    next_x_ = data::make_batch(*data_.train, idx, data_.augment, data_.normalize, true, aug_seed_, &next_labels_,
                               false);
  });
}

void ImageClassification::shard(int rank, int ranks) {
  const int64_t n = static_cast<int64_t>(order_.size()), last = n % batch_;
  RC_CHECK(batch_ >= ranks, "train.batch_size {} (of {} training images) is smaller than the {} ranks of a "
           "data-parallel run: every rank needs at least one image of each batch", batch_, n, ranks);
  RC_CHECK(last == 0 || last >= ranks, "the last batch of each epoch holds {} of the {} training images (batch_size "
           "{}), fewer than the {} ranks of a data-parallel run: change train.batch_size or the training-set size",
           last, n, batch_, ranks);
  rank_ = rank;
  ranks_ = ranks;
}

void ImageClassification::begin_epoch(int64_t epoch, int64_t steps) {
  next_.wait();
  std::mt19937_64 gen(mix_seed(seed_, 1000 + epoch));
  std::shuffle(order_.begin(), order_.end(), gen);
  aug_seed_ = mix_seed(seed_, 2000 + epoch);
  steps_ = steps;
  b_ = 0;
  if (steps_ > 0) prepare(0);
}

void ImageClassification::continue_epoch(int64_t epoch, int64_t first, int64_t steps) {
  next_.wait();
  aug_seed_ = mix_seed(seed_, 2000 + epoch);
  steps_ = steps;
  b_ = first;
  if (b_ < steps_) prepare(b_);
}

std::string ImageClassification::save_state() const { return order_state(order_); }

void ImageClassification::load_state(const std::string& text) {
  std::vector<int64_t> order = order_from_state(text, data_.train_idx, "image task");
  next_.wait();
  order_ = std::move(order);
}

TrainBatch ImageClassification::next_batch() {
  RC_CHECK(b_ < steps_, "image task: batch {} of an epoch of {}", b_, steps_);
  next_.wait();
  Tensor x = std::move(next_x_);
  TrainBatch batch;
  batch.labels = std::move(next_labels_);
  next_labels_.clear();
  if (++b_ < steps_) prepare(b_);  // the next batch is prepared as a TBB task beside this one's training step
  batch.logits = model_.forward(Var(x));
  batch.items = static_cast<int64_t>(batch.labels.size());
  return batch;
}

std::vector<Evaluation> ImageClassification::evaluate(const std::vector<Split>& splits, Progress* bar,
                                                      const std::string& note) {
  std::vector<Evaluation> out;
  for (Split split : splits) {
    const bool val = split == Split::val;
    const std::string what = std::string(val ? "val" : "test") + (note.empty() ? "" : " (" + note + ")");
    out.push_back(evaluate_image_set(model_, val ? *data_.train : *data_.test, val ? data_.val_idx : std::vector<int64_t>{},
                                     data_.normalize, eval_batch_, {bar, what}));
  }
  return out;
}

io::Metadata ImageClassification::checkpoint_metadata() const {
  const data::ImageDataset& d = *data_.train;
  io::Metadata m =
      image_input_metadata({{d.channels, d.height, d.width, d.num_classes()}, data_.normalize, d.class_names});
  for (const auto& [k, v] : extra_metadata_) m[k] = v;
  return m;
}

nlohmann::json ImageClassification::diagnostics() {
  if (!probe_.defined()) {
    const bool val = !data_.val_idx.empty();
    const int64_t n = std::min<int64_t>(32, val ? static_cast<int64_t>(data_.val_idx.size()) : data_.test->size());
    std::vector<int64_t> idx, labels;
    for (int64_t i = 0; i < n; ++i) idx.push_back(val ? data_.val_idx[i] : i);
    probe_ = data::make_batch(val ? *data_.train : *data_.test, idx, {}, data_.normalize, false, 0, &labels);
  }
  const models::ReceptiveField rf = model_.receptive_field(probe_);
  if (rf.empty()) return nullptr;
  nlohmann::json j = {{"mean_distance", rf.mean_distance}};
  if (!rf.width.empty()) j["width"] = rf.width;
  if (!rf.gate.empty()) j["gate"] = rf.gate;
  return j;
}

RunOutcome train_image_model(models::ImageModel& model, const ImageTask& task, const TrainSettings& settings,
                             const std::filesystem::path& run_dir, uint64_t seed, const std::string& label,
                             const TrainControl& control) {
  ImageClassification t(model, task, settings, seed);
  t.add_metadata(run_model_metadata(run_dir));  // the architecture, from the run's config.yaml when there is one
  return train(t, settings, run_dir, label, control);
}

}  // namespace rc::exp
