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

void line_chart(const std::filesystem::path& png, const std::string& title, const std::string& x_label,
                const std::string& y_label, const std::vector<Series>& series, bool log_x) {
  const int w = 900, h = 560, left = 100, right = 220, top = 50, bottom = 70;
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
    const double xstep = nice_step((x1 - x0) / 6);
    for (double v = std::ceil(x0 / xstep) * xstep; v <= x1 + 1e-9; v += xstep) {
      cv::line(img, {px(v), top}, {px(v), h - bottom}, {225, 225, 225}, 1);
      text(img, tick(v), {px(v) - 12, h - bottom + 18});
    }
  }
  // the title shrinks to fit between the left margin and the image's edge
  double title_scale = 0.65;
  int baseline = 0;
  const int title_width = cv::getTextSize(title, cv::FONT_HERSHEY_SIMPLEX, title_scale, 2, &baseline).width;
  if (title_width > w - left - 10) title_scale *= double(w - left - 10) / title_width;
  text(img, title, {left, 30}, title_scale, 2);
  text(img, x_label + (log_x ? " (log scale)" : ""), {left + (w - left - right) / 2 - 80, h - 20}, 0.5);
  cv::Mat ylab(24, 300, CV_8UC3, cv::Scalar(255, 255, 255));
  text(ylab, y_label, {4, 17}, 0.5);
  cv::rotate(ylab, ylab, cv::ROTATE_90_COUNTERCLOCKWISE);
  ylab.copyTo(img(cv::Rect(12, top + (h - top - bottom - 300) / 2, ylab.cols, ylab.rows)));
  // series: line, points, error bars; legend
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const cv::Scalar c = kColours[k % kColours.size()];
    for (size_t i = 0; i < s.x.size(); ++i) {
      cv::Point p{px(s.x[i]), py(s.mean[i])};
      if (i > 0) cv::line(img, {px(s.x[i - 1]), py(s.mean[i - 1])}, p, c, 2, cv::LINE_AA);
      if (s.x.size() <= 40) cv::circle(img, p, 4, c, cv::FILLED, cv::LINE_AA);
      if (s.stddev[i] > 0) {
        int a = py(s.mean[i] - s.stddev[i]), b = py(s.mean[i] + s.stddev[i]);
        cv::line(img, {p.x, a}, {p.x, b}, c, 1, cv::LINE_AA);
        cv::line(img, {p.x - 5, a}, {p.x + 5, a}, c, 1, cv::LINE_AA);
        cv::line(img, {p.x - 5, b}, {p.x + 5, b}, c, 1, cv::LINE_AA);
      }
    }
    const int ly = top + 10 + 22 * int(k);
    cv::line(img, {w - right + 15, ly}, {w - right + 40, ly}, c, 2, cv::LINE_AA);
    text(img, s.label.substr(0, 24), {w - right + 46, ly + 5}, 0.45);
  }
  write_png(png, img, "plot");
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

std::vector<std::filesystem::path> write_plots(const ResultsTable& table, const std::filesystem::path& out_dir) {
  std::vector<std::filesystem::path> written;
  // dataset -> model -> train size -> accuracies
  std::map<std::string, std::map<std::string, std::map<double, std::vector<double>>>> acc;
  std::vector<std::string> model_order;
  for (const auto& r : table.rows()) {
    if (!finished_ok(r.get("status"))) continue;
    acc[r.get("dataset")][r.get("model")][table.number(r, "train_size")].push_back(
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
    auto png = out_dir / "plots" / fmt::format("data_efficiency_{}.png", dataset);
    line_chart(png, fmt::format("{}: test accuracy vs training-set size (mean +/- std over seeds)", dataset),
               "labelled training examples", "test accuracy (%)", series, true);
    written.push_back(png);
  }
  for (const auto& r : table.rows()) {
    std::ifstream in(out_dir / "runs" / r.get("run") / "metrics.jsonl");
    Series train{"train", {}, {}, {}}, val{"validation", {}, {}, {}}, test{"test", {}, {}, {}};
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("epoch")) continue;
      const double e = j["epoch"].get<double>();
      auto add = [&](Series& s, const char* key) {
        if (j.contains(key) && j[key].is_number() && j[key].get<double>() >= 0) {
          s.x.push_back(e);
          s.mean.push_back(100 * j[key].get<double>());
          s.stddev.push_back(0);
        }
      };
      add(train, "train_accuracy");
      add(val, "val_accuracy");
      add(test, "test_accuracy");
    }
    if (train.x.size() < 2) continue;
    auto png = out_dir / "plots" / fmt::format("curve_{}.png", r.get("run"));
    line_chart(png, fmt::format("{}: accuracy per epoch", r.get("run")), "epoch", "accuracy (%)", {train, val, test},
               false);
    written.push_back(png);
  }
  for (auto& png : write_receptive_plots(table, out_dir)) written.push_back(std::move(png));
  return written;
}

}  // namespace rc::exp
