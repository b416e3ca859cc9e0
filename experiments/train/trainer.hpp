#pragma once
// The training loop, one for every kind of data (task.hpp): cross-entropy with the settings' label smoothing,
// the configured optimizer and schedule, gradient clipping, evaluation points, model selection, early stopping,
// checkpoints, metrics.jsonl, the progress display, and the test split once at the end.
//
// Evaluation points: after every epoch, or (train.eval_every = k > 0) every k steps and after the last step.
// At each, the weights are checked (a NaN or Inf stops the run, see below), the validation split is evaluated
// (and the test split with train.test_every_eval), one line is appended to metrics.jsonl, and the weights are
// kept in memory as the last and, when selected, the best.
//
// Model selection (train.select): `best` (default) selects the evaluation with the highest validation
// accuracy, ties going to the lower validation loss (the first of equal ones); `last` selects the last
// evaluation. Without a validation split every evaluation is the best so far, so the last is selected.
// Patience (train.patience = p > 0): the run stops after p evaluations in a row in which the validation accuracy
// did not reach its highest value so far and the validation loss did not reach its lowest (the GAT reference
// code's rule); never without a validation split.
//
// Starting and continuing (TrainControl): a run starts afresh (the files below of an earlier attempt are removed)
// unless control.resume is set and run_dir holds a training state (train_state.hpp). It then continues from that
// state: the weights and BatchNorm statistics, the optimizer's state, the step, epoch and batch within the epoch,
// the dropout call counters, the task's shuffled order, the selection and patience counters, the selected and
// last checkpoints and metrics.jsonl (cut to the evaluation points the state has seen). A run that is stopped and
// continued, any number of times and at any step, ends with the same files and outcome, bit for bit at a fixed
// thread count, as one that was never stopped (time columns aside). With a larger budget (train.epochs, steps,
// patience) than the state was trained with, a finished run goes on to the new budget (`receptive run --extend`);
// the schedule then follows the new budget from the state's step on. A state that does not fit the run (other shapes)
// or the files beside it (a checkpoint of another attempt) is an error that names `receptive run --rerun`.
//
// Files in run_dir:
//   metrics.jsonl     one JSON object per evaluation point: epoch, step, train_loss and train_accuracy (mean over
//                     the steps since the previous point), val_accuracy and val_loss (null without a validation
//                     split), lr, interval_seconds (wall seconds since the previous point: its training steps and
//                     this evaluation; one epoch by default), elapsed_seconds (since the run started),
//                     items_per_second (training throughput so far), eval_items_per_second (the validation
//                     pass, with a validation split) and test_accuracy (with test_every_eval);
//   best.safetensors  the selected evaluation's weights; last.safetensors the last evaluation's. Both are written
//                     when the run ends (finished, early-stopped, interrupted, or stopped by a non-finite loss or
//                     weights) and at evaluation points (below), with metadata "epoch", "step" and the task's
//                     checkpoint_metadata(); not by a run stopped before its first evaluation.
//   train_state.safetensors  what the run continues from (train_state.hpp); written when a run finishes or is
//                     interrupted (after the checkpoints), removed when it is stopped by non-finite values, and
//                     at the first evaluation point after train.state_every_seconds (0: every one) since it was
//                     last written. The state holds its own copies of the last and best checkpoints, so a process
//                     killed at any moment (kill -9, power loss: every file is written atomically) continues from
//                     the last state written, as if it had been interrupted there, bit for bit.
// A loss that becomes NaN or Inf, or weights that do before an evaluation, stop the run with a status naming the
// epoch and step; its files then hold the last finite evaluation.
// At the end (not after an interrupt) the test split is evaluated for the selected weights (test_accuracy) and
// the last ones (last_test_accuracy; once when they are the same evaluation). The model is left holding the last
// weights. The run stops after the current step when stop_requested() (run_guard.hpp) is set: status
// "interrupted".
#include <filesystem>
#include <string>

#include "experiments/train/outcome.hpp"
#include "experiments/train/settings.hpp"
#include "experiments/train/task.hpp"

namespace rc::exp {

struct TrainControl {
  bool resume = false;  // continue from run_dir's training state when there is one (above)
};

RunOutcome train(TrainingTask& task, const TrainSettings& settings, const std::filesystem::path& run_dir,
                 const std::string& label, const TrainControl& control = {});

// The model-selection and patience rules above, by themselves. update() takes one evaluation point's validation
// accuracy and loss (ignored without validation) and says whether it becomes the selected one.
class Selection {
 public:
  Selection(bool select_last, bool has_validation) : last_(select_last), has_val_(has_validation) {}
  bool update(double val_accuracy, double val_loss);
  int64_t stale() const { return stale_; }  // evaluations in a row without a new best accuracy or loss
  double accuracy() const { return accuracy_; }
  double loss() const { return loss_; }
  // everything update() has seen, for a run's training state
  struct State {
    double accuracy, loss, max_accuracy, min_loss;
    int64_t stale, seen;
  };
  State state() const { return {accuracy_, loss_, max_accuracy_, min_loss_, stale_, seen_}; }
  void set_state(const State& s);

 private:
  bool last_, has_val_;
  double accuracy_ = -1, loss_ = 0;  // of the selected evaluation
  double max_accuracy_ = -1, min_loss_ = 0;
  int64_t stale_ = 0, seen_ = 0;
};

}  // namespace rc::exp
