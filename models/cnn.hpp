#pragma once
// CNN baseline: stages of [conv3×3 → BatchNorm → ReLU] × blocks (or residual basic blocks), pooling between
// stages, global average pooling, linear head.
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema cnn_schema();
std::shared_ptr<ImageModel> make_cnn(const Params& p, const ImageShape& shape, uint64_t seed);

}  // namespace rc::models
