#pragma once
// Data-parallel gradients: after each rank's backward over its share of a batch, make every rank's gradients
// the gradient of the whole batch.
//
// Each rank's loss is the mean over its n_local items, so its gradient is g_r = (1/n_r) Σ_{i∈r} ∇ℓ_i. The
// gradient of the batch mean over N = Σ n_r items is Σ_r (n_r/N) g_r: each rank scales its gradients by
// `local_weight` = n_r/N, then the group sums them (framework/core/collective.hpp: in rank order, the same bits on
// every rank). Parameters without a gradient on a rank take part with zeros, so every rank sends the same length.
// Without a data-parallel group (or with one rank) this does nothing.
#include <vector>

#include "framework/autograd/var.hpp"

namespace rc {

void allreduce_gradients(const std::vector<Var>& params, double local_weight);

}  // namespace rc
