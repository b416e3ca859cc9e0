#include "experiments/plots.hpp"
#include "experiments/plots_receptive.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "experiments/run_data.hpp"
#include "framework/core/error.hpp"
#include "framework/io/file_util.hpp"

namespace rc::exp {

namespace {
const std::vector<cv::Scalar> kColours{{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214},
                                       {189, 103, 148}, {75, 86, 140}, {194, 119, 227}, {127, 127, 127}};

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.45, int thickness = 1,
          cv::Scalar colour = {0, 0, 0}) {
  cv::putText(img, s, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv::LINE_AA);
}

// 1, 2 or 5 times a power of ten, at least `raw`
double nice_step(double raw) {
  if (!(raw > 0)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string tick(double v) {
  // 2000 -> "2k", 50000 -> "50k", 1e6 -> "1M" (tick values are 1, 2 or 5 times a power of ten)
  if (std::fabs(v) >= 1e3 && std::fabs(v) < 1e6) return fmt::format("{:g}k", std::round(v / 10) / 100);
  if (std::fabs(v) >= 1e6 && std::fabs(v) < 1e9) return fmt::format("{:g}M", std::round(v / 1e4) / 100);
  if (std::fabs(v) >= 1e9 || (v != 0 && std::fabs(v) < 0.01)) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", std::round(v * 1000) / 1000);
}
}  // namespace

cv::Mat draw_chart(const Chart& c, int w, int h) {
  const int left = 100, right = 220, top = c.note.empty() ? 50 : 68, bottom = 70;
  const auto& series = c.series;
  const bool log_x = c.log_x;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  auto fx = [&](double x) { return log_x ? std::log10(x) : x; };
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, fx(s.x[i]));
      x1 = std::max(x1, fx(s.x[i]));
      y0 = std::min(y0, s.mean[i] - s.stddev[i]);
      y1 = std::max(y1, s.mean[i] + s.stddev[i]);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 - x0 < 1e-9) x0 -= 0.5, x1 += 0.5;
  const double pad = std::max(1e-9, (y1 - y0) * 0.08);
  y0 -= pad;
  y1 += pad;
  auto px = [&](double x) { return int(left + (fx(x) - x0) / (x1 - x0) * (w - left - right)); };
  auto py = [&](double y) { return int(h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)); };
  // axes, grid and ticks
  cv::rectangle(img, {left, top}, {w - right, h - bottom}, {0, 0, 0}, 1);
  const double ystep = nice_step((y1 - y0) / 5);
  for (double y = std::ceil(y0 / ystep) * ystep; y <= y1 + 1e-9; y += ystep) {
    cv::line(img, {left, py(y)}, {w - right, py(y)}, {225, 225, 225}, 1);
    text(img, tick(y), {left - 48, py(y) + 4});
  }
  if (log_x) {
    for (int e = int(std::floor(x0)); e <= int(std::ceil(x1)); ++e)
      for (int m : {1, 2, 5}) {
        double v = m * std::pow(10.0, e);
        if (std::log10(v) < x0 - 1e-9 || std::log10(v) > x1 + 1e-9) continue;
        cv::line(img, {px(v), top}, {px(v), h - bottom}, {225, 225, 225}, 1);
        text(img, tick(v), {px(v) - 12, h - bottom + 18});
      }
  } else {
    const double xstep = c.integer_x ? std::max(1.0, nice_step((x1 - x0) / 6)) : nice_step((x1 - x0) / 6);
    for (double v = std::ceil(x0 / xstep) * xstep; v <= x1 + 1e-9; v += xstep) {
      cv::line(img, {px(v), top}, {px(v), h - bottom}, {225, 225, 225}, 1);
      text(img, tick(v), {px(v) - 12, h - bottom + 18});
    }
  }
  // the title (and note) shrink to fit between the left margin and the image's edge
  auto fitted = [&](const std::string& s, double scale, int thickness, int y) {
    int baseline = 0;
    const int width = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &baseline).width;
    if (width > w - left - 10) scale *= double(w - left - 10) / width;
    text(img, s, {left, y}, scale, thickness);
  };
  fitted(c.title, 0.65, 2, 30);
  if (!c.note.empty()) fitted(c.note, 0.42, 1, 52);
  text(img, c.x_label + (log_x ? " (log scale)" : ""), {left + (w - left - right) / 2 - 80, h - 20}, 0.5);
  cv::Mat ylab(24, 300, CV_8UC3, cv::Scalar(255, 255, 255));
  text(ylab, c.y_label, {4, 17}, 0.5);
  cv::rotate(ylab, ylab, cv::ROTATE_90_COUNTERCLOCKWISE);
  ylab.copyTo(img(cv::Rect(12, top + (h - top - bottom - 300) / 2, ylab.cols, ylab.rows)));
  // markers: a dashed vertical line with its label at the top of the plot area
  for (const auto& [x, label] : c.markers) {
    if (fx(x) < x0 - 1e-9 || fx(x) > x1 + 1e-9) continue;
    for (int y = top; y < h - bottom; y += 10) cv::line(img, {px(x), y}, {px(x), std::min(y + 5, h - bottom)}, {90, 90, 90}, 1);
    text(img, label, {std::min(px(x) + 4, w - right - 150), top + 14}, 0.4, 1, {60, 60, 60});
  }
  // series: shaded bands or error bars, lines, points; legend
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const cv::Scalar col = s.colour >= 0 ? kColours[size_t(s.colour) % kColours.size()] : kColours[k % kColours.size()];
    if (s.band && s.x.size() >= 2) {
      std::vector<cv::Point> poly;
      for (size_t i = 0; i < s.x.size(); ++i) poly.push_back({px(s.x[i]), py(s.mean[i] + s.stddev[i])});
      for (size_t i = s.x.size(); i-- > 0;) poly.push_back({px(s.x[i]), py(s.mean[i] - s.stddev[i])});
      cv::Mat layer = img.clone();
      cv::fillPoly(layer, std::vector<std::vector<cv::Point>>{poly}, col, cv::LINE_AA);
      cv::addWeighted(layer, 0.2, img, 0.8, 0, img);
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      cv::Point p{px(s.x[i]), py(s.mean[i])};
      if (i > 0) {
        const cv::Point a{px(s.x[i - 1]), py(s.mean[i - 1])};
        if (!s.dashed) cv::line(img, a, p, col, 2, cv::LINE_AA);
        else if (i % 2 == 1 || s.x.size() < 6) cv::line(img, a, p, col, 1, cv::LINE_AA);  // every other segment
      }
      if (s.x.size() <= 40 && !s.dashed) cv::circle(img, p, 4, col, cv::FILLED, cv::LINE_AA);
      if (!s.band && s.stddev[i] > 0) {
        int a = py(s.mean[i] - s.stddev[i]), b = py(s.mean[i] + s.stddev[i]);
        cv::line(img, {p.x, a}, {p.x, b}, col, 1, cv::LINE_AA);
        cv::line(img, {p.x - 5, a}, {p.x + 5, a}, col, 1, cv::LINE_AA);
        cv::line(img, {p.x - 5, b}, {p.x + 5, b}, col, 1, cv::LINE_AA);
      }
    }
    const int ly = top + 10 + 22 * int(k);
    cv::line(img, {w - right + 15, ly}, {w - right + 40, ly}, col, s.dashed ? 1 : 2, cv::LINE_AA);
    text(img, s.label.substr(0, 24), {w - right + 46, ly + 5}, 0.45);
  }
  return img;
}

