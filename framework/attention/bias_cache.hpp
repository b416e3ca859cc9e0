#pragma once
// The tiled kernel's relative-position bias bookkeeping (internal): the bias-table index of every (key, query) pair
// of a key tile, and a per-call cache of those indices, the bias values at them and, for backward, the runs of
// allowed pairs whose gradient one vector op adds (see bias_cache.cpp).
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "framework/attention/kernels.hpp"
#include "framework/attention/tiled_plan.hpp"

namespace rc::attn {

// The bias table index of every (key, query) pair of a tile, laid out (n x mp) as the kernel's transposed score
// tile, -1 for none (and for the padding columns m..mp). qcoord, kcoord: scratch.
void tile_bias_index(const BiasIndex& bi, const int64_t* qidx, int64_t m, int64_t mp, const int64_t* kidx,
                     int64_t n, std::vector<int32_t>& qcoord, std::vector<int32_t>& kcoord, int32_t* out);

// One query block's runs of allowed pairs with a bias, ascending by position: the first position of each run in
// the block's tile layout (t0·mp + b·mp + a), its table index (the next position's is one less) and its length
// (1-16; a run stays within one tile).
struct BiasRuns {
  const int32_t *pos = nullptr, *idx = nullptr;
  const uint8_t* len = nullptr;
  int64_t count = 0;
};

struct BiasCache {
  std::vector<int64_t> start;  // per block: offset of its first tile's indices (a tile at key t0 adds t0·mp)
  std::vector<int32_t> idx;
  std::vector<int64_t> run_start;  // per block: its first run (one past the last: +1)
  std::vector<int32_t> run_pos, run_idx;
  std::vector<uint8_t> run_len;
  std::vector<float, Eigen::aligned_allocator<float>> val;  // (H, total): the values at idx, per head; or empty
  int64_t total = 0;
  const int32_t* block(int64_t bi) const { return idx.empty() ? nullptr : idx.data() + start[bi]; }
  const float* block_values(int64_t bi, int64_t head) const {
    return val.empty() ? nullptr : val.data() + head * total + start[bi];
  }
  // the block's runs (empty without a cache)
  BiasRuns block_runs(int64_t bi) const {
    if (run_start.size() < 2) return {};
    return {run_pos.data() + run_start[bi], run_idx.data() + run_start[bi], run_len.data() + run_start[bi],
            run_start[bi + 1] - run_start[bi]};
  }
};

// Built once per kernel call (forward or backward); empty when the problem has no bias, a single (b, h), or the
// indices would take more than 16 MiB.
BiasCache make_bias_cache(const Problem& p, const TiledPlan& plan);

}  // namespace rc::attn
