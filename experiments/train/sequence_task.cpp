#include "experiments/train/sequence_task.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "experiments/train/train_state.hpp"
#include "experiments/train/checkpoint.hpp"
#include "experiments/train/trainer.hpp"
#include "framework/core/random.hpp"
#include "framework/ops/loss.hpp"

namespace rc::exp {

void infer_sequence_batches(models::SequenceModel& model, const data::SequenceSet& set,
                            const std::vector<int64_t>& indices, int64_t batch_size, const BatchConsumer& consume,
                            Progress* bar, const std::string& what) {
  NoGradGuard no_grad;  // inference: no autograd graph
  const bool was_training = model.is_training();
  model.eval();
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = indices.empty() ? set.size() : static_cast<int64_t>(indices.size());
  std::vector<int64_t> idx, labels;
  for (int64_t start = 0; start < n; start += batch_size) {
    idx.clear();
    labels.clear();
    for (int64_t i = start; i < std::min(n, start + batch_size); ++i) idx.push_back(indices.empty() ? i : indices[i]);
    consume(model.forward(Var(data::make_sequence_batch(set, idx, &labels))), labels);
    if (bar)
      bar->evaluation(what, start + static_cast<int64_t>(idx.size()), n,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  model.train(was_training);
}

Evaluation evaluate_sequence_set(models::SequenceModel& model, const data::SequenceSet& set,
                                 const std::vector<int64_t>& indices, int64_t batch_size, Progress* bar,
                                 const std::string& what) {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t correct = 0, n = 0;
  double loss_sum = 0;
  infer_sequence_batches(model, set, indices, batch_size, [&](const Var& logits, const std::vector<int64_t>& labels) {
    const double b = double(labels.size());
    correct += std::llround(accuracy(logits.value(), labels) * b);
    loss_sum += cross_entropy(logits, labels).value().item() * b;  // batch mean → sum
    n += static_cast<int64_t>(labels.size());
  }, bar, what);
  Evaluation r;
  r.items = n;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.accuracy = n > 0 ? double(correct) / double(n) : 0.0;
  r.loss = n > 0 ? loss_sum / double(n) : 0.0;
  return r;
}

SequenceClassification::SequenceClassification(models::SequenceModel& model, const SequenceTask& data,
                                               const TrainSettings& s, uint64_t seed)
    : model_(model), data_(data), eval_batch_(s.eval_batch_size), seed_(seed), order_(data.train_idx) {
  RC_CHECK(data.train && data.test, "sequence task: missing training or test data");
  RC_CHECK(!data.train_idx.empty(), "sequence task: empty training set");
  batch_ = std::min<int64_t>(s.batch_size, static_cast<int64_t>(order_.size()));
}

SequenceClassification::~SequenceClassification() { next_.wait(); }

int64_t SequenceClassification::steps_per_epoch() const {
  return (static_cast<int64_t>(order_.size()) + batch_ - 1) / batch_;
}

void SequenceClassification::prepare(int64_t b) {
  next_.run([this, b] {
    const int64_t n = static_cast<int64_t>(order_.size());
    const int64_t lo = b * batch_, hi = std::min(n, (b + 1) * batch_);
    const auto [s0, s1] = share_of(hi - lo, rank_, ranks_);
    const std::vector<int64_t> idx(order_.begin() + lo + s0, order_.begin() + lo + s1);
    next_labels_.clear();
    next_x_ = data::make_sequence_batch(*data_.train, idx, &next_labels_);
  });
}

void SequenceClassification::shard(int rank, int ranks) {
  const int64_t n = static_cast<int64_t>(order_.size()), last = n % batch_;
  RC_CHECK(batch_ >= ranks, "train.batch_size {} (of {} training sequences) is smaller than the {} ranks of a "
           "data-parallel run: every rank needs at least one sequence of each batch", batch_, n, ranks);
  RC_CHECK(last == 0 || last >= ranks, "the last batch of each epoch holds {} of the {} training sequences (batch_size "
           "{}), fewer than the {} ranks of a data-parallel run: change train.batch_size or the training-set size",
           last, n, batch_, ranks);
  rank_ = rank;
  ranks_ = ranks;
}

void SequenceClassification::begin_epoch(int64_t epoch, int64_t steps) {
  next_.wait();
  std::mt19937_64 gen(mix_seed(seed_, 1000 + epoch));
  std::shuffle(order_.begin(), order_.end(), gen);
  steps_ = steps;
  b_ = 0;
  if (steps_ > 0) prepare(0);
}

void SequenceClassification::continue_epoch(int64_t, int64_t first, int64_t steps) {
  next_.wait();
  steps_ = steps;
  b_ = first;
  if (b_ < steps_) prepare(b_);
}

std::string SequenceClassification::save_state() const { return order_state(order_); }

void SequenceClassification::load_state(const std::string& text) {
  std::vector<int64_t> order = order_from_state(text, data_.train_idx, "sequence task");
  next_.wait();
  order_ = std::move(order);
}

TrainBatch SequenceClassification::next_batch() {
  RC_CHECK(b_ < steps_, "sequence task: batch {} of an epoch of {}", b_, steps_);
  next_.wait();
  Tensor x = std::move(next_x_);
  TrainBatch batch;
  batch.labels = std::move(next_labels_);
  next_labels_ = {};
  if (++b_ < steps_) prepare(b_);
  batch.logits = model_.forward(Var(x));
  batch.items = static_cast<int64_t>(batch.labels.size());
  return batch;
}

std::vector<Evaluation> SequenceClassification::evaluate(const std::vector<Split>& splits, Progress* bar,
                                                         const std::string& note) {
  std::vector<Evaluation> out;
  for (Split split : splits) {
    const bool val = split == Split::val;
    const std::string what = std::string(val ? "val" : "test") + (note.empty() ? "" : " (" + note + ")");
    out.push_back(evaluate_sequence_set(model_, val ? *data_.train : *data_.test,
                                        val ? data_.val_idx : std::vector<int64_t>{}, eval_batch_, bar, what));
  }
  return out;
}

io::Metadata sequence_input_metadata(const data::SequenceSet& set) {
  return {{"domain", "sequence"},
          {"sequence_length", std::to_string(set.length)},
          {"sequence_features", std::to_string(set.features)},
          {"classes", std::to_string(set.num_classes())},
          {"class_names", nlohmann::json(set.class_names).dump()},
          {"sequence_description", set.description}};
}

io::Metadata SequenceClassification::checkpoint_metadata() const {
  io::Metadata m = sequence_input_metadata(*data_.train);
  m.insert(extra_metadata_.begin(), extra_metadata_.end());
  return m;
}

bool read_sequence_input_metadata(const io::Metadata& m, models::SequenceShape& shape,
                                  std::vector<std::string>& class_names, const std::string& file) {
  if (!m.count("sequence_length")) return false;
  auto integer = [&](const char* key) {
    RC_CHECK(m.count(key), "{}: metadata has sequence_length but no '{}'", file, key);
    try {
      size_t used = 0;
      const int64_t v = std::stoll(m.at(key), &used);
      if (used == m.at(key).size() && v >= 1) return v;
    } catch (const std::exception&) {
    }
    fail("{}: metadata key '{}': '{}' is not a positive integer", file, key, m.at(key));
  };
  shape = {integer("sequence_length"), integer("sequence_features"), integer("classes")};
  class_names.clear();
  if (m.count("class_names")) {
    try {
      class_names = nlohmann::json::parse(m.at("class_names")).get<std::vector<std::string>>();
    } catch (const std::exception&) {
      fail("{}: metadata key 'class_names': '{}' is not a JSON list of strings", file, m.at("class_names"));
    }
    RC_CHECK(int64_t(class_names.size()) == shape.num_classes, "{}: {} class names for {} classes", file,
             class_names.size(), shape.num_classes);
  }
  return true;
}

RunOutcome train_sequence_model(models::SequenceModel& model, const SequenceTask& task, const TrainSettings& settings,
                                const std::filesystem::path& run_dir, uint64_t seed, const std::string& label,
                                const TrainControl& control) {
  SequenceClassification t(model, task, settings, seed);
  t.add_metadata(run_model_metadata(run_dir));  // the architecture, from the run's config.yaml when there is one
  return train(t, settings, run_dir, label, control);
}

}  // namespace rc::exp