void line_chart(const std::filesystem::path& png, const std::string& title, const std::string& x_label,
                const std::string& y_label, const std::vector<Series>& series, bool log_x) {
  Chart c;
  c.title = title, c.x_label = x_label, c.y_label = y_label, c.series = series, c.log_x = log_x;
  write_png(png, draw_chart(c), "plot");
}

cv::Mat stack_vertically(const std::vector<cv::Mat>& panels) {
  cv::Mat out;
  cv::vconcat(panels, out);
  return out;
}

void check_png_out(const std::filesystem::path& png, const char* who, const char* flag) {
  std::string e = png.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  RC_CHECK(e == ".png", "{}: {} '{}': expected a file name ending in .png (the picture is written as PNG)", who, flag,
           png.string());
}

void confusion_png(const std::filesystem::path& png, const std::string& title, const std::vector<std::string>& names,
                   const std::vector<std::vector<int64_t>>& confusion) {
  const int k = static_cast<int>(names.size()), cell = k <= 12 ? 48 : std::max(12, 576 / k), left = 170, top = 80;
  const int w = std::max(left + k * cell + 40, 520), h = top + k * cell + 150;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  text(img, title.substr(0, 90), {10, 24}, 0.5, 1);
  text(img, "rows: true class, columns: predicted; shade: share of the row", {10, 46}, 0.42, 1, {80, 80, 80});
  for (int t = 0; t < k; ++t) {
    int64_t row = 0;
    for (int64_t v : confusion[t]) row += v;
    text(img, names[t].substr(0, 20), {8, top + t * cell + cell / 2 + 5}, 0.42);
    for (int p = 0; p < k; ++p) {
      const double share = row > 0 ? double(confusion[t][p]) / double(row) : 0.0;
      const int shade = int(255 - 200 * share);
      const cv::Rect r(left + p * cell, top + t * cell, cell, cell);
      cv::rectangle(img, r, t == p ? cv::Scalar(shade, 255 - int(80 * share), shade) : cv::Scalar(shade, shade, 255),
                    cv::FILLED);
      cv::rectangle(img, r, {200, 200, 200}, 1);
      if (cell >= 30 && confusion[t][p] > 0)
        text(img, std::to_string(confusion[t][p]), {r.x + 4, r.y + cell / 2 + 5}, 0.38);
    }
  }
  // column captions, rotated
  for (int p = 0; p < k; ++p) {
    cv::Mat cap(std::max(cell, 16), 140, CV_8UC3, cv::Scalar(255, 255, 255));
    text(cap, names[p].substr(0, 18), {2, std::min(cell, 16) - 4}, 0.4);
    cv::rotate(cap, cap, cv::ROTATE_90_CLOCKWISE);
    const int cw = std::min(cap.cols, cell), ch = std::min(cap.rows, h - (top + k * cell + 4));
    cap(cv::Rect(0, 0, cw, ch)).copyTo(img(cv::Rect(left + p * cell, top + k * cell + 4, cw, ch)));
  }
  write_png(png, img, "confusion matrix");
}

