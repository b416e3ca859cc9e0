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

class Progress {
 public:
  Progress(std::string label, int64_t total_steps, bool enabled);
  // called after every step; `items` = examples processed so far in this run
  void step(int64_t step, int64_t epoch, int64_t epochs, double loss, double accuracy, int64_t items);
  void epoch_end(const std::string& summary);  // prints the epoch's summary line
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace rc::exp
