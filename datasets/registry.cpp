#include "datasets/registry.hpp"

#include <fmt/format.h>

#include "datasets/graph/graph_data.hpp"
#include "framework/core/error.hpp"

namespace rc::data {

namespace {
std::vector<DatasetType>& types() {
  static std::vector<DatasetType> t;
  return t;
}
}  // namespace

void register_dataset(DatasetType type) {
  RC_CHECK(!type.domain.empty(), "register_dataset: dataset '{}' names no domain", type.name);
  for (auto& t : types())
    if (t.name == type.name) {
      t = std::move(type);
      return;
    }
  types().push_back(std::move(type));
}

const std::vector<DatasetType>& dataset_types() {
  register_builtin_datasets();
  return types();
}

const DatasetType& dataset_type(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& t : dataset_types()) {
    if (t.name == name) return t;
    names.push_back(t.name);
  }
  const std::string hint = did_you_mean(name, names);
  fail("unknown dataset '{}'{}; known datasets: {}", name, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
       fmt::join(names, ", "));
}

ParamSpec dataset_name_spec() {
  ParamSpec s{"name", ParamType::String, std::string("fashion-mnist"), "dataset", {}, {}, {}};
  for (const auto& t : dataset_types()) s.choices.push_back(t.name);
  return s;
}

Schema dataset_schema(const DatasetType& type) {
  Schema s;
  s.params.push_back(dataset_name_spec());
  s.params.insert(s.params.end(), type.schema.params.begin(), type.schema.params.end());
  return s;
}

namespace {
const DatasetType& entry_of(const Params& options, const std::string& domain) {
  const DatasetType& t = dataset_type(options.get_string("name"));
  RC_CHECK(t.domain == domain, "dataset {} holds {} data, not {}", t.name, t.domain, domain);
  return t;
}
}  // namespace

ImageData load_image_dataset(const Params& options) {
  const DatasetType& t = entry_of(options, kImageDomain);
  RC_CHECK(t.load_images, "dataset {}: its registry entry has no image loader", t.name);
  TrainTest tt = t.load_images(options);
  ImageData d{std::move(tt.train), std::move(tt.test), {}};
  check_image_data(d, t.name);
  // the config check built every model for the declared shape; other images would not fit them
  if (t.input_shape) {
    const std::vector<int64_t> declared = t.input_shape(options), got{d.train.channels, d.train.height, d.train.width};
    RC_CHECK(declared.empty() || declared == got, "dataset {}: the images are {}x{}x{} (CxHxW) but the dataset declares {}",
             t.name, got[0], got[1], got[2], fmt::join(declared, "x"));
  }
  if (image_options(options).normalize) d.normalize = compute_normalize(d.train);
  return d;
}

GraphDataset load_graph_dataset(const Params& options) {
  const DatasetType& t = entry_of(options, kGraphDomain);
  RC_CHECK(t.load_graph, "dataset {}: its registry entry has no graph loader", t.name);
  GraphDataset g = t.load_graph(options);
  check_graph_data(g, t.name);
  return g;
}

SequenceData load_sequence_dataset(const Params& options) {
  const DatasetType& t = entry_of(options, kSequenceDomain);
  RC_CHECK(t.load_sequences, "dataset {}: its registry entry has no sequence loader", t.name);
  SequenceData d = t.load_sequences(options);
  check_sequence_data(d, t.name);
  if (t.input_shape) {
    const std::vector<int64_t> declared = t.input_shape(options), got{d.train.length, d.train.features};
    RC_CHECK(declared.empty() || declared == got,
             "dataset {}: the sequences are {} steps × {} features but the dataset declares {}", t.name, got[0], got[1],
             fmt::join(declared, " × "));
  }
  return d;
}

}  // namespace rc::data
