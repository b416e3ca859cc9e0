#pragma once
// Checkpoints that never hold non-finite weights, and what a checkpoint records about its run's input.
// The training loop checks the weights with non_finite_tensor before it evaluates or keeps them; a run whose
// weights became NaN or Inf stops there, and its files hold the last good weights.
#include <filesystem>
#include <string>

#include "datasets/image/transforms.hpp"
#include "framework/core/params.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/nn/module.hpp"
#include "models/model.hpp"

namespace rc::exp {

// The dotted name of the first parameter or buffer of `module` holding a NaN or Inf ("" when all are finite),
// with the kind of value found: "nan in fc.weight".
std::string non_finite_tensor(const nn::Module& module);

// A copy of a module's state dict kept in memory, to be written later (the training loop keeps the selected
// and the last finite weights this way and writes both files once, at the end of a run).
class StateSnapshot {
 public:
  void capture(const nn::Module& module, io::Metadata metadata);  // reuses its buffers after the first call
  bool empty() const { return tensors_.empty(); }
  const io::Metadata& metadata() const { return metadata_; }
  void save(const std::filesystem::path& path) const;  // atomic (temporary + rename), as io::save_module
  void restore(nn::Module& module) const;               // loads the captured state back (names and shapes checked)
  const NamedTensors& tensors() const { return tensors_; }

 private:
  NamedTensors tensors_;
  io::Metadata metadata_;
};

// What a checkpoint records besides the weights, so that the file alone rebuilds the model and prepares its
// input. safetensors metadata is string -> string; lists and objects are JSON text. Keys:
//   domain          "image" or "graph"
//   image runs      channels, height, width, classes (integers), class_names (JSON list, index = class),
//                   normalize_mean, normalize_std (JSON lists: one per channel, or one for all)
//   graph runs      nodes, features, classes (integers), class_names (JSON list), node_ids (JSON list: the
//                   dataset's node id of each row of the features and logits, e.g. Cora paper ids)
//   every run       model_type ("cnn", "gat", ...), model_params (JSON object: every parameter of the type's
//                   schema, resolved, with dotted names for nested sections: {"policy.kind": "window2d", ...})
//   training loop   epoch, step
// Checkpoints written before the named fields hold input_shape "[C, H, W, classes]" instead of channels,
// height, width and classes; the readers accept both.
struct ImageInputInfo {
  models::ImageShape shape;
  data::Normalize normalize;
  std::vector<std::string> class_names;
};
io::Metadata image_input_metadata(const ImageInputInfo& info);
// Reads what image_input_metadata wrote (or the older input_shape); false when the metadata lacks it (a
// checkpoint from before it was saved). Malformed or degenerate values (a std that is not finite and > 0, a
// size outside [1, 65536], fewer than 2 classes) are errors naming `file` (when given), the key and the value.
bool read_image_input_metadata(const io::Metadata& metadata, ImageInputInfo& info, const std::string& file = "");

struct GraphInputInfo {
  int64_t nodes = 0, features = 0, classes = 0;
  std::vector<std::string> class_names, node_ids;  // node_ids[i]: the dataset's id of row i
};
io::Metadata graph_input_metadata(const GraphInputInfo& info);
// false when absent (graph checkpoints written before it); inconsistent values are errors naming file and key.
bool read_graph_input_metadata(const io::Metadata& metadata, GraphInputInfo& info, const std::string& file = "");

// The architecture: the model type and every resolved parameter.
io::Metadata model_metadata(const std::string& type, const Params& params);
// false when absent; an unknown type, a parameter the type does not have or a value of the wrong type or out of
// range is an error naming the file and the parameter. Missing parameters take the schema's defaults.
bool read_model_metadata(const io::Metadata& metadata, std::string& type, Params& params, const std::string& file = "");

// model_metadata of the run whose resolved config is run_dir/config.yaml (the runner writes it before the run
// trains); {} when there is none (a run trained outside the runner, e.g. by a test) or it cannot be read (then a
// warning names it: a run is not stopped for its checkpoints' metadata).
io::Metadata run_model_metadata(const std::filesystem::path& run_dir);

}  // namespace rc::exp
