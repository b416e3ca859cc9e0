#pragma once
// CNN baseline: stages of [conv3×3 → BatchNorm → ReLU] × blocks (or residual basic blocks), pooling between
// stages, global average pooling, linear head. `norm: none` drops the BatchNorms (the convs get biases) and
// `activation: gelu` replaces ReLU: the ablations of what the CNN has and the attention models lack.
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema cnn_schema();
// Parameter combinations the schema cannot express (blocks vs channels, an image too small to pool); "" if fine.
std::string check_cnn(const Params& p, const ImageShape& shape);
std::shared_ptr<ImageModel> make_cnn(const Params& p, const ImageShape& shape, uint64_t seed);

}  // namespace rc::models
