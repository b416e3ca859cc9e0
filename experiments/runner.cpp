#include "experiments/runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "datasets/graph/graph_data.hpp"
#include "datasets/registry.hpp"
#include "experiments/config/yaml_params.hpp"
#include "experiments/dist/dispatch.hpp"
#include "experiments/plots.hpp"
#include "experiments/results.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/summary.hpp"
#include "experiments/train/graph_task.hpp"
#include "experiments/train/image_task.hpp"
#include "experiments/train/sequence_task.hpp"
#include "experiments/train/train_state.hpp"
#include "framework/core/collective.hpp"
#include "framework/core/random.hpp"
#include "models/registry.hpp"

namespace rc::exp {

namespace fs = std::filesystem;

ImageData load_images(const Params& d) {
  ImageData out;
  static_cast<data::ImageData&>(out) = data::load_image_dataset(d);
  out.shape = {out.train.channels, out.train.height, out.train.width, out.train.num_classes()};
  return out;
}

namespace {

// A result that does not exist is an empty field (never a sentinel such as 0 or -1); the status says why.
std::string num(double v) { return std::isnan(v) ? "" : fmt::format("{:.6g}", v); }
std::string pct(double v) { return std::isnan(v) ? "-" : fmt::format("{:.2f} %", 100 * v); }

// The outcome as results.csv records it: accuracies of runs stopped before their first evaluation are absent
// (NaN, an empty field) rather than the trainers' starting values; a finished run without a validation set has
// no best validation accuracy and says so in its status.
RunOutcome recorded(RunOutcome o) {
  if (o.best_epoch == 0) o.test_accuracy = o.best_val_accuracy = std::nan("");
  if (o.status == "ok" && std::isnan(o.best_val_accuracy)) o.status = "ok: no validation set";
  return o;
}

ResultRow make_row(const RunSpec& r, const std::string& dataset, int64_t train_size, const RunOutcome& o) {
  ResultRow row;
  row.values = {{"model", r.model},
                {"dataset", dataset},
                {"train_size", std::to_string(train_size)},
                {"seed", std::to_string(r.seed)},
                {"epochs", std::to_string(o.epochs_run)},
                {"test_accuracy", num(o.test_accuracy)},
                {"best_val_accuracy", num(o.best_val_accuracy)},
                {"train_seconds", fmt::format("{:.2f}", o.train_seconds)},
                {"params", std::to_string(o.params)},
                {"run", r.id},
                {"model_type", r.model_type},
                {"size_spec", num(r.train_size)},
                {"steps", std::to_string(o.steps)},
                {"best_epoch", std::to_string(o.best_epoch)},
                {"items_per_second", fmt::format("{:.1f}", o.items_per_second)},
                {"status", o.status},
                {"last_test_accuracy", num(o.last_test_accuracy)},
                {"eval_items_per_second",
                 std::isnan(o.eval_items_per_second) ? "" : fmt::format("{:.1f}", o.eval_items_per_second)}};
  return row;
}

void save_resolved(const RunSpec& r, const fs::path& run_dir) {
  fs::create_directories(run_dir);
  YAML::Emitter em;
  em << r.resolved;
  write_file_atomic(run_dir / "config.yaml", std::string(em.c_str()) + "\n");
}
}  // namespace

namespace {
// One part's data, loaded once: images, a graph or sequences, as the dataset's domain says.
struct PartData {
  std::string dataset;
  const Params* options = nullptr;
  std::optional<ImageData> images;
  std::optional<data::GraphDataset> graph;
  std::optional<data::SequenceData> sequences;
  models::SequenceShape sequence_shape() const {
    return {sequences->train.length, sequences->train.features, sequences->train.num_classes()};
  }
};

PartData load_part(const Params& ds) {
  PartData d;
  d.dataset = ds.get_string("name");
  d.options = &ds;
  const std::string& domain = data::dataset_type(d.dataset).domain;
  if (domain == data::kGraphDomain) d.graph = data::load_graph_dataset(ds);
  else if (domain == data::kSequenceDomain) d.sequences = data::load_sequence_dataset(ds);
  else d.images = load_images(ds);
  return d;
}

int64_t parameter_count(const RunSpec& r, const PartData& d) {
  const auto& mt = models::model_type(r.model_type);
  if (d.graph) {
    GraphTask t = make_graph_task(*d.graph, d.graph->split);
    return mt.make_graph(r.model_params, t.input, 0)->num_parameters();
  }
  if (d.sequences) return mt.make_sequence(r.model_params, d.sequence_shape(), 0)->num_parameters();
  return mt.make_image(r.model_params, d.images->shape, 0)->num_parameters();
}

// Trains run r on its split of the part's data; `used` gets the number of labelled training items.
RunOutcome train_run(const RunSpec& r, const PartData& d, const fs::path& run_dir, const std::string& label,
                     const TrainControl& control, int64_t& used) {
  const TrainSettings ts = TrainSettings::from(r.train_params);
  const auto& mt = models::model_type(r.model_type);
  if (d.graph) {
    const data::Split split = data::run_split(*d.graph, *d.options, r.train_size, uint64_t(r.seed), d.dataset);
    GraphTask task = make_graph_task(*d.graph, split);
    manual_seed(uint64_t(r.seed));
    auto model = mt.make_graph(r.model_params, task.input, uint64_t(r.seed));
    used = static_cast<int64_t>(split.train.size());
    return train_graph_model(*model, task, ts, run_dir, label, control);
  }
  if (d.sequences) {
    const auto sub = data::run_subset(*d.sequences, *d.options, r.train_size, uint64_t(r.seed), d.dataset, r.id);
    SequenceTask task{&d.sequences->train, sub.train, sub.val, &d.sequences->test};
    manual_seed(uint64_t(r.seed));
    auto model = mt.make_sequence(r.model_params, d.sequence_shape(), uint64_t(r.seed));
    used = static_cast<int64_t>(sub.train.size());
    return train_sequence_model(*model, task, ts, run_dir, uint64_t(r.seed), label, control);
  }
  const auto sub = data::run_subset(*d.images, *d.options, r.train_size, uint64_t(r.seed), d.dataset, r.id);
  ImageTask task;
  task.train = &d.images->train;
  task.test = &d.images->test;
  task.train_idx = sub.train;
  task.val_idx = sub.val;
  task.augment = data::augment_options(*d.options);
  task.normalize = d.images->normalize;
  manual_seed(uint64_t(r.seed));
  auto model = mt.make_image(r.model_params, d.images->shape, uint64_t(r.seed));
  used = static_cast<int64_t>(sub.train.size());
  return train_image_model(*model, task, ts, run_dir, uint64_t(r.seed), label, control);
}

// The finished runs --extend continues: those whose saved settings differ from the config's in budget keys only
// (check_resume_matches has refused any other change). Each needs its training state.
std::set<std::string> runs_to_extend(const Experiment& e, const ResultsTable& table, const fs::path& dir,
                                     const std::set<std::string>& rerun) {
  std::set<std::string> out;
  for (const auto& c : changed_settings(e, table, dir))
    if (c.budget && table.has_run(c.run) && !rerun.count(c.run)) out.insert(c.run);
  for (const auto& id : out) {
    std::error_code ec;
    if (!fs::exists(dir / "runs" / id / kTrainStateFile, ec))
      throw config::ConfigError(fmt::format(
          "--extend: run {} has no training state to continue from ({} is missing: it was trained by an earlier "
          "version); --rerun {} trains it afresh with the new budget", id,
          (dir / "runs" / id / kTrainStateFile).string(), id));
  }
  return out;
}

// How the ranks of a job share a config's runs (one rank: Single).
enum class Mode { Single, Sweep, DataParallel };

Mode distribution_mode(const Experiment& e, const dist::World& world) {
  if (!world.distributed()) return Mode::Single;
  size_t parallel = 0;
  for (const auto& r : e.runs) parallel += r.train_params.get_bool("data_parallel");
  if (parallel == 0) return Mode::Sweep;
  if (parallel == e.runs.size()) return Mode::DataParallel;
  throw config::ConfigError(fmt::format("{}: train.data_parallel is true for {} of the {} runs; under mpirun either every run "
                                "is data-parallel (the ranks train each run together) or none is (the ranks share the "
                                "runs out)", e.name, parallel, e.runs.size()));
}

// The data of the part being trained, loaded when a run of another part comes up.
class PartCache {
 public:
  const PartData& get(const RunSpec& r) {
    if (!data_ || part_ != r.part) {
      data_.reset();  // release the previous part's data first
      data_ = std::make_unique<PartData>(load_part(r.dataset));
      part_ = r.part;
    }
    return *data_;
  }

