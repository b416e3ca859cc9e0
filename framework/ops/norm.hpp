#pragma once
// Normalisation layers as autograd ops: LayerNorm over the last dimension (optionally fused with a residual
// add) and BatchNorm over the batch (and spatial) dimensions per channel.
#include "framework/autograd/var.hpp"

namespace rc {

// x: (..., D); gamma, beta: (D); y: x's shape
// y = (x − μ) · rstd · γ + β per row, μ = mean(x), rstd = 1/√(var(x) + eps) with the biased variance.
// Forward makes one pass per row and saves μ and rstd; backward keeps x, γ, μ, rstd.
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps = 1e-5f);

// x, residual: (..., D); gamma, beta: (D); sum, out: x's shape
// sum = x + residual (the stream a pre-norm block carries on), out = layer_norm(sum, γ, β, eps), one pass.
struct LayerNormResidual {
  Var sum;
  Var out;
};
LayerNormResidual layer_norm_residual(const Var& x, const Var& residual, const Var& gamma, const Var& beta,
                                      float eps = 1e-5f);

// x: (N, C) or (N, C, H, W); gamma, beta: (C); running_mean, running_var: (C), contiguous; y: x's shape
// y = (x − μ_c) · rstd_c · γ_c + β_c per channel c.
// training: μ, var are the batch statistics over N (and H, W), rstd = 1/√(var + eps) with the biased var,
//   and the running stats are updated in place: r ← (1 − momentum) r + momentum · stat, using the unbiased
//   variance for running_var (as PyTorch). running stats may both be undefined (then nothing is tracked).
// eval: μ = running_mean, var = running_var (constants for backward).
// relu = true fuses a ReLU: y = max(0, BN(x)), in one pass forward and backward (relu(batch_norm(...)) in value
// and gradient, with ReLU's gradient 0 at 0).
// Data-parallel training (a data-parallel group of K > 1 ranks installed, framework/core/collective.hpp): the
// training statistics are synchronised, i.e. μ and var are those of the whole batch over all ranks (the per-channel
// sums are all-reduced, and so are Σ dy and Σ dy (x − μ) in backward), so K ranks with B/K items each compute what
// one process computes with B items, up to float rounding; count·K must exceed 1. dγ and dβ stay this rank's
// share (the gradient all-reduce adds them). Eval mode and single-process runs are unchanged.
Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
               bool training, float momentum = 0.1f, float eps = 1e-5f, bool relu = false);

}  // namespace rc
