// The tiled kernel's bias bookkeeping: bias-table indices per tile, and the per-call BiasCache (bias_cache.hpp).
#include "framework/attention/bias_cache.hpp"

#include <algorithm>

#include "framework/attention/simd.hpp"
#include "framework/attention/tile_gemm.hpp"

namespace rc::attn {

// The bias table index of every (key, query) pair of a tile, as BiasIndex::index gives it, without a division
// per pair: 2-D grid coordinates (in units of the dilation, with the residue class) are found once per token.
void tile_bias_index(const BiasIndex& bi, const int64_t* qidx, int64_t m, int64_t mp, const int64_t* kidx,
                     int64_t n, std::vector<int32_t>& qcoord, std::vector<int32_t>& kcoord, int32_t* out) {
  std::fill_n(out, n * mp, -1);
  if (bi.mode == BiasIndex::Mode::Offset1d) {
    for (int64_t b = 0; b < n; ++b)
      for (int64_t a = 0; a < m; ++a) out[b * mp + a] = static_cast<int32_t>(bi.index(qidx[a], kidx[b]));
    return;
  }
  if (bi.mode != BiasIndex::Mode::Offset2d) return;
  // per token: row, column (dilation units) and residue class, or residue -1 off the grid
  auto coords = [&](const int64_t* idx, int64_t cnt, std::vector<int32_t>& buf) {
    int32_t* cd = sized(buf, 3 * cnt);
    const int64_t cells = bi.grid_h * bi.grid_w;
    for (int64_t x = 0; x < cnt; ++x) {
      const int64_t g = idx[x] - bi.first;
      if (g < 0 || g >= cells) {
        cd[3 * x + 2] = -1;
        continue;
      }
      const int64_t r = g / bi.grid_w, col = g % bi.grid_w;
      cd[3 * x] = static_cast<int32_t>(r / bi.dil_h);
      cd[3 * x + 1] = static_cast<int32_t>(col / bi.dil_w);
      cd[3 * x + 2] = static_cast<int32_t>((r % bi.dil_h) * bi.dil_w + col % bi.dil_w);
    }
    return cd;
  };
  const int32_t* qc = coords(qidx, m, qcoord);
  const int32_t* kc = coords(kidx, n, kcoord);
  const int32_t rh = static_cast<int32_t>(bi.radius_h), rw = static_cast<int32_t>(bi.radius_w), width = 2 * rw + 1;
  for (int64_t b = 0; b < n; ++b) {
    const int32_t kres = kc[3 * b + 2];
    if (kres < 0) continue;
    for (int64_t a = 0; a < m; ++a) {
      if (qc[3 * a + 2] != kres) continue;
      const int32_t dr = std::clamp(kc[3 * b] - qc[3 * a], -rh, rh);
      const int32_t dc = std::clamp(kc[3 * b + 1] - qc[3 * a + 1], -rw, rw);
      out[b * mp + a] = (dr + rh) * width + dc + rw;
    }
  }
}

// The bias-table indices of every tile of every query block, computed once per call: they depend on the
// tokens only, not on the batch or the head, so per-tile recomputation would repeat them B·H times (for a
// 7×7 patch grid that was a tenth of a ViT training step). Skipped when they would take more than 16 MiB;
// load_tile then computes each tile's indices itself.
// With the indices, when they fit in another 16 MiB, the cache holds every head's bias values at the same
// positions (0 where a pair has no bias), so that adding the bias to a tile's scores is one vector add instead of
// a scalar gather per pair (that gather was 9 % of a 7×7-patch ViT training step on one thread). Adding 0 leaves
// a score unchanged, so both paths give the same scores bit for bit.
// Backward adds dS into the bias gradient. The cache lists, per block, the pairs that have a bias and that the
// policy allows, in the order of the tile layout, so that loop visits only those (no branch, no padding, no masked
// pairs), and it lists them as runs: up to 16 consecutive positions (queries along a grid row, one key) whose table
// indices fall by one, which one masked vector add handles (simd::add_reversed). Pair by pair that scatter was
// 15 % of a training step of full attention with a bias over a 14×14 grid (perf, AMD EPYC Zen 5). Each table entry
// still receives its terms in the same order (the entries of a run are distinct), and a masked pair's dS is an
// exact zero (P = 0), which leaves a sum that started at +0 unchanged: the gradient is the same bit for bit.
BiasCache make_bias_cache(const Problem& p, const TiledPlan& plan) {
  BiasCache bc;
  if (!p.bias || p.B * p.H < 2) return bc;
  int64_t total = 0;
  for (const QueryBlock& blk : plan.blocks) total += static_cast<int64_t>(blk.keys.size()) * round16(blk.queries.size());
  if (total > (int64_t{4} << 20)) return bc;  // (so positions fit in int32 too)
  bc.total = total;
  bc.start.resize(plan.blocks.size());
  bc.idx.resize(static_cast<size_t>(total));
  bc.run_start.assign(1, 0);
  std::vector<int32_t> qcoord, kcoord;
  std::vector<uint8_t> mask, tmp;
  int64_t off = 0;
  for (size_t bi = 0; bi < plan.blocks.size(); ++bi) {
    const QueryBlock& blk = plan.blocks[bi];
    const int64_t m = blk.queries.size(), mp = round16(m);
    bc.start[bi] = off;
    std::vector<int64_t> qidx(m), kidx;
    for (int64_t a = 0; a < m; ++a) qidx[a] = blk.queries[a];
    for (const TileRef& ref : blk.tiles) {
      const int64_t n = ref.t1 - ref.t0;
      kidx.resize(n);
      for (int64_t b = 0; b < n; ++b) kidx[b] = blk.keys[ref.t0 + b];
      int32_t* bidx = bc.idx.data() + off + ref.t0 * mp;
      tile_bias_index(p.bias_index, qidx.data(), m, mp, kidx.data(), n, qcoord, kcoord, bidx);
      // the tile's allowed pairs with a bias, in layout order, as runs
      const size_t tile_first_run = bc.run_pos.size();
      const uint8_t* mk = nullptr;
      if (ref.mask >= 0) {
        mk = blk.masks.data() + ref.mask;
      } else if (ref.mask == kRecompute) {
        mask.resize(n * mp);
        tile_mask_transposed(*p.policy, qidx.data(), m, kidx.data(), n, mask.data(), tmp);
        mk = mask.data();
      }
      for (int64_t x = 0; x < n * mp; ++x) {
        if (bidx[x] < 0 || (mk && !mk[x])) continue;
        const int32_t pos = static_cast<int32_t>(ref.t0 * mp + x);
        if (bc.run_pos.size() > tile_first_run) {
          const int32_t len = bc.run_len.back();
          if (len < simd::kWidth && pos == bc.run_pos.back() + len && bidx[x] == bc.run_idx.back() - len) {
            ++bc.run_len.back();
            continue;
          }
        }
        bc.run_pos.push_back(pos);
        bc.run_idx.push_back(bidx[x]);
        bc.run_len.push_back(1);
      }
    }
    bc.run_start.push_back(static_cast<int64_t>(bc.run_pos.size()));
    off += static_cast<int64_t>(blk.keys.size()) * mp;
  }
  if (p.H * total <= (int64_t{4} << 20)) {
    bc.val.resize(static_cast<size_t>(p.H * total));
    for (int64_t h = 0; h < p.H; ++h) {
      const float* table = p.bias + h * p.bias_index.table_size;
      float* dst = bc.val.data() + h * total;
      for (int64_t x = 0; x < total; ++x) dst[x] = bc.idx[x] >= 0 ? table[bc.idx[x]] : 0.0f;
    }
  }
  return bc;
}

}  // namespace rc::attn
