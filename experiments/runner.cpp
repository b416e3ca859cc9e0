#include "experiments/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cmath>
#include <fstream>

#include "datasets/graph/linqs.hpp"
#include "datasets/graph/split.hpp"
#include "datasets/graph/synthetic.hpp"
#include "datasets/image/folder.hpp"
#include "datasets/image/subset.hpp"
#include "experiments/plots.hpp"
#include "experiments/results.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/summary.hpp"
#include "experiments/train/graph_task.hpp"
#include "experiments/train/image_task.hpp"
#include "framework/core/random.hpp"
#include "models/registry.hpp"

namespace rc::exp {

namespace fs = std::filesystem;

ImageData load_images(const Params& d) {
  ImageData out;
  const std::string name = d.get_string("name");
  if (name == "fashion-mnist") {
    auto tt = data::load_fashion_mnist(d.get_string("root"));
    out.train = std::move(tt.train);
    out.test = std::move(tt.test);
  } else {
    data::FolderOptions fo;
    fo.height = d.get_int("height");
    fo.width = d.get_int("width");
    fo.grayscale = d.get_bool("grayscale");
    RC_CHECK(!d.get_string("root").empty(), "dataset.root: image-folder needs the folder (root/<class>/*.png)");
    data::ImageDataset all = data::load_image_folder(d.get_string("root"), fo);
    // a fixed (seed 0) stratified test split, the same for every run
    data::SubsetSpec spec;
    spec.fraction = 1.0;
    spec.val_fraction = d.get_float("test_fraction");
    auto parts = data::stratified_subset(all.labels, all.num_classes(), spec);
    auto take = [&](const std::vector<int64_t>& idx) {
      data::ImageDataset s;
      s.channels = all.channels;
      s.height = all.height;
      s.width = all.width;
      s.class_names = all.class_names;
      for (int64_t i : idx) {
        s.pixels.insert(s.pixels.end(), all.image(i), all.image(i) + all.image_bytes());
        s.labels.push_back(all.labels[i]);
      }
      return s;
    };
    out.train = take(parts.train);
    out.test = take(parts.val);
  }
  out.shape = {out.train.channels, out.train.height, out.train.width, out.train.num_classes()};
  if (d.get_bool("normalize")) out.normalize = data::compute_normalize(out.train);
  return out;
}

namespace {

data::GraphDataset load_graph(const Params& d) {
  const std::string name = d.get_string("name");
  if (name == "karate") return data::karate_club();
  if (name == "csbm") {
    data::CsbmOptions o;
    o.nodes = d.get_int("csbm.nodes");
    o.classes = d.get_int("csbm.classes");
    o.average_degree = d.get_float("csbm.average_degree");
    o.homophily = d.get_float("csbm.homophily");
    o.features = d.get_int("csbm.features");
    o.snr = d.get_float("csbm.snr");
    // the features are a dense (nodes, features) tensor and the edges about nodes × degree pairs
    RC_CHECK(double(o.nodes) * double(o.features) <= double(int64_t{1} << 28) &&
                 double(o.nodes) * o.average_degree <= double(int64_t{1} << 28),
             "dataset.csbm: nodes {} × features {} or × average_degree {} is over the limit of 2^28 values; make the "
             "graph smaller", o.nodes, o.features, o.average_degree);
    return data::csbm(o);
  }
  data::LinqsOptions lo;
  lo.row_normalize = d.get_bool("row_normalize");
  data::LinqsReport rep;
  data::GraphDataset g = data::load_linqs_named(name, d.get_string("root"), lo, &rep);
  fmt::print(stderr, "{}: {} nodes, {} edges (directed), {} features, {} classes; {} citations, {} to unknown papers "
                     "skipped, {} duplicates merged, {} self-citations dropped\n",
             name, g.num_nodes(), g.num_edges(), g.features.dim(1), g.num_classes(), rep.citations,
             rep.unknown_citations, rep.duplicate_citations, rep.self_citations);
  return g;
}

data::Augment augment_of(const Params& d) {
  data::Augment a;
  a.crop_padding = d.get_int("augment.crop_padding");
  a.horizontal_flip = d.get_bool("augment.horizontal_flip");
  a.affine_degrees = d.get_float("augment.affine_degrees");
  a.affine_translate = d.get_float("augment.affine_translate");
  a.affine_scale = d.get_float("augment.affine_scale");
  return a;
}

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

// How many different labels the items `idx` (all items when empty) carry.
int64_t distinct_labels(const std::vector<int32_t>& labels, const std::vector<int64_t>& idx) {
  std::vector<int32_t> seen;
  if (idx.empty()) seen = labels;
  for (int64_t i : idx) seen.push_back(labels[static_cast<size_t>(i)]);
  std::sort(seen.begin(), seen.end());
  return std::unique(seen.begin(), seen.end()) - seen.begin();
}

// Data that would give a number without meaning (a test accuracy over no test items, 100 % on one class) is an
// error before anything trains.
void check_image_data(const ImageData& d, const Params& ds) {
  const std::string name = ds.get_string("name");
  RC_CHECK(d.train.size() > 0, "dataset {}: no training images", name);
  RC_CHECK(d.test.size() > 0,
           "dataset {}: no test images{}; a test accuracy over no images would be meaningless", name,
           name == "image-folder" ? fmt::format(" (dataset.test_fraction {} of each class rounds to none)",
                                                ds.get_float("test_fraction"))
                                  : "");
  RC_CHECK(distinct_labels(d.train.labels, {}) >= 2,
           "dataset {}: every training image has the same class; classification needs at least 2 classes", name);
  RC_CHECK(d.test.channels == d.train.channels && d.test.height == d.train.height && d.test.width == d.train.width,
           "dataset {}: test images are {}x{}x{} but training images {}x{}x{}", name, d.test.channels, d.test.height,
           d.test.width, d.train.channels, d.train.height, d.train.width);
}

void check_graph_data(const data::GraphDataset& g, const Params& ds) {
  RC_CHECK(distinct_labels(g.labels, {}) >= 2,
           "dataset {}: every node has the same class; classification needs at least 2 classes", ds.get_string("name"));
}

void check_split(const data::Split& split, const std::vector<int32_t>& labels, const std::string& dataset) {
  RC_CHECK(!split.test.empty(),
           "dataset {}: the split names no test node; a test accuracy over no nodes would be meaningless (add test "
           "nodes to the split file, or use dataset.split: random)",
           dataset);
  RC_CHECK(distinct_labels(labels, split.train) >= 2,
           "dataset {}: the split's {} training nodes all have one class; classification needs at least 2", dataset,
           split.train.size());
}

void save_resolved(const RunSpec& r, const fs::path& run_dir) {
  fs::create_directories(run_dir);
  YAML::Emitter em;
  em << r.resolved;
  write_file_atomic(run_dir / "config.yaml", std::string(em.c_str()) + "\n");
}
}  // namespace

namespace {
// The runs of one dataset (one part of the config): loads the data once, trains what is not yet in `table`.
// Returns the number of runs that did not finish.
int run_part(const std::vector<const RunSpec*>& runs, ResultsTable& table, const RunnerOptions& opt,
             size_t& counter, size_t total) {
  const Params& ds = runs.front()->dataset;
  const std::string dataset = ds.get_string("name");
  const bool graph = is_graph_dataset(dataset);
  std::vector<const RunSpec*> todo;
  for (const RunSpec* r : runs)
    if (!table.has_run(r->id)) todo.push_back(r);
  if (todo.empty() && !opt.dry_run) return 0;

  std::optional<ImageData> images;
  std::optional<data::GraphDataset> graph_data;
  if (graph) graph_data = load_graph(ds);
  else images = load_images(ds);
  if (graph) check_graph_data(*graph_data, ds);
  else check_image_data(*images, ds);

  if (opt.dry_run) {
    for (const RunSpec* r : runs) {
      const auto& mt = models::model_type(r->model_type);
      int64_t params = 0;
      if (graph) {
        GraphTask t = make_graph_task(*graph_data, graph_data->split);
        params = mt.make_graph(r->model_params, t.input, 0)->num_parameters();
      } else {
        params = mt.make_image(r->model_params, images->shape, 0)->num_parameters();
      }
      fmt::print("{:<56} {:>10} {:>5} {:>10}{}\n", r->id, r->train_size == 0 ? "split" : fmt::format("{:g}", r->train_size), r->seed,
                 params, table.has_run(r->id) ? "  (done)" : "");
    }
    return 0;
  }

  int unfinished = 0;
  for (const RunSpec* rp : todo) {
    const RunSpec& r = *rp;
    ++counter;
    if (stop_requested()) {
      ++unfinished;
      continue;
    }
    const fs::path run_dir = opt.out_dir / "runs" / r.id;
    save_resolved(r, run_dir);
    const TrainSettings ts = TrainSettings::from(r.train_params);
    const std::string label = fmt::format("[{}/{}] {}", counter, total, r.id);
    const auto& mt = models::model_type(r.model_type);
    RunOutcome o;
    int64_t used = 0;
    if (graph) {
      data::Split split = graph_data->split;
      if (ds.get_string("split") == "random")
        split = data::random_split(graph_data->labels, graph_data->num_classes(),
                                   std::max<int64_t>(1, std::llround(r.train_size == 0 ? 20 : r.train_size)),
                                   ds.get_int("num_val"), ds.get_int("num_test"), uint64_t(r.seed));
      RC_CHECK(!split.train.empty(), "dataset {}: no split (set dataset.split: random)", dataset);
      check_split(split, graph_data->labels, dataset);
      GraphTask task = make_graph_task(*graph_data, split);
      manual_seed(uint64_t(r.seed));
      auto model = mt.make_graph(r.model_params, task.input, uint64_t(r.seed));
      used = static_cast<int64_t>(split.train.size());
      o = train_graph_model(*model, task, ts, run_dir, label);
    } else {
      data::SubsetSpec spec;
      spec.seed = uint64_t(r.seed);
      spec.val_fraction = ds.get_float("val_fraction");
      if (r.train_size <= 1.0) spec.fraction = r.train_size;
      else spec.per_class = std::max<int64_t>(1, std::llround(r.train_size / images->shape.num_classes));
      auto sub = data::stratified_subset(images->train.labels, images->shape.num_classes, spec);
      RC_CHECK(distinct_labels(images->train.labels, sub.train) >= 2,
               "dataset {}: the {} training images of run {} hold {} class(es); classification needs at least 2", dataset,
               sub.train.size(), r.id, distinct_labels(images->train.labels, sub.train));
      ImageTask task;
      task.train = &images->train;
      task.test = &images->test;
      task.train_idx = sub.train;
      task.val_idx = sub.val;
      task.augment = augment_of(ds);
      task.normalize = images->normalize;
      manual_seed(uint64_t(r.seed));
      auto model = mt.make_image(r.model_params, images->shape, uint64_t(r.seed));
      used = static_cast<int64_t>(sub.train.size());
      o = train_image_model(*model, task, ts, run_dir, uint64_t(r.seed), label);
    }
    if (o.status == "interrupted") {
      fmt::print(stderr, "{}: interrupted; this run is not recorded and will restart next time\n", r.id);
      ++unfinished;
      continue;
    }
    if (o.status != "ok") ++unfinished;
    o = recorded(o);
    table.append(make_row(r, dataset, used, o));
    fmt::print("{}: test {}  (best val {} at epoch {}, {:.1f} s, {} params){}\n", r.id, pct(o.test_accuracy),
               pct(o.best_val_accuracy), o.best_epoch, o.train_seconds, o.params,
               o.status == "ok" ? "" : "  [" + o.status + "]");
  }
  return unfinished;
}
}  // namespace

int run_experiment(const Experiment& e, const RunnerOptions& opt) {
  std::optional<OutDirLock> lock;
  if (!opt.dry_run) {
    lock.emplace(opt.out_dir);  // one writer per folder, for the whole sweep
    if (int n = remove_stale_temporaries(opt.out_dir); n > 0)
      fmt::print("{}: removed {} temporary file(s) left by an interrupted run\n", opt.out_dir.string(), n);
  }
  ResultsTable table(opt.out_dir, {"run", "model_type", "size_spec", "steps", "best_epoch", "items_per_second", "status",
                                   "last_test_accuracy", "eval_items_per_second"});
  check_resume_matches(e, table, opt.out_dir);
  size_t done = 0;
  for (const auto& r : e.runs) done += table.has_run(r.id);
  fmt::print("{}: {} runs, {} already in {}, {} to train\n", e.name, e.runs.size(), done, table.path().string(),
             e.runs.size() - done);
  if (opt.dry_run) fmt::print("{:<56} {:>10} {:>5} {:>10}\n", "run", "train_size", "seed", "params");
  // parts in config order
  std::vector<std::string> parts;
  for (const auto& r : e.runs)
    if (std::find(parts.begin(), parts.end(), r.part) == parts.end()) parts.push_back(r.part);
  int unfinished = 0;
  size_t counter = 0;
  for (const auto& part : parts) {
    std::vector<const RunSpec*> runs;
    for (const auto& r : e.runs)
      if (r.part == part) runs.push_back(&r);
    unfinished += run_part(runs, table, opt, counter, e.runs.size() - done);
  }
  if (opt.dry_run) return 0;
  // no report when nothing was ever recorded here (e.g. Ctrl-C during the first run): there is nothing to
  // summarise, and "results.csv does not exist" would read like a failure
  if (fs::exists(table.path())) write_report(opt.out_dir, e.name);
  else fmt::print("{}: no run has finished yet, so there is no results.csv or summary\n", opt.out_dir.string());
  return unfinished;
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
