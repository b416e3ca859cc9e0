#pragma once
// NamedTensors: an ordered list of (name, tensor) pairs. State dicts of modules and optimizers and the
// contents of weight files use it; the order is the order of registration (or of the file's offsets).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/core/tensor.hpp"

namespace rc {

using NamedTensor = std::pair<std::string, Tensor>;
using NamedTensors = std::vector<NamedTensor>;

// The tensor stored under `name`, or nullptr.
inline const Tensor* find_tensor(const NamedTensors& list, std::string_view name) {
  for (const auto& [key, t] : list)
    if (key == name) return &t;
  return nullptr;
}

}  // namespace rc
