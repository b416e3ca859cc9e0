#pragma once
// The model registry: config section `type: cnn | patch_attention | gat | ...` plus parameters → a model.
// Each model type declares its parameters (Schema: types, defaults, ranges, docs), which both validates
// configs and feeds `receptive list`.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

enum class Domain { Image, Graph, Sequence };
// "image", "graph", "sequence": the dataset registry's domain names (datasets/registry.hpp)
const char* domain_name(Domain d);

struct ModelType {
  std::string type, description;
  Domain domain = Domain::Image;
  Schema schema;
  // Checks parameter combinations the schema cannot express (e.g. a window larger than the patch grid);
  // returns "" or what is wrong. May be empty.
  std::function<std::string(const Params&, const ImageShape&)> check_image;
  std::function<std::shared_ptr<ImageModel>(const Params&, const ImageShape&, uint64_t seed)> make_image;
  std::function<std::shared_ptr<GraphModel>(const Params&, const GraphInput&, uint64_t seed)> make_graph;
  // The same for graph models (e.g. heads that do not divide the width). May be empty.
  std::function<std::string(const Params&)> check_graph;
  // Sequence models (Domain::Sequence): the check (may be empty) and the factory.
  std::function<std::string(const Params&, const SequenceShape&)> check_sequence;
  std::function<std::shared_ptr<SequenceModel>(const Params&, const SequenceShape&, uint64_t seed)> make_sequence;
};

void register_model(ModelType type);
// Errors name the unknown type, suggest the closest one and list all.
const ModelType& model_type(const std::string& type);
const std::vector<ModelType>& model_types();

// Registers the built-in models (explicit, since static-library registration objects would be dropped).
void register_builtin_models();

}  // namespace rc::models
