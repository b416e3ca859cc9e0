#pragma once
// Patch-attention image classifier (ViT-style): patch embedding, optional class token, positional encoding
// (none | sinusoidal | learned | relative | locality | gated_locality: a learnable Gaussian bias per head over
// patch offsets, additive or ConViT-gated, nn::MultiHeadAttention), `depth` pre-LayerNorm blocks
// (nn::TransformerBlock) whose attention follows a configurable neighbourhood policy, then class-token or mean
// pooling and a linear head.
// With policy window2d 3×3 and relative bias it is a convolution-like local self-attention network.
// receptive_field() (models/model.hpp) reports per layer and head the attention-weighted mean patch offset and,
// for locality positions, the learned widths and gates.
#include "framework/attention/policy.hpp"
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema patch_attention_schema();
// "" or what is wrong with the combination (e.g. a window larger than the patch grid).
std::string check_patch_attention(const Params& p, const ImageShape& shape);
std::shared_ptr<ImageModel> make_patch_attention(const Params& p, const ImageShape& shape, uint64_t seed);

// Attention probabilities of every block of a patch-attention model for the given query tokens, in evaluation
// mode: result[layer] has shape (B, H, |queries|, N) with N = tokens (class token first when there is one).
// Errors when `model` is not a patch-attention model.
std::vector<Tensor> patch_attention_weights(ImageModel& model, const Tensor& images, const std::vector<int64_t>& queries);

struct PatchLayout {
  int64_t grid_h = 0, grid_w = 0, patch = 0;
  bool class_token = false;
  int64_t tokens() const { return grid_h * grid_w + (class_token ? 1 : 0); }
  int64_t first_patch() const { return class_token ? 1 : 0; }
};
PatchLayout patch_layout(const ImageModel& model);

// The attention policy over [class token?] + gh×gw patch tokens that the config describes.
Policy patch_policy(const Params& p, int64_t grid_h, int64_t grid_w, bool class_token);

}  // namespace rc::models
