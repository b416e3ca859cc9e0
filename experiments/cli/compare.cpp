// `receptive compare DIR... --out PNG`: several runs or results folders side by side. Each model's curves
// (validation accuracy, training loss, validation loss per epoch) are averaged over its seeds, with a band of
// ± one standard deviation where there are several, and one merged table of the results is printed.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "experiments/cli/commands.hpp"
#include "experiments/plots.hpp"
#include "experiments/results.hpp"
#include "framework/core/error.hpp"

namespace rc::cli {

namespace fs = std::filesystem;
using exp::ResultRow;
using exp::Series;

namespace {

struct RunEntry {
  fs::path dir;            // runs/<run>
  std::string source;      // the DIR argument it came from
  std::optional<ResultRow> row;  // its results.csv row, when there is one
  std::string model, dataset, size;
};

double number_or_nan(const std::optional<ResultRow>& row, const char* column) {
  if (!row || row->get(column).empty()) return std::nan("");
  try {
    return std::stod(row->get(column));
  } catch (const std::exception&) {
    return std::nan("");
  }
}

void add_row(std::vector<RunEntry>& out, const fs::path& run_dir, const std::string& source, const ResultRow* row) {
  RunEntry e;
  e.dir = run_dir, e.source = source;
  if (row) {
    e.row = *row;
    e.model = row->get("model"), e.dataset = row->get("dataset"), e.size = row->get("train_size");
  } else {
    e.model = run_dir.filename().string();
  }
  out.push_back(std::move(e));
}

// A results folder (results.csv: its finished runs) or one run folder (runs/<run>, its row looked up in the
// results.csv two levels up when there is one).
std::vector<RunEntry> runs_of(const std::string& arg) {
  const fs::path p(arg);
  std::error_code ec;
  RC_CHECK(fs::is_directory(p, ec), "compare: {}: no such folder (expected a results folder or runs/<run>)", arg);
  std::vector<RunEntry> out;
  if (fs::exists(p / "results.csv", ec)) {
    exp::ResultsTable t(p);
    for (const auto& r : t.rows())
      if (exp::finished_ok(r.get("status"))) add_row(out, p / "runs" / r.get("run"), arg, &r);
    RC_CHECK(!out.empty(), "compare: {}: results.csv holds no finished run", arg);
    return out;
  }
  RC_CHECK(fs::exists(p / "metrics.jsonl", ec),
           "compare: {}: neither a results folder (no results.csv) nor a run folder (no metrics.jsonl)", arg);
  const fs::path results = p.parent_path().parent_path();
  if (fs::exists(results / "results.csv", ec)) {
    exp::ResultsTable t(results);
    for (const auto& r : t.rows())
      if (r.get("run") == p.filename().string()) {
        add_row(out, p, arg, &r);
        return out;
      }
  }
  add_row(out, p, arg, nullptr);
  return out;
}

// The label of each run's group: its model (with the dataset when several are compared, the training size when
// a model has several, and the folder when the same model comes from several folders).
std::vector<std::string> group_labels(const std::vector<RunEntry>& runs) {
  std::map<std::string, std::set<std::string>> sources, sizes;
  std::set<std::string> datasets;
  for (const auto& r : runs) {
    sources[r.model].insert(r.source);
    sizes[r.model].insert(r.size);
    datasets.insert(r.dataset);
  }
  std::vector<std::string> labels;
  for (const auto& r : runs) {
    std::string l = r.model;
    if (datasets.size() > 1 && !r.dataset.empty()) l = r.dataset + " " + l;
    if (sizes[r.model].size() > 1) l += " @" + r.size;
    if (sources[r.model].size() > 1) l = fs::path(r.source).filename().string() + ": " + l;
    labels.push_back(l);
  }
  return labels;
}

// Mean and standard deviation over the group's runs at every epoch some run reached (a run that stopped early
// contributes to the epochs it has).
Series mean_curve(const std::string& label, const std::vector<exp::RunCurves>& curves,
                  std::vector<double> exp::RunCurves::*metric, double scale, int colour) {
  std::map<double, std::vector<double>> at;
  for (const auto& c : curves)
    for (size_t i = 0; i < c.epoch.size(); ++i)
      if (std::isfinite((c.*metric)[i])) at[c.epoch[i]].push_back(scale * (c.*metric)[i]);
  Series s;
  s.label = label, s.colour = colour, s.band = true;
  for (const auto& [e, v] : at) {
    double m = 0, sd = 0;
    for (double a : v) m += a;
    m /= double(v.size());
    for (double a : v) sd += (a - m) * (a - m);
    s.x.push_back(e);
    s.mean.push_back(m);
    s.stddev.push_back(v.size() > 1 ? std::sqrt(sd / double(v.size() - 1)) : 0.0);
  }
  return s;
}

std::string mean_sd(const std::vector<double>& v, double scale, const char* fmt_one) {
  std::vector<double> f;
  for (double a : v)
    if (std::isfinite(a)) f.push_back(scale * a);
  if (f.empty()) return "-";
  double m = 0, sd = 0;
  for (double a : f) m += a;
  m /= double(f.size());
  if (f.size() == 1) return fmt::format(fmt::runtime(fmt_one), m);
  for (double a : f) sd += (a - m) * (a - m);
  return fmt::format(fmt::runtime(std::string(fmt_one) + " ± " + fmt_one), m, std::sqrt(sd / double(f.size() - 1)));
}

}  // namespace

int compare(const CompareArgs& a) {
  RC_CHECK(!a.dirs.empty(), "compare: give at least one results folder or run folder");
  exp::check_png_out(a.out, "compare");
  std::vector<RunEntry> runs;
  for (const auto& d : a.dirs)
    for (auto& r : runs_of(d)) runs.push_back(std::move(r));
  const std::vector<std::string> labels = group_labels(runs);
  std::vector<std::string> order;  // groups in order of first appearance
  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!members.count(labels[i])) order.push_back(labels[i]);
    members[labels[i]].push_back(i);
  }
  exp::Chart val, train_loss, val_loss;
  val.title = "validation accuracy per epoch (mean over seeds, band: +/- std)";
  val.y_label = "validation accuracy (%)";
  train_loss.title = "training loss per epoch (training mode: dropout and augmentation on where configured)";
  train_loss.y_label = "training loss";
  val_loss.title = "validation loss per epoch";
  val_loss.y_label = "validation loss";
  val.x_label = train_loss.x_label = val_loss.x_label = "epoch";
  val.integer_x = train_loss.integer_x = val_loss.integer_x = true;
  fmt::print("{:<40} {:>10} {:>5} {:>20} {:>20} {:>8} {:>10}\n", "model", "train size", "runs", "test accuracy (%)",
             "best val (%)", "epochs", "params");
  for (size_t g = 0; g < order.size(); ++g) {
    std::vector<exp::RunCurves> curves;
    std::vector<double> test, best, epochs;
    std::string params = "-", size = "-";
    for (size_t i : members[order[g]]) {
      curves.push_back(exp::read_run_curves(runs[i].dir / "metrics.jsonl"));
      test.push_back(number_or_nan(runs[i].row, "test_accuracy"));
      best.push_back(number_or_nan(runs[i].row, "best_val_accuracy"));
      epochs.push_back(number_or_nan(runs[i].row, "epochs"));
      if (runs[i].row) params = runs[i].row->get("params"), size = runs[i].size;
    }
    const int colour = static_cast<int>(g);
    for (auto [chart, metric, scale] :
         {std::tuple{&val, &exp::RunCurves::val_accuracy, 100.0}, std::tuple{&train_loss, &exp::RunCurves::train_loss, 1.0},
          std::tuple{&val_loss, &exp::RunCurves::val_loss, 1.0}}) {
      Series s = mean_curve(order[g], curves, metric, scale, colour);
      if (!s.x.empty()) chart->series.push_back(std::move(s));
    }
    fmt::print("{:<40} {:>10} {:>5} {:>20} {:>20} {:>8} {:>10}\n", order[g].substr(0, 40), size, curves.size(),
               mean_sd(test, 100, "{:.2f}"), mean_sd(best, 100, "{:.2f}"), mean_sd(epochs, 1, "{:.0f}"), params);
  }
  RC_CHECK(!val.series.empty() || !train_loss.series.empty(), "compare: none of the runs has metrics.jsonl with points");
  if (!a.out.empty() && fs::path(a.out).has_parent_path()) fs::create_directories(fs::path(a.out).parent_path());
  exp::write_png(a.out, exp::stack_vertically({exp::draw_chart(val, 900, 460), exp::draw_chart(train_loss, 900, 400),
                                               exp::draw_chart(val_loss, 900, 400)}),
                 "compare");
  fmt::print("{} run(s) in {} group(s) -> {}\n", runs.size(), order.size(), a.out);
  return 0;
}

}  // namespace rc::cli
