// `receptive attention-map` and `receptive receptive-field`: pictures of what a trained patch-attention model
// looks at. Both load a run folder (runs/<run>/config.yaml + best.safetensors); the dataset too, except for
// `attention-map --image FILE` with a checkpoint that records its input's shape and normalisation.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "datasets/image/folder.hpp"
#include "experiments/cli/commands.hpp"
#include "experiments/cli/panels.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/config/yaml_params.hpp"
#include "experiments/plots.hpp"
#include "experiments/run_data.hpp"
#include "experiments/runner.hpp"
#include "experiments/train/checkpoint.hpp"
#include "framework/io/file_util.hpp"
#include "framework/io/npy.hpp"
#include "framework/io/safetensors.hpp"
#include "models/patch_attention.hpp"
#include "models/registry.hpp"

namespace rc::cli {

namespace fs = std::filesystem;

namespace {
struct LoadedRun {
  std::shared_ptr<models::ImageModel> model;
  std::unique_ptr<exp::RunData> data;  // null when the run was loaded without its dataset
  exp::ImageInputInfo input;  // shape, normalisation and class names the model was trained with
  models::PatchLayout layout;
  const data::ImageDataset& test() const { return data->images->test; }
};

// A run folder's model with its best weights (exp::load_image_run). need_data = false loads the dataset only
// when best.safetensors does not record the input (checkpoints written before image_input_metadata existed); it
// is then prepared as the runner does (the same images, the same normalisation statistics).
LoadedRun load_run(const std::string& run_dir, bool need_data = true) {
  const exp::RunConfig c = exp::read_run_config(run_dir);
  RC_CHECK(c.model_type == "patch_attention", "{}: model type '{}' has no attention to show (expected patch_attention)",
           run_dir, c.model_type);
  const fs::path weights = exp::run_checkpoint(run_dir, "best");
  LoadedRun r;
  if (need_data || !exp::checkpoint_records_input(weights)) {
    if (!need_data)
      fmt::print(stderr, "{}: the checkpoint does not record how its input was normalised (trained before that was "
                 "saved); loading dataset '{}' to recompute it as the runner does\n", weights.string(),
                 c.dataset.get_string("name"));
    r.data = exp::load_run_data(c);
  }
  exp::ImageRun run = exp::load_image_run(c, weights, r.data.get());
  r.model = run.model;
  r.input = run.input;
  r.layout = models::patch_layout(*r.model);
  for (const models::PatchLayout& l : models::patch_block_layouts(*r.model))
    RC_CHECK(l.grid_h == r.layout.grid_h && l.grid_w == r.layout.grid_w,
             "{}: the model merges its patch grid between blocks (merge_after), and attention-map and "
             "receptive-field draw one grid for all layers; the per-layer receptive field of such a model is in "
             "its metrics.jsonl (receptive_field) and `receptive report`'s plots", run_dir);
  return r;
}

// An image file decoded and resized as the image-folder loader does (OpenCV, INTER_AREA, RGB byte order for
// colour), to the run's channels and size: a one-image dataset.
data::ImageDataset read_image_file(const std::string& path, const exp::ImageInputInfo& in) {
  const auto& sh = in.shape;
  RC_CHECK(sh.channels == 1 || sh.channels == 3, "attention-map: the run's images have {} channels (expected 1 or 3)",
           sh.channels);
  std::error_code ec;
  RC_CHECK(fs::is_regular_file(path, ec), "attention-map: --image {}: no such file", path);
  data::ImageDataset d;
  d.channels = sh.channels;
  d.height = sh.height;
  d.width = sh.width;
  d.class_names = in.class_names;
  d.labels = {0};
  bool decoded = false;
  try {
    decoded = data::decode_image(path, sh.channels, sh.height, sh.width, d.pixels);
  } catch (const Error& e) {
    fail("attention-map: --image {}: cannot decode it as an image: {}", path, e.what());
  }
  RC_CHECK(decoded, "attention-map: --image {}: cannot decode it as an image (PNG, JPG or BMP)", path);
  return d;
}

// The image as 8-bit BGR for drawing (from the dataset's bytes, CHW).
cv::Mat to_bgr(const data::ImageDataset& d, int64_t index) {
  const int h = int(d.height), w = int(d.width);
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const int64_t ch = d.channels == 1 ? 0 : 2 - c;  // RGB bytes to BGR
        img.at<cv::Vec3b>(y, x)[c] = d.image(index)[ch * h * w + y * w + x];
      }
  return img;
}

// A heat map of `values` (rows × cols, any range) blended over `base` (both drawn at `size` pixels square).
cv::Mat overlay(const cv::Mat& base, const std::vector<float>& values, int rows, int cols, int size) {
  cv::Mat heat(rows, cols, CV_32F);
  float hi = 1e-12f;
  for (float v : values) hi = std::max(hi, v);
  for (int i = 0; i < rows * cols; ++i) heat.at<float>(i / cols, i % cols) = values[i] / hi;
  cv::Mat heat8, colour, b;
  heat.convertTo(heat8, CV_8U, 255.0);
  cv::resize(heat8, heat8, {size, size}, 0, 0, cv::INTER_NEAREST);
  cv::applyColorMap(heat8, colour, cv::COLORMAP_INFERNO);
  if (base.empty()) return colour;
  cv::resize(base, b, {size, size}, 0, 0, cv::INTER_NEAREST);
  cv::Mat out;
  cv::addWeighted(b, 0.45, colour, 0.55, 0, out);
  return out;
}

}  // namespace

