#pragma once
// Training settings: the `train:` section of a config (and per-model `train:` overrides). The schema both
// validates configs and documents every key (README "Config reference"); both come from one table of
// {key, doc, bounds, member} in settings.cpp (framework/core/param_binding.hpp), so a new option is one line.
#include <memory>
#include <string>
#include <vector>

#include "framework/core/params.hpp"
#include "framework/nn/module.hpp"
#include "framework/optim/optimizer.hpp"
#include "framework/optim/schedule.hpp"

namespace rc::exp {

Schema train_schema();

struct TrainSettings {
  int64_t epochs = 10;
  int64_t steps = 0;  // > 0: a fixed budget of optimizer steps (epochs then follow from the data size)
  int64_t min_steps = 0, max_steps = 0;  // steps = 0: epochs × steps per epoch clamped to these (0 = no bound)
  int64_t batch_size = 128, eval_batch_size = 64;
  int64_t eval_every = 0;  // images: > 0 evaluate every this many steps (and at the last), else after each epoch
  bool test_every_eval = false;  // also evaluate (and log) the test set at every evaluation point
  std::string optimizer = "adamw";
  double lr = 1e-3, momentum = 0.9, weight_decay = 0.05;
  bool nesterov = false;
  std::string schedule = "cosine";
  double warmup_epochs = 1.0, min_lr = 0.0;
  int64_t warmup_steps = 0;  // > 0: replaces warmup_epochs
  int64_t step_size = 30;
  double gamma = 0.1;
  double label_smoothing = 0.0, clip_grad_norm = 0.0;
  int64_t patience = 0;  // > 0: early stopping (trainer.hpp)
  std::string select = "best";  // the checkpoint reported: best (validation) or last
  bool progress = true;
  double state_every_seconds = 60;  // write checkpoints and training state at an evaluation point this often
  bool data_parallel = false;  // under mpirun: every rank trains a share of each batch of the same run

  static TrainSettings from(const Params& p);
  // The run's optimizer steps: `steps`, or `epochs` passes clamped to [min_steps, max_steps] (per-size budgets).
  int64_t total_steps(int64_t steps_per_epoch) const;
};

// The optimizer the settings name, with weight decay skipped for parameters flagged no_weight_decay
// (norms, biases, embeddings of positions and class tokens).
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainSettings& s, const nn::Module& model);
std::unique_ptr<optim::LrSchedule> make_lr_schedule(const TrainSettings& s, int64_t steps_per_epoch,
                                                    int64_t total_steps);

}  // namespace rc::exp
