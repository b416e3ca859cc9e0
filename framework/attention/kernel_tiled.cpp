// Tiled attention kernel (FlashAttention-style, on the CPU).
//
// The policy is turned into a plan: query blocks, each with the candidate keys it may touch (a contiguous key
// hull, or for window2d the keys under a patch of the grid). Keys are visited in tiles; the policy's block mask
// classifies each tile as empty (skipped), full (no masking) or partial (masked). Per tile:
//   S = Q_b K_t^T * scale (+ bias, masked),  online softmax: m' = max(m, rowmax S), P = exp(S - m'),
//   l = l e^{m - m'} + rowsum P,  O = O e^{m - m'} + dropout(P) V_t.
// The forward saves only lse = m + log l per query. Backward recomputes P = exp(S - lse) tile by tile:
//   dV_t += dropout(P)^T dO_b,  dP = keep * (dO_b V_t^T),  dS = P (dP - rowdot(dO, O)),
//   dQ_b += scale dS K_t,  dK_t += scale dS^T Q_b.
// Determinism: the forward is independent per query block. Backward work items are (b, h, chunk of query
// blocks) with a chunk count fixed by the problem size; each chunk accumulates dK/dV into its own buffer and
// the buffers are summed in chunk order, so results do not depend on the number of threads.
#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "framework/attention/kernels.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/tensor.hpp"

