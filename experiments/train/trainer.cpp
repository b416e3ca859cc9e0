#include "experiments/train/trainer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "experiments/results.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/train/checkpoint.hpp"
#include "framework/ops/loss.hpp"
#include "framework/core/collective.hpp"
#include "framework/optim/clip.hpp"
#include "framework/optim/data_parallel.hpp"

namespace rc::exp {

bool Selection::update(double val_accuracy, double val_loss) {
  if (!has_val_) return true;  // every evaluation is the best so far
  if (seen_++ == 0) {
    max_accuracy_ = -1;
    min_loss_ = std::numeric_limits<double>::infinity();
    loss_ = std::numeric_limits<double>::infinity();
  }
  // patience: a new highest accuracy or a new lowest loss (either, ties included) resets the count
  if (val_accuracy >= max_accuracy_ || val_loss <= min_loss_) stale_ = 0;
  else ++stale_;
  max_accuracy_ = std::max(max_accuracy_, val_accuracy);
  min_loss_ = std::min(min_loss_, val_loss);
  const bool better = val_accuracy > accuracy_ || (val_accuracy == accuracy_ && val_loss < loss_);
  if (!better && !last_) return false;
  accuracy_ = val_accuracy;
  loss_ = val_loss;
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One run of the loop: the state the steps and the evaluation points share.
class Run {
 public:
  Run(TrainingTask& task, const TrainSettings& s, const std::filesystem::path& run_dir, const std::string& label);
  RunOutcome run();

 private:
  TrainingTask& task_;
  nn::Module& model_;
  Collective* const group_;  // data parallelism: the ranks that train this run together (nullptr: one process)
  const bool writer_;        // this process writes the run's files (rank 0 of a data-parallel run)
  const TrainSettings& s_;
  const std::string label_;
  const std::filesystem::path metrics_path_, best_path_, last_path_;
  const int64_t steps_per_epoch_, total_steps_, epochs_;
  const bool has_val_, summary_per_evaluation_;
  std::unique_ptr<optim::Optimizer> opt_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  std::vector<Var> params_;
  Progress progress_;
  Selection selection_;
  StateSnapshot best_, last_;
  RunOutcome out_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point last_point_ = start_;
  double train_seconds_ = 0;            // training steps only (no evaluation)
  int64_t step_ = 0, items_ = 0;        // so far
  double loss_sum_ = 0, acc_sum_ = 0;   // since the previous evaluation point
  int64_t batches_ = 0;
  bool stop_ = false;

  void train_epoch(int64_t epoch);
  bool train_step(int64_t epoch);  // false: the run stops (non-finite loss, interrupt)
  // data parallelism: from this rank's mean loss and accuracy over its `loss_items`, the whole batch's, its
  // number of loss items, and whether any rank was asked to stop (one all-reduce of five numbers)
  struct BatchTotals {
    double loss, accuracy;
    int64_t loss_items;
    bool stop;
  };
  BatchTotals combine(double loss, double acc, int64_t loss_items);
  void evaluate_point(int64_t epoch);
  void log_point(int64_t epoch, const Evaluation* val, const Evaluation* test);
  void stop_run(const std::string& reason);
  void finish();
};

Run::Run(TrainingTask& task, const TrainSettings& s, const std::filesystem::path& run_dir, const std::string& label)
    : task_(task), model_(task.model()), group_(data_parallel_group() && data_parallel_group()->size() > 1
                                                     ? data_parallel_group() : nullptr),
      writer_(!group_ || group_->rank() == 0), s_(s), label_(label), metrics_path_(run_dir / "metrics.jsonl"),
      best_path_(run_dir / "best.safetensors"), last_path_(run_dir / "last.safetensors"),
      steps_per_epoch_(std::max<int64_t>(task.steps_per_epoch(), 1)),
      total_steps_(s.total_steps(steps_per_epoch_)),
      epochs_((total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_), has_val_(task.has_validation()),
      // full-batch tasks evaluate after every step: one summary line at the end instead of one per evaluation
      summary_per_evaluation_(steps_per_epoch_ > 1), opt_(make_optimizer(s, model_)),
      schedule_(make_lr_schedule(s, steps_per_epoch_, total_steps_)), params_(model_.parameters()),
      progress_(label, total_steps_, s.progress && writer_), selection_(s.select == "last", has_val_) {
  if (group_) task_.shard(group_->rank(), group_->size());
  if (writer_) {
    std::filesystem::create_directories(run_dir);
    // a restarted run starts afresh: no metrics or weights of an earlier, unfinished attempt are left to be
    // mistaken for this one's
    for (const auto& p : {metrics_path_, last_path_, best_path_}) std::filesystem::remove(p);
  }
  out_.params = model_.num_parameters();
  out_.best_val_accuracy = -1;
}

RunOutcome Run::run() {
  for (int64_t epoch = 1; epoch <= epochs_ && step_ < total_steps_ && !stop_; ++epoch) {
    train_epoch(epoch);
    if (out_.status != "ok") break;
    if (s_.eval_every == 0) evaluate_point(epoch);
  }
  finish();
  return out_;
}

void Run::train_epoch(int64_t epoch) {
  model_.train();
  const int64_t steps = std::min(steps_per_epoch_, total_steps_ - step_);
  task_.begin_epoch(epoch, steps);
  auto t0 = Clock::now();
  for (int64_t b = 0; b < steps; ++b) {
    if (!train_step(epoch)) break;
    if (s_.eval_every > 0 && (step_ % s_.eval_every == 0 || step_ == total_steps_)) {
      task_.pause();  // the next batch is ready before evaluation starts timing its own work
      train_seconds_ += seconds_since(t0);
      evaluate_point(epoch);
      model_.train();
      t0 = Clock::now();
      if (stop_) break;
    }
  }
  task_.pause();
  train_seconds_ += seconds_since(t0);
}

bool Run::train_step(int64_t epoch) {
  TrainBatch batch = task_.next_batch();
  CrossEntropyOptions ce;
  ce.label_smoothing = s_.label_smoothing;
  ce.mask = batch.mask;
  Var loss = cross_entropy(batch.logits, batch.labels, ce);
  double l = loss.value().item();
  double acc = accuracy(batch.logits.value(), batch.labels, batch.mask);
  int64_t items = batch.items;
  bool stop = stop_requested();
  float seed = 1.0f;
  if (group_) {  // every rank takes the same decisions from the whole batch's numbers
    int64_t mine = 0;
    for (uint8_t m : batch.mask) mine += m;
    if (batch.mask.empty()) mine = static_cast<int64_t>(batch.labels.size());
    const BatchTotals t = combine(l, acc, mine);
    // this rank's mean loss, weighted by its share of the batch: the ranks' gradients add up to the batch mean's
    seed = static_cast<float>(double(mine) / double(t.loss_items));
    l = t.loss;
    acc = t.accuracy;
    if (batch.mask.empty()) items = t.loss_items;  // a graph task's every rank forwards the whole graph
    stop = t.stop;
  }
  if (!std::isfinite(l)) {
    task_.pause();
    stop_run(fmt::format("loss became {} at epoch {} step {}", l, epoch, step_ + 1));
    return false;
  }
  backward(loss, group_ ? Tensor::full(loss.value().shape(), seed) : Tensor());
  if (group_) allreduce_gradients(params_, 1.0);
  if (s_.clip_grad_norm > 0) optim::clip_grad_norm(params_, float(s_.clip_grad_norm));
  opt_->set_lr(schedule_->lr_at(step_));
  opt_->step();
  opt_->zero_grad();
  ++step_;
  ++batches_;
  items_ += items;
  loss_sum_ += l;
  acc_sum_ += acc;
  progress_.step(step_, epoch, epochs_, loss_sum_ / batches_, acc_sum_ / batches_, items_);
  if (stop) {
    task_.pause();
    out_.status = "interrupted";
    return false;
  }
  return true;
}

Run::BatchTotals Run::combine(double loss, double acc, int64_t loss_items) {
  std::vector<double> v = {loss * double(loss_items), acc * double(loss_items), double(loss_items),
                           stop_requested() ? 1.0 : 0.0};
  group_allreduce_sum(std::span<double>(v));
  const double n = std::max(v[2], 1.0);
  return {v[0] / n, v[1] / n, static_cast<int64_t>(v[2]), v[3] > 0};
}

void Run::evaluate_point(int64_t epoch) {
  // weights that became NaN or Inf in the steps since the last evaluation are neither evaluated nor kept: the
  // checkpoints hold the last finite weights
  if (const std::string bad = non_finite_tensor(model_); !bad.empty()) {
    stop_run(fmt::format("weights became non-finite ({}) at epoch {} step {}", bad, epoch, step_));
    return;
  }
  std::vector<Split> splits;
  if (has_val_) splits.push_back(Split::val);
  if (s_.test_every_eval) splits.push_back(Split::test);
  const std::vector<Evaluation> e = task_.evaluate(splits, &progress_);
  const Evaluation* val = has_val_ ? &e[0] : nullptr;
  const Evaluation* test = s_.test_every_eval ? &e.back() : nullptr;
  out_.epochs_run = epoch;
  io::Metadata meta = task_.checkpoint_metadata();
  meta["epoch"] = std::to_string(epoch);
  meta["step"] = std::to_string(step_);
  last_.capture(model_, meta);
  if (selection_.update(val ? val->accuracy : std::nan(""), val ? val->loss : std::nan(""))) {
    out_.best_val_accuracy = val ? val->accuracy : -1;
    out_.best_epoch = epoch;
    best_.capture(model_, meta);
  }
  log_point(epoch, val, test);
  if (has_val_ && s_.patience > 0 && selection_.stale() >= s_.patience) stop_ = true;
}

void Run::log_point(int64_t epoch, const Evaluation* val, const Evaluation* test) {
  out_.final_train_loss = loss_sum_ / std::max<int64_t>(batches_, 1);
  const double train_acc = acc_sum_ / std::max<int64_t>(batches_, 1);
  const double throughput = items_ / std::max(train_seconds_, 1e-9);
  const auto now = Clock::now();
  nlohmann::json m = {{"epoch", epoch},
                      {"step", step_},
                      {"train_loss", out_.final_train_loss},
                      {"train_accuracy", train_acc},
                      {"val_accuracy", val ? nlohmann::json(val->accuracy) : nlohmann::json()},
                      {"val_loss", val ? nlohmann::json(val->loss) : nlohmann::json()},
                      {"lr", schedule_->lr_at(std::max<int64_t>(step_ - 1, 0))},
                      {"interval_seconds", std::chrono::duration<double>(now - last_point_).count()},
                      {"elapsed_seconds", std::chrono::duration<double>(now - start_).count()},
                      {"items_per_second", throughput}};
  last_point_ = now;
  if (val) m["eval_items_per_second"] = val->items / std::max(val->seconds, 1e-9);
  if (test) m["test_accuracy"] = test->accuracy;
  if (nlohmann::json rf = task_.diagnostics(); !rf.is_null()) m["receptive_field"] = std::move(rf);
  if (writer_) append_line(metrics_path_, m.dump());
  if (summary_per_evaluation_) {
    std::string line = fmt::format("epoch {}/{} step {}: loss {:.4f} train {:.4f}", epoch, epochs_, step_,
                                   out_.final_train_loss, train_acc);
    if (val) line += fmt::format(" val {:.4f} (loss {:.4f})", val->accuracy, val->loss);
    if (test) line += fmt::format(" test {:.4f}", test->accuracy);
    line += fmt::format(" ({:.0f}/s", throughput);
    if (val) line += fmt::format(", eval {:.0f}/s", val->items / std::max(val->seconds, 1e-9));
    progress_.epoch_end(line + ")");
  }
  loss_sum_ = acc_sum_ = 0;
  batches_ = 0;
}

void Run::stop_run(const std::string& reason) {
  out_.status = "stopped: " + reason;
  if (!last_.empty())
    fmt::print(stderr, "\n{}: {}; keeping the last good checkpoint (epoch {} step {}) and the metrics\n", label_,
               out_.status, out_.epochs_run, last_.metadata().at("step"));
  else
    fmt::print(stderr, "\n{}: {}; no evaluation had finished, so there is no checkpoint\n", label_, out_.status);
  stop_ = true;
}

// Writes the checkpoints and evaluates the test split on the selected and the last weights (not after an
// interrupt: that run restarts from scratch). The model is left holding the last weights.
void Run::finish() {
  if (!has_val_) out_.best_val_accuracy = std::nan("");
  if (out_.status != "interrupted" && !last_.empty()) {
    if (writer_) {
      last_.save(last_path_);
      best_.save(best_path_);
    }
    best_.restore(model_);
    const Evaluation best = task_.evaluate({Split::test}, &progress_, "best").front();
    out_.test_accuracy = out_.last_test_accuracy = best.accuracy;
    out_.eval_items_per_second = best.items / std::max(best.seconds, 1e-9);
    last_.restore(model_);
    if (last_.metadata().at("step") != best_.metadata().at("step"))
      out_.last_test_accuracy = task_.evaluate({Split::test}, &progress_, "last").front().accuracy;
  }
  out_.steps = step_;
  out_.train_seconds = seconds_since(start_);
  out_.items_per_second = items_ / std::max(train_seconds_, 1e-9);
  if (!summary_per_evaluation_)
    progress_.epoch_end(fmt::format("{} epochs: best val {:.4f} at epoch {}, test {:.4f}, {:.1f} s", out_.epochs_run,
                                    out_.best_val_accuracy, out_.best_epoch, out_.test_accuracy, out_.train_seconds));
  progress_.finish();
}

}  // namespace

RunOutcome train(TrainingTask& task, const TrainSettings& settings, const std::filesystem::path& run_dir,
                 const std::string& label) {
  return Run(task, settings, run_dir, label).run();
}

}  // namespace rc::exp
