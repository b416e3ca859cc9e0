#pragma once
// What one training run reports.
#include <cmath>
#include <cstdint>
#include <string>

namespace rc::exp {

struct RunOutcome {
  double test_accuracy = 0, best_val_accuracy = 0, final_train_loss = 0;
  int64_t best_epoch = 0, epochs_run = 0, steps = 0, params = 0;
  double train_seconds = 0, items_per_second = 0;
  // test accuracy of the last checkpoint (test_accuracy is the selected, best-validation one), and the speed of
  // the final test evaluation (inference: no autograd graph, large batches), in items per second; NaN (an empty
  // field in results.csv) when there was no checkpoint to evaluate
  double last_test_accuracy = std::nan(""), eval_items_per_second = std::nan("");
  std::string status = "ok";  // or why the run stopped early (non-finite loss, interrupted)
};

}  // namespace rc::exp
