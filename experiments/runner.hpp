#pragma once
// Runs an expanded experiment: loads the dataset once, trains every run that results.csv does not already
// hold (so re-running the same command, or --resume, continues where it stopped: a run that was interrupted goes
// on from its training state, trainer.hpp), appends one row per finished run atomically, and writes summary.md.
// Runs already in results.csv are trained again only on request: --rerun (afresh) or --extend (from their
// training state to a larger budget); their rows are then replaced in place.
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "datasets/image/image_data.hpp"
#include "experiments/config/experiment.hpp"
#include "models/model.hpp"

namespace rc::exp {

struct RunnerOptions {
  std::filesystem::path out_dir;
  bool dry_run = false;  // print the runs and parameter counts, train nothing
  bool resume = true;    // skip runs already in results.csv (always on; --resume only makes it explicit)
  // run ids or globs (fnmatch: *, ?, [...]) of runs to train afresh, replacing their rows; each must match a run
  std::vector<std::string> rerun;
  // finished runs whose training budget (train.epochs, steps, patience) is now larger continue from their
  // training state to the new budget, replacing their rows
  bool extend = false;
};

// The ids of e's runs that the patterns match (rerun above); a pattern matching none is a ConfigError listing
// some of the run ids.
std::set<std::string> matching_runs(const Experiment& e, const std::vector<std::string>& patterns);

// An image dataset as the runs see it: training pool, test set, the training pool's normalisation (as the dataset
// registry loads them, datasets/registry.hpp), and the shape the models are built for.
struct ImageData : data::ImageData {
  models::ImageShape shape;
};
// The dataset the resolved `dataset:` section names, through the dataset registry.
ImageData load_images(const Params& dataset);

// Returns the number of runs that failed or were interrupted (0 = everything finished).
int run_experiment(const Experiment& e, const RunnerOptions& options);

// Writes DIR/summary.md, DIR/plots/*.png and DIR/receptive_by_step.csv (plots_receptive.hpp) from
// DIR/results.csv and the runs' metrics.jsonl, prints the summary and returns the number of result rows.
// run_experiment ends with it; `receptive report DIR` calls it alone, e.g. to look at a sweep that is still
// running or was stopped. An absent results.csv is an error naming it.
size_t write_report(const std::filesystem::path& out_dir, const std::string& title);

}  // namespace rc::exp
