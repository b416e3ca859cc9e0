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
#include "experiments/train/train_state.hpp"
#include <fstream>
#include "framework/nn/call_counter.hpp"
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

void Selection::set_state(const State& s) {
  accuracy_ = s.accuracy;
  loss_ = s.loss;
  max_accuracy_ = s.max_accuracy;
  min_loss_ = s.min_loss;
  stale_ = s.stale;
  seen_ = s.seen;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One run of the loop: the state the steps and the evaluation points share.
class Run {
 public:
  Run(TrainingTask& task, const TrainSettings& s, const std::filesystem::path& run_dir, const std::string& label,
      const TrainControl& control);
  RunOutcome run();

 private:
  TrainingTask& task_;
  nn::Module& model_;
  Collective* const group_;  // data parallelism: the ranks that train this run together (nullptr: one process)
  const bool writer_;        // this process writes the run's files (rank 0 of a data-parallel run)
  const TrainSettings& s_;
  const std::string label_;
  const std::filesystem::path metrics_path_, best_path_, last_path_, state_path_;
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
  // where the loop is, for its training state: the epoch in progress (or just finished), its batches (from its
  // start), how many of them are done; evaluation points logged; the step of the last one; whether the step the
  // run was interrupted at still owes its evaluation; wall seconds of earlier attempts
  int64_t epoch_ = 0, epoch_steps_ = 0, epoch_done_ = 0, points_ = 0, last_eval_step_ = 0;
  bool pending_eval_ = false, resumed_ = false;
  double earlier_seconds_ = 0;
  Clock::time_point state_saved_ = start_;  // when the training state was last written at an evaluation point
  bool best_saved_ = false;                 // best.safetensors holds best_ (no new selection since it was written)

  void start_afresh();
  void restore(const TrainState& state);  // errors when the state does not fit the run or the files beside it
  void restore_snapshot(StateSnapshot& snapshot, const std::filesystem::path& path, int64_t step);
  void restore_snapshot(StateSnapshot& snapshot, const TrainState::Snapshot& saved, const char* what, int64_t step);
  void save_state(bool finished) const;
  void save_point();
  void cut_metrics() const;
  double elapsed() const { return earlier_seconds_ + seconds_since(start_); }
  void train_epoch(int64_t epoch, int64_t first);
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

Run::Run(TrainingTask& task, const TrainSettings& s, const std::filesystem::path& run_dir, const std::string& label,
         const TrainControl& control)
    : task_(task), model_(task.model()), group_(data_parallel_group() && data_parallel_group()->size() > 1
                                                     ? data_parallel_group() : nullptr),
      writer_(!group_ || group_->rank() == 0), s_(s), label_(label), metrics_path_(run_dir / "metrics.jsonl"),
      best_path_(run_dir / "best.safetensors"), last_path_(run_dir / "last.safetensors"),
      state_path_(run_dir / kTrainStateFile),
      steps_per_epoch_(std::max<int64_t>(task.steps_per_epoch(), 1)),
      total_steps_(s.total_steps(steps_per_epoch_)),
      epochs_((total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_), has_val_(task.has_validation()),
      // full-batch tasks evaluate after every step: one summary line at the end instead of one per evaluation
      summary_per_evaluation_(steps_per_epoch_ > 1), opt_(make_optimizer(s, model_)),
      schedule_(make_lr_schedule(s, steps_per_epoch_, total_steps_)), params_(model_.parameters()),
      progress_(label, total_steps_, s.progress && writer_), selection_(s.select == "last", has_val_) {
  if (group_) task_.shard(group_->rank(), group_->size());
  if (writer_) std::filesystem::create_directories(run_dir);
  out_.params = model_.num_parameters();
  out_.best_val_accuracy = -1;
  std::optional<TrainState> state;
  try {
    if (control.resume) state = load_train_state(state_path_);
  } catch (const std::exception& e) {
    fail("{}: cannot continue: {}; `receptive run CONFIG --rerun RUN` trains this run afresh", label_, e.what());
  }
  if (state) restore(*state);
  else start_afresh();
}

// No metrics, weights or state of an earlier attempt are left to be mistaken for this one's.
void Run::start_afresh() {
  if (!writer_) return;
  for (const auto& p : {metrics_path_, last_path_, best_path_, state_path_}) std::filesystem::remove(p);
}

RunOutcome Run::run() {
  int64_t epoch = 1, first = 0;
  if (resumed_) {  // continued: the step it stopped at may owe its evaluation, then the epoch goes on
    if (pending_eval_) evaluate_point(epoch_);
    pending_eval_ = false;
    if (has_val_ && s_.patience > 0 && selection_.stale() >= s_.patience) stop_ = true;
    epoch = epoch_;
    first = epoch_done_;
    if (first >= steps_per_epoch_) ++epoch, first = 0;
  }
  for (; epoch <= epochs_ && step_ < total_steps_ && !stop_ && out_.status == "ok"; ++epoch, first = 0) {
    train_epoch(epoch, first);
    if (out_.status != "ok") break;
    if (s_.eval_every == 0) evaluate_point(epoch);
  }
  finish();
  return out_;
}

// Epoch `epoch` from its batch `first` (0 unless a continued run stopped inside it).
void Run::train_epoch(int64_t epoch, int64_t first) {
  model_.train();
  const int64_t steps = std::min(steps_per_epoch_, first + total_steps_ - step_);  // from the epoch's start
  if (first == 0) task_.begin_epoch(epoch, steps);
  else task_.continue_epoch(epoch, first, steps);
  epoch_ = epoch;
  epoch_steps_ = steps;
  epoch_done_ = first;
  auto t0 = Clock::now();
  for (int64_t b = first; b < steps; ++b) {
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
  ++epoch_done_;
  ++batches_;
  items_ += items;
  loss_sum_ += l;
  acc_sum_ += acc;
  progress_.step(step_, epoch, epochs_, loss_sum_ / batches_, acc_sum_ / batches_, items_);
  if (stop) {
    task_.pause();
    out_.status = "interrupted";
    // the evaluation this step would have been followed by happens first when the run continues
    pending_eval_ = s_.eval_every > 0 ? step_ % s_.eval_every == 0 || step_ == total_steps_ : epoch_done_ == epoch_steps_;
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
  last_eval_step_ = step_;
  io::Metadata meta = task_.checkpoint_metadata();
  meta["epoch"] = std::to_string(epoch);
  meta["step"] = std::to_string(step_);
  last_.capture(model_, meta);
  if (selection_.update(val ? val->accuracy : std::nan(""), val ? val->loss : std::nan(""))) {
    out_.best_val_accuracy = val ? val->accuracy : -1;
    out_.best_epoch = epoch;
    best_.capture(model_, meta);
    best_saved_ = false;
  }
  log_point(epoch, val, test);
  if (has_val_ && s_.patience > 0 && selection_.stale() >= s_.patience) stop_ = true;
  if (writer_ && seconds_since(state_saved_) >= s_.state_every_seconds) save_point();
}

// The checkpoints and the training state at an evaluation point (train.state_every_seconds), so that a process
// that is killed continues from here.
void Run::save_point() {
  last_.save(last_path_);
  if (!best_saved_) best_.save(best_path_);
  best_saved_ = true;
  save_state(false);
  state_saved_ = Clock::now();
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
                      {"elapsed_seconds", earlier_seconds_ + std::chrono::duration<double>(now - start_).count()},
                      {"items_per_second", throughput}};
  last_point_ = now;
  if (val) m["eval_items_per_second"] = val->items / std::max(val->seconds, 1e-9);
  if (test) m["test_accuracy"] = test->accuracy;
  if (nlohmann::json rf = task_.diagnostics(); !rf.is_null()) m["receptive_field"] = std::move(rf);
  if (writer_) append_line(metrics_path_, m.dump());
  ++points_;
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

void Run::save_state(bool finished) const {
  using nlohmann::json;
  const Selection::State sel = selection_.state();
  const json loop = {
      {"step", step_}, {"epoch", epoch_}, {"epoch_done", epoch_done_}, {"points", points_},
      {"last_eval_step", last_eval_step_}, {"pending_eval", pending_eval_}, {"items", items_},
      {"batches", batches_}, {"finished", finished},
      {"best_step", best_.empty() ? int64_t(0) : std::stoll(best_.metadata().at("step"))},
      {"best_epoch", out_.best_epoch}, {"epochs_run", out_.epochs_run},
      // doubles as exact text (NaN and Inf included): a continued run computes with the same bits
      {"loss_sum", exact_double(loss_sum_)}, {"acc_sum", exact_double(acc_sum_)},
      {"best_val_accuracy", exact_double(out_.best_val_accuracy)},
      {"final_train_loss", exact_double(out_.final_train_loss)},
      {"train_seconds", exact_double(train_seconds_)}, {"elapsed_seconds", exact_double(elapsed())},
      {"selection", {{"accuracy", exact_double(sel.accuracy)}, {"loss", exact_double(sel.loss)},
                     {"max_accuracy", exact_double(sel.max_accuracy)}, {"min_loss", exact_double(sel.min_loss)},
                     {"stale", sel.stale}, {"seen", sel.seen}}}};
  TrainState st;
  for (const auto& [name, t] : model_.state_dict()) st.model.emplace_back(name, t);
  st.optimizer = opt_->state_dict();
  st.loop = loop.dump();
  st.call_counters = json(nn::named_call_counters(model_)).dump();
  st.task = task_.save_state();
  if (!last_.empty()) {
    st.last = TrainState::Snapshot{last_.tensors(), last_.metadata()};
    st.best = TrainState::Snapshot{best_.tensors(), best_.metadata()};
  }
  save_train_state(state_path_, st);
}

// Loads a checkpoint written at evaluation step `step` into `snapshot` (through the model, whose weights the
// caller restores afterwards).
void Run::restore_snapshot(StateSnapshot& snapshot, const std::filesystem::path& path, int64_t step) {
  RC_CHECK(std::filesystem::exists(path), "{} is missing", path.string());
  io::SafetensorsFile f = io::load_safetensors(path.string());
  const auto at = f.metadata.find("step");
  RC_CHECK(at != f.metadata.end() && at->second == std::to_string(step),
           "{} holds step {}, the training state expects step {}", path.string(),
           at == f.metadata.end() ? "?" : at->second, step);
  model_.load_state_dict(f.tensors, true);
  snapshot.capture(model_, f.metadata);
}

// The same from the copy inside the training state.
void Run::restore_snapshot(StateSnapshot& snapshot, const TrainState::Snapshot& saved, const char* what,
                           int64_t step) {
  const auto at = saved.metadata.find("step");
  RC_CHECK(at != saved.metadata.end() && at->second == std::to_string(step),
           "its {} checkpoint holds step {}, the loop expects step {}", what,
           at == saved.metadata.end() ? "?" : at->second, step);
  model_.load_state_dict(saved.tensors, true);
  snapshot.capture(model_, saved.metadata);
}

void Run::restore(const TrainState& st) {
  using nlohmann::json;
  try {
    const json loop = json::parse(st.loop);
    auto num = [&](const json& j, const char* key) { return parse_exact_double(j.at(key).get<std::string>()); };
    points_ = loop.at("points").get<int64_t>();
    last_eval_step_ = loop.at("last_eval_step").get<int64_t>();
    if (points_ > 0 && st.last) {  // the state's own copies: the files beside it may be of a later evaluation
      restore_snapshot(last_, *st.last, "last", last_eval_step_);
      restore_snapshot(best_, *st.best, "best", loop.at("best_step").get<int64_t>());
    } else if (points_ > 0) {  // a state written before it held them
      restore_snapshot(last_, last_path_, last_eval_step_);
      restore_snapshot(best_, best_path_, loop.at("best_step").get<int64_t>());
    }
    model_.load_state_dict(st.model, true);
    opt_->load_state_dict(st.optimizer);
    nn::load_call_counters(model_, json::parse(st.call_counters).get<nn::CallCounters>());
    task_.load_state(st.task);
    step_ = loop.at("step").get<int64_t>();
    epoch_ = loop.at("epoch").get<int64_t>();
    epoch_done_ = loop.at("epoch_done").get<int64_t>();
    pending_eval_ = loop.at("pending_eval").get<bool>();
    items_ = loop.at("items").get<int64_t>();
    batches_ = loop.at("batches").get<int64_t>();
    out_.best_epoch = loop.at("best_epoch").get<int64_t>();
    out_.epochs_run = loop.at("epochs_run").get<int64_t>();
    loss_sum_ = num(loop, "loss_sum");
    acc_sum_ = num(loop, "acc_sum");
    out_.best_val_accuracy = num(loop, "best_val_accuracy");
    out_.final_train_loss = num(loop, "final_train_loss");
    train_seconds_ = num(loop, "train_seconds");
    earlier_seconds_ = num(loop, "elapsed_seconds");
    const json& sel = loop.at("selection");
    selection_.set_state({num(sel, "accuracy"), num(sel, "loss"), num(sel, "max_accuracy"), num(sel, "min_loss"),
                          sel.at("stale").get<int64_t>(), sel.at("seen").get<int64_t>()});
  } catch (const std::exception& e) {
    fail("{}: cannot continue from {}: {}; `receptive run CONFIG --rerun RUN` trains this run afresh", label_,
         state_path_.string(), e.what());
  }
  resumed_ = true;
  cut_metrics();
  if (writer_) fmt::print("{}: continuing from step {} (epoch {})\n", label_, step_, epoch_);
}

// metrics.jsonl as the training state saw it: its first points_ lines (a killed attempt may have logged more).
void Run::cut_metrics() const {
  if (!writer_) return;
  std::ifstream in(metrics_path_);
  std::string text, line;
  for (int64_t i = 0; i < points_ && std::getline(in, line); ++i) text += line + "\n";
  in.close();
  write_file_atomic(metrics_path_, text);
}

// Writes the checkpoints and the training state (train_state.hpp), and evaluates the test split on the selected
// and the last weights (not after an interrupt: that run continues next time). The model is left holding the last
// weights.
void Run::finish() {
  const bool interrupted = out_.status == "interrupted";
  if (writer_) {
    if (!last_.empty()) {
      last_.save(last_path_);
      best_.save(best_path_);
    }
    // the state is written last: a state on disk always fits the checkpoints beside it
    if (interrupted || out_.status == "ok") save_state(!interrupted);
    else std::filesystem::remove(state_path_);  // stopped by non-finite values: nothing to continue
  }
  if (!has_val_) out_.best_val_accuracy = std::nan("");
  if (!interrupted && !last_.empty()) {
    best_.restore(model_);
    const Evaluation best = task_.evaluate({Split::test}, &progress_, "best").front();
    out_.test_accuracy = out_.last_test_accuracy = best.accuracy;
    out_.eval_items_per_second = best.items / std::max(best.seconds, 1e-9);
    last_.restore(model_);
    if (last_.metadata().at("step") != best_.metadata().at("step"))
      out_.last_test_accuracy = task_.evaluate({Split::test}, &progress_, "last").front().accuracy;
  }
  out_.steps = step_;
  out_.train_seconds = elapsed();
  out_.items_per_second = items_ / std::max(train_seconds_, 1e-9);
  if (!summary_per_evaluation_)
    progress_.epoch_end(fmt::format("{} epochs: best val {:.4f} at epoch {}, test {:.4f}, {:.1f} s", out_.epochs_run,
                                    out_.best_val_accuracy, out_.best_epoch, out_.test_accuracy, out_.train_seconds));
  progress_.finish();
}

}  // namespace

RunOutcome train(TrainingTask& task, const TrainSettings& settings, const std::filesystem::path& run_dir,
                 const std::string& label, const TrainControl& control) {
  return Run(task, settings, run_dir, label, control).run();
}

}  // namespace rc::exp
