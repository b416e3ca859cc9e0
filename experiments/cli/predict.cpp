// `receptive predict` and `receptive evaluate`: a trained run used on data. Both load a run folder
// (runs/<run>/config.yaml and a checkpoint, experiments/run_data.hpp) and run the model as inference (evaluation
// mode, no autograd graph, large batches: the runner's evaluation path, infer_image_batches / infer_graph).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "datasets/image/folder.hpp"
#include "datasets/image/image_header.hpp"
#include "experiments/cli/commands.hpp"
#include "experiments/plots.hpp"
#include "experiments/results.hpp"
#include "experiments/run_data.hpp"
#include "experiments/train/image_task.hpp"
#include "experiments/train/sequence_task.hpp"
#include "framework/io/file_util.hpp"

namespace rc::cli {

namespace fs = std::filesystem;
using exp::csv_field;

namespace {

// One row per item: its name (an image's split and index, a file, a node id), its true label (-1 when unknown)
// and the class probabilities (softmax of the logits).
struct Predictions {
  std::vector<std::string> class_names, items;
  std::vector<int64_t> labels;
  std::vector<std::vector<double>> probs;

  int64_t predicted(size_t i) const {
    return std::max_element(probs[i].begin(), probs[i].end()) - probs[i].begin();
  }
};

std::vector<double> softmax_row(const float* logits, int64_t classes) {
  const double hi = *std::max_element(logits, logits + classes);
  std::vector<double> p(classes);
  double sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += p[c] = std::exp(double(logits[c]) - hi);
  for (double& v : p) v /= sum;
  return p;
}

void add_rows(Predictions& out, const Tensor& logits, const std::vector<int64_t>& rows,
              const std::vector<int64_t>& labels) {
  const int64_t classes = logits.dim(1);
  for (size_t k = 0; k < rows.size(); ++k) {
    out.probs.push_back(softmax_row(logits.data() + rows[k] * classes, classes));
    out.labels.push_back(labels[k]);
  }
}

// class names (from the checkpoint, else numbers)
std::vector<std::string> names_or_numbers(std::vector<std::string> names, int64_t classes) {
  if (names.empty())
    for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

// The items of an image split: "test" (the test set) or "val" (the run's validation items of the training pool).
Predictions predict_image_split(const exp::ImageRun& run, const exp::RunData& d, const std::string& split,
                                int64_t batch) {
  RC_CHECK(split == "test" || split == "val", "--split '{}': an image run has the splits test and val", split);
  const bool val = split == "val";
  RC_CHECK(!val || !d.subset.val.empty(), "--split val: the run has no validation set (dataset.val_fraction 0)");
  const data::ImageDataset& set = val ? d.images->train : d.images->test;
  const std::vector<int64_t>& idx = val ? d.subset.val : std::vector<int64_t>{};
  Predictions p;
  p.class_names = names_or_numbers(run.input.class_names, run.input.shape.num_classes);
  const int64_t n = val ? static_cast<int64_t>(idx.size()) : set.size();
  for (int64_t i = 0; i < n; ++i) p.items.push_back(fmt::format("{}/{}", val ? "train" : "test", val ? idx[i] : i));
  exp::infer_image_batches(*run.model, set, idx, run.input.normalize, batch,
                           [&](const Var& logits, const std::vector<int64_t>& labels) {
                             std::vector<int64_t> rows(labels.size());
                             for (size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<int64_t>(k);
                             add_rows(p, logits.value(), rows, labels);
                           });
  return p;
}

bool is_image_file(const fs::path& f) {
  std::string e = f.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp";
}

// --images: files as given, folders searched recursively (sorted) for .png/.jpg/.jpeg/.bmp. An image in a
// folder named after one of the classes gets that class as its true label (root/<class>/*.png, the image-folder
// layout).
std::vector<fs::path> image_files(const std::vector<std::string>& args) {
  std::vector<fs::path> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::recursive_directory_iterator(a))
        if (e.is_regular_file() && is_image_file(e.path())) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      RC_CHECK(!found.empty(), "--images {}: the folder holds no .png/.jpg/.jpeg/.bmp image", a);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      RC_CHECK(fs::is_regular_file(a, ec), "--images {}: no such file or folder", a);
      files.push_back(a);
    }
  }
  return files;
}

// Image files decoded, converted to the run's channels, resized to its input size (INTER_AREA, as the
// image-folder loader does) and normalised with the checkpoint's statistics; one that cannot be decoded is an
// error naming it. Images of another size or colour are reported (once, with a count): the model only ever saw
// images prepared the way its dataset prepares them.
Predictions predict_image_files(const exp::ImageRun& run, const std::vector<std::string>& args, int64_t batch) {
  const auto& sh = run.input.shape;
  Predictions p;
  p.class_names = names_or_numbers(run.input.class_names, sh.num_classes);
  const std::vector<fs::path> files = image_files(args);
  int64_t resized = 0;
  for (size_t start = 0; start < files.size(); start += size_t(batch)) {
    data::ImageDataset d;
    d.channels = sh.channels, d.height = sh.height, d.width = sh.width;
    d.class_names = p.class_names;
    for (size_t i = start; i < std::min(files.size(), start + size_t(batch)); ++i) {
      const fs::path& f = files[i];
      bool decoded = false;
      data::ImageHeader header;
      try {
        header = data::read_image_header(io::read_file_bytes(f.string(), "predict"), f.string());
        decoded = data::decode_image(f.string(), sh.channels, sh.height, sh.width, d.pixels);
      } catch (const Error& e) {
        fail("predict: --images {}: cannot be made into a {}x{} image of {} channel(s): {}", f.string(), sh.height,
             sh.width, sh.channels, e.what());
      }
      RC_CHECK(decoded, "predict: --images {}: cannot decode it as an image (PNG, JPG or BMP)", f.string());
      resized += header.height != sh.height || header.width != sh.width;
      const std::string parent = f.parent_path().filename().string();
      const auto it = std::find(p.class_names.begin(), p.class_names.end(), parent);
      d.labels.push_back(it == p.class_names.end() ? -1 : static_cast<int32_t>(it - p.class_names.begin()));
      p.items.push_back(f.string());
    }
    // labels of -1 are kept out of make_batch's label check: predict with placeholder labels, restore after
    std::vector<int64_t> truth(d.labels.begin(), d.labels.end());
    for (auto& l : d.labels) l = std::max(l, 0);
    exp::infer_image_batches(*run.model, d, {}, run.input.normalize, batch,
                             [&](const Var& logits, const std::vector<int64_t>& labels) {
                               std::vector<int64_t> rows(labels.size());
                               for (size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<int64_t>(k);
                               add_rows(p, logits.value(), rows, truth);
                             });
  }
  if (resized > 0)
    fmt::print(stderr, "predict: {} of {} image(s) are not {}x{} and were resized to it (INTER_AREA), as the "
               "image-folder loader does\n", resized, files.size(), sh.height, sh.width);
  return p;
}

// The nodes of a graph split (train, val, test or all), keyed by node id.
Predictions predict_graph_split(const exp::GraphRun& run, const exp::RunData& d, const std::string& split) {
  const exp::GraphTask& t = *d.graph_task;
  std::vector<int64_t> nodes;
  if (split == "train") nodes = t.split.train;
  else if (split == "val") nodes = t.split.val;
  else if (split == "test") nodes = t.split.test;
  else if (split == "all")
    for (int64_t i = 0; i < t.input.num_nodes; ++i) nodes.push_back(i);
  else
    fail("--split '{}': a graph run has the splits train, val, test and all", split);
  RC_CHECK(!nodes.empty(), "--split {}: the run's split has no {} nodes", split, split);
  Predictions p;
  p.class_names = names_or_numbers(run.input.class_names, run.input.classes);
  const Tensor logits = exp::infer_graph(*run.model, t.input).value();
  std::vector<int64_t> labels;
  for (int64_t i : nodes) {
    p.items.push_back(i < int64_t(t.node_ids.size()) ? t.node_ids[i] : std::to_string(i));
    labels.push_back(t.labels[i]);
  }
  add_rows(p, logits, nodes, labels);
  return p;
}

// The items of a sequence split: "test" or "val" (the run's validation items of the training pool).
Predictions predict_sequence_split(const exp::SequenceRun& run, const exp::RunData& d, const std::string& split,
                                   int64_t batch) {
  RC_CHECK(split == "test" || split == "val", "--split '{}': a sequence run has the splits test and val", split);
  const bool val = split == "val";
  RC_CHECK(!val || !d.subset.val.empty(), "--split val: the run has no validation set (dataset.val_fraction 0)");
  const data::SequenceSet& set = val ? d.sequences->train : d.sequences->test;
  const std::vector<int64_t>& idx = val ? d.subset.val : std::vector<int64_t>{};
  Predictions p;
  p.class_names = names_or_numbers(run.class_names, run.shape.num_classes);
  const int64_t n = val ? static_cast<int64_t>(idx.size()) : set.size();
  for (int64_t i = 0; i < n; ++i) p.items.push_back(fmt::format("{}/{}", val ? "train" : "test", val ? idx[i] : i));
  exp::infer_sequence_batches(*run.model, set, idx, batch, [&](const Var& logits, const std::vector<int64_t>& labels) {
    std::vector<int64_t> rows(labels.size());
    for (size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<int64_t>(k);
    add_rows(p, logits.value(), rows, labels);
  });
  return p;
}

struct Source {
  std::string split;                // test, val, train, all
  std::vector<std::string> images;  // or image files and folders
  std::string checkpoint = "best";
  int64_t batch = 64;
};

// The run folder's predictions on a split or on image files.
Predictions predict_run(const std::string& run_dir, const Source& s, std::string* what = nullptr) {
  const exp::RunConfig c = exp::read_run_config(run_dir);
  const fs::path ckpt = exp::run_checkpoint(run_dir, s.checkpoint);
  RC_CHECK(s.images.empty() || !c.graph, "--images: {} is a graph run (give --split train|val|test|all)", run_dir);
  RC_CHECK(s.images.empty() || !c.sequence, "--images: {} is a sequence run (give --split test|val)", run_dir);
  if (what) *what = s.images.empty() ? s.split : "images";
  if (!s.images.empty()) {
    // the dataset is only needed when the checkpoint does not record how its input was prepared
    std::unique_ptr<exp::RunData> d;
    if (!exp::checkpoint_records_input(ckpt)) d = exp::load_run_data(c);
    return predict_image_files(exp::load_image_run(c, ckpt, d.get()), s.images, s.batch);
  }
  const std::unique_ptr<exp::RunData> d = exp::load_run_data(c);
  if (c.graph) return predict_graph_split(exp::load_graph_run(c, ckpt, *d), *d, s.split);
  if (c.sequence) return predict_sequence_split(exp::load_sequence_run(c, ckpt, d.get()), *d, s.split, s.batch);
  return predict_image_split(exp::load_image_run(c, ckpt, d.get()), *d, s.split, s.batch);
}

std::string predictions_csv(const Predictions& p, bool graph) {
  std::string out = graph ? "node" : "item";
  out += ",label,predicted";
  for (const auto& n : p.class_names) {  // (appended piece by piece: GCC 12 warns -Wrestrict on "," + ("p_" + n))
    out += ",";
    out += csv_field("p_" + n);
  }
  out += "\n";
  for (size_t i = 0; i < p.items.size(); ++i) {
    out += csv_field(p.items[i]) + "," + (p.labels[i] < 0 ? "" : csv_field(p.class_names[p.labels[i]])) + "," +
           csv_field(p.class_names[p.predicted(i)]);
    for (double v : p.probs[i]) out += fmt::format(",{:.6g}", v);
    out += "\n";
  }
  return out;
}

void check_csv_out(const std::string& out) {
  std::string e = fs::path(out).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  RC_CHECK(e == ".csv", "predict: --out {}: expected a file name ending in .csv", out);
}

}  // namespace

int predict(const PredictArgs& a) {
  RC_CHECK(a.images.empty() != a.split.empty(), "predict: give --images FILE|DIR... or --split, not {}",
           a.images.empty() ? "neither" : "both");
  check_csv_out(a.out);
  const Predictions p = predict_run(a.run, {a.split, a.images, a.checkpoint, a.batch_size});
  const bool graph = exp::read_run_config(a.run).graph;
  const fs::path out(a.out);
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
  exp::write_file_atomic(out, predictions_csv(p, graph));
  int64_t known = 0, correct = 0;
  for (size_t i = 0; i < p.items.size(); ++i)
    if (p.labels[i] >= 0) ++known, correct += p.predicted(i) == p.labels[i];
  fmt::print("predict: {} {} -> {}", p.items.size(), graph ? "nodes" : "items", a.out);
  if (known > 0) fmt::print(" (accuracy {:.2f} % on the {} with a known label)", 100.0 * correct / known, known);
  fmt::print("\n");
  return 0;
}

int evaluate(const EvaluateArgs& a) {
  if (!a.out.empty()) exp::check_png_out(a.out, "evaluate");
  const exp::RunConfig c = exp::read_run_config(a.run);
  const std::string split = a.split.empty() ? "test" : a.split;
  const Predictions p = predict_run(a.run, {split, {}, a.checkpoint, a.batch_size});
  const int64_t k = static_cast<int64_t>(p.class_names.size());
  std::vector<std::vector<int64_t>> confusion(k, std::vector<int64_t>(k, 0));  // [true][predicted]
  int64_t correct = 0;
  for (size_t i = 0; i < p.items.size(); ++i) {
    ++confusion[p.labels[i]][p.predicted(i)];
    correct += p.predicted(i) == p.labels[i];
  }
  const std::string title = fmt::format("{} ({}, {} checkpoint): {} {}", fs::path(a.run).filename().string(),
                                        c.model_type, a.checkpoint, split, c.graph ? "nodes" : "items");
  fmt::print("{}\naccuracy {:.2f} % ({} of {})\n\n{:<24} {:>8} {:>10}\n", title,
             100.0 * correct / std::max<size_t>(p.items.size(), 1), correct, p.items.size(), "class", "items",
             "accuracy");
  for (int64_t t = 0; t < k; ++t) {
    int64_t n = 0;
    for (int64_t v : confusion[t]) n += v;
    fmt::print("{:<24} {:>8} {:>10}\n", p.class_names[t], n,
               n > 0 ? fmt::format("{:.2f} %", 100.0 * confusion[t][t] / n) : "-");
  }
  if (!a.out.empty()) {
    exp::confusion_png(a.out, title, p.class_names, confusion);
    fmt::print("confusion matrix -> {}\n", a.out);
  }
  return 0;
}

}  // namespace rc::cli