namespace rc::attn {

namespace {

constexpr int64_t kBlockQ = 64;      // queries per block
constexpr int64_t kBlockK = 128;     // keys per tile
constexpr int64_t kPatch = 8;        // window2d: query patches of kPatch x kPatch grid cells
constexpr int64_t kTargetItems = 8;  // backward: aim for at least this many (b, h, chunk) work items

using RowArray = Eigen::Map<Eigen::ArrayXf>;

// Either the range [begin, end) or an explicit increasing list of tokens.
struct TokenSet {
  int64_t begin = 0, end = 0;
  std::vector<int64_t> list;
  bool contiguous() const { return list.empty(); }
  int64_t size() const { return list.empty() ? end - begin : static_cast<int64_t>(list.size()); }
  int64_t operator[](int64_t t) const { return list.empty() ? begin + t : list[t]; }
};

// A non-empty key tile [t0, t1) of a block's keys; mask: offset into the block's masks, or kFull / kRecompute.
constexpr int64_t kFull = -1, kRecompute = -2;
constexpr int64_t kMaskBudget = int64_t{32} << 20;  // bytes of cached partial-tile masks per plan
struct TileRef {
  int64_t t0, t1, mask;
};

struct QueryBlock {
  TokenSet queries, keys;
  std::vector<TileRef> tiles;
  std::vector<uint8_t> masks;
};

}  // namespace

struct TiledPlan {
  std::vector<QueryBlock> blocks;
};

namespace {

using Plan = TiledPlan;

// window2d alone: for each dilation residue class, cover its sub-grid with kPatch x kPatch query patches; the keys
// of a patch are the rectangle spanned by the windows of its corner cells.
void plan_window2d(const Window2d& w, Plan& plan) {
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
void classify_tiles(const Policy& policy, Plan& plan) {
  const bool full = policy.kind() == PolicyKind::Full;
  const int64_t nb = static_cast<int64_t>(plan.blocks.size());
  const int64_t budget_per_block = kMaskBudget / std::max<int64_t>(nb, 1);
  parallel_for(nb, 1, [&](int64_t b0, int64_t b1) {
    std::vector<int64_t> qidx, kidx;
    std::vector<uint8_t> m;
    for (int64_t x = b0; x < b1; ++x) {
      QueryBlock& blk = plan.blocks[x];
      const int64_t nq = blk.queries.size(), nk = blk.keys.size();
      qidx.resize(static_cast<size_t>(nq));
      for (int64_t a = 0; a < nq; ++a) qidx[a] = blk.queries[a];
      for (int64_t t0 = 0; t0 < nk; t0 += kBlockK) {
        const int64_t t1 = std::min(nk, t0 + kBlockK), n = t1 - t0;
        if (full) {
          blk.tiles.push_back({t0, t1, kFull});
          continue;
        }
        kidx.resize(static_cast<size_t>(n));
        m.resize(static_cast<size_t>(nq * n));
        for (int64_t b = 0; b < n; ++b) kidx[b] = blk.keys[t0 + b];
        policy.mask(qidx.data(), nq, kidx.data(), n, m.data());
        int64_t allowed = 0;
        for (uint8_t v : m) allowed += v;
        if (allowed == 0) continue;
        if (allowed == nq * n) {
          blk.tiles.push_back({t0, t1, kFull});
        } else if (static_cast<int64_t>(blk.masks.size()) + nq * n <= budget_per_block) {
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

std::shared_ptr<const TiledPlan> make_tiled_plan(const Policy& policy, int64_t n) {
  auto plan = std::make_shared<Plan>();
  if (const Window2d* w = policy.window2d_params()) {
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
  return plan;
}

namespace {

// Per-thread scratch, reused across work items. 64-byte aligned: Eigen's vectorized reductions peel an unaligned
// head, so the summation order (and the last bits) would otherwise depend on which thread's buffer is used.
using FloatBuf = std::vector<float, Eigen::aligned_allocator<float>>;
struct Scratch {
  std::vector<int64_t> qidx, kidx;
  FloatBuf qs, eqb, ekb, kbuf, vbuf, s, p, dp, o, m, l, lse, delta, dob, dq, deq, dkt, dvt;
  std::vector<uint8_t> mask;
  static Scratch& get() {
    thread_local Scratch s;
    return s;
  }
};

template <class V>
auto* sized(V& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

// Row-major C (m x n) = alpha op(A) op(B) + beta C, with Eigen (reentrant; its blocking depends on sizes only).
// cblas_sgemm measured about the same here; swap in framework/core/gemm once it lands.
using ConstStrided = Eigen::Map<const MatrixRM, Eigen::Unaligned, Eigen::OuterStride<>>;
using Strided = Eigen::Map<MatrixRM, Eigen::Unaligned, Eigen::OuterStride<>>;
inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  Strided C(c, m, n, Eigen::OuterStride<>(ldc));
  ConstStrided A(a, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  ConstStrided B(b, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  if (beta == 0.0f)
    C.setZero();
  else if (beta != 1.0f)
    C *= beta;
  if (!ta && !tb) C.noalias() += alpha * A * B;
  else if (!ta && tb) C.noalias() += alpha * A * B.transpose();
  else if (ta && !tb) C.noalias() += alpha * A.transpose() * B;
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

// The state of one query block of one head: packed (and, for dot scores, pre-scaled) queries.
struct BlockCtx {
  const Problem& p;
  const Plan& plan;
  int64_t bh;
  const QueryBlock& blk;
  int64_t m;            // queries in the block
  const int64_t* qidx;  // their token indices
  const float* qs;      // (m, D) scale * q (dot scores)
  const float* eqb;     // (m) a_q . q (additive scores)
};

enum class TileClass { Empty, Partial, Full };

// Key tile [t0, t1) of the block's keys: sets kidx, K/V row pointers (gathered when keys are not contiguous),
// the mask, and the scores S (m x n, masked entries -inf). Returns the tile class; nothing else on Empty.
struct Tile {
  int64_t n = 0;
  const int64_t* kidx = nullptr;
  const float *k = nullptr, *v = nullptr;
  const uint8_t* mask = nullptr;  // null when Full
  TileClass cls = TileClass::Empty;
};

Tile load_tile(const BlockCtx& c, const TileRef& ref, Scratch& sc) {
  const Problem& p = c.p;
  const int64_t D = p.D, t0 = ref.t0, n = ref.t1 - ref.t0, m = c.m;
  Tile t;
  t.n = n;
  int64_t* kidx = sized(sc.kidx, n);
  for (int64_t b = 0; b < n; ++b) kidx[b] = c.blk.keys[t0 + b];
  t.kidx = kidx;
  t.cls = TileClass::Full;
  if (ref.mask >= 0) {
    t.cls = TileClass::Partial;
    t.mask = c.blk.masks.data() + ref.mask;
  } else if (ref.mask == kRecompute) {
    uint8_t* mk = sized(sc.mask, m * n);
    p.policy->mask(c.qidx, m, kidx, n, mk);
    t.cls = TileClass::Partial;
    t.mask = mk;
  }
  const float* kbase = p.k + p.bh_offset(c.bh);
  const float* vbase = p.v + p.bh_offset(c.bh);
  if (c.blk.keys.contiguous()) {
    t.k = kbase + kidx[0] * D;
    t.v = vbase + kidx[0] * D;
  } else {
    float* kb = sized(sc.kbuf, n * D);
    float* vb = sized(sc.vbuf, n * D);
    for (int64_t b = 0; b < n; ++b) {
      std::memcpy(kb + b * D, kbase + kidx[b] * D, sizeof(float) * D);
      std::memcpy(vb + b * D, vbase + kidx[b] * D, sizeof(float) * D);
    }
    t.k = kb;
    t.v = vb;
  }
  return t;
}

// S (m x n) = scores of the tile with bias; masked entries -inf.
void tile_scores(const BlockCtx& c, const Tile& t, float* s, Scratch& sc) {
  const Problem& p = c.p;
  const int64_t m = c.m, n = t.n;
  if (p.score == ScoreKind::Dot) {
    gemm(false, true, m, n, p.D, 1.0f, c.qs, p.D, t.k, p.D, 0.0f, s, n);
  } else {
    const float* ekrow = p.ek + c.bh * p.N;
    for (int64_t a = 0; a < m; ++a)
      for (int64_t b = 0; b < n; ++b) {
        float pre = c.eqb[a] + ekrow[t.kidx[b]];
        s[a * n + b] = pre > 0 ? pre : p.slope * pre;
      }
  }
  if (p.bias) {
    const float* table = p.bias + (c.bh % p.H) * p.bias_index.table_size;
    for (int64_t a = 0; a < m; ++a)
      for (int64_t b = 0; b < n; ++b) {
        int64_t x = p.bias_index.index(c.qidx[a], t.kidx[b]);
        if (x >= 0) s[a * n + b] += table[x];
      }
  }
  if (t.mask)
    for (int64_t x = 0; x < m * n; ++x)
      if (!t.mask[x]) s[x] = kNegInf;
}

// Multiplies P (m x n) by the dropout factors of the tile's pairs.
void apply_dropout(const BlockCtx& c, const Tile& t, float* pm) {
  for (int64_t a = 0; a < c.m; ++a)
    for (int64_t b = 0; b < t.n; ++b) pm[a * t.n + b] *= c.p.keep_factor(c.bh, c.qidx[a], t.kidx[b]);
}

// Packs the block's queries: qidx, scale * q rows (dot) or eq values (additive).
BlockCtx make_ctx(const Problem& p, const Plan& plan, int64_t bh, const QueryBlock& blk, Scratch& sc) {
  const int64_t m = blk.queries.size(), D = p.D;
  int64_t* qidx = sized(sc.qidx, m);
  for (int64_t a = 0; a < m; ++a) qidx[a] = blk.queries[a];
  float* qs = nullptr;
  float* eqb = nullptr;
  if (p.score == ScoreKind::Dot) {
    qs = sized(sc.qs, m * D);
    const float* qbase = p.q + p.bh_offset(bh);
    for (int64_t a = 0; a < m; ++a)
      for (int64_t d = 0; d < D; ++d) qs[a * D + d] = p.scale * qbase[qidx[a] * D + d];
  } else {
    eqb = sized(sc.eqb, m);
    for (int64_t a = 0; a < m; ++a) eqb[a] = p.eq[bh * p.N + qidx[a]];
  }
  return BlockCtx{p, plan, bh, blk, m, qidx, qs, eqb};
}

void forward_block(const Problem& p, const Plan& plan, int64_t bh, const QueryBlock& blk, float* out, float* lse) {
  Scratch& sc = Scratch::get();
  BlockCtx c = make_ctx(p, plan, bh, blk, sc);
  const int64_t m = c.m, D = p.D;
  float* o = sized(sc.o, m * D);
  float* rmax = sized(sc.m, m);
  float* rsum = sized(sc.l, m);
  std::fill_n(o, m * D, 0.0f);
  std::fill_n(rmax, m, kNegInf);
  std::fill_n(rsum, m, 0.0f);
  for (const TileRef& ref : blk.tiles) {
    Tile t = load_tile(c, ref, sc);
    const int64_t n = t.n;
    float* s = sized(sc.s, m * n);
    tile_scores(c, t, s, sc);
    for (int64_t a = 0; a < m; ++a) {  // online softmax, row by row
      RowArray row(s + a * n, n);
      float mx = std::max(rmax[a], row.maxCoeff());
      if (mx == kNegInf) {
        row.setZero();
        continue;
      }
      float alpha = std::exp(rmax[a] - mx);  // 0 when rmax was -inf
      row = (row - mx).exp();
      if (t.mask)
        for (int64_t b = 0; b < n; ++b) row[b] = t.mask[a * n + b] ? row[b] : 0.0f;
      rsum[a] = rsum[a] * alpha + row.sum();
      rmax[a] = mx;
      if (alpha != 1.0f)
        for (int64_t d = 0; d < D; ++d) o[a * D + d] *= alpha;
    }
    if (p.dropout > 0) apply_dropout(c, t, s);
    gemm(false, false, m, D, n, 1.0f, s, n, t.v, D, 1.0f, o, D);
  }
  float* obase = out + p.bh_offset(bh);
  for (int64_t a = 0; a < m; ++a) {
    const int64_t i = c.qidx[a];
    const bool any = rsum[a] > 0;
    const float inv = any ? 1.0f / rsum[a] : 0.0f;
    for (int64_t d = 0; d < D; ++d) obase[i * D + d] = o[a * D + d] * inv;
    lse[bh * p.N + i] = any ? rmax[a] + std::log(rsum[a]) : kNegInf;
  }
}

// Where one backward work item accumulates dK/dV (and dek, dbias): the real gradients for chunk 0 of a head,
// private buffers otherwise.
struct Accum {
  float *dk, *dv, *dek;  // (N, D), (N, D), (N) of this head
  float* dbias;          // (T) of this head
};

void backward_block(const Problem& p, const Plan& plan, int64_t bh, const QueryBlock& blk, const float* out,
                    const float* lse, const float* dout, const Grads& g, const Accum& acc) {
  Scratch& sc = Scratch::get();
  BlockCtx c = make_ctx(p, plan, bh, blk, sc);
  const int64_t m = c.m, D = p.D;
  const bool dot = p.score == ScoreKind::Dot;
  const float* obase = out + p.bh_offset(bh);
  const float* dobase = dout + p.bh_offset(bh);
  float* dob = sized(sc.dob, m * D);
  float* rlse = sized(sc.lse, m);
  float* delta = sized(sc.delta, m);
  for (int64_t a = 0; a < m; ++a) {  // delta_i = dO_i . O_i = sum_j p_ij dP_ij
    const int64_t i = c.qidx[a];
    std::memcpy(dob + a * D, dobase + i * D, sizeof(float) * D);
    float x = 0;
    for (int64_t d = 0; d < D; ++d) x += dob[a * D + d] * obase[i * D + d];
    delta[a] = x;
    rlse[a] = lse[bh * p.N + i];
  }
  float* dq = sized(sc.dq, m * D);
  float* deq = sized(sc.deq, m);
  std::fill_n(dq, m * D, 0.0f);
  std::fill_n(deq, m, 0.0f);
  for (const TileRef& ref : blk.tiles) {
    Tile t = load_tile(c, ref, sc);
    const int64_t n = t.n;
    float* s = sized(sc.s, m * n);
    tile_scores(c, t, s, sc);
    for (int64_t a = 0; a < m; ++a) {  // P = exp(S - lse), exactly zero where masked or for empty rows
      RowArray row(s + a * n, n);
      if (rlse[a] == kNegInf) {
        row.setZero();
        continue;
      }
      row = (row - rlse[a]).exp();
      if (t.mask)
        for (int64_t b = 0; b < n; ++b) row[b] = t.mask[a * n + b] ? row[b] : 0.0f;
    }
    const float* pd = s;  // dropout(P)
    if (p.dropout > 0) {
      float* pdrop = sized(sc.p, m * n);
      std::memcpy(pdrop, s, sizeof(float) * m * n);
      apply_dropout(c, t, pdrop);
      pd = pdrop;
    }
    // dV_t += dropout(P)^T dO_b; dK_t via a tile buffer when keys are gathered
    const bool direct = c.blk.keys.contiguous();
    float* dvt = direct ? acc.dv + t.kidx[0] * D : sized(sc.dvt, n * D);
    gemm(true, false, n, D, m, 1.0f, pd, n, dob, D, direct ? 1.0f : 0.0f, dvt, D);
    float* dpm = sized(sc.dp, m * n);
    gemm(false, true, m, n, D, 1.0f, dob, D, t.v, D, 0.0f, dpm, n);
    if (p.dropout > 0)  // dP = keep * (dO V^T): reuse the factors as pd / p
      for (int64_t a = 0; a < m; ++a)
        for (int64_t b = 0; b < n; ++b) dpm[a * n + b] *= p.keep_factor(bh, c.qidx[a], t.kidx[b]);
    for (int64_t a = 0; a < m; ++a)  // dS = P (dP - delta)
      for (int64_t b = 0; b < n; ++b) dpm[a * n + b] = s[a * n + b] * (dpm[a * n + b] - delta[a]);
    if (p.bias)
      for (int64_t a = 0; a < m; ++a)
        for (int64_t b = 0; b < n; ++b) {
          int64_t x = p.bias_index.index(c.qidx[a], t.kidx[b]);
          if (x >= 0) acc.dbias[x] += dpm[a * n + b];
        }
    float* dkt = nullptr;
    if (dot) {
      gemm(false, false, m, D, n, 1.0f, dpm, n, t.k, D, 1.0f, dq, D);
      dkt = direct ? acc.dk + t.kidx[0] * D : sized(sc.dkt, n * D);
      gemm(true, false, n, D, m, 1.0f, dpm, n, c.qs, D, direct ? 1.0f : 0.0f, dkt, D);
    } else {  // e = dS * leaky'(pre): deq_i += sum_j e_ij, dek_j += sum_i e_ij
      const float* ekrow = p.ek + bh * p.N;
      for (int64_t a = 0; a < m; ++a)
        for (int64_t b = 0; b < n; ++b) {
          float e = dpm[a * n + b] * (c.eqb[a] + ekrow[t.kidx[b]] > 0 ? 1.0f : p.slope);
          deq[a] += e;
          acc.dek[t.kidx[b]] += e;
        }
    }
    if (!direct)
      for (int64_t b = 0; b < n; ++b) {
        float* dvr = acc.dv + t.kidx[b] * D;
        for (int64_t d = 0; d < D; ++d) dvr[d] += dvt[b * D + d];
        if (dot) {
          float* dkr = acc.dk + t.kidx[b] * D;
          for (int64_t d = 0; d < D; ++d) dkr[d] += dkt[b * D + d];
        }
      }
  }
  for (int64_t a = 0; a < m; ++a) {
    const int64_t i = c.qidx[a];
    if (dot)
      for (int64_t d = 0; d < D; ++d) g.dq[p.bh_offset(bh) + i * D + d] = p.scale * dq[a * D + d];
    else
      g.deq[bh * p.N + i] = deq[a];
  }
}

}  // namespace

void tiled_forward(const Problem& p, const TiledPlan& plan, float* out, float* row_lse) {
  const int64_t nb = static_cast<int64_t>(plan.blocks.size());
  std::fill_n(row_lse, p.B * p.H * p.N, kNegInf);
  parallel_for(p.B * p.H * nb, 1, [&](int64_t begin, int64_t end) {
    for (int64_t x = begin; x < end; ++x) forward_block(p, plan, x / nb, plan.blocks[x % nb], out, row_lse);
  });
}

void tiled_backward(const Problem& p, const TiledPlan& plan, const float* out, const float* row_lse,
                    const float* dout, const Grads& g) {
  const int64_t nb = static_cast<int64_t>(plan.blocks.size()), BH = p.B * p.H, N = p.N, D = p.D;
  const int64_t T = p.bias ? p.bias_index.table_size : 0;
  // chunks of query blocks per head: fixed by the sizes only (never by the thread count)
  const int64_t chunks = std::clamp<int64_t>((kTargetItems + BH - 1) / BH, 1, std::max<int64_t>(nb, 1));
  const int64_t per_chunk = (nb + chunks - 1) / std::max<int64_t>(chunks, 1);
  const bool dot = p.score == ScoreKind::Dot;
  // private accumulators for chunks 1.. of every head; dbias always private per (head, chunk)
  std::vector<float> extra(static_cast<size_t>(BH * (chunks - 1) * (2 * N * D + N)), 0.0f);
  std::vector<float> dbias_parts(static_cast<size_t>(BH * chunks * T), 0.0f);
  auto accum_for = [&](int64_t bh, int64_t c) {
    float* bias = T ? dbias_parts.data() + (bh * chunks + c) * T : nullptr;
    if (c == 0)
      return Accum{dot ? g.dk + bh * N * D : nullptr, g.dv + bh * N * D, dot ? nullptr : g.dek + bh * N, bias};
    float* base = extra.data() + (bh * (chunks - 1) + c - 1) * (2 * N * D + N);
    return Accum{base, base + N * D, base + 2 * N * D, bias};
  };
  parallel_for(BH * chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t x = begin; x < end; ++x) {
      const int64_t bh = x / chunks, c = x % chunks;
      Accum acc = accum_for(bh, c);
      for (int64_t bi = c * per_chunk; bi < std::min(nb, (c + 1) * per_chunk); ++bi)
        backward_block(p, plan, bh, plan.blocks[bi], out, row_lse, dout, g, acc);
    }
  });
  // fixed-order reductions
  if (chunks > 1)
    parallel_for(BH, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh)
        for (int64_t c = 1; c < chunks; ++c) {
          Accum part = accum_for(bh, c);
          if (dot)
            for (int64_t x = 0; x < N * D; ++x) g.dk[bh * N * D + x] += part.dk[x];
          else
            for (int64_t x = 0; x < N; ++x) g.dek[bh * N + x] += part.dek[x];
          for (int64_t x = 0; x < N * D; ++x) g.dv[bh * N * D + x] += part.dv[x];
        }
    });
  if (T)
    for (int64_t bh = 0; bh < BH; ++bh)
      for (int64_t c = 0; c < chunks; ++c)
        for (int64_t x = 0; x < T; ++x) g.dbias[(bh % p.H) * T + x] += dbias_parts[(bh * chunks + c) * T + x];
}

}  // namespace rc::attn
