#include "experiments/train/progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unistd.h>

namespace rc::exp {

Progress::Progress(std::string label, int64_t total_steps, bool enabled)
    : label_(std::move(label)), total_(std::max<int64_t>(total_steps, 1)), enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::step(int64_t step, int64_t epoch, int64_t epochs, double loss, double accuracy, int64_t items) {
  if (!enabled_ || !tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (step < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  fmt::print(stderr, "\r{}  ", progress_line(label_, step, total_, epoch, epochs, loss, accuracy, items, secs));
}

std::string progress_line(const std::string& label, int64_t step, int64_t total, int64_t epoch, int64_t epochs,
                          double loss, double accuracy, int64_t items, double seconds) {
  total = std::max<int64_t>(total, 1);
  const double frac = std::clamp(double(step) / double(total), 0.0, 1.0);
  const int width = 24, filled = int(frac * width);
  const double eta = step > 0 ? seconds / double(step) * double(std::max<int64_t>(total - step, 0)) : 0.0;
  return fmt::format("{} epoch {}/{} [{}{}] {:3.0f}% loss {:.4f} acc {:.3f} {:.0f}/s ETA {}:{:02d}", label, epoch,
                     epochs, std::string(filled, '='), std::string(width - filled, ' '), 100 * frac, loss, accuracy,
                     seconds > 0 ? double(items) / seconds : 0.0, int(eta) / 60, int(eta) % 60);
}

std::string evaluation_line(const std::string& label, const std::string& what, int64_t done, int64_t total,
                            double seconds) {
  const double frac = std::clamp(double(done) / double(std::max<int64_t>(total, 1)), 0.0, 1.0);
  const int width = 24, filled = int(frac * width);
  return fmt::format("{} evaluating {} [{}{}] {}/{} {:.0f}/s", label, what, std::string(filled, '='),
                     std::string(width - filled, ' '), done, total, seconds > 0 ? double(done) / seconds : 0.0);
}

void Progress::evaluation(const std::string& what, int64_t done, int64_t total, double seconds) {
  if (!enabled_ || !tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  fmt::print(stderr, "\r\033[K{}", evaluation_line(label_, what, done, total, seconds));
}

void Progress::epoch_end(const std::string& summary) {
  if (!enabled_) return;
  if (tty_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "{} {}\n", label_, summary);
}

void Progress::finish() {}

}  // namespace rc::exp
