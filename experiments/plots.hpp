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
  bool band = false;    // stddev as a shaded band (else error bars where it is > 0)
  bool dashed = false;  // a thin broken line
  int colour = -1;      // index into the palette (-1: the series' position), to keep a model's colour across panels
};

// A chart: series, dashed vertical markers (x, label), a note line under the title.
struct Chart {
  std::string title, x_label, y_label, note;
  std::vector<Series> series;
  bool log_x = false;
  bool integer_x = false;  // x ticks at whole numbers only (epochs)
  std::vector<std::pair<double, std::string>> markers;
};
cv::Mat draw_chart(const Chart& chart, int width = 900, int height = 560);
cv::Mat stack_vertically(const std::vector<cv::Mat>& panels);  // panels of the same width

// A line chart with error bars; log_x puts x on a log10 axis. Writes a PNG.
void line_chart(const std::filesystem::path& png, const std::string& title, const std::string& x_label,
                const std::string& y_label, const std::vector<Series>& series, bool log_x);

// Encodes `image` as PNG and writes it atomically; errors name `who`, the file and the OS's reason.
void write_png(const std::filesystem::path& png, const cv::Mat& image, const char* who);

// Every command that writes a PNG checks its --out first: a name without the .png extension is an error naming
// `who` and `flag` (not an OpenCV error after the work is done).
void check_png_out(const std::filesystem::path& png, const char* who, const char* flag = "--out");

// A confusion matrix (rows: true class, columns: predicted) with counts, shaded by the share of each row.
void confusion_png(const std::filesystem::path& png, const std::string& title, const std::vector<std::string>& names,
                   const std::vector<std::vector<int64_t>>& confusion);

// One run's learning curves from its metrics.jsonl: per evaluation point (epoch), train_loss, train_accuracy,
// val_loss, val_accuracy, test_accuracy (NaN where absent).
struct RunCurves {
  std::vector<double> epoch, train_loss, train_accuracy, val_loss, val_accuracy, test_accuracy;
};
RunCurves read_run_curves(const std::filesystem::path& metrics_jsonl);

// The curve picture of one run: accuracy (train, validation, test) above loss (train, validation), the selected
// epoch marked in both (selected_epoch <= 0: none), `note` under the title.
cv::Mat run_curve_image(const std::string& run, const RunCurves& c, int64_t selected_epoch, const std::string& note);

// What the curve should say about the training accuracy of the run in run_dir (from its config.yaml): with
// dropout or augmentation, it is measured on the training batches in training mode, so it can sit below
// validation. "" when neither applies or the config cannot be read.
std::string training_accuracy_note(const std::filesystem::path& run_dir);

// DIR/plots/data_efficiency_<dataset>.png for every dataset in the table with at least two training sizes,
// and DIR/plots/curve_<run>.png for every run with metrics (run_curve_image: accuracy and loss, the selected
// epoch marked). Returns the files written.
std::vector<std::filesystem::path> write_plots(const ResultsTable& table, const std::filesystem::path& out_dir);

}  // namespace rc::exp
