#pragma once
// Learnable locality (autograd ops): the receptive field of an attention head as parameters.
//
// locality_bias: Cordonnier et al. 2020's quadratic relative-position encoding, one Gaussian per head over the
// offsets Δ = (dr, dc) between key and query on a grid,
//     b[h, t] = −softplus(α_h) · ‖Δ_t − μ_h‖²,
// a (H, T) table that feeds the attention operator's relative-position bias (AttentionOptions::rel_bias), so
// every policy and kernel gets it unchanged. Under softmax the head attends like a Gaussian of standard
// deviation σ_h = 1 / sqrt(2 softplus(α_h)) (grid units) centred at offset μ_h: σ_h is the learned width.
//
// gated_mix: ConViT's gated positional self-attention (d'Ascoli et al. 2021) mixes content and positional
// attention per head, A = (1 − g_h) A_content + g_h A_positional with g_h = sigmoid(λ_h); the output is linear
// in A, so it mixes the two attention outputs: out = (1 − g_h) · content + g_h · positional.
#include "framework/attention/score.hpp"
#include "framework/autograd/var.hpp"

namespace rc {

// alpha: (H), mu: (H, 2), offsets: (T, 2) (dr, dc per table entry, not differentiated) -> (H, T).
Var locality_bias(const Var& alpha, const Var& mu, const Tensor& offsets);

// content, positional: (B, H, N, D); gate_logit: (H) -> (B, H, N, D).
Var gated_mix(const Var& content, const Var& positional, const Var& gate_logit);

// The offsets (dr, dc) of every entry of a 2-D relative-position bias table, in grid cells (a window2d's
// dilation included): (table_size, 2). Errors unless `index` is 2-D (Offset2d).
Tensor bias_table_offsets(const BiasIndex& index);

// softplus(x) = log(1 + e^x) and sigmoid(x) = 1 / (1 + e^-x), stable for large |x|.
double softplus(double x);
double sigmoid(double x);
// The Gaussian width a locality head has for width logit α: 1 / sqrt(2 softplus(α)); and its inverse.
double locality_width(double alpha);
double locality_alpha_for_width(double width);

}  // namespace rc