// Panels in a layers × heads grid with row and column captions (also used by sequence_maps.cpp).
cv::Mat grid_of(const std::vector<std::vector<cv::Mat>>& panels, const std::string& title) {
  const int rows = int(panels.size()), cols = int(panels[0].size()), size = panels[0][0].cols, gap = 6, head = 50,
            side = 70;
  cv::Mat img(head + rows * (size + gap), side + cols * (size + gap), CV_8UC3, cv::Scalar(255, 255, 255));
  int baseline = 0;  // shrink the title font until the title fits the width
  const int title_width = cv::getTextSize(title, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &baseline).width;
  const double title_scale = 0.5 * std::min(1.0, double(img.cols - 16) / std::max(title_width, 1));
  cv::putText(img, title, {8, 20}, cv::FONT_HERSHEY_SIMPLEX, title_scale, {0, 0, 0}, 1, cv::LINE_AA);
  for (int c = 0; c < cols; ++c)
    cv::putText(img, fmt::format("head {}", c), {side + c * (size + gap) + 4, head - 8}, cv::FONT_HERSHEY_SIMPLEX,
                0.45, {0, 0, 0}, 1, cv::LINE_AA);
  for (int r = 0; r < rows; ++r) {
    cv::putText(img, fmt::format("layer {}", r), {6, head + r * (size + gap) + size / 2}, cv::FONT_HERSHEY_SIMPLEX,
                0.45, {0, 0, 0}, 1, cv::LINE_AA);
    for (int c = 0; c < cols; ++c)
      panels[r][c].copyTo(img(cv::Rect(side + c * (size + gap), head + r * (size + gap), size, size)));
  }
  return img;
}