 private:
  std::string part_;
  std::unique_ptr<PartData> data_;
};

// The numbers of training and validation items run r trains and selects on (images, or labelled nodes).
std::pair<int64_t, int64_t> item_counts(const RunSpec& r, const PartData& d) {
  if (d.graph) {
    const data::Split split = data::run_split(*d.graph, *d.options, r.train_size, uint64_t(r.seed), d.dataset);
    return {static_cast<int64_t>(split.train.size()), static_cast<int64_t>(split.val.size())};
  }
  if (d.sequences) {
    const auto sub = data::run_subset(*d.sequences, *d.options, r.train_size, uint64_t(r.seed), d.dataset, r.id);
    return {static_cast<int64_t>(sub.train.size()), static_cast<int64_t>(sub.val.size())};
  }
  const auto sub = data::run_subset(*d.images, *d.options, r.train_size, uint64_t(r.seed), d.dataset, r.id);
  return {static_cast<int64_t>(sub.train.size()), static_cast<int64_t>(sub.val.size())};
}

void print_dry_run(const Experiment& e, const ResultsTable& table, const std::vector<size_t>& todo,
                   const std::set<std::string>& rerun) {
  fmt::print("{:<56} {:>10} {:>5} {:>8} {:>8} {:>10}\n", "run", "train_size", "seed", "train", "val", "params");
  PartCache cache;
  for (size_t i = 0; i < e.runs.size(); ++i) {
    const RunSpec& r = e.runs[i];
    const PartData& d = cache.get(r);
    const auto [train, val] = item_counts(r, d);
    const bool trains = std::find(todo.begin(), todo.end(), i) != todo.end();
    const std::string note = !table.has_run(r.id) ? "" : rerun.count(r.id) ? "  (done; --rerun: trained afresh)"
                             : trains ? "  (done; --extend: continued)" : "  (done)";
    fmt::print("{:<56} {:>10} {:>5} {:>8} {:>8} {:>10}{}\n", r.id,
               r.train_size == 0 ? "split" : fmt::format("{:g}", r.train_size), r.seed, train, val,
               parameter_count(r, d), note);
  }
}

// The indices (into e.runs) of the runs to train, in config order: those results.csv lacks, those to rerun and
// those to extend; under mpirun every rank takes rank 0's list (only rank 0 reads results.csv; the dispatcher
// hands out positions in this list).
std::vector<size_t> runs_to_train(const Experiment& e, const ResultsTable* table, const std::set<std::string>& rerun,
                                  const std::set<std::string>& extend, const dist::World& world, Mode mode) {
  std::vector<size_t> todo;
  if (table)
    for (size_t i = 0; i < e.runs.size(); ++i) {
      const std::string& id = e.runs[i].id;
      // a run in the table whose state is unfinished: an interrupted --rerun or --extend, which continues
      if (!table->has_run(id) || rerun.count(id) || extend.count(id) ||
          train_state_unfinished(table->path().parent_path() / "runs" / id / kTrainStateFile))
        todo.push_back(i);
    }
  if (mode == Mode::Single) return todo;
  std::string text;
  for (size_t i : todo) text += std::to_string(i) + " ";
  std::istringstream in(world.all_gather(text).front());
  todo.clear();
  for (size_t i; in >> i;) todo.push_back(i);
  return todo;
}

// Trains the runs the dispatcher hands this rank; returns how many did not finish.
int train_runs(const Experiment& e, const std::vector<size_t>& todo, const std::set<std::string>& rerun,
               dist::Dispatcher& dispatcher, const RunnerOptions& opt, const dist::World& world, Mode mode) {
  PartCache cache;
  const bool writer = mode != Mode::DataParallel || world.rank() == 0;  // data parallel: rank 0 writes the run's files
  int unfinished = 0;
  size_t counter = 0;
  while (!stop_requested()) {
    const auto next = dispatcher.next();
    if (!next) break;
    const RunSpec& r = e.runs[todo[*next]];
    ++counter;
    const fs::path run_dir = opt.out_dir / "runs" / r.id;
    if (writer) save_resolved(r, run_dir);
    const std::string label = mode == Mode::Sweep ? fmt::format("[rank {}] {}", world.rank(), r.id)
                                                  : fmt::format("[{}/{}] {}", counter, todo.size(), r.id);
    const PartData& data = cache.get(r);
    int64_t used = 0;
    TrainControl control;
    control.resume = !rerun.count(r.id);  // a rerun starts afresh; every other run continues from its state
    RunOutcome o = train_run(r, data, run_dir, label, control, used);
    if (o.status == "interrupted") {
      fmt::print(stderr, "{}: interrupted at step {}; its state is saved in {}, and the same command continues it "
                 "from there{}\n", r.id, o.steps, (run_dir / kTrainStateFile).string(),
                 control.resume ? "" : " (without --rerun, which would start it afresh again)");
      ++unfinished;
      break;
    }
    if (o.status != "ok") ++unfinished;
    o = recorded(o);
    if (!writer) continue;  // data parallel: rank 0 reports the run
    dispatcher.record(*next, make_row(r, data.dataset, used, o));
    fmt::print("{}: test {}  (best val {} at epoch {}, {:.1f} s, {} params){}\n", label, pct(o.test_accuracy),
               pct(o.best_val_accuracy), o.best_epoch, o.train_seconds, o.params,
               o.status == "ok" ? "" : "  [" + o.status + "]");
  }
  // runs never started because of a stop request count as unfinished too (one process: all that are left)
  if (stop_requested() && mode == Mode::Single) unfinished += static_cast<int>(todo.size() - counter);
  return unfinished;
}
}  // namespace

int run_experiment(const Experiment& e, const RunnerOptions& opt) {
  const dist::World& world = dist::World::get();
  const Mode mode = distribution_mode(e, world);
  const bool root = world.rank() == 0;
  if (opt.dry_run && !root) return 0;  // rank 0 prints the dry run; nothing is trained or written
  std::optional<OutDirLock> lock;
  std::optional<ResultsTable> table;
  if (root) {
    if (!opt.dry_run) {
      lock.emplace(opt.out_dir);  // one writer per folder, for the whole sweep
      if (int n = remove_stale_temporaries(opt.out_dir); n > 0)
        fmt::print("{}: removed {} temporary file(s) left by an interrupted run\n", opt.out_dir.string(), n);
    }
    table.emplace(opt.out_dir, std::vector<std::string>{"run", "model_type", "size_spec", "steps", "best_epoch",
                                                        "items_per_second", "status", "last_test_accuracy",
                                                        "eval_items_per_second"});
  }
  const std::set<std::string> rerun = matching_runs(e, opt.rerun);
  std::set<std::string> extend;
  if (root) {
    check_resume_matches(e, *table, opt.out_dir, rerun, opt.extend);
    if (opt.extend) extend = runs_to_extend(e, *table, opt.out_dir, rerun);
  }
  const std::vector<size_t> todo =
      runs_to_train(e, table ? &*table : nullptr, rerun, extend, world, opt.dry_run ? Mode::Single : mode);
  if (root) {
    size_t done = 0;
    for (const auto& r : e.runs) done += table->has_run(r.id);
    fmt::print("{}: {} runs, {} already in {}, {} to train", e.name, e.runs.size(), done, table->path().string(),
               todo.size());
    if (!rerun.empty() || !extend.empty())
      fmt::print(" ({} again: {} rerun, {} extended)", rerun.size() + extend.size(), rerun.size(), extend.size());
    if (mode == Mode::Sweep) fmt::print(", shared by {} ranks", world.size());
    if (mode == Mode::DataParallel) fmt::print(", each by {} ranks together (data parallel)", world.size());
    fmt::print("\n");
  }
  if (opt.dry_run) {
    print_dry_run(e, *table, todo, rerun);
    return 0;
  }
  std::optional<dist::WorldCollective> group;
  if (mode == Mode::DataParallel) {
    group.emplace(world);
    set_data_parallel_group(&*group);
  }
  // rank 0's writer: one call at a time (the dispatcher serialises them)
  auto write = [&](size_t, const ResultRow& row) { table->put(row); };  // a rerun or extended run keeps its place
  auto dispatcher = mode == Mode::Sweep ? dist::make_dispatcher(world, todo.size(), write)
                                        : dist::make_dispatcher(dist::World::single(), todo.size(), write);
  const int unfinished = train_runs(e, todo, rerun, *dispatcher, opt, world, mode);
  dispatcher->finish();
  set_data_parallel_group(nullptr);
  if (!root) return unfinished;
  // no report when nothing was ever recorded here (e.g. Ctrl-C during the first run): there is nothing to
  // summarise, and "results.csv does not exist" would read like a failure
  if (fs::exists(table->path())) write_report(opt.out_dir, e.name);
  else fmt::print("{}: no run has finished yet, so there is no results.csv or summary\n", opt.out_dir.string());
  return unfinished;
}

std::set<std::string> matching_runs(const Experiment& e, const std::vector<std::string>& patterns) {
  std::set<std::string> out;
  for (const auto& p : patterns) {
    size_t hits = 0;
    for (const auto& r : e.runs)
      if (fnmatch(p.c_str(), r.id.c_str(), 0) == 0) out.insert(r.id), ++hits;
    if (hits > 0) continue;
    std::vector<std::string> ids;
    for (size_t i = 0; i < e.runs.size() && i < 12; ++i) ids.push_back(e.runs[i].id);
    throw config::ConfigError(fmt::format("--rerun '{}' matches no run of {}; its runs are: {}{} (a glob such as "
                                          "'{}*' selects several)", p, e.name, fmt::join(ids, ", "),
                                          e.runs.size() > ids.size() ? ", ..." : "", ids.empty() ? "" : ids[0].substr(0, ids[0].find("__") + 2)));
  }
  return out;
}

size_t write_report(const std::filesystem::path& out_dir, const std::string& title) {
  RC_CHECK(std::filesystem::exists(out_dir / "results.csv"), "report: {} does not exist (no run has finished there)",
           (out_dir / "results.csv").string());
  ResultsTable table(out_dir);
  const std::string summary = summary_markdown(table, title);
  write_file_atomic(out_dir / "summary.md", summary);
  const auto plots = write_plots(table, out_dir);
  fmt::print("\n{}\nresults: {}; {} plot(s) in {}\n", summary, table.path().string(), plots.size(),
             (out_dir / "plots").string());
  return table.rows().size();
}

}  // namespace rc::exp
