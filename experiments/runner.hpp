#pragma once
// Runs an expanded experiment: loads the dataset once, trains every run that results.csv does not already
// hold (so re-running the same command, or --resume, continues where it stopped), appends one row per
// finished run atomically, and writes summary.md.
#include <filesystem>
#include <string>

#include "experiments/config/experiment.hpp"

namespace rc::exp {

struct RunnerOptions {
  std::filesystem::path out_dir;
  bool dry_run = false;  // print the runs and parameter counts, train nothing
  bool resume = true;    // skip runs already in results.csv (always on; --resume only makes it explicit)
};

// Returns the number of runs that failed or were interrupted (0 = everything finished).
int run_experiment(const Experiment& e, const RunnerOptions& options);

}  // namespace rc::exp