int attention_map(const MapArgs& a) {
  exp::check_png_out(a.out, "attention-map");
  if (exp::read_run_config(a.run).sequence) return sequence_attention_map(a);
  RC_CHECK(a.image.empty() || a.index < 0, "attention-map: give --index (a test image) or --image FILE, not both");
  const bool from_file = !a.image.empty();
  LoadedRun r = load_run(a.run, !from_file);
  data::ImageDataset file_image;
  if (from_file) file_image = read_image_file(a.image, r.input);
  const data::ImageDataset& images = from_file ? file_image : r.test();
  const int64_t index = from_file ? 0 : std::max<int64_t>(a.index, 0);
  RC_CHECK(index < images.size(), "attention-map: --index {} outside the {} test images", index, images.size());
  const auto& L = r.layout;
  int64_t query = 0;  // class token
  if (a.query != "cls") {
    int64_t qr = -1, qc = -1;
    RC_CHECK(std::sscanf(a.query.c_str(), "%ld,%ld", &qr, &qc) == 2 && qr >= 0 && qr < L.grid_h && qc >= 0 &&
                 qc < L.grid_w,
             "attention-map: --query '{}' must be cls or row,col inside the {}x{} patch grid", a.query, L.grid_h,
             L.grid_w);
    query = L.first_patch() + qr * L.grid_w + qc;
  } else {
    RC_CHECK(L.class_token, "attention-map: the model has no class token; give --query row,col");
  }
  // normalised exactly as the run's training data
  Tensor x = data::make_batch(images, {index}, {}, r.input.normalize, false, 0, nullptr);
  auto layers = models::patch_attention_weights(*r.model, x, {query});
  const cv::Mat base = to_bgr(images, index);
  const int size = 140;
  std::vector<std::vector<cv::Mat>> panels;
  for (const Tensor& w : layers) {  // (1, H, 1, N)
    std::vector<cv::Mat> row;
    for (int64_t h = 0; h < w.dim(1); ++h) {
      std::vector<float> v(L.grid_h * L.grid_w);
      for (int64_t t = 0; t < L.grid_h * L.grid_w; ++t) v[t] = w.data()[h * w.dim(3) + L.first_patch() + t];
      cv::Mat p = overlay(base, v, int(L.grid_h), int(L.grid_w), size);
      if (query >= L.first_patch()) {
        const int64_t q = query - L.first_patch(), cell = size / L.grid_w;
        cv::rectangle(p, cv::Rect(int(q % L.grid_w * cell), int(q / L.grid_w * cell), int(cell), int(cell)),
                      {0, 255, 0}, 2);
      }
      row.push_back(p);
    }
    panels.push_back(row);
  }
  std::string what;
  if (from_file) {
    NoGradGuard no_grad;
    const Tensor logits = r.model->forward(Var(x)).value();  // (1, classes)
    const int64_t best = std::max_element(logits.data(), logits.data() + logits.numel()) - logits.data();
    what = fmt::format("{} (predicted {})", fs::path(a.image).filename().string(),
                       best < int64_t(r.input.class_names.size()) ? r.input.class_names[best] : std::to_string(best));
  } else {
    what = fmt::format("test image {} ({})", index, images.class_names[images.labels[index]]);
  }
  const std::string title = fmt::format("{}: {}, query {}", fs::path(a.run).filename().string(), what, a.query);
  fs::create_directories(fs::path(a.out).parent_path().empty() ? "." : fs::path(a.out).parent_path());
  exp::write_png(a.out, grid_of(panels, title), "attention-map");
  fmt::print("attention-map: {} layers x {} heads -> {}\n", layers.size(), layers[0].dim(1), a.out);
  return 0;
}

