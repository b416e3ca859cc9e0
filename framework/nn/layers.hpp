#pragma once
// Thin modules: each owns its parameters and calls one functional op (framework/ops). Initialisation follows
// PyTorch's defaults unless stated, from the generator passed at construction.
#include <memory>

#include "framework/core/random.hpp"
#include "framework/nn/call_counter.hpp"
#include "framework/nn/module.hpp"
#include "framework/ops/conv.hpp"
#include "framework/ops/pool.hpp"

namespace rc::nn {

// x: (..., in) -> (..., out); y = x·wᵀ + b. weight (out, in): trunc_normal(std 0.02) when `transformer_init`,
// else kaiming_uniform(a = √5) as PyTorch; bias zeros (transformer) or U(±1/√in).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, Generator& gen, bool bias = true, bool transformer_init = false);
  Var forward(const Var& x) const;
  int64_t in_features, out_features;

 private:
  Var weight_, bias_;
};

// x: (N, C, H, W) -> (N, O, Ho, Wo). weight (O, C, kh, kw) kaiming_normal(fan_out, relu) as torchvision's
// ResNets; bias zeros.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, Generator& gen, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, int64_t dilation = 1);
  Var forward(const Var& x) const;
  void set_algorithm(ConvAlgorithm a) { options_.algorithm = a; }  // how conv2d computes (default Auto)

 private:
  Var weight_, bias_;
  Conv2dOptions options_;
};

// x: (N, C) or (N, C, H, W); γ = 1, β = 0, running mean 0 and var 1 (buffers running_mean, running_var).
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Var forward(const Var& x);
  Var forward_relu(const Var& x);  // relu(forward(x)), fused
  // x: (B, N, C) tokens -> (B, N, C), normalised per channel over all B·N tokens (a Transformer's BatchNorm)
  Var forward_tokens(const Var& x);

 private:
  Var gamma_, beta_;
  Tensor running_mean_, running_var_;
  float momentum_, eps_;
};

// x: (..., D); γ = 1, β = 0 (both without weight decay).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, float eps = 1e-5f);
  Var forward(const Var& x) const;

 private:
  Var gamma_, beta_;
  float eps_;
};

// Inverted dropout; a fresh seed per call drawn from the module's own seed and a call counter, so a run is
// reproducible from its seed.
class Dropout : public Module, public CallCounted {
 public:
  Dropout(float p, uint64_t seed);
  Var forward(const Var& x);
  uint64_t call_counter() const override { return calls_; }
  void set_call_counter(uint64_t calls) override { calls_ = calls; }

 private:
  float p_;
  uint64_t seed_, calls_ = 0;
};

}  // namespace rc::nn
