#include "framework/ops/dropout.hpp"

#include <cmath>
#include <memory>

#include "framework/core/random.hpp"
#include "framework/ops/pointwise.hpp"

namespace rc {

namespace {
constexpr int64_t kDropoutChunk = 1 << 14;

void check_p(float p) {
  RC_CHECK(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), got {}", p);
}

// Element i of a chunk is dropped when the top 32 bits of the chunk's splitmix64 stream at i fall below
// p · 2^32 (an exact integer comparison, so the keep rate is 1 - p up to 2^-32).
uint64_t drop_threshold(float p) { return static_cast<uint64_t>(std::ldexp(static_cast<double>(p), 32)); }

// keep[i - b] for i in [b, e), the elements of chunk `chunk`
void fill_keep(uint8_t* keep, int64_t b, int64_t e, uint64_t seed, int64_t chunk, uint64_t threshold) {
  uint64_t state = mix_seed(seed, static_cast<uint64_t>(chunk));
  for (int64_t i = 0; i < e - b; ++i) {
    state += 0x9e3779b97f4a7c15ULL;  // splitmix64 step
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    keep[i] = (z >> 32) >= threshold ? 1 : 0;
  }
}
}  // namespace

std::vector<uint8_t> dropout_mask(int64_t n, float p, uint64_t seed) {
  check_p(p);
  std::vector<uint8_t> keep(static_cast<size_t>(n));
  const uint64_t threshold = drop_threshold(p);
  parallel_chunks(n, kDropoutChunk, [&](int64_t c, int64_t b, int64_t e) {
    fill_keep(keep.data() + b, b, e, seed, c, threshold);
  });
  return keep;
}

Var dropout(const Var& x, float p, bool training, uint64_t seed) {
  check_p(p);
  if (!training || p == 0.0f) return x;
  Tensor xv = x.value().contiguous();
  const int64_t n = xv.numel();
  const float scale = 1.0f / (1.0f - p);
  const uint64_t threshold = drop_threshold(p);
  auto keep = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n));
  Tensor y = Tensor::empty(xv.shape());
  const float* xp = xv.data();
  float* yp = y.data();
  uint8_t* kp = keep->data();
  parallel_chunks(n, kDropoutChunk, [&](int64_t c, int64_t b, int64_t e) {
    fill_keep(kp + b, b, e, seed, c, threshold);
    for (int64_t i = b; i < e; ++i) yp[i] = kp[i] ? xp[i] * scale : 0.0f;
  });
  // forward was y = x · m · scale, so dx = dy · m · scale (the mask is all backward keeps)
  return make_result(y, {&x}, "dropout", [x, keep, scale](const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(dy.shape());
    const float* gp = dy.data();
    float* dp = dx.data();
    const uint8_t* m = keep->data();
    parallel_chunks(dy.numel(), kDropoutChunk, [&](int64_t, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dp[i] = m[i] ? gp[i] * scale : 0.0f;
    });
    accumulate_grad(x, dx);
  });
}

}  // namespace rc
