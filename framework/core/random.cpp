#include "framework/core/random.hpp"

namespace rc {

namespace {
uint64_t g_seed = 0x5eed;
Generator g_gen(g_seed);
}  // namespace

void manual_seed(uint64_t seed) {
  g_seed = seed;
  g_gen.seed(seed);
}
uint64_t initial_seed() { return g_seed; }
Generator& global_generator() { return g_gen; }
uint64_t next_seed() { return g_gen(); }

Tensor randn(const Shape& shape, Generator& gen, float mean, float stddev) {
  Tensor t = Tensor::empty(shape);
  std::normal_distribution<float> dist(mean, stddev);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

Tensor rand_uniform(const Shape& shape, Generator& gen, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

}  // namespace rc