namespace {
// Attention mass by 2-D offset (key − query) over a run's test images: sums[layer][head][offset] of the weights,
// counts[offset] of (query, key) pairs per image, in a (2 grid_h − 1) × (2 grid_w − 1) row-major map.
struct OffsetMass {
  int64_t oh = 0, ow = 0, images = 0;
  std::vector<std::vector<std::vector<double>>> sums;
  std::vector<double> counts;
};

OffsetMass attention_by_offset(LoadedRun& r, int64_t n_img) {
  const auto& test = r.test();
  const auto& L = r.layout;
  OffsetMass m;
  m.oh = 2 * L.grid_h - 1, m.ow = 2 * L.grid_w - 1, m.images = n_img;
  const int64_t cells = L.grid_h * L.grid_w, ow = m.ow;
  auto offset = [&](int64_t q, int64_t k) {
    return (k / L.grid_w - q / L.grid_w + L.grid_h - 1) * ow + (k % L.grid_w - q % L.grid_w + L.grid_w - 1);
  };
  std::vector<int64_t> queries;
  for (int64_t t = 0; t < cells; ++t) queries.push_back(L.first_patch() + t);
  m.counts.assign(m.oh * m.ow, 0.0);
  for (int64_t q = 0; q < cells; ++q)
    for (int64_t k = 0; k < cells; ++k) m.counts[offset(q, k)] += 1;
  for (int64_t start = 0; start < n_img; start += 100) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(n_img, start + 100); ++i) idx.push_back(i);
    Tensor x = data::make_batch(test, idx, {}, r.input.normalize, false, 0, nullptr);
    auto layers = models::patch_attention_weights(*r.model, x, queries);  // (B, H, cells, N)
    if (m.sums.empty())
      m.sums.assign(layers.size(), std::vector<std::vector<double>>(layers[0].dim(1), std::vector<double>(m.oh * m.ow, 0.0)));
    for (size_t l = 0; l < layers.size(); ++l) {
      const Tensor& w = layers[l];
      const int64_t H = w.dim(1), N = w.dim(3);
      for (int64_t b = 0; b < w.dim(0); ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t q = 0; q < cells; ++q) {
            const float* row = w.data() + ((b * H + h) * cells + q) * N + L.first_patch();
            for (int64_t k = 0; k < cells; ++k) m.sums[l][h][offset(q, k)] += row[k];
          }
    }
  }
  return m;
}

// The mean attention weight per (query, key) pair at each offset: <out> (a panel per layer and head) and <out>.npy.
void write_offset_maps(const MapArgs& a, const LoadedRun& r, const OffsetMass& m) {
  const auto& L = r.layout;
  const int64_t oh = m.oh, ow = m.ow;
  std::vector<std::vector<cv::Mat>> panels;
  const int64_t layers_n = static_cast<int64_t>(m.sums.size()), heads_n = static_cast<int64_t>(m.sums[0].size());
  Tensor maps = Tensor::zeros({layers_n, heads_n, oh, ow});
  for (int64_t l = 0; l < layers_n; ++l) {
    std::vector<cv::Mat> row;
    for (int64_t h = 0; h < heads_n; ++h) {
      std::vector<float> v(oh * ow);
      for (int64_t o = 0; o < oh * ow; ++o) v[o] = float(m.sums[l][h][o] / (m.counts[o] * m.images));
      std::copy(v.begin(), v.end(), maps.data() + (l * heads_n + h) * oh * ow);
      cv::Mat p = overlay(cv::Mat(), v, int(oh), int(ow), 140);
      const int cell = 140 / int(ow);
      cv::rectangle(p, cv::Rect(int(L.grid_w - 1) * cell, int(L.grid_h - 1) * cell, cell, cell), {0, 255, 0}, 1);
      row.push_back(p);
    }
    panels.push_back(row);
  }
  const std::string title = fmt::format("{}: mean attention by offset over {} test images",
                                        fs::path(a.run).filename().string(), m.images);
  fs::create_directories(fs::path(a.out).parent_path().empty() ? "." : fs::path(a.out).parent_path());
  exp::write_png(a.out, grid_of(panels, title), "receptive-field");
  const std::string npy = (fs::path(a.out).replace_extension(".npy")).string();
  io::save_npy(npy, maps);
  fmt::print("receptive-field: {} layers x {} heads over {} images -> {} (maps (L, H, {}, {}) in {})\n", layers_n,
             heads_n, m.images, a.out, oh, ow, npy);
}

