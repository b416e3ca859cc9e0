#pragma once
// Global seeding: one seed makes a run reproducible bit-for-bit at a fixed thread count.
// Every random consumer takes a Generator; ops that need randomness inside parallel loops derive a
// per-chunk generator from (seed, chunk index) so results do not depend on scheduling.
#include <cstdint>
#include <random>

#include "framework/core/tensor.hpp"

namespace rc {

using Generator = std::mt19937_64;

void manual_seed(uint64_t seed);  // reseeds the global generator
uint64_t initial_seed();
Generator& global_generator();
uint64_t next_seed();  // a fresh 64-bit seed drawn from the global generator

// splitmix64: derives independent streams from (seed, index)
uint64_t mix_seed(uint64_t seed, uint64_t index);

Tensor randn(const Shape& shape, Generator& gen, float mean = 0.0f, float stddev = 1.0f);
Tensor rand_uniform(const Shape& shape, Generator& gen, float lo = 0.0f, float hi = 1.0f);

}  // namespace rc
