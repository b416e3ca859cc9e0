#pragma once
// Patch-attention image classifier (ViT-style): patch embedding, optional class token, positional encoding
// (none | sinusoidal | learned | relative | locality | gated_locality: a learnable Gaussian bias per head over
// patch offsets, additive or ConViT-gated, nn::MultiHeadAttention), `depth` pre-LayerNorm blocks
// (nn::TransformerBlock) whose attention follows a configurable neighbourhood policy, then class-token or mean
// pooling and a linear head. Optionally hierarchical (merge_after): Swin-style 2×2 patch merging between blocks
// halves the grid and doubles the width, as a CNN's pooling stages do.
// With policy window2d 3×3 and relative bias it is a convolution-like local self-attention network.
// receptive_field() (models/model.hpp) reports per layer and head the attention-weighted mean offset (in cells of
// that block's grid) and, for locality positions, the learned widths (also in cells) and gates.
#include "framework/attention/policy.hpp"
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema patch_attention_schema();
// "" or what is wrong with the combination (e.g. a window larger than the patch grid).
std::string check_patch_attention(const Params& p, const ImageShape& shape);
std::shared_ptr<ImageModel> make_patch_attention(const Params& p, const ImageShape& shape, uint64_t seed);

// Attention probabilities of every block of a patch-attention model for the given query tokens, in evaluation
// mode: result[layer] has shape (B, H, |queries|, N) with N = that block's tokens (class token first when there
// is one). Queries index the tokens of the first grid; in a block after merges (merge_after) each stands for the
// merged token that contains its patch, and N counts that block's grid (patch_block_layouts).
// Errors when `model` is not a patch-attention model.
std::vector<Tensor> patch_attention_weights(ImageModel& model, const Tensor& images, const std::vector<int64_t>& queries);

struct PatchLayout {
  int64_t grid_h = 0, grid_w = 0, patch = 0;
  bool class_token = false;
  int64_t tokens() const { return grid_h * grid_w + (class_token ? 1 : 0); }
  int64_t first_patch() const { return class_token ? 1 : 0; }
};
// The first grid (the patch embedding's), and the grid each block attends over (they differ after merge_after).
PatchLayout patch_layout(const ImageModel& model);
std::vector<PatchLayout> patch_block_layouts(const ImageModel& model);

// The 2×2 grouping of patch merging: x (B, gh·gw, C) over a row-major gh×gw grid with even sides ->
// (B, gh/2·gw/2, 4C), token (i, j) the concatenation of tokens (2i, 2j), (2i, 2j+1), (2i+1, 2j), (2i+1, 2j+1).
Var group_2x2(const Var& x, int64_t gh, int64_t gw);

// The attention policy over [class token?] + gh×gw patch tokens that the config describes.
Policy patch_policy(const Params& p, int64_t grid_h, int64_t grid_w, bool class_token);

}  // namespace rc::models