void write_png(const std::filesystem::path& png, const cv::Mat& image, const char* who) {
  std::vector<uint8_t> bytes;
  bool encoded = false;
  try {
    encoded = cv::imencode(".png", image, bytes);
  } catch (const cv::Exception& e) {
    fail("{}: cannot encode {} as PNG: {}", who, png.string(), e.what());
  }
  RC_CHECK(encoded, "{}: cannot encode {} as PNG", who, png.string());
  io::write_bytes_atomic(png.string(), who, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

RunCurves read_run_curves(const std::filesystem::path& metrics_jsonl) {
  RunCurves c;
  std::ifstream in(metrics_jsonl);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("epoch") || !j["epoch"].is_number()) continue;
    auto get = [&](const char* key) {
      return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
    };
    c.epoch.push_back(j["epoch"].get<double>());
    c.train_loss.push_back(get("train_loss"));
    c.train_accuracy.push_back(get("train_accuracy"));
    c.val_loss.push_back(get("val_loss"));
    c.val_accuracy.push_back(get("val_accuracy"));
    c.test_accuracy.push_back(get("test_accuracy"));
  }
  return c;
}

namespace {
// The finite points of one metric as a series (scaled, e.g. 100 for percent).
Series metric_series(const std::string& label, const std::vector<double>& x, const std::vector<double>& y,
                     double scale, int colour, bool dashed = false) {
  Series s;
  s.label = label, s.colour = colour, s.dashed = dashed;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(y[i]) && y[i] >= 0) {
      s.x.push_back(x[i]);
      s.mean.push_back(scale * y[i]);
      s.stddev.push_back(0);
    }
  return s;
}
}  // namespace

cv::Mat run_curve_image(const std::string& run, const RunCurves& c, int64_t selected, const std::string& note) {
  Chart acc, loss;
  acc.title = fmt::format("{}: accuracy per epoch", run);
  acc.note = note;
  acc.x_label = loss.x_label = "epoch";
  acc.integer_x = loss.integer_x = true;
  acc.y_label = "accuracy (%)";
  for (Series s : {metric_series("train", c.epoch, c.train_accuracy, 100, 0),
                   metric_series("validation", c.epoch, c.val_accuracy, 100, 1),
                   metric_series("test", c.epoch, c.test_accuracy, 100, 2)})
    if (!s.x.empty()) acc.series.push_back(s);
  loss.title = fmt::format("{}: loss per epoch (validation: cross-entropy; train: the training objective)", run);
  loss.y_label = "loss";
  for (Series s : {metric_series("train loss", c.epoch, c.train_loss, 1, 0),
                   metric_series("validation loss", c.epoch, c.val_loss, 1, 1)})
    if (!s.x.empty()) loss.series.push_back(s);
  if (selected > 0) {
    acc.markers.push_back({double(selected), fmt::format("selected: epoch {}", selected)});
    loss.markers = acc.markers;
  }
  return stack_vertically({draw_chart(acc, 900, 460), draw_chart(loss, 900, 400)});
}

