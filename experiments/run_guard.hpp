#pragma once
// Guards around a results folder, so that results are never lost or silently mixed:
// - OutDirLock: one `receptive run` at a time writes a folder (flock on DIR/.lock, released when the process
//   ends, even by SIGKILL; the file is removed when the run ends normally);
// - remove_stale_temporaries: the runner's own *.tmp.<pid> and *.tmp files a killed process left behind;
// - check_resume_matches: a run already in results.csv is only skipped when the config now asks for the same
//   run; a changed setting (say --set train.lr=0.01 into the same --out) is an error naming the run, the key,
//   the saved and the new value, instead of reusing rows trained with other settings;
// - stop_requested: the flag a stop signal sets to stop the run in progress after its current step and the
//   sweep before its next run.
#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "experiments/config/experiment.hpp"
#include "experiments/results.hpp"

namespace rc::exp {

// Set (by the SIGINT/SIGTERM/SIGHUP thread of `receptive run`, stop_signals.hpp) to stop training after the
// current step (the run reports "interrupted", gets no row and saves its training state to continue from next
// time, trainer.hpp) and to start no further run.
std::atomic<bool>& stop_requested();

class OutDirLock {
 public:
  // Creates `dir` if needed; errors when another live process holds the lock (naming its pid when known).
  explicit OutDirLock(const std::filesystem::path& dir);
  ~OutDirLock();
  OutDirLock(const OutDirLock&) = delete;
  OutDirLock& operator=(const OutDirLock&) = delete;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Removes the temporaries of results.csv and summary.md in DIR, and of config.yaml, metrics.jsonl and the
// checkpoints in DIR/runs/<run>/, that a killed writer left (a .tmp.<pid> only when that process is gone; call
// while holding the lock). Nothing else is touched. Returns how many were removed.
int remove_stale_temporaries(const std::filesystem::path& dir);

// A setting of a started run (finished: in results.csv; or stopped with a training state to continue from) whose
// saved DIR/runs/<run>/config.yaml differs from what `e` now resolves for that run, in any model, train or dataset
// setting both know (the dataset's root, train.progress and train.eval_batch_size may differ; a key only one side
// has comes from another version of a schema and is not compared). `budget`: a training-budget key
// (train.epochs, train.steps, train.patience), which `receptive run --extend` may change.
struct SettingChange {
  std::string run, key, before, now;  // key: "train.epochs"
  bool budget = false;
};
std::vector<SettingChange> changed_settings(const Experiment& e, const ResultsTable& table,
                                            const std::filesystem::path& dir);
bool is_budget_key(const std::string& key);

// Throws ConfigError listing the changed settings (changed_settings) that are not allowed: every change of a run in
// `rerun` is (it trains afresh), and with `extend` a change of budget keys only. The message names the flags that
// allow them (--rerun RUN, --extend) or another --out.
void check_resume_matches(const Experiment& e, const ResultsTable& table, const std::filesystem::path& dir,
                          const std::set<std::string>& rerun = {}, bool extend = false);

}  // namespace rc::exp
