#pragma once
// The tiled kernel's plan (internal): query blocks of at most kMaxBlockQ queries, each with the candidate keys it
// may touch (a contiguous key hull, or for window2d the keys under a patch of the grid) cut into key tiles that
// the policy's block mask classifies as empty (dropped), full (no mask) or partial (masked). Masks are stored
// transposed, keys x queries with row stride mp = round16(queries), padding columns 0, as the kernel reads them.
#include <cstdint>
#include <vector>

#include "framework/attention/kernels.hpp"

namespace rc::attn {

// Either the range [begin, end) or an explicit increasing list of tokens.
struct TokenSet {
  int64_t begin = 0, end = 0;
  std::vector<int64_t> list;
  bool contiguous() const { return list.empty(); }
  int64_t size() const { return list.empty() ? end - begin : static_cast<int64_t>(list.size()); }
  int64_t operator[](int64_t t) const { return list.empty() ? begin + t : list[t]; }
};

// A non-empty key tile [t0, t1) of a block's keys; mask: offset into the block's masks, or kFull / kRecompute.
inline constexpr int64_t kFull = -1, kRecompute = -2;
struct TileRef {
  int64_t t0, t1, mask;
};

struct QueryBlock {
  TokenSet queries, keys;
  std::vector<TileRef> tiles;
  std::vector<uint8_t> masks;
};

struct TiledPlan {
  std::vector<QueryBlock> blocks;
  bool covers_all = false;  // every query is in a block (so the kernels write every row of out and dq)
};

inline constexpr int64_t kBlockK = 128;  // keys per tile

// Builds the plan (make_tiled_plan memoizes it on the policy).
std::shared_ptr<const TiledPlan> build_plan(const Policy& policy, int64_t n);

// maskT (n x mp) for queries x keys, from the policy (transposing its queries x keys answer).
void tile_mask_transposed(const Policy& policy, const int64_t* queries, int64_t m, const int64_t* keys, int64_t n,
                          uint8_t* maskT, std::vector<uint8_t>& tmp);

}  // namespace rc::attn
