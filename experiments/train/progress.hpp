#pragma once
// A one-line progress bar on a terminal (redrawn with \r at most ~10 times a second); when standard error
// is not a terminal, one line per epoch instead.
#include <chrono>
#include <string>

namespace rc::exp {

// The bar's text after `seconds` of a run at `step` of `total` steps: label, epoch, bar, percent, loss,
// accuracy, items per second and the ETA (minutes:seconds, from the mean time per step so far).
std::string progress_line(const std::string& label, int64_t step, int64_t total, int64_t epoch, int64_t epochs,
                          double loss, double accuracy, int64_t items, double seconds);

// The bar's text while an evaluation runs: label, what is evaluated, bar, items done of total, items per second.
std::string evaluation_line(const std::string& label, const std::string& what, int64_t done, int64_t total,
                            double seconds);

class Progress {
 public:
  Progress(std::string label, int64_t total_steps, bool enabled);
  // called after every step; `items` = examples processed so far in this run
  void step(int64_t step, int64_t epoch, int64_t epochs, double loss, double accuracy, int64_t items);
  // during an evaluation: `what` (val, test) with `done` of `total` items after `seconds`; redrawn like step()
  void evaluation(const std::string& what, int64_t done, int64_t total, double seconds);
  void epoch_end(const std::string& summary);  // prints the epoch's summary line
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace rc::exp
