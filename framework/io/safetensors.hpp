#pragma once
// safetensors files (https://github.com/huggingface/safetensors), readable by PyTorch's safetensors.torch:
//   bytes 0..7   N, the header length, unsigned 64-bit little-endian
//   bytes 8..8+N a JSON object: {"__metadata__": {"key": "value", ...},          (optional, strings only)
//                                "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//                padded with spaces so that the data starts at a multiple of 8
//   then         the data buffer: each tensor's elements row-major, little-endian, at [begin, end) relative to
//                the buffer's start; the tensors tile the buffer without gaps or overlaps.
// save writes F32, tensors in the given order. load accepts F32, and converts F64, F16, BF16, I64 and I32 to
// float32 (F64 and integers above 2^24 are rounded); other dtypes are rejected. Every error names the file
// and, where it applies, the tensor.
#include <map>
#include <string>

#include "framework/core/named_tensors.hpp"
#include "framework/nn/module.hpp"

namespace rc::io {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  NamedTensors tensors;  // in the order of their data offsets
  Metadata metadata;
};

// Names must be unique, non-empty and not "__metadata__". Writes PATH.tmp and renames it to PATH.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);

// A module's state dict (parameters and buffers) to and from a file. load checks names and shapes as
// Module::load_state_dict does (strict: missing or unexpected keys are errors) and prefixes errors with the path.
void save_module(const std::string& path, const nn::Module& module, const Metadata& metadata = {});
Metadata load_module(const std::string& path, nn::Module& module, bool strict = true);

}  // namespace rc::io
