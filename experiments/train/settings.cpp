#include "experiments/train/settings.hpp"

#include <cmath>

#include "framework/optim/adamw.hpp"
#include "framework/optim/sgd.hpp"

namespace rc::exp {

Schema train_schema() {
  Schema s;
  s.params = {
      {"epochs", ParamType::Int, int64_t{10}, "passes over the training set (ignored when steps > 0)", 1.0, {}, {}},
      {"steps", ParamType::Int, int64_t{0}, "fixed budget of optimizer steps; 0 = use epochs", 0.0, {}, {}},
      {"batch_size", ParamType::Int, int64_t{128}, "training batch size (image datasets)", 1.0, {}, {}},
      {"eval_batch_size", ParamType::Int, int64_t{500}, "batch size for evaluation", 1.0, {}, {}},
      {"eval_every", ParamType::Int, int64_t{0},
       "images: evaluate on the validation set every this many steps and at the last step (0 = after each epoch)",
       0.0, {}, {}},
      {"test_every_eval", ParamType::Bool, false,
       "also evaluate the test set at every evaluation point and log it in metrics.jsonl (default: the test set is "
       "evaluated once, at the end, for the best and the last checkpoints)",
       {}, {}, {}},
      {"optimizer", ParamType::String, std::string("adamw"),
       "adamw (decoupled weight decay), adam (L2 weight decay, as the GCN/GAT papers), sgd", {}, {},
       {"adamw", "adam", "sgd"}},
      {"lr", ParamType::Float, 1e-3, "peak learning rate", 0.0, {}, {}},
      {"momentum", ParamType::Float, 0.9, "SGD momentum", 0.0, 1.0, {}},
      {"nesterov", ParamType::Bool, false, "SGD Nesterov momentum", {}, {}, {}},
      {"weight_decay", ParamType::Float, 0.05, "weight decay (AdamW: decoupled; SGD: L2); never on norms and biases",
       0.0, {}, {}},
      {"schedule", ParamType::String, std::string("cosine"), "learning-rate schedule", {}, {},
       {"cosine", "step", "constant"}},
      {"warmup_epochs", ParamType::Float, 1.0, "cosine: linear warm-up length in epochs", 0.0, {}, {}},
      {"warmup_steps", ParamType::Int, int64_t{0}, "cosine: linear warm-up length in steps (> 0: replaces warmup_epochs)",
       0.0, {}, {}},
      {"min_lr", ParamType::Float, 0.0, "cosine: final learning rate", 0.0, {}, {}},
      {"step_size", ParamType::Int, int64_t{30}, "step: epochs between decays", 1.0, {}, {}},
      {"gamma", ParamType::Float, 0.1, "step: decay factor", 0.0, 1.0, {}},
      {"label_smoothing", ParamType::Float, 0.0, "cross-entropy label smoothing", 0.0, 0.99, {}},
      {"clip_grad_norm", ParamType::Float, 0.0, "clip the global gradient norm to this (0 = off)", 0.0, {}, {}},
      {"patience", ParamType::Int, int64_t{0}, "early stopping: stop after this many evaluations in a row in which neither the validation accuracy reached its best nor the validation loss its lowest so far (0 = off)",
       0.0, {}, {}},
      {"select", ParamType::String, std::string("best"),
       "the epoch reported and saved as best.safetensors: best = highest validation accuracy, ties to the lower validation loss; last = the final epoch", {}, {}, {"best", "last"}},
      {"progress", ParamType::Bool, true, "progress bar on the terminal", {}, {}, {}},
  };
  return s;
}

TrainSettings TrainSettings::from(const Params& p) {
  TrainSettings s;
  s.epochs = p.get_int("epochs");
  s.steps = p.get_int("steps");
  s.batch_size = p.get_int("batch_size");
  s.eval_batch_size = p.get_int("eval_batch_size");
  s.eval_every = p.get_int("eval_every");
  s.test_every_eval = p.get_bool("test_every_eval");
  s.optimizer = p.get_string("optimizer");
  s.lr = p.get_float("lr");
  s.momentum = p.get_float("momentum");
  s.nesterov = p.get_bool("nesterov");
  s.weight_decay = p.get_float("weight_decay");
  s.schedule = p.get_string("schedule");
  s.warmup_epochs = p.get_float("warmup_epochs");
  s.warmup_steps = p.get_int("warmup_steps");
  s.min_lr = p.get_float("min_lr");
  s.step_size = p.get_int("step_size");
  s.gamma = p.get_float("gamma");
  s.label_smoothing = p.get_float("label_smoothing");
  s.clip_grad_norm = p.get_float("clip_grad_norm");
  s.patience = p.get_int("patience");
  s.select = p.get_string("select");
  s.progress = p.get_bool("progress");
  return s;
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
