#include "experiments/plots_receptive.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>

#include "experiments/plots.hpp"
#include "framework/io/file_util.hpp"

namespace rc::exp {

namespace {

// One evaluation point's per-layer receptive field: the mean over heads of each quantity, by name
// ("E|d|", "sigma").
using LayerValues = std::map<std::string, std::vector<double>>;

std::vector<double> head_means(const nlohmann::json& per_layer) {
  std::vector<double> out;
  for (const auto& heads : per_layer) {
    double s = 0;
    for (const auto& v : heads) s += v.get<double>();
    out.push_back(heads.empty() ? 0.0 : s / double(heads.size()));
  }
  return out;
}

LayerValues layer_values(const nlohmann::json& rf) {
  LayerValues v;
  if (rf.contains("mean_distance")) v["E|d|"] = head_means(rf["mean_distance"]);
  if (rf.contains("width")) v["sigma"] = head_means(rf["width"]);
  return v;
}

// The run's evaluation points that carry a receptive field: (step, per-layer values).
std::vector<std::pair<double, LayerValues>> read_curve(const std::filesystem::path& metrics) {
  std::vector<std::pair<double, LayerValues>> points;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("receptive_field") || !j.contains("step")) continue;
    points.emplace_back(j["step"].get<double>(), layer_values(j["receptive_field"]));
  }
  return points;
}

// Mean and sample standard deviation (0 for one value).
std::pair<double, double> mean_std(const std::vector<double>& v) {
  double m = 0, sd = 0;
  for (double a : v) m += a;
  m /= double(v.size());
  for (double a : v) sd += (a - m) * (a - m);
  sd = v.size() > 1 ? std::sqrt(sd / double(v.size() - 1)) : 0.0;
  return {m, sd};
}

std::string series_label(const std::string& what, size_t layer) { return fmt::format("layer {} {}", layer + 1, what); }

void plot_run_curve(const std::string& run, const std::vector<std::pair<double, LayerValues>>& points,
                    const std::filesystem::path& png) {
  std::map<std::string, Series> by_label;
  std::vector<std::string> order;
  for (const auto& [step, values] : points)
    for (const auto& [what, layers] : values)
      for (size_t l = 0; l < layers.size(); ++l) {
        const std::string label = series_label(what, l);
        if (!by_label.count(label)) order.push_back(label), by_label[label].label = label;
        Series& s = by_label[label];
        s.x.push_back(step), s.mean.push_back(layers[l]), s.stddev.push_back(0);
      }
  std::vector<Series> series;
  for (const auto& label : order) series.push_back(by_label[label]);
  line_chart(png, fmt::format("{}: receptive field per layer (E|d| = attention-weighted offset, sigma = learned width)", run),
             "training step", "patches", series, false);
}

void plot_against_size(const std::string& title, const std::map<double, std::vector<LayerValues>>& by_size,
                       const std::filesystem::path& png) {
  std::map<std::string, Series> by_label;
  std::vector<std::string> order;
  for (const auto& [size, runs] : by_size) {
    std::map<std::string, std::vector<double>> samples;  // label -> one value per seed
    for (const LayerValues& values : runs)
      for (const auto& [what, layers] : values)
        for (size_t l = 0; l < layers.size(); ++l) samples[series_label(what, l)].push_back(layers[l]);
    for (const auto& [label, v] : samples) {
      if (!by_label.count(label)) order.push_back(label), by_label[label].label = label;
      const auto [m, sd] = mean_std(v);
      Series& s = by_label[label];
      s.x.push_back(size), s.mean.push_back(m), s.stddev.push_back(sd);
    }
  }
  std::vector<Series> series;
  for (const auto& label : order) series.push_back(by_label[label]);
  line_chart(png, title, "labelled training examples", "patches (at the end of training)", series, true);
}

// One model's evaluation points by training-set size and step: each the per-layer values of every finished run
// (seed) that logged that step, and how many finished runs each size has.
struct StepPoints {
  std::map<double, std::map<double, std::vector<LayerValues>>> by_size;  // size -> step -> one entry per run
  std::map<double, size_t> runs;                                         // size -> finished runs
};

// One quantity of one layer at one step of one training-set size: mean and std over the size's runs (seeds).
struct StepStat {
  double size, step;
  std::string what;  // "E|d|" or "sigma"
  size_t layer;      // from 0
  size_t seeds;
  double mean, std;
};

// Every (size, step, quantity, layer) that every finished run of the size logged, so that a mean never mixes
// different sets of runs; in order of size, step, quantity and layer.
std::vector<StepStat> step_stats(const StepPoints& p) {
  std::vector<StepStat> out;
  for (const auto& [size, steps] : p.by_size)
    for (const auto& [step, runs] : steps) {
      if (runs.size() != p.runs.at(size)) continue;
      std::map<std::string, std::vector<std::vector<double>>> samples;  // quantity -> layer -> one value per run
      for (const LayerValues& values : runs)
        for (const auto& [what, layers] : values) {
          auto& per_layer = samples[what];
          if (per_layer.size() < layers.size()) per_layer.resize(layers.size());
          for (size_t l = 0; l < layers.size(); ++l) per_layer[l].push_back(layers[l]);
        }
      for (const auto& [what, per_layer] : samples)
        for (size_t l = 0; l < per_layer.size(); ++l) {
          if (per_layer[l].size() != runs.size()) continue;
          const auto [m, sd] = mean_std(per_layer[l]);
          out.push_back({size, step, what, l, runs.size(), m, sd});
        }
    }
  return out;
}

