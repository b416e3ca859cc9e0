#pragma once
// Pictures with OpenCV (PNG): the data-efficiency plot (test accuracy against training-set size on a log axis,
// one line per model, mean ± std over seeds as error bars, labelled axes, legend) and per-run learning curves.
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "experiments/results.hpp"

namespace rc::exp {

struct Series {
  std::string label;
  std::vector<double> x, mean, stddev;  // x ascending
};

// A line chart with error bars; log_x puts x on a log10 axis. Writes a PNG.
void line_chart(const std::filesystem::path& png, const std::string& title, const std::string& x_label,
                const std::string& y_label, const std::vector<Series>& series, bool log_x);

// Encodes `image` as PNG and writes it atomically; errors name `who`, the file and the OS's reason.
void write_png(const std::filesystem::path& png, const cv::Mat& image, const char* who);

// DIR/plots/data_efficiency_<dataset>.png for every dataset in the table with at least two training sizes,
// and DIR/plots/curve_<run>.png for every run with metrics. Returns the files written.
std::vector<std::filesystem::path> write_plots(const ResultsTable& table, const std::filesystem::path& out_dir);

}  // namespace rc::exp
