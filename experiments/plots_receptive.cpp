#include "experiments/plots_receptive.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <string>

#include "experiments/plots.hpp"

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
      double m = 0, sd = 0;
      for (double a : v) m += a;
      m /= double(v.size());
      for (double a : v) sd += (a - m) * (a - m);
      sd = v.size() > 1 ? std::sqrt(sd / double(v.size() - 1)) : 0.0;
      Series& s = by_label[label];
      s.x.push_back(size), s.mean.push_back(m), s.stddev.push_back(sd);
    }
  }
  std::vector<Series> series;
  for (const auto& label : order) series.push_back(by_label[label]);
  line_chart(png, title, "labelled training examples", "patches (at the end of training)", series, true);
}

}  // namespace

std::vector<std::filesystem::path> write_receptive_plots(const ResultsTable& table, const std::filesystem::path& out_dir) {
  std::vector<std::filesystem::path> written;
  // dataset -> model -> train size -> the last evaluation point of each run
  std::map<std::string, std::map<std::string, std::map<double, std::vector<LayerValues>>>> final_points;
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
    if (finished_ok(r.get("status")))
      final_points[datasets[i]][r.get("model")][table.number(r, "train_size")].push_back(points.back().second);
  }
  for (const auto& [dataset, models] : final_points)
    for (const auto& [model, by_size] : models) {
      if (by_size.size() < 2) continue;
      auto png = out_dir / "plots" / fmt::format("receptive_vs_size_{}_{}.png", file_safe(dataset), file_safe(model));
      plot_against_size(fmt::format("{} / {}: receptive field per layer vs training-set size (mean +/- std over seeds)",
                                    dataset, model),
                        by_size, png);
      written.push_back(png);
    }
  return written;
}

}  // namespace rc::exp
