#include "experiments/train/settings.hpp"

#include <algorithm>
#include <cmath>

#include "framework/core/param_binding.hpp"
#include "framework/optim/adamw.hpp"
#include "framework/optim/sgd.hpp"

namespace rc::exp {

namespace {
// Every `train:` key, once: its name, doc and bounds; type and default come from TrainSettings.
const ParamBinding<TrainSettings>& train_binding() {
  using T = TrainSettings;
  static const ParamBinding<T> b =
      ParamBinding<T>()
          .field(&T::epochs, "epochs", "passes over the training set (ignored when steps > 0)", 1.0)
          .field(&T::steps, "steps", "fixed budget of optimizer steps; 0 = use epochs", 0.0)
          .field(&T::min_steps, "min_steps",
                 "with epochs (steps = 0): train at least this many steps, e.g. for small training sets of a "
                 "train_size sweep (0 = no bound)",
                 0.0)
          .field(&T::max_steps, "max_steps",
                 "with epochs (steps = 0): train at most this many steps, a per-size cap (0 = no bound)", 0.0)
          .field(&T::batch_size, "batch_size", "training batch size (image and sequence datasets)", 1.0)
          .field(&T::eval_batch_size, "eval_batch_size",
                 "batch size for evaluation (64: the activations of a batch stay in cache; larger batches are "
                 "slower on CPU)",
                 1.0)
          .field(&T::eval_every, "eval_every",
                 "evaluate on the validation set every this many steps and at the last step (0 = after each epoch; "
                 "a graph run's epoch is one step)",
                 0.0)
          .field(&T::test_every_eval, "test_every_eval",
                 "also evaluate the test set at every evaluation point and log it in metrics.jsonl (default: the test "
                 "set is evaluated once, at the end, for the best and the last checkpoints)")
          .field(&T::optimizer, "optimizer",
                 "adamw (decoupled weight decay), adam (L2 weight decay, as the GCN/GAT papers), sgd", {}, {},
                 {"adamw", "adam", "sgd"})
          .field(&T::lr, "lr", "peak learning rate", 0.0)
          .field(&T::momentum, "momentum", "SGD momentum", 0.0, 1.0)
          .when("optimizer", {"sgd"})
          .field(&T::nesterov, "nesterov", "SGD Nesterov momentum")
          .when("optimizer", {"sgd"})
          .field(&T::weight_decay, "weight_decay",
                 "weight decay (AdamW: decoupled; SGD: L2); never on norms and biases", 0.0)
          .field(&T::schedule, "schedule", "learning-rate schedule", {}, {}, {"cosine", "step", "constant"})
          .field(&T::warmup_epochs, "warmup_epochs", "cosine: linear warm-up length in epochs", 0.0)
          .field(&T::warmup_steps, "warmup_steps",
                 "cosine: linear warm-up length in steps (> 0: replaces warmup_epochs)", 0.0)
          .field(&T::min_lr, "min_lr", "cosine: final learning rate", 0.0)
          .when("schedule", {"cosine"})
          .field(&T::step_size, "step_size", "step: epochs between decays", 1.0)
          .when("schedule", {"step"})
          .field(&T::gamma, "gamma", "step: decay factor", 0.0, 1.0)
          .when("schedule", {"step"})
          .field(&T::label_smoothing, "label_smoothing", "cross-entropy label smoothing", 0.0, 0.99)
          .field(&T::clip_grad_norm, "clip_grad_norm", "clip the global gradient norm to this (0 = off)", 0.0)
          .field(&T::patience, "patience",
                 "early stopping: stop after this many evaluations in a row in which neither the validation "
                 "accuracy reached its best nor the validation loss its lowest so far (0 = off)",
                 0.0)
          .field(&T::select, "select",
                 "the epoch reported and saved as best.safetensors: best = highest validation accuracy, ties to "
                 "the lower validation loss; last = the final epoch",
                 {}, {}, {"best", "last"})
          .field(&T::progress, "progress", "progress bar on the terminal")
          .field(&T::state_every_seconds, "state_every_seconds",
                 "write the checkpoints and the training state at the first evaluation point after this many "
                 "seconds since they were last written (0 = at every evaluation point), so that a killed process "
                 "continues from there; an interrupted (Ctrl-C) or finished run always writes them",
                 0.0)
          .field(&T::data_parallel, "data_parallel",
                 "under mpirun -np K: the K ranks train each run together, each on 1/K of every batch (images) or "
                 "of the labelled nodes (graphs), gradients summed over the ranks before each step; without mpirun "
                 "the run trains as one process (README: Distributed runs)");
  return b;
}
}  // namespace

Schema train_schema() { return train_binding().schema(); }

TrainSettings TrainSettings::from(const Params& p) { return train_binding().from(p); }

int64_t TrainSettings::total_steps(int64_t steps_per_epoch) const {
  if (steps > 0) return steps;
  int64_t n = epochs * steps_per_epoch;
  if (min_steps > 0) n = std::max(n, min_steps);
  if (max_steps > 0) n = std::min(n, max_steps);
  return n;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainSettings& s, const nn::Module& model) {
  auto groups = optim::weight_decay_groups(model.named_parameters());
  if (s.optimizer == "sgd") {
    optim::SGDOptions o;
    o.lr = float(s.lr);
    o.momentum = float(s.momentum);
    o.nesterov = s.nesterov && s.momentum > 0;
    o.weight_decay = float(s.weight_decay);
    return std::make_unique<optim::SGD>(std::move(groups), o);
  }
  optim::AdamWOptions o;
  o.lr = float(s.lr);
  o.weight_decay = float(s.weight_decay);
  o.decoupled = s.optimizer == "adamw";
  return std::make_unique<optim::AdamW>(std::move(groups), o);
}

std::unique_ptr<optim::LrSchedule> make_lr_schedule(const TrainSettings& s, int64_t steps_per_epoch,
                                                    int64_t total_steps) {
  optim::ScheduleOptions o;
  o.kind = s.schedule;
  o.lr = float(s.lr);
  o.step_size = std::max<int64_t>(1, s.step_size * steps_per_epoch);
  o.gamma = float(s.gamma);
  o.total_steps = std::max<int64_t>(1, total_steps);
  o.warmup_steps = std::min<int64_t>(o.total_steps - 1, 
                                            s.warmup_steps > 0 ? s.warmup_steps
                                                               : std::llround(s.warmup_epochs * steps_per_epoch));
  o.min_lr = float(s.min_lr);
  return optim::make_schedule(o);
}

}  // namespace rc::exp
