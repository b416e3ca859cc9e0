#include "framework/optim/schedule.hpp"

#include <cmath>
#include <numbers>

#include "framework/core/error.hpp"

namespace rc::optim {

namespace {
void check_lr(float lr, const char* who) {
  RC_CHECK(std::isfinite(lr) && lr >= 0.0f, "{}: lr must be finite and >= 0, got {}", who, lr);
}
void check_step(int64_t step, const char* who) { RC_CHECK(step >= 0, "{}: step must be >= 0, got {}", who, step); }
}  // namespace

ConstantLr::ConstantLr(float lr) : lr_(lr) { check_lr(lr, "ConstantLr"); }

float ConstantLr::lr_at(int64_t step) const {
  check_step(step, "ConstantLr");
  return lr_;
}

StepDecayLr::StepDecayLr(float lr, int64_t step_size, float gamma) : lr_(lr), step_size_(step_size), gamma_(gamma) {
  check_lr(lr, "StepDecayLr");
  RC_CHECK(step_size >= 1, "StepDecayLr: step_size must be >= 1, got {}", step_size);
  RC_CHECK(std::isfinite(gamma) && gamma > 0.0f, "StepDecayLr: gamma must be > 0, got {}", gamma);
}

float StepDecayLr::lr_at(int64_t step) const {
  check_step(step, "StepDecayLr");
  return static_cast<float>(lr_ * std::pow(static_cast<double>(gamma_), static_cast<double>(step / step_size_)));
}

CosineWarmupLr::CosineWarmupLr(float lr, int64_t warmup_steps, int64_t total_steps, float min_lr)
    : lr_(lr), min_lr_(min_lr), warmup_steps_(warmup_steps), total_steps_(total_steps) {
  check_lr(lr, "CosineWarmupLr");
  RC_CHECK(warmup_steps >= 0 && warmup_steps < total_steps,
           "CosineWarmupLr: need 0 <= warmup_steps < total_steps, got warmup_steps {} and total_steps {}",
           warmup_steps, total_steps);
  RC_CHECK(std::isfinite(min_lr) && min_lr >= 0.0f && min_lr <= lr,
           "CosineWarmupLr: need 0 <= min_lr <= lr, got min_lr {} and lr {}", min_lr, lr);
}

float CosineWarmupLr::lr_at(int64_t step) const {
  check_step(step, "CosineWarmupLr");
  if (step < warmup_steps_) return static_cast<float>(static_cast<double>(lr_) * (step + 1) / warmup_steps_);
  if (step >= total_steps_) return min_lr_;
  double progress = static_cast<double>(step - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
  return static_cast<float>(min_lr_ + (static_cast<double>(lr_) - min_lr_) * 0.5 *
                                          (1.0 + std::cos(std::numbers::pi * progress)));
}

std::unique_ptr<LrSchedule> make_schedule(const ScheduleOptions& o) {
  if (o.kind == "constant") return std::make_unique<ConstantLr>(o.lr);
  if (o.kind == "step") return std::make_unique<StepDecayLr>(o.lr, o.step_size, o.gamma);
  if (o.kind == "cosine") return std::make_unique<CosineWarmupLr>(o.lr, o.warmup_steps, o.total_steps, o.min_lr);
  fail("make_schedule: unknown schedule kind '{}' (known: constant, step, cosine)", o.kind);
}

}  // namespace rc::optim
