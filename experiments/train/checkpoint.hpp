#pragma once
// Checkpoints that never hold non-finite weights, and what a checkpoint records about its run's input.
// The training loop checks the weights with non_finite_tensor before it evaluates or keeps them; a run whose
// weights became NaN or Inf stops there, and its files hold the last good weights.
#include <filesystem>
#include <string>

#include "datasets/image/transforms.hpp"
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

 private:
  NamedTensors tensors_;
  io::Metadata metadata_;
};

// The input an image run was trained on, saved in its checkpoints' metadata so that a picture of what the
// model does can prepare a new image exactly as training did, without the dataset:
//   input_shape: "[C, H, W, classes]", normalize_mean / normalize_std: "[m0, ...]" (one per channel or one
//   for all), class_names: a JSON list.
struct ImageInputInfo {
  models::ImageShape shape;
  data::Normalize normalize;
  std::vector<std::string> class_names;
};
io::Metadata image_input_metadata(const ImageInputInfo& info);
// Reads what image_input_metadata wrote; false when the metadata lacks it (a checkpoint from before it was
// saved). Malformed or degenerate values (a std that is not finite and > 0, a shape that is not [C, H, W,
// classes]) are errors naming `file` (when given), the key and the value.
bool read_image_input_metadata(const io::Metadata& metadata, ImageInputInfo& info, const std::string& file = "");

}  // namespace rc::exp
