#pragma once
// Parameter initializers (PyTorch's torch.nn.init). Each fills t in place (views included) from gen, so the
// same generator state gives the same values. Fans of a weight:
//   (out, in)              fan_in = in,              fan_out = out
//   (O, C, k1, k2, ...)    fan_in = C * k1 * k2...,  fan_out = O * k1 * k2...
// (fewer than 2 dimensions is an error, as in PyTorch).
//   xavier_uniform:  U(-a, a),          a   = gain * sqrt(6 / (fan_in + fan_out))
//   xavier_normal:   N(0, std^2),       std = gain * sqrt(2 / (fan_in + fan_out))
//   kaiming_uniform: U(-b, b),          b   = gain * sqrt(3 / fan),   fan = fan_in or fan_out (mode)
//   kaiming_normal:  N(0, std^2),       std = gain / sqrt(fan)
//   trunc_normal:    N(mean, std^2) conditioned on [a, b], sampled by the inverse CDF (exact, no clamping)
// Gains: linear/identity/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4.
#include <cstdint>

#include "framework/core/random.hpp"

namespace rc::nn::init {

struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
// shape: (out, in) or (O, C, k...)
Fans compute_fans(const Shape& shape);

enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu, selu };
enum class FanMode { fan_in, fan_out };

// negative_slope is used by leaky_relu only
float calculate_gain(Nonlinearity nl, float negative_slope = 0.01f);

void xavier_uniform_(Tensor t, Generator& gen, float gain = 1.0f);
void xavier_normal_(Tensor t, Generator& gen, float gain = 1.0f);
// PyTorch's defaults: a = 0 (the leaky_relu slope), fan_in, leaky_relu, i.e. gain sqrt(2)
void kaiming_uniform_(Tensor t, Generator& gen, float a = 0.0f, FanMode mode = FanMode::fan_in,
                      Nonlinearity nl = Nonlinearity::leaky_relu);
void kaiming_normal_(Tensor t, Generator& gen, float a = 0.0f, FanMode mode = FanMode::fan_in,
                     Nonlinearity nl = Nonlinearity::leaky_relu);
// requires std > 0 and a < b
void trunc_normal_(Tensor t, Generator& gen, float mean = 0.0f, float std = 1.0f, float a = -2.0f, float b = 2.0f);
void uniform_(Tensor t, Generator& gen, float lo = 0.0f, float hi = 1.0f);
void normal_(Tensor t, Generator& gen, float mean = 0.0f, float std = 1.0f);
void zeros_(Tensor t);
void ones_(Tensor t);
void constant_(Tensor t, float value);

}  // namespace rc::nn::init
