// Building the tiled kernel's plan (see tiled_plan.hpp): query blocks, their key tiles and the tile classes.
#include "framework/attention/tiled_plan.hpp"

#include <algorithm>

#include "framework/attention/policy_rule.hpp"
#include "framework/attention/tile_gemm.hpp"
#include "framework/core/parallel.hpp"

namespace rc::attn {

namespace {

constexpr int64_t kBlockQ = kMaxBlockQ;                // queries per block (1-D policies)
constexpr int64_t kPatch = 8;                          // window2d: query patches of kPatch x kPatch grid cells
constexpr int64_t kMaskBudget = int64_t{32} << 20;     // bytes of cached partial-tile masks per plan
constexpr int kMemoTag = 1;                            // Policy::memo tag of the plan

// a window2d alone (PlanHint::patches): for each dilation residue class, cover its sub-grid with kPatch x kPatch query patches; the keys
// of a patch are the rectangle spanned by the windows of its corner cells.
void plan_window2d(const Window2d& w, TiledPlan& plan) {
  for (int64_t gr = 0; gr < w.dilation_h; ++gr)
    for (int64_t gc = 0; gc < w.dilation_w; ++gc) {
      int64_t len_r = (w.grid_h - gr + w.dilation_h - 1) / w.dilation_h;
      int64_t len_c = (w.grid_w - gc + w.dilation_w - 1) / w.dilation_w;
      for (int64_t pr0 = 0; pr0 < len_r; pr0 += kPatch)
        for (int64_t pc0 = 0; pc0 < len_c; pc0 += kPatch) {
          int64_t pr1 = std::min(len_r, pr0 + kPatch), pc1 = std::min(len_c, pc0 + kPatch);
          int64_t kr0 = window2d_start(pr0, len_r, w.kernel_h), kr1 = window2d_start(pr1 - 1, len_r, w.kernel_h) + w.kernel_h;
          int64_t kc0 = window2d_start(pc0, len_c, w.kernel_w), kc1 = window2d_start(pc1 - 1, len_c, w.kernel_w) + w.kernel_w;
          auto token = [&](int64_t pr, int64_t pc) {
            return w.first + (gr + pr * w.dilation_h) * w.grid_w + gc + pc * w.dilation_w;
          };
          QueryBlock b;
          for (int64_t pr = pr0; pr < pr1; ++pr)
            for (int64_t pc = pc0; pc < pc1; ++pc) b.queries.list.push_back(token(pr, pc));
          for (int64_t pr = kr0; pr < kr1; ++pr)
            for (int64_t pc = kc0; pc < kc1; ++pc) b.keys.list.push_back(token(pr, pc));
          plan.blocks.push_back(std::move(b));
        }
    }
}

// Classifies the key tiles of every block (in parallel over blocks): empty tiles are dropped, full ones need no
// mask, partial ones keep their mask while the plan stays within kMaskBudget (else they are recomputed on use).
void classify_tiles(const Policy& policy, TiledPlan& plan) {
  const bool full = policy.rule().plan_hint().all_pairs;
  const int64_t nb = static_cast<int64_t>(plan.blocks.size());
  const int64_t budget_per_block = kMaskBudget / std::max<int64_t>(nb, 1);
  parallel_for(nb, 1, [&](int64_t b0, int64_t b1) {
    std::vector<int64_t> qidx, kidx;
    std::vector<uint8_t> m, tmp;
    for (int64_t x = b0; x < b1; ++x) {
      QueryBlock& blk = plan.blocks[x];
      const int64_t nq = blk.queries.size(), nk = blk.keys.size(), mp = round16(nq);
      qidx.resize(static_cast<size_t>(nq));
      for (int64_t a = 0; a < nq; ++a) qidx[a] = blk.queries[a];
      for (int64_t t0 = 0; t0 < nk; t0 += kBlockK) {
        const int64_t t1 = std::min(nk, t0 + kBlockK), n = t1 - t0;
        if (full) {
          blk.tiles.push_back({t0, t1, kFull});
          continue;
        }
        kidx.resize(static_cast<size_t>(n));
        m.resize(static_cast<size_t>(n * mp));
        for (int64_t b = 0; b < n; ++b) kidx[b] = blk.keys[t0 + b];
        tile_mask_transposed(policy, qidx.data(), nq, kidx.data(), n, m.data(), tmp);
        int64_t allowed = 0;
        for (uint8_t v : m) allowed += v;
        if (allowed == 0) continue;
        if (allowed == nq * n) {
          blk.tiles.push_back({t0, t1, kFull});
        } else if (static_cast<int64_t>(blk.masks.size()) + n * mp <= budget_per_block) {
          blk.tiles.push_back({t0, t1, static_cast<int64_t>(blk.masks.size())});
          blk.masks.insert(blk.masks.end(), m.begin(), m.end());
        } else {
          blk.tiles.push_back({t0, t1, kRecompute});
        }
      }
    }
  });
}

}  // namespace

void tile_mask_transposed(const Policy& policy, const int64_t* queries, int64_t m, const int64_t* keys, int64_t n,
                          uint8_t* maskT, std::vector<uint8_t>& tmp) {
  const int64_t mp = round16(m);
  tmp.resize(static_cast<size_t>(m * n));
  policy.mask(queries, m, keys, n, tmp.data());
  for (int64_t b = 0; b < n; ++b) {
    uint8_t* row = maskT + b * mp;
    for (int64_t a = 0; a < m; ++a) row[a] = tmp[a * n + b];
    std::fill(row + m, row + mp, uint8_t{0});
  }
}

bool tiled_writes_every_row(const TiledPlan& plan) { return plan.covers_all; }

std::shared_ptr<const TiledPlan> make_tiled_plan(const Policy& policy, int64_t n) {
  return std::static_pointer_cast<const TiledPlan>(
      policy.memo(kMemoTag, n, [&]() -> Policy::MemoPtr { return build_plan(policy, n); }));
}

std::shared_ptr<const TiledPlan> build_plan(const Policy& policy, int64_t n) {
  auto plan = std::make_shared<TiledPlan>();
  if (const Window2d* w = policy.rule().plan_hint().patches) {
    plan_window2d(*w, *plan);
  } else {
    for (int64_t q0 = 0; q0 < n; q0 += kBlockQ) {
      QueryBlock b;
      b.queries.begin = q0;
      b.queries.end = std::min(n, q0 + kBlockQ);
      auto [lo, hi] = policy.key_hull(b.queries.begin, b.queries.end, n);
      b.keys.begin = lo;
      b.keys.end = std::max(lo, hi);
      plan->blocks.push_back(std::move(b));
    }
  }
  classify_tiles(policy, *plan);
  int64_t covered = 0;  // blocks never share a query
  for (const QueryBlock& b : plan->blocks) covered += b.queries.size();
  plan->covers_all = covered == n;
  return plan;
}

}  // namespace rc::attn