std::string training_accuracy_note(const std::filesystem::path& run_dir) {
  try {
    const RunConfig c = read_run_config(run_dir);
    auto on = [](const ParamValue& v) {
      if (const double* d = std::get_if<double>(&v)) return *d > 0;
      if (const int64_t* i = std::get_if<int64_t>(&v)) return *i > 0;
      if (const bool* b = std::get_if<bool>(&v)) return *b;
      return false;
    };
    bool dropout = false, augment = false;
    for (const auto& [k, v] : c.model_params.values()) dropout |= k.find("dropout") != std::string::npos && on(v);
    for (const auto& [k, v] : c.dataset.values()) augment |= k.rfind("augment.", 0) == 0 && on(v);
    if (!dropout && !augment) return "";
    return fmt::format("train accuracy: mean over the epoch's training batches in training mode ({}), so it can "
                       "sit below validation", dropout && augment ? "dropout on, augmented images"
                                               : dropout          ? "dropout on"
                                                                  : "augmented images");
  } catch (const std::exception&) {
    return "";
  }
}

std::vector<std::filesystem::path> write_plots(const ResultsTable& table, const std::filesystem::path& out_dir) {
  std::vector<std::filesystem::path> written;
  // dataset -> model -> train size -> accuracies
  std::map<std::string, std::map<std::string, std::map<double, std::vector<double>>>> acc;
  std::vector<std::string> model_order;
  const std::vector<std::string> datasets = dataset_labels(table);
  for (size_t i = 0; i < table.rows().size(); ++i) {
    const ResultRow& r = table.rows()[i];
    if (!finished_ok(r.get("status"))) continue;
    acc[datasets[i]][r.get("model")][table.number(r, "train_size")].push_back(
        100 * table.number(r, "test_accuracy"));
    if (std::find(model_order.begin(), model_order.end(), r.get("model")) == model_order.end())
      model_order.push_back(r.get("model"));
  }
  for (const auto& [dataset, models] : acc) {
    std::vector<Series> series;
    size_t sizes = 0;
    for (const auto& name : model_order) {
      auto it = models.find(name);
      if (it == models.end()) continue;
      Series s;
      s.label = name;
      for (const auto& [size, v] : it->second) {
        double m = 0, sd = 0;
        for (double a : v) m += a;
        m /= v.size();
        for (double a : v) sd += (a - m) * (a - m);
        sd = v.size() > 1 ? std::sqrt(sd / (v.size() - 1)) : 0;
        s.x.push_back(size);
        s.mean.push_back(m);
        s.stddev.push_back(sd);
      }
      sizes = std::max(sizes, s.x.size());
      series.push_back(std::move(s));
    }
    if (sizes < 2) continue;
    auto png = out_dir / "plots" / fmt::format("data_efficiency_{}.png", file_safe(dataset));
    line_chart(png, fmt::format("{}: test accuracy vs training-set size (mean +/- std over seeds)", dataset),
               "labelled training examples", "test accuracy (%)", series, true);
    written.push_back(png);
  }
  for (const auto& r : table.rows()) {
    const auto run_dir = out_dir / "runs" / r.get("run");
    const RunCurves c = read_run_curves(run_dir / "metrics.jsonl");
    if (c.epoch.size() < 2) continue;
    int64_t selected = 0;
    try {
      selected = r.get("best_epoch").empty() ? 0 : std::stoll(r.get("best_epoch"));
    } catch (const std::exception&) {
    }
    auto png = out_dir / "plots" / fmt::format("curve_{}.png", r.get("run"));
    write_png(png, run_curve_image(r.get("run"), c, selected, training_accuracy_note(run_dir)), "plot");
    written.push_back(png);
  }
  for (auto& png : write_receptive_plots(table, out_dir)) written.push_back(std::move(png));
  return written;
}

}  // namespace rc::exp