// The top layer's receptive field against the step, one colour per training-set size: the learned width sigma
// (solid) where the model has one and E|d| (dashed when sigma is there), mean +/- std over seeds as a band.
// It separates "more data" from "more steps", which a sweep with an epoch budget confounds.
void plot_against_step(const std::string& title, const std::vector<StepStat>& stats, const std::filesystem::path& png) {
  std::map<std::string, size_t> top;  // quantity -> its top layer
  for (const StepStat& st : stats) top[st.what] = std::max(top[st.what], st.layer);
  std::map<double, std::map<std::string, Series>> by_size;  // size -> quantity -> series
  for (const StepStat& st : stats) {
    if (st.layer != top[st.what]) continue;
    Series& s = by_size[st.size][st.what];
    s.x.push_back(st.step), s.mean.push_back(st.mean), s.stddev.push_back(st.std);
  }
  std::vector<Series> series;
  int colour = 0;
  for (auto& [size, by_what] : by_size) {
    for (auto& [what, s] : by_what) {
      s.label = fmt::format("{} examples, {}", size, what);
      s.band = true, s.dashed = what == "E|d|" && top.count("sigma"), s.colour = colour;
      series.push_back(std::move(s));
    }
    ++colour;
  }
  line_chart(png, title, "training step", "patches (top layer)", series, false);
}

}  // namespace

std::vector<std::filesystem::path> write_receptive_plots(const ResultsTable& table,
                                                         const std::filesystem::path& out_dir) {
  std::vector<std::filesystem::path> written;
  // dataset -> model -> train size -> the last evaluation point of each run
  std::map<std::string, std::map<std::string, std::map<double, std::vector<LayerValues>>>> final_points;
  std::map<std::string, std::map<std::string, StepPoints>> step_points;  // dataset -> model -> every point
  const std::vector<std::string> datasets = dataset_labels(table);
  for (size_t i = 0; i < table.rows().size(); ++i) {
    const ResultRow& r = table.rows()[i];
    const auto points = read_curve(out_dir / "runs" / r.get("run") / "metrics.jsonl");
    if (points.empty()) continue;
    if (points.size() >= 2) {
      auto png = out_dir / "plots" / fmt::format("receptive_{}.png", r.get("run"));
      plot_run_curve(r.get("run"), points, png);
      written.push_back(png);
    }
    if (!finished_ok(r.get("status"))) continue;
    const double size = table.number(r, "train_size");
    final_points[datasets[i]][r.get("model")][size].push_back(points.back().second);
    StepPoints& sp = step_points[datasets[i]][r.get("model")];
    ++sp.runs[size];
    std::map<double, const LayerValues*> by_step;  // one point per step and run (the last, if one repeats)
    for (const auto& [step, values] : points) by_step[step] = &values;
    for (const auto& [step, values] : by_step) sp.by_size[size][step].push_back(*values);
  }
  for (const auto& [dataset, models] : final_points)
    for (const auto& [model, by_size] : models) {
      if (by_size.size() < 2) continue;
      auto png = out_dir / "plots" / fmt::format("receptive_vs_size_{}_{}.png", file_safe(dataset), file_safe(model));
      plot_against_size(fmt::format("{} / {}: receptive field per layer vs training-set size (mean +/- std over seeds)",
                                    dataset, model),
                        by_size, png);
      written.push_back(png);
      png = out_dir / "plots" / fmt::format("receptive_vs_step_{}_{}.png", file_safe(dataset), file_safe(model));
      plot_against_step(
          fmt::format("{} / {}: top layer's receptive field vs training step, per training-set size", dataset, model),
          step_stats(step_points[dataset][model]), png);
      written.push_back(png);
    }
  if (!step_points.empty()) {
    const auto csv = out_dir / "receptive_by_step.csv";
    io::write_file_atomic(csv.string(), "receptive_by_step.csv", [&](std::ostream& out) {
      out << "dataset,model,train_size,step,seeds,quantity,layer,mean,std\n";
      for (const auto& [dataset, models] : step_points)
        for (const auto& [model, p] : models)
          for (const StepStat& st : step_stats(p))
            out << fmt::format("{},{},{},{},{},{},{},{:.4f},{:.4f}\n", dataset, model, st.size, int64_t(st.step),
                               st.seeds, st.what == "E|d|" ? "mean_distance" : "width", st.layer + 1, st.mean,
                               st.std);
    });
  }
  return written;
}

}  // namespace rc::exp
