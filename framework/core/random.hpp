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

// splitmix64: derives independent streams from (seed, index). Inline: per-element dropout masks hash every element.
inline uint64_t mix_seed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Tensor randn(const Shape& shape, Generator& gen, float mean = 0.0f, float stddev = 1.0f);
Tensor rand_uniform(const Shape& shape, Generator& gen, float lo = 0.0f, float hi = 1.0f);

}  // namespace rc
