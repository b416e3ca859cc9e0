// The built-in datasets: one registry entry each (datasets/registry.hpp).
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "datasets/graph/graph_data.hpp"
#include "datasets/graph/linqs.hpp"
#include "datasets/graph/synthetic.hpp"
#include "datasets/image/folder.hpp"
#include "datasets/registry.hpp"
#include "datasets/sequence/image_sequence.hpp"
#include "datasets/sequence/marked_sum.hpp"
#include "framework/core/error.hpp"
#include "framework/core/param_binding.hpp"

namespace rc::data {

namespace {

ParamSpec root_spec(const std::string& fallback = "") {
  return {"root", ParamType::String, std::string(""),
          "folder holding the files; default $RECEPTIVE_DATA/<name>, then data/<name>" + fallback, {}, {}, {}};
}

// A classification set in MNIST's IDX layout (train-images-idx3-ubyte, ..., plain or gzip) at `root`: grayscale
// images of height × width, classes named by `classes`.
DatasetType idx_dataset(std::string name, std::string description, std::vector<std::string> classes, int64_t height,
                        int64_t width, std::optional<std::filesystem::path> default_dir = std::nullopt) {
  const std::string fallback = default_dir ? fmt::format(", then {}", default_dir->string()) : "";
  return {name, std::move(description), kImageDomain, concat_schemas({Schema{{root_spec(fallback)}}, image_options_schema()}),
          [height, width](const Params&) { return std::vector<int64_t>{1, height, width}; },
          [name, classes, default_dir](const Params& o) {
            return load_idx_train_test(name, o.get_string("root"), classes, default_dir);
          },
          nullptr, nullptr};
}

const ParamBinding<FolderOptions>& folder_binding() {
  static const auto b = ParamBinding<FolderOptions>()
                            .field(&FolderOptions::height, "height",
                                   "image-folder: resize height (0: the images' own, which must then all agree)", 0.0,
                                   32768.0)
                            .field(&FolderOptions::width, "width",
                                   "image-folder: resize width (0: the images' own, which must then all agree)", 0.0,
                                   32768.0)
                            .field(&FolderOptions::grayscale, "grayscale",
                                   "image-folder: true (one channel), false (RGB) or auto (as the images are; they "
                                   "must then all be grey or all colour)",
                                   {}, {}, {"auto", "true", "false"});
  return b;
}
struct HeldOutTest {
  double test_fraction = 0.2;
};
const ParamBinding<HeldOutTest>& test_binding() {
  static const auto b = ParamBinding<HeldOutTest>().field(
      &HeldOutTest::test_fraction, "test_fraction", "image-folder: fraction of each class used as the test set", 0.01, 0.9);
  return b;
}

TrainTest load_folder(const Params& o) {
  const std::string root = o.get_string("root");
  RC_CHECK(!root.empty(), "dataset.root: image-folder needs the folder (root/<class>/*.png)");
  const double test_fraction = test_binding().from(o).test_fraction;
  TrainTest tt = split_off_test(load_image_folder(root, folder_binding().from(o)), test_fraction);
  RC_CHECK(tt.test.size() > 0,
           "dataset image-folder: no test images (dataset.test_fraction {} of each class rounds to none); a test "
           "accuracy over no images would be meaningless",
           test_fraction);
  return tt;
}

DatasetType image_folder() {
  return {"image-folder", "root/<class>/*.png|jpg, decoded with OpenCV (by default at the images' own size and channels)",
          kImageDomain,
          concat_schemas({Schema{{root_spec()}}, image_options_schema(), folder_binding().schema(), test_binding().schema()}),
          [](const Params& o) {
            // automatic values look at the first image (the config check builds the models for this shape); when
            // the folder cannot be read but the size is given, the channels cannot change a check (the loader
            // reports the folder)
            const FolderOptions given = folder_binding().from(o);
            FolderOptions f;
            try {
              f = resolve_folder_options(o.get_string("root"), given);
            } catch (const Error&) {
              if (given.height == 0 || given.width == 0) throw;
              f = given;
            }
            return std::vector<int64_t>{f.grayscale == "true" ? 1 : 3, f.height, f.width};
          },
          load_folder, nullptr, nullptr};
}

struct LinqsSettings {
  bool row_normalize = true;
};
const ParamBinding<LinqsSettings>& linqs_binding() {
  static const auto b = ParamBinding<LinqsSettings>().field(&LinqsSettings::row_normalize, "row_normalize",
                                                            "graphs: divide each feature row by its sum");
  return b;
}

GraphDataset load_linqs_entry(const std::string& name, const Params& o) {
  LinqsOptions lo;
  lo.row_normalize = linqs_binding().from(o).row_normalize;
  LinqsReport rep;
  GraphDataset g = load_linqs_named(name, o.get_string("root"), lo, &rep);
  fmt::print(stderr, "{}: {} nodes, {} edges (directed), {} features, {} classes; {} citations, {} to unknown papers "
                     "skipped, {} duplicates merged, {} self-citations dropped\n",
             name, g.num_nodes(), g.num_edges(), g.features.dim(1), g.num_classes(), rep.citations,
             rep.unknown_citations, rep.duplicate_citations, rep.self_citations);
  return g;
}

DatasetType linqs_dataset(const std::string& name, std::string description) {
  return {name, std::move(description), kGraphDomain,
          concat_schemas({Schema{{root_spec()}}, graph_options_schema(), linqs_binding().schema()}), nullptr, nullptr,
          [name](const Params& o) { return load_linqs_entry(name, o); }, nullptr};
}

const ParamBinding<CsbmOptions>& csbm_binding() {
  using O = CsbmOptions;
  static const auto b = ParamBinding<O>()
                            .field(&O::nodes, "nodes", "csbm: nodes", 4.0, 10'000'000.0)
                            .field(&O::classes, "classes", "csbm: classes", 2.0, 10'000.0)
                            .field(&O::average_degree, "average_degree", "csbm: average degree", 0.1, 1000.0)
                            .field(&O::homophily, "homophily", "csbm: fraction of intra-class edges", 0.0, 1.0)
                            .field(&O::features, "features", "csbm: feature dimension", 1.0, 100'000.0)
                            .field(&O::snr, "snr", "csbm: class-mean norm / noise std", 0.0);
  return b;
}

GraphDataset load_csbm(const Params& p) {
  const CsbmOptions o = csbm_binding().from(p, "csbm.");
  // the features are a dense (nodes, features) tensor and the edges about nodes × degree pairs
  RC_CHECK(double(o.nodes) * double(o.features) <= double(int64_t{1} << 28) &&
               double(o.nodes) * o.average_degree <= double(int64_t{1} << 28),
           "dataset.csbm: nodes {} × features {} or × average_degree {} is over the limit of 2^28 values; make the "
           "graph smaller", o.nodes, o.features, o.average_degree);
  return csbm(o);
}

// An IDX image set (28 × 28 grey) read as sequences (datasets/sequence/image_sequence.hpp).
DatasetType idx_sequence_dataset(std::string name, std::string images, std::string description,
                                 std::vector<std::string> classes,
                                 std::optional<std::filesystem::path> default_dir = std::nullopt) {
  const std::string fallback = default_dir ? fmt::format(", then {}", default_dir->string()) : "";
  ParamSpec root = root_spec(fallback);
  root.doc = fmt::format("folder holding the {} IDX files; default $RECEPTIVE_DATA/{}, then data/{}{}", images, images,
                         images, fallback);
  DatasetType t{name, std::move(description), kSequenceDomain,
                concat_schemas({Schema{{root}}, sequence_options_schema(), image_sequence_schema()}),
                [](const Params& o) {
                  const auto [steps, features] = image_sequence_shape(1, 28, 28, image_sequence_options(o));
                  return std::vector<int64_t>{steps, features};
                },
                nullptr, nullptr, nullptr};
  t.load_sequences = [name, images, classes, default_dir](const Params& o) {
    // the files are the image dataset's: its folder name is the lookup name ($RECEPTIVE_DATA/<images>, ...)
    return images_as_sequences(load_idx_train_test(images, o.get_string("root"), classes, default_dir),
                               image_sequence_options(o), name);
  };
  return t;
}

DatasetType marked_sum_dataset() {
  DatasetType t{"marked-sum",
                "synthetic long-range task: L random digits, two marked, label = their sum 0-18 (generated, seeded)",
                kSequenceDomain, concat_schemas({sequence_options_schema(), marked_sum_schema()}),
                [](const Params& o) {
                  return std::vector<int64_t>{marked_sum_options(o).length, 11};
                },
                nullptr, nullptr, nullptr};
  t.load_sequences = [](const Params& o) { return marked_sum(marked_sum_options(o)); };
  return t;
}

}  // namespace

void register_builtin_datasets() {
  static const bool done = [] {
    register_dataset(idx_dataset("fashion-mnist", "Fashion-MNIST (IDX, gzip), /usr/share/datasets/fashion-mnist by default",
                                 fashion_mnist_classes(), 28, 28, "/usr/share/datasets/fashion-mnist"));
    register_dataset(idx_dataset("mnist", "MNIST handwritten digits (IDX, gzip or plain) at root or $RECEPTIVE_DATA/mnist",
                                 {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, 28, 28));
    register_dataset(image_folder());
    register_dataset(idx_sequence_dataset("fashion-mnist-sequence", "fashion-mnist",
                                          "Fashion-MNIST read as sequences: order rows | patches | pixels | permuted",
                                          fashion_mnist_classes(), "/usr/share/datasets/fashion-mnist"));
    register_dataset(idx_sequence_dataset("mnist-sequence", "mnist",
                                          "MNIST read as sequences (sequential / permuted MNIST)",
                                          {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
    register_dataset(marked_sum_dataset());
    register_dataset(linqs_dataset("cora", "Cora citation graph (LINQS format; Planetoid split file beside it)"));
    register_dataset(linqs_dataset("citeseer", "CiteSeer citation graph (LINQS format; Planetoid split file beside it)"));
    register_dataset({"karate", "Zachary's karate club (built in; 34 nodes, 2 factions)", kGraphDomain,
                      graph_options_schema(), nullptr, nullptr, [](const Params&) { return karate_club(); }, nullptr});
    register_dataset({"csbm", "contextual stochastic block model (built in, seeded)", kGraphDomain,
                      concat_schemas({graph_options_schema(), csbm_binding().schema("csbm.")}), nullptr, nullptr,
                      load_csbm, nullptr});
    return true;
  }();
  (void)done;
}

}  // namespace rc::data
