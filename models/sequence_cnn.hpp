#pragma once
// 1-D CNN sequence classifier (type `conv1d`): `layers` stacked convolutions over time, each
// conv(kernel k, dilation d_i, no bias) → BatchNorm → ReLU (residual: relu(BN(conv(x)) + x) where the width does
// not change), then mean (or last-step) pooling over time and a linear head. The convolution runs as conv2d on
// (B, F, 1, L) with a 1 × k kernel. Centred ("same") padding needs an odd kernel; causal: true pads on the left
// only, so step t sees steps <= t.
//   dilation "1": every layer d_i = 1; an integer g >= 2, or "exponential" (= 2): d_i = g^i (WaveNet-style).
//   receptive field (steps one output sees) = 1 + (k − 1) · Σ_i d_i: with d = 1, 1 + L_layers (k − 1) grows
//   linearly with depth; with d_i = 2^i, 1 + (k − 1)(2^layers − 1) grows exponentially.
// Parameters: layers.<i>.conv.weight (C_out, C_in, 1, k), layers.<i>.bn.weight, layers.<i>.bn.bias, head.weight,
// head.bias.
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema conv1d_schema();
std::string check_conv1d(const Params& p, const SequenceShape& shape);
std::shared_ptr<SequenceModel> make_conv1d(const Params& p, const SequenceShape& shape, uint64_t seed);

// The dilation of each layer (throws for a bad `dilation`), and the receptive field in steps, as above.
std::vector<int64_t> conv1d_dilations(const Params& p);
int64_t conv1d_receptive_field(const Params& p);

}  // namespace rc::models
