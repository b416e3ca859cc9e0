#pragma once
// Learning-rate schedules: lr_at(step) is the lr for the update with 0-based index `step` (the number of
// updates already taken). Call opt.set_lr(schedule.lr_at(step)) before each opt.step().
//   constant:       lr
//   step decay:     lr * gamma^floor(step / step_size)
//   cosine+warm-up: lr * (step + 1) / warmup_steps                                  for step < warmup_steps
//                   min_lr + (lr - min_lr) * (1 + cos(pi * (step - warmup_steps) / (total_steps - warmup_steps))) / 2
//                                                                                   for warmup_steps <= step < total_steps
//                   min_lr                                                          for step >= total_steps
//   (the first update after warm-up uses the full lr; the cosine would reach min_lr at step total_steps)
#include <cstdint>
#include <memory>
#include <string>

namespace rc::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual float lr_at(int64_t step) const = 0;
};

class ConstantLr : public LrSchedule {
 public:
  explicit ConstantLr(float lr);
  float lr_at(int64_t step) const override;

 private:
  float lr_;
};

class StepDecayLr : public LrSchedule {
 public:
  StepDecayLr(float lr, int64_t step_size, float gamma);  // step_size >= 1, gamma > 0
  float lr_at(int64_t step) const override;

 private:
  float lr_;
  int64_t step_size_;
  float gamma_;
};

class CosineWarmupLr : public LrSchedule {
 public:
  // 0 <= warmup_steps < total_steps, 0 <= min_lr <= lr
  CosineWarmupLr(float lr, int64_t warmup_steps, int64_t total_steps, float min_lr = 0.0f);
  float lr_at(int64_t step) const override;

 private:
  float lr_, min_lr_;
  int64_t warmup_steps_, total_steps_;
};

// A schedule described as data (configs): kind is "constant", "step" or "cosine".
struct ScheduleOptions {
  std::string kind = "constant";
  float lr = 1e-3f;
  int64_t step_size = 1;  // step
  float gamma = 0.1f;     // step
  int64_t warmup_steps = 0, total_steps = 1;  // cosine
  float min_lr = 0.0f;                         // cosine
};
std::unique_ptr<LrSchedule> make_schedule(const ScheduleOptions& options);

}  // namespace rc::optim
