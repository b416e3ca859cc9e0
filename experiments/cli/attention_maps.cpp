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
  models::PatchLayout layout;               // the first grid (the patch embedding's): queries are given on it
  std::vector<models::PatchLayout> grids;   // the grid of each block (they differ after merge_after)
  const data::ImageDataset& test() const { return data->images->test; }
  // The token of block l's grid that holds first-grid patch t (0 <= t < cells of the first grid).
  int64_t cell_in(size_t l, int64_t t) const {
    const int64_t s = layout.grid_h / grids[l].grid_h;
    return t / layout.grid_w / s * grids[l].grid_w + t % layout.grid_w / s;
  }
  bool one_grid() const {
    for (const auto& g : grids)
      if (g.grid_h != layout.grid_h || g.grid_w != layout.grid_w) return false;
    return true;
  }
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
  r.grids = models::patch_block_layouts(*r.model);
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
  for (size_t l = 0; l < layers.size(); ++l) {  // (1, H, 1, N) over block l's grid
    const Tensor& w = layers[l];
    const models::PatchLayout& G = r.grids[l];
    std::vector<cv::Mat> row;
    for (int64_t h = 0; h < w.dim(1); ++h) {
      std::vector<float> v(G.grid_h * G.grid_w);
      for (int64_t t = 0; t < G.grid_h * G.grid_w; ++t) v[t] = w.data()[h * w.dim(3) + G.first_patch() + t];
      cv::Mat p = overlay(base, v, int(G.grid_h), int(G.grid_w), size);
      if (query >= L.first_patch()) {  // the cell of this block's grid that holds the query patch
        const int64_t q = r.cell_in(l, query - L.first_patch()), cell = size / G.grid_w;
        cv::rectangle(p, cv::Rect(int(q % G.grid_w * cell), int(q / G.grid_w * cell), int(cell), int(cell)),
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
// Attention mass by 2-D offset (key − query) over a run's test images, per layer on that layer's grid:
// sums[layer][head][offset] of the weights, counts[layer][offset] of (query, key) pairs per image, in a
// (2 gh − 1) × (2 gw − 1) row-major map of the layer's grid gh × gw. The queries are the first grid's patches;
// after a merge each stands for the cell that holds it, so every cell counts as often as any other.
struct OffsetMass {
  int64_t images = 0;
  std::vector<int64_t> oh, ow;
  std::vector<std::vector<std::vector<double>>> sums;
  std::vector<std::vector<double>> counts;
};

OffsetMass attention_by_offset(LoadedRun& r, int64_t n_img) {
  const auto& test = r.test();
  const auto& L = r.layout;
  const size_t n_layers = r.grids.size();
  OffsetMass m;
  m.images = n_img;
  const int64_t cells = L.grid_h * L.grid_w;
  auto offset = [&](size_t l, int64_t q, int64_t k) {
    const models::PatchLayout& G = r.grids[l];
    return (k / G.grid_w - q / G.grid_w + G.grid_h - 1) * m.ow[l] + (k % G.grid_w - q % G.grid_w + G.grid_w - 1);
  };
  std::vector<int64_t> queries;
  for (int64_t t = 0; t < cells; ++t) queries.push_back(L.first_patch() + t);
  for (size_t l = 0; l < n_layers; ++l) {
    const models::PatchLayout& G = r.grids[l];
    m.oh.push_back(2 * G.grid_h - 1), m.ow.push_back(2 * G.grid_w - 1);
    m.counts.emplace_back(m.oh[l] * m.ow[l], 0.0);
    for (int64_t t = 0; t < cells; ++t)
      for (int64_t k = 0; k < G.grid_h * G.grid_w; ++k) m.counts[l][offset(l, r.cell_in(l, t), k)] += 1;
  }
  for (int64_t start = 0; start < n_img; start += 100) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(n_img, start + 100); ++i) idx.push_back(i);
    Tensor x = data::make_batch(test, idx, {}, r.input.normalize, false, 0, nullptr);
    auto layers = models::patch_attention_weights(*r.model, x, queries);  // (B, H, cells, N of the layer)
    if (m.sums.empty())
      for (size_t l = 0; l < n_layers; ++l)
        m.sums.emplace_back(layers[l].dim(1), std::vector<double>(m.oh[l] * m.ow[l], 0.0));
    for (size_t l = 0; l < layers.size(); ++l) {
      const Tensor& w = layers[l];
      const models::PatchLayout& G = r.grids[l];
      const int64_t H = w.dim(1), N = w.dim(3), keys = G.grid_h * G.grid_w;
      for (int64_t b = 0; b < w.dim(0); ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t t = 0; t < cells; ++t) {
            const float* row = w.data() + ((b * H + h) * cells + t) * N + G.first_patch();
            const int64_t q = r.cell_in(l, t);
            for (int64_t k = 0; k < keys; ++k) m.sums[l][h][offset(l, q, k)] += row[k];
          }
    }
  }
  return m;
}

// The mean attention weight per (query, key) pair at each offset: <out> (a panel per layer and head) and <out>.npy
// (layers, heads, oh, ow); when the layers' grids differ (merge_after), <out>_layer<l>.npy (heads, oh, ow) per layer.
void write_offset_maps(const MapArgs& a, const LoadedRun& r, const OffsetMass& m) {
  std::vector<std::vector<cv::Mat>> panels;
  const int64_t layers_n = static_cast<int64_t>(m.sums.size()), heads_n = static_cast<int64_t>(m.sums[0].size());
  std::vector<Tensor> maps;
  for (int64_t l = 0; l < layers_n; ++l) {
    const models::PatchLayout& G = r.grids[l];
    const int64_t oh = m.oh[l], ow = m.ow[l];
    Tensor lm = Tensor::zeros({heads_n, oh, ow});
    std::vector<cv::Mat> row;
    for (int64_t h = 0; h < heads_n; ++h) {
      std::vector<float> v(oh * ow);
      for (int64_t o = 0; o < oh * ow; ++o) v[o] = float(m.sums[l][h][o] / (m.counts[l][o] * m.images));
      std::copy(v.begin(), v.end(), lm.data() + h * oh * ow);
      cv::Mat p = overlay(cv::Mat(), v, int(oh), int(ow), 140);
      const int cell = 140 / int(ow);
      cv::rectangle(p, cv::Rect(int(G.grid_w - 1) * cell, int(G.grid_h - 1) * cell, cell, cell), {0, 255, 0}, 1);
      row.push_back(p);
    }
    panels.push_back(row);
    maps.push_back(lm);
  }
  const std::string title = fmt::format("{}: mean attention by offset over {} test images",
                                        fs::path(a.run).filename().string(), m.images);
  fs::create_directories(fs::path(a.out).parent_path().empty() ? "." : fs::path(a.out).parent_path());
  exp::write_png(a.out, grid_of(panels, title), "receptive-field");
  if (r.one_grid()) {
    const int64_t oh = m.oh[0], ow = m.ow[0];
    Tensor all = Tensor::zeros({layers_n, heads_n, oh, ow});
    for (int64_t l = 0; l < layers_n; ++l)
      std::copy(maps[l].data(), maps[l].data() + maps[l].numel(), all.data() + l * heads_n * oh * ow);
    const std::string npy = (fs::path(a.out).replace_extension(".npy")).string();
    io::save_npy(npy, all);
    fmt::print("receptive-field: {} layers x {} heads over {} images -> {} (maps (L, H, {}, {}) in {})\n", layers_n,
               heads_n, m.images, a.out, oh, ow, npy);
    return;
  }
  fs::path stem = fs::path(a.out);
  stem.replace_extension();
  for (int64_t l = 0; l < layers_n; ++l)
    io::save_npy(fmt::format("{}_layer{}.npy", stem.string(), l), maps[l]);
  fmt::print("receptive-field: {} layers x {} heads over {} images -> {} (the layers' grids differ: maps (H, 2gh-1, "
             "2gw-1) of each layer's grid in {}_layer<l>.npy)\n", layers_n, heads_n, m.images, a.out, stem.string());
}

// How local each head is, as numbers: the mean query-key distance in patches (Euclidean, weighted by the
// attention), the share of the attention that stays within the 3×3 neighbourhood of the query, and the
// offset that receives the largest share (a head that attends to one fixed shift, like one tap of a
// convolution kernel, has a large peak share), beside the same numbers for attention spread evenly over
// the grid. Printed and written to <out>.csv.
void write_locality(const MapArgs& a, const LoadedRun& r, const OffsetMass& m) {
  const int64_t layers_n = static_cast<int64_t>(m.sums.size()), heads_n = static_cast<int64_t>(m.sums[0].size());
  struct Locality {
    double mean_distance = 0, within = 0, peak_share = 0;
    int64_t peak = 0;  // the offset holding the largest share (row-major in the (2 grid_h - 1) x (2 grid_w - 1) map)
  };
  // in layer l's grid: offset o's (rows, columns) from the query
  auto dr = [&](size_t l, int64_t o) { return o / m.ow[l] - (r.grids[l].grid_h - 1); };
  auto dc = [&](size_t l, int64_t o) { return o % m.ow[l] - (r.grids[l].grid_w - 1); };
  auto locality = [&](size_t l, const std::vector<double>& mass) {
    double total = 0, d = 0, in = 0;
    Locality x;
    for (int64_t o = 0; o < m.oh[l] * m.ow[l]; ++o) {
      total += mass[o], d += mass[o] * std::hypot(double(dr(l, o)), double(dc(l, o)));
      in += std::abs(dr(l, o)) <= 1 && std::abs(dc(l, o)) <= 1 ? mass[o] : 0.0;
      if (mass[o] > mass[x.peak]) x.peak = o;
    }
    if (total > 0) x.mean_distance = d / total, x.within = in / total, x.peak_share = mass[x.peak] / total;
    return x;
  };
  auto offset_str = [&](size_t l, int64_t o) { return fmt::format("{:+d} {:+d}", dr(l, o), dc(l, o)); };
  const bool one_grid = r.one_grid();
  const std::string csv = (fs::path(a.out).replace_extension(".csv")).string();
  std::string text = "layer,head,mean_distance,within_3x3,peak_offset,peak_share\n";
  fmt::print("{:>6} {:>5} {:>14} {:>11} {:>12} {:>11}\n", "layer", "head", "mean distance", "within 3x3", "peak offset",
             "peak share");
  auto row = [&](size_t l, const std::string& name, const std::string& h, const Locality& x) {
    fmt::print("{:>6} {:>5} {:>14.2f} {:>10.1f}% {:>12} {:>10.1f}%\n", name, h, x.mean_distance, 100 * x.within,
               offset_str(l, x.peak), 100 * x.peak_share);
  };
  // attention spread evenly over the grid: once, or (merge_after) before the first layer of each grid
  auto even_row = [&](size_t l) {
    const Locality even = locality(l, m.counts[l]);
    const std::string grid = one_grid ? "" : fmt::format(" {}x{}", r.grids[l].grid_h, r.grids[l].grid_w);
    text += fmt::format("uniform{},,{:.3f},{:.4f},{},{:.4f}\n", grid, even.mean_distance, even.within,
                        offset_str(l, even.peak), even.peak_share);
    row(l, "even" + grid, "", even);
  };
  for (int64_t l = 0; l < layers_n; ++l) {
    if (l == 0 || r.grids[l].grid_h != r.grids[l - 1].grid_h) even_row(l);
    for (int64_t h = 0; h < heads_n; ++h) {
      const Locality x = locality(l, m.sums[l][h]);
      row(l, std::to_string(l), std::to_string(h), x);
      text += fmt::format("{},{},{:.3f},{:.4f},{},{:.4f}\n", l, h, x.mean_distance, x.within, offset_str(l, x.peak),
                          x.peak_share);
    }
  }
  io::write_file_atomic(csv, "receptive-field", [&](std::ostream& os) { os << text; });
  fmt::print("(mean distance in {}; offsets are rows, columns from the query; 'even' is attention spread evenly over "
             "the grid) -> {}\n", one_grid ? "patches" : "cells of each layer's grid", csv);
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
