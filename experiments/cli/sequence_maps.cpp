// `receptive attention-map` and `receptive receptive-field` for sequence Transformer runs (issue 13): the attention
// of one query step over the positions, per layer and head; and the mean attention weight by offset j − i between
// key and query over test sequences, with how far each head looks (the attention-weighted mean |offset|) beside
// the same number for attention spread evenly over all steps.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "experiments/cli/panels.hpp"
#include "experiments/plots.hpp"
#include "experiments/run_data.hpp"
#include "framework/io/file_util.hpp"
#include "framework/io/npy.hpp"
#include "models/sequence_transformer.hpp"

namespace rc::cli {

namespace fs = std::filesystem;

namespace {

struct LoadedSequenceRun {
  exp::SequenceRun run;
  std::unique_ptr<exp::RunData> data;
  const data::SequenceSet& test() const { return data->sequences->test; }
};

LoadedSequenceRun load_sequence(const std::string& run_dir) {
  const exp::RunConfig c = exp::read_run_config(run_dir);
  RC_CHECK(c.model_type == "sequence_transformer",
           "{}: model type '{}' has no attention to show (expected sequence_transformer or patch_attention)", run_dir,
           c.model_type);
  LoadedSequenceRun r;
  r.data = exp::load_run_data(c);
  r.run = exp::load_sequence_run(c, exp::run_checkpoint(run_dir, "best"), r.data.get());
  return r;
}

// A curve of `values` over positions in a square panel: the line, the maximum written in a corner, an optional
// marker (the query's position, green).
cv::Mat curve_panel(const std::vector<float>& values, int size, int64_t marker = -1, const std::string& note = "") {
  cv::Mat p(size, size, CV_8UC3, cv::Scalar(255, 255, 255));
  const int n = static_cast<int>(values.size()), pad = 4;
  float hi = 1e-12f;
  for (float v : values) hi = std::max(hi, v);
  auto at = [&](int i, float v) {
    const double x = pad + (n > 1 ? double(i) / (n - 1) : 0.5) * (size - 2 * pad);
    return cv::Point(int(x), int(size - pad - double(v / hi) * (size - 2 * pad - 12)));
  };
  if (marker >= 0 && marker < n) cv::line(p, at(int(marker), 0), {at(int(marker), 0).x, pad}, {0, 170, 0}, 1);
  std::vector<cv::Point> pts;
  for (int i = 0; i < n; ++i) pts.push_back(at(i, values[i]));
  if (n == 1) cv::circle(p, pts[0], 2, {160, 40, 40}, cv::FILLED);
  else cv::polylines(p, pts, false, {160, 40, 40}, 1, cv::LINE_AA);
  cv::putText(p, fmt::format("max {:.3f}{}", hi, note), {pad, 12}, cv::FONT_HERSHEY_SIMPLEX, 0.35, {60, 60, 60}, 1,
              cv::LINE_AA);
  return p;
}

// The query token: "cls" (the class token), "last" (the last step) or a step number.
int64_t query_token(const std::string& q, int64_t length, bool class_token) {
  const int64_t first = class_token ? 1 : 0;
  if (q == "cls") {
    RC_CHECK(class_token, "attention-map: the model has no class token; give --query last or a step 0..{}", length - 1);
    return 0;
  }
  if (q == "last") return first + length - 1;
  char* end = nullptr;
  const long step = std::strtol(q.c_str(), &end, 10);
  RC_CHECK(end && *end == '\0' && !q.empty() && step >= 0 && step < length,
           "attention-map: --query '{}' must be cls, last or a step in [0, {}) for a sequence run", q, length);
  return first + step;
}
}  // namespace

int sequence_attention_map(const MapArgs& a) {
  RC_CHECK(a.image.empty(), "attention-map: --image applies to image runs; {} is a sequence run (give --index)", a.run);
  LoadedSequenceRun r = load_sequence(a.run);
  const int64_t index = std::max<int64_t>(a.index, 0), L = r.run.shape.length;
  RC_CHECK(index < r.test().size(), "attention-map: --index {} outside the {} test sequences", index, r.test().size());
  const Tensor x = data::make_sequence_batch(r.test(), {index}, nullptr);
  // the class token (when there is one) is token 0: probe the token count with the first step as query
  const bool cls = models::sequence_transformer_weights(*r.run.model, x, {0})[0].dim(3) == L + 1;
  const int64_t query = query_token(a.query == "cls" && !cls ? "last" : a.query, L, cls);
  const auto layers = models::sequence_transformer_weights(*r.run.model, x, {query});  // (1, H, 1, tokens)
  std::vector<std::vector<cv::Mat>> panels;
  for (const Tensor& w : layers) {
    std::vector<cv::Mat> row;
    for (int64_t h = 0; h < w.dim(1); ++h) {
      const float* p = w.data() + h * w.dim(3);
      const std::vector<float> steps(p + (cls ? 1 : 0), p + w.dim(3));
      row.push_back(curve_panel(steps, 160, query - (cls ? 1 : 0), cls ? fmt::format(", cls {:.3f}", p[0]) : ""));
    }
    panels.push_back(row);
  }
  const int64_t label = r.test().labels[index];
  const std::string title =
      fmt::format("{}: test sequence {} ({}), query {}; attention over steps 0..{}", fs::path(a.run).filename().string(),
                  index, label < int64_t(r.run.class_names.size()) ? r.run.class_names[label] : std::to_string(label),
                  query == 0 && cls ? "cls" : std::to_string(query - (cls ? 1 : 0)), L - 1);
  fs::create_directories(fs::path(a.out).parent_path().empty() ? "." : fs::path(a.out).parent_path());
  exp::write_png(a.out, grid_of(panels, title), "attention-map");
  fmt::print("attention-map: {} layers x {} heads -> {}\n", layers.size(), layers[0].dim(1), a.out);
  return 0;
}

int sequence_receptive_field(const MapArgs& a) {
  LoadedSequenceRun r = load_sequence(a.run);
  const int64_t n = std::min<int64_t>(a.images, r.test().size()), L = r.run.shape.length, O = 2 * L - 1;
  RC_CHECK(n >= 1, "receptive-field: --images (test sequences) must be >= 1");
  std::vector<int64_t> queries;
  // every step's token as a query (class token excluded); probe whether there is one
  const bool cls =
      models::sequence_transformer_weights(*r.run.model, data::make_sequence_batch(r.test(), {0}, nullptr), {0})[0]
          .dim(3) == L + 1;
  for (int64_t t = 0; t < L; ++t) queries.push_back(t + (cls ? 1 : 0));
  std::vector<std::vector<std::vector<double>>> sums;  // [layer][head][offset + L - 1]
  for (int64_t start = 0; start < n; start += 32) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(n, start + 32); ++i) idx.push_back(i);
    const auto layers =
        models::sequence_transformer_weights(*r.run.model, data::make_sequence_batch(r.test(), idx, nullptr), queries);
    if (sums.empty()) sums.assign(layers.size(), std::vector<std::vector<double>>(layers[0].dim(1), std::vector<double>(O)));
    for (size_t l = 0; l < layers.size(); ++l) {
      const Tensor& w = layers[l];  // (B, H, L, tokens)
      const int64_t H = w.dim(1), T = w.dim(3);
      for (int64_t b = 0; b < w.dim(0); ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t q = 0; q < L; ++q) {
            const float* row = w.data() + ((b * H + h) * L + q) * T + (cls ? 1 : 0);
            for (int64_t k = 0; k < L; ++k) sums[l][h][k - q + L - 1] += row[k];
          }
    }
  }
  // mean weight per (query, key) pair at each offset: L − |o| pairs per sequence
  const int64_t layers_n = int64_t(sums.size()), heads_n = int64_t(sums[0].size());
  Tensor maps = Tensor::zeros({layers_n, heads_n, O});
  std::vector<std::vector<cv::Mat>> panels;
  std::string csv = "layer,head,mean_abs_offset,share_within_1,peak_offset\n";
  fmt::print("{:>6} {:>5} {:>16} {:>14} {:>12}\n", "layer", "head", "mean |offset|", "within ±1", "peak offset");
  for (int64_t l = 0; l < layers_n; ++l) {
    std::vector<cv::Mat> row;
    for (int64_t h = 0; h < heads_n; ++h) {
      std::vector<float> v(O);
      double total = 0, dist = 0, near = 0;
      int64_t peak = 0;
      for (int64_t o = 0; o < O; ++o) {
        const double mass = sums[l][h][o];
        v[o] = float(mass / (double(L - std::abs(o - (L - 1))) * double(n)));
        total += mass, dist += mass * std::abs(o - (L - 1)), near += std::abs(o - (L - 1)) <= 1 ? mass : 0.0;
        if (mass > sums[l][h][peak]) peak = o;
      }
      std::copy(v.begin(), v.end(), maps.data() + (l * heads_n + h) * O);
      row.push_back(curve_panel(v, 160, L - 1));
      const double mean = total > 0 ? dist / total : 0, within = total > 0 ? near / total : 0;
      fmt::print("{:>6} {:>5} {:>16.2f} {:>13.1f}% {:>+12d}\n", l, h, mean, 100 * within, peak - (L - 1));
      csv += fmt::format("{},{},{:.4f},{:.4f},{}\n", l, h, mean, within, peak - (L - 1));
    }
    panels.push_back(row);
  }
  // attention spread evenly over all L keys of each query: E|j − i| = (L² − 1) / (3L)
  fmt::print("(mean |offset| in steps over the step tokens{}; attention spread evenly over all steps gives {:.2f})\n",
             cls ? ", the class token's share left out" : "", (double(L) * L - 1) / (3.0 * L));
  const std::string title = fmt::format("{}: mean attention by offset (key - query, -{}..{}) over {} test sequences",
                                        fs::path(a.run).filename().string(), L - 1, L - 1, n);
  fs::create_directories(fs::path(a.out).parent_path().empty() ? "." : fs::path(a.out).parent_path());
  exp::write_png(a.out, grid_of(panels, title), "receptive-field");
  const std::string npy = fs::path(a.out).replace_extension(".npy").string();
  io::save_npy(npy, maps);
  const std::string csv_path = fs::path(a.out).replace_extension(".csv").string();
  io::write_file_atomic(csv_path, "receptive-field", [&](std::ostream& os) { os << csv; });
  fmt::print("receptive-field: {} layers x {} heads over {} sequences -> {} (maps (L, H, {}) in {}; {})\n", layers_n,
             heads_n, n, a.out, O, npy, csv_path);
  return 0;
}

}  // namespace rc::cli
