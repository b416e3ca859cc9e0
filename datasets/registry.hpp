#pragma once
// The dataset registry: a config's `dataset: {name: ..., <options>}` → loaded data, mirroring the model registry
// (models/registry.hpp). Each dataset declares its domain, the options it accepts (Schema: types, defaults, ranges,
// docs; they validate configs and feed `receptive list`), the input shape its options imply, and its loader.
// The built-in entries are in datasets/builtin.cpp: adding a dataset is one entry there.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "datasets/graph/graph.hpp"
#include "datasets/image/image_data.hpp"
#include "datasets/sequence/sequence_data.hpp"
#include "framework/core/params.hpp"

namespace rc::data {

// A domain is a name, not an enum: a new one (sequences) is a new name with its data type and loader field.
// Model types name their domain the same way, and a config may only pair a model and a dataset of one domain.
inline const std::string kImageDomain = "image";
inline const std::string kGraphDomain = "graph";
inline const std::string kSequenceDomain = "sequence";

struct DatasetType {
  std::string name, description;
  std::string domain;  // kImageDomain, kGraphDomain, kSequenceDomain
  Schema schema;       // every option of the dataset section except `name` (the domain's options included)
  // The shape of one input item that the options imply, known before loading ({C, H, W} for images); empty when
  // only the data tells (a graph's feature count); {L, F} for sequences. The config check builds models for it.
  std::function<std::vector<int64_t>(const Params&)> input_shape;
  // The loader of the entry's domain (the others are empty). Options are the whole dataset section, resolved.
  std::function<TrainTest(const Params&)> load_images;
  std::function<GraphDataset(const Params&)> load_graph;
  std::function<SequenceData(const Params&)> load_sequences;
};

void register_dataset(DatasetType type);
// Errors name the unknown dataset, suggest the closest one and list all.
const DatasetType& dataset_type(const std::string& name);
const std::vector<DatasetType>& dataset_types();
// Registers the built-in datasets (explicit, since static-library registration objects would be dropped).
void register_builtin_datasets();

// The `name` option (default fashion-mnist; choices: every registered dataset) followed by the entry's schema:
// what a config's dataset section may hold for this dataset.
ParamSpec dataset_name_spec();
Schema dataset_schema(const DatasetType& type);

// The dataset the options name, loaded through its entry, checked (classes, test set, the declared input shape)
// and, for images, with the training pool's normalisation when `normalize` asks for it.
ImageData load_image_dataset(const Params& options);
GraphDataset load_graph_dataset(const Params& options);
SequenceData load_sequence_dataset(const Params& options);

}  // namespace rc::data