// How local each head is, as numbers: the mean query-key distance in patches (Euclidean, weighted by the
// attention), the share of the attention that stays within the 3×3 neighbourhood of the query, and the
// offset that receives the largest share (a head that attends to one fixed shift, like one tap of a
// convolution kernel, has a large peak share), beside the same numbers for attention spread evenly over
// the grid. Printed and written to <out>.csv.
void write_locality(const MapArgs& a, const LoadedRun& r, const OffsetMass& m) {
  const auto& L = r.layout;
  const int64_t oh = m.oh, ow = m.ow;
  const int64_t layers_n = static_cast<int64_t>(m.sums.size()), heads_n = static_cast<int64_t>(m.sums[0].size());
  auto dist = [&](int64_t o) { return std::hypot(double(o / ow - (L.grid_h - 1)), double(o % ow - (L.grid_w - 1))); };
  auto near = [&](int64_t o) { return std::abs(o / ow - (L.grid_h - 1)) <= 1 && std::abs(o % ow - (L.grid_w - 1)) <= 1; };
  struct Locality {
    double mean_distance = 0, within = 0, peak_share = 0;
    int64_t peak = 0;  // the offset holding the largest share (row-major in the (2 grid_h - 1) x (2 grid_w - 1) map)
  };
  auto locality = [&](const std::vector<double>& mass) {
    double total = 0, d = 0, in = 0;
    Locality r;
    for (int64_t o = 0; o < oh * ow; ++o) {
      total += mass[o], d += mass[o] * dist(o), in += near(o) ? mass[o] : 0.0;
      if (mass[o] > mass[r.peak]) r.peak = o;
    }
    if (total > 0) r.mean_distance = d / total, r.within = in / total, r.peak_share = mass[r.peak] / total;
    return r;
  };
  auto offset_str = [&](int64_t o) { return fmt::format("{:+d} {:+d}", o / ow - (L.grid_h - 1), o % ow - (L.grid_w - 1)); };
  const Locality even = locality(m.counts);
  const std::string csv = (fs::path(a.out).replace_extension(".csv")).string();
  std::string text = "layer,head,mean_distance,within_3x3,peak_offset,peak_share\n";
  text += fmt::format("uniform,,{:.3f},{:.4f},{},{:.4f}\n", even.mean_distance, even.within, offset_str(even.peak),
                      even.peak_share);
  fmt::print("{:>6} {:>5} {:>14} {:>11} {:>12} {:>11}\n", "layer", "head", "mean distance", "within 3x3", "peak offset",
             "peak share");
  auto row = [&](const std::string& l, const std::string& h, const Locality& x) {
    fmt::print("{:>6} {:>5} {:>14.2f} {:>10.1f}% {:>12} {:>10.1f}%\n", l, h, x.mean_distance, 100 * x.within,
               offset_str(x.peak), 100 * x.peak_share);
  };
  row("even", "", even);
  for (int64_t l = 0; l < layers_n; ++l)
    for (int64_t h = 0; h < heads_n; ++h) {
      const Locality x = locality(m.sums[l][h]);
      row(std::to_string(l), std::to_string(h), x);
      text += fmt::format("{},{},{:.3f},{:.4f},{},{:.4f}\n", l, h, x.mean_distance, x.within, offset_str(x.peak),
                          x.peak_share);
    }
  io::write_file_atomic(csv, "receptive-field", [&](std::ostream& os) { os << text; });
  fmt::print("(mean distance in patches; offsets are rows, columns from the query; 'even' is attention spread "
             "evenly over the grid) -> {}\n", csv);
}
}  // namespace

int receptive_field(const MapArgs& a) {
  exp::check_png_out(a.out, "receptive-field");
  if (exp::read_run_config(a.run).sequence) return sequence_receptive_field(a);
  LoadedRun r = load_run(a.run);
  const int64_t n_img = std::min<int64_t>(a.images, r.test().size());
  RC_CHECK(n_img >= 1, "receptive-field: --images must be >= 1");
  const OffsetMass m = attention_by_offset(r, n_img);
  write_offset_maps(a, r, m);
  write_locality(a, r, m);
  return 0;
}


}  // namespace rc::cli
