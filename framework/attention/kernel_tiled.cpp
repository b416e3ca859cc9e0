// Tiled attention kernel (FlashAttention-style, on the CPU), over the plan of tiled_plan.hpp.
//
// A query block (m <= 64 queries, padded to mp = round16(m) with zero queries) is held transposed, so scores are
// S^T (keys x queries) and every softmax step is a vector operation over queries. Per key tile:
//   S^T = K Q_s^T (Q_s = scale * Q; + bias; masked entries -inf), online softmax per query column:
//   m' = max(m, colmax S^T), P^T = exp(S^T - m'), l = l e^{m - m'} + colsum P^T, O^T = O^T e^{m - m'} + V^T dropout(P^T).
// The forward saves only lse = m + log l per query. Backward recomputes P^T = exp(S^T - lse) tile by tile:
//   dV_t += dropout(P)^T dO_b,  dP^T = keep * (V_t dO_b^T),  dS^T = P^T (dP^T - rowdot(dO, O)),
//   dQ_b^T += K_t^T dS^T (times scale at the end),  dK_t += dS^T Q_s.
// The GEMMs are the register-blocked kernels of tile_gemm.hpp; exp is simd::exp, the same in forward and backward.
// Padding queries have zero q and dO and lse = +inf (so P = 0 for them in backward) and are never written out.
// Determinism: the forward is independent per query block. Backward work items are (b, h, chunk of query
// blocks) with a chunk count fixed by the problem size; each chunk accumulates dK/dV into its own buffer and
// the buffers are summed in chunk order, so results do not depend on the number of threads.
#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "framework/attention/bias_cache.hpp"
#include "framework/attention/kernels.hpp"
#include "framework/attention/simd.hpp"
#include "framework/attention/tile_gemm.hpp"
#include "framework/attention/tiled_plan.hpp"
#include "framework/core/parallel.hpp"

namespace rc::attn {

namespace {

using simd::load;
using simd::nvf;  // the build's native vector (8 or 16 floats): column loops step by kN
using simd::nvi;
using simd::store;
constexpr int64_t kN = simd::kNative;
constexpr float kPosInf = std::numeric_limits<float>::infinity();
constexpr int64_t kTargetItems = 8;  // backward: aim for at least this many (b, h, chunk) work items

// Per-thread scratch, reused across work items (aligned to Eigen's widest packet: 64 bytes with AVX-512, 32 with
// AVX2; the vector loads go through memcpy and need no alignment).
using FloatBuf = std::vector<float, Eigen::aligned_allocator<float>>;
struct Scratch {
  std::vector<int64_t> qidx, kidx;
  std::vector<int32_t> bidx, qcoord, kcoord;
  FloatBuf qt, qrow, eqb, kbuf, vbuf, s, p, dp, keep, ot, m, l, lse, delta, dob, dot, dqt, deq, dkt, dvt;
  std::vector<uint8_t> mask, mask_tmp;
  static Scratch& get() {
    thread_local Scratch s;
    return s;
  }
};

// The state of one query block of one head: packed (and, for dot scores, pre-scaled) transposed queries.
struct BlockCtx {
  const Problem& p;
  int64_t bh;
  const QueryBlock& blk;
  int64_t m, mp;        // queries in the block, padded to a multiple of 16
  const int64_t* qidx;  // their token indices
  const float* qt;      // (D, mp) scale * q^T (dot scores)
  const float* eqb;     // (mp) a_q . q (additive scores)
  const int32_t* bias_idx = nullptr;  // the block's tiles' bias indices, back to back (BiasCache), or null
  const float* bias_val = nullptr;    // the same pairs' bias values for this head (0 for none), or null
  const int32_t *run_pos = nullptr, *run_idx = nullptr;  // the block's runs of biased, allowed pairs (BiasCache)
  const uint8_t* run_len = nullptr;
  int64_t runs = 0;
};

// Key tile [t0, t1) of the block's keys: kidx, K/V rows (gathered when keys are not contiguous), maskT (n x mp).
struct Tile {
  int64_t n = 0;
  const int64_t* kidx = nullptr;
  const float *k = nullptr, *v = nullptr;
  const uint8_t* mask = nullptr;  // null when Full
  const int32_t* bias_idx = nullptr;  // (n x mp) bias table index of each pair, -1 for none (and padding)
  const float* bias_val = nullptr;    // (n x mp) the pairs' bias values, 0 for none, when the cache has them
  // the tile's runs of allowed pairs with a bias (BiasCache), ascending: first position, its table index, length;
  // when cached
  const int32_t *run_pos = nullptr, *run_idx = nullptr;
  const uint8_t* run_len = nullptr;
  int64_t runs = 0, run_base = 0;  // run_pos counts from the block's first tile: subtract run_base
  bool has_runs = false;
};

Tile load_tile(const BlockCtx& c, const TileRef& ref, Scratch& sc) {
  const Problem& p = c.p;
  const int64_t D = p.D, t0 = ref.t0, n = ref.t1 - ref.t0;
  Tile t;
  t.n = n;
  int64_t* kidx = sized(sc.kidx, n);
  for (int64_t b = 0; b < n; ++b) kidx[b] = c.blk.keys[t0 + b];
  t.kidx = kidx;
  if (ref.mask >= 0) {
    t.mask = c.blk.masks.data() + ref.mask;
  } else if (ref.mask == kRecompute) {
    uint8_t* mk = sized(sc.mask, n * c.mp);
    tile_mask_transposed(*p.policy, c.qidx, c.m, kidx, n, mk, sc.mask_tmp);
    t.mask = mk;
  }
  if (p.bias && c.bias_idx) {
    t.bias_idx = c.bias_idx + ref.t0 * c.mp;
    if (c.bias_val) t.bias_val = c.bias_val + ref.t0 * c.mp;
    if (c.run_pos) {  // the tile's runs: positions [t0·mp, t1·mp) of the block's ascending list
      const int32_t* lo = std::lower_bound(c.run_pos, c.run_pos + c.runs, static_cast<int32_t>(ref.t0 * c.mp));
      const int32_t* hi = std::lower_bound(lo, c.run_pos + c.runs, static_cast<int32_t>(ref.t1 * c.mp));
      t.run_pos = lo;
      t.run_idx = c.run_idx + (lo - c.run_pos);
      t.run_len = c.run_len + (lo - c.run_pos);
      t.runs = hi - lo;
      t.run_base = ref.t0 * c.mp;
      t.has_runs = true;
    }
  } else if (p.bias) {
    int32_t* bidx = sized(sc.bidx, n * c.mp);
    tile_bias_index(p.bias_index, c.qidx, c.m, c.mp, kidx, n, sc.qcoord, sc.kcoord, bidx);
    t.bias_idx = bidx;
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

// S^T (n x mp) = scores of the tile with bias; masked entries -inf.
void scores_t(const BlockCtx& c, const Tile& t, float* s) {
  const Problem& p = c.p;
  const int64_t mp = c.mp, n = t.n;
  if (p.score == ScoreKind::Dot) {
    tile_scores(t.k, p.D, n, p.D, c.qt, mp, s);
  } else {
    const float* ekrow = p.ek + c.bh * p.N;
    for (int64_t b = 0; b < n; ++b) {
      const float ek = ekrow[t.kidx[b]];
      for (int64_t a = 0; a < mp; a += kN) {
        const nvf pre = load<nvf>(c.eqb + a) + ek;
        store(s + b * mp + a, pre > 0 ? pre : p.slope * pre);
      }
    }
  }
  if (t.bias_val) {
    for (int64_t x = 0; x < n * mp; x += kN) store(s + x, load<nvf>(s + x) + load<nvf>(t.bias_val + x));
  } else if (p.bias) {
    const float* table = p.bias + (c.bh % p.H) * p.bias_index.table_size;
    const int32_t* bidx = t.bias_idx;
    for (int64_t x = 0; x < n * mp; ++x)
      if (bidx[x] >= 0) s[x] += table[bidx[x]];
  }
  if (t.mask) {
    const nvf ninf = nvf{} + kNegInf;
    for (int64_t x = 0; x < n * mp; x += kN) store(s + x, simd::widen_u8(t.mask + x) != 0 ? load<nvf>(s + x) : ninf);
  }
}

// The dropout factors of the tile's pairs, f (n x mp): keep_factor(bh, qidx[a], kidx[b]) at [b·mp + a], 0 in the
// padding. The same hash and test as dropout_keep, written as a branch-free integer loop that vectorizes (one
// call per tile instead of a scalar hash call per pair).
void dropout_factors(const BlockCtx& c, const Tile& t, float* f) {
  const Problem& p = c.p;
  const uint64_t N = static_cast<uint64_t>(p.N), thr = dropout_threshold(p.dropout),
                 head = static_cast<uint64_t>(c.bh) * N;
  const float keep = 1.0f / (1.0f - p.dropout);
  for (int64_t b = 0; b < t.n; ++b) {
    const uint64_t j = static_cast<uint64_t>(t.kidx[b]);
    float* fr = f + b * c.mp;
    for (int64_t a = 0; a < c.m; ++a) {
      const uint64_t h = mix_seed(p.seed, (head + static_cast<uint64_t>(c.qidx[a])) * N + j);
      fr[a] = (h >> 40) >= thr ? keep : 0.0f;
    }
    for (int64_t a = c.m; a < c.mp; ++a) fr[a] = 0.0f;
  }
}

// Multiplies P^T (n x mp) by the dropout factors of the tile's pairs.
void apply_dropout(const BlockCtx& c, const Tile& t, float* pm, Scratch& sc) {
  float* f = sized(sc.keep, t.n * c.mp);
  dropout_factors(c, t, f);
  for (int64_t x = 0; x < t.n * c.mp; x += kN) store(pm + x, load<nvf>(pm + x) * load<nvf>(f + x));
}

// Packs the block's queries: qidx, scale * q^T (dot) or eq values (additive); padding columns zero.
BlockCtx make_ctx(const Problem& p, int64_t bh, const QueryBlock& blk, Scratch& sc) {
  const int64_t m = blk.queries.size(), mp = round16(m), D = p.D;
  int64_t* qidx = sized(sc.qidx, m);
  for (int64_t a = 0; a < m; ++a) qidx[a] = blk.queries[a];
  float* qt = nullptr;
  float* eqb = nullptr;
  if (p.score == ScoreKind::Dot) {
    qt = sized(sc.qt, D * mp);
    for (int64_t d = 0; d < D; ++d) std::fill(qt + d * mp + m, qt + (d + 1) * mp, 0.0f);  // padding columns
    const float* qbase = p.q + p.bh_offset(bh);
    for (int64_t a0 = 0; a0 < m; a0 += 16)  // 16 rows at a time (they stay in L1), contiguous writes
      for (int64_t d = 0; d < D; ++d)
        for (int64_t a = a0; a < std::min(m, a0 + 16); ++a) qt[d * mp + a] = p.scale * qbase[qidx[a] * D + d];
  } else {
    eqb = sized(sc.eqb, mp);
    std::fill_n(eqb, mp, 0.0f);
    for (int64_t a = 0; a < m; ++a) eqb[a] = p.eq[bh * p.N + qidx[a]];
  }
  return BlockCtx{p, bh, blk, m, mp, qidx, qt, eqb};
}

void forward_block(const Problem& p, int64_t bh, const QueryBlock& blk, const int32_t* bias_idx,
                   const float* bias_val, float* out, float* lse) {
  Scratch& sc = Scratch::get();
  BlockCtx c = make_ctx(p, bh, blk, sc);
  c.bias_idx = bias_idx;
  c.bias_val = bias_val;
  const int64_t m = c.m, mp = c.mp, D = p.D;
  float* ot = sized(sc.ot, D * mp);
  float* rmax = sized(sc.m, mp);
  float* rsum = sized(sc.l, mp);
  std::fill_n(ot, D * mp, 0.0f);
  std::fill_n(rmax, mp, kNegInf);
  std::fill_n(rsum, mp, 0.0f);
  for (const TileRef& ref : blk.tiles) {
    Tile t = load_tile(c, ref, sc);
    const int64_t n = t.n;
    float* s = sized(sc.s, n * mp);
    scores_t(c, t, s);
    for (int64_t a = 0; a < mp; a += kN) {  // online softmax, one native vector of query columns at a time
      nvf mx = load<nvf>(rmax + a);
      for (int64_t b = 0; b < n; ++b) {
        const nvf v = load<nvf>(s + b * mp + a);
        mx = mx > v ? mx : v;  // (as simd::vmax: a NaN score propagates)
      }
      const nvf msafe = mx == kNegInf ? nvf{} : mx;                 // columns without a key so far
      const nvf alpha = simd::exp(load<nvf>(rmax + a) - msafe);    // 0 when the old max was -inf
      nvf sum = nvf{};
      for (int64_t b = 0; b < n; ++b) {
        const nvf e = simd::exp(load<nvf>(s + b * mp + a) - msafe);
        store(s + b * mp + a, e);
        sum += e;
      }
      store(rsum + a, load<nvf>(rsum + a) * alpha + sum);
      store(rmax + a, mx);
      for (int64_t d = 0; d < D; ++d) store(ot + d * mp + a, load<nvf>(ot + d * mp + a) * alpha);
    }
    if (p.dropout > 0) apply_dropout(c, t, s, sc);
    tile_accum_t(t.v, D, n, D, s, mp, ot);
  }
  float* obase = out + p.bh_offset(bh);
  for (int64_t a = 0; a < m; ++a) {
    const int64_t i = c.qidx[a];
    const bool any = rsum[a] > 0;
    const float inv = any ? 1.0f / rsum[a] : 0.0f;
    for (int64_t d = 0; d < D; ++d) obase[i * D + d] = ot[d * mp + a] * inv;
    lse[bh * p.N + i] = any ? rmax[a] + std::log(rsum[a]) : kNegInf;
  }
}

// Where one backward work item accumulates dK/dV (and dek, dbias): the real gradients for chunk 0 of a head,
// private buffers otherwise.
struct Accum {
  float *dk, *dv, *dek;  // (N, D), (N, D), (N) of this head
  float* dbias;          // (T) of this head
};

// rows (n x Dp tile buffer) added into the gradient rows kidx (D columns each)
void scatter_add(const float* rows, int64_t n, int64_t Dp, int64_t D, const int64_t* kidx, float* dst) {
  for (int64_t b = 0; b < n; ++b) {
    float* r = dst + kidx[b] * D;
    for (int64_t d = 0; d < D; ++d) r[d] += rows[b * Dp + d];
  }
}

// A block's rows for backward, packed once: dO (mp x Dp) and dO^T (D x mp), scale * q (dot scores, mp x Dp), the
// rows' lse (+inf for keyless rows: P = 0) and delta_i = dO_i . O_i = sum_j p_ij dP_ij.
struct BackRows {
  float *dob, *dot_t, *qrow, *rlse, *delta;
};

BackRows pack_backward_rows(const BlockCtx& c, const float* out, const float* lse, const float* dout, Scratch& sc) {
  const Problem& p = c.p;
  const int64_t bh = c.bh, m = c.m, mp = c.mp, D = p.D, Dp = round16(D);
  const bool dot = p.score == ScoreKind::Dot;
  const float* obase = out + p.bh_offset(bh);
  const float* dobase = dout + p.bh_offset(bh);
  const float* qbase = p.q + p.bh_offset(bh);
  BackRows r;
  r.dob = sized(sc.dob, mp * Dp);
  r.dot_t = sized(sc.dot, D * mp);
  r.qrow = dot ? sized(sc.qrow, mp * Dp) : nullptr;
  r.rlse = sized(sc.lse, mp);
  r.delta = sized(sc.delta, mp);
  // zero only what the packing below leaves unwritten: padding rows (and padding columns when Dp > D)
  std::fill_n(r.dob + (Dp == D ? m * Dp : 0), Dp == D ? (mp - m) * Dp : mp * Dp, 0.0f);
  for (int64_t d = 0; d < D; ++d) std::fill(r.dot_t + d * mp + m, r.dot_t + (d + 1) * mp, 0.0f);
  if (dot) std::fill_n(r.qrow + (Dp == D ? m * Dp : 0), Dp == D ? (mp - m) * Dp : mp * Dp, 0.0f);
  std::fill_n(r.rlse, mp, kPosInf);
  std::fill_n(r.delta, mp, 0.0f);
  for (int64_t a = 0; a < m; ++a) {
    const int64_t i = c.qidx[a];
    std::memcpy(r.dob + a * Dp, dobase + i * D, sizeof(float) * D);
    if (dot)
      for (int64_t d = 0; d < D; ++d) r.qrow[a * Dp + d] = p.scale * qbase[i * D + d];
    r.delta[a] = simd::dot(dobase + i * D, obase + i * D, D);
    const float l = lse[bh * p.N + i];
    r.rlse[a] = l == kNegInf ? kPosInf : l;  // no key: P = 0
  }
  for (int64_t d = 0; d < D; ++d)  // dO^T with contiguous writes
    for (int64_t a = 0; a < m; ++a) r.dot_t[d * mp + a] = r.dob[a * Dp + d];
  return r;
}

// One key tile of backward: P^T and dS^T, then dV (and dbias), and dQ^T, dK (dot) or deq, dek (additive).
// direct: the block's keys are contiguous and Dp == D, so dK/dV rows accumulate in place.
void backward_tile(const BlockCtx& c, const TileRef& ref, const BackRows& r, bool direct, float* dqt, float* deq,
                   const Accum& acc, Scratch& sc) {
  const Problem& p = c.p;
  const int64_t bh = c.bh, m = c.m, mp = c.mp, D = p.D, Dp = round16(D);
  const bool dot = p.score == ScoreKind::Dot;
  Tile t = load_tile(c, ref, sc);
  const int64_t n = t.n;
  float* s = sized(sc.s, n * mp);
  scores_t(c, t, s);
  // dP^T = V_t dO^T (times keep) first, so that one sweep gives both P^T = exp(S^T - lse) (exactly zero where
  // masked, padded or keyless) and dS^T = P^T (dP^T - delta)
  float* ds = sized(sc.dp, n * mp);
  tile_scores(t.v, D, n, D, r.dot_t, mp, ds);
  float* keep = nullptr;
  if (p.dropout > 0) {
    keep = sized(sc.keep, n * mp);
    dropout_factors(c, t, keep);
    for (int64_t x = 0; x < n * mp; x += kN) store(ds + x, load<nvf>(ds + x) * load<nvf>(keep + x));
  }
  for (int64_t b = 0; b < n; ++b)
    for (int64_t a = 0; a < mp; a += kN) {
      const nvf pv = simd::exp(load<nvf>(s + b * mp + a) - load<nvf>(r.rlse + a));
      store(s + b * mp + a, pv);
      store(ds + b * mp + a, pv * (load<nvf>(ds + b * mp + a) - load<nvf>(r.delta + a)));
    }
  const float* pd = s;  // dropout(P^T)
  if (p.dropout > 0) {
    float* pdrop = sized(sc.p, n * mp);
    for (int64_t x = 0; x < n * mp; x += kN) store(pdrop + x, load<nvf>(s + x) * load<nvf>(keep + x));
    pd = pdrop;
  }
  // dV_t += dropout(P)^T dO_b
  float* dvt = direct ? acc.dv + t.kidx[0] * D : sized(sc.dvt, n * Dp);
  if (!direct) std::fill_n(dvt, n * Dp, 0.0f);
  tile_accum_rows(pd, n, mp, m, r.dob, Dp, dvt, Dp);
  if (!direct) scatter_add(dvt, n, Dp, D, t.kidx, acc.dv);
  if (t.has_runs) {
    const float* dsb = ds - t.run_base;
    for (int64_t k = 0; k < t.runs; ++k) simd::add_reversed(acc.dbias + t.run_idx[k], dsb + t.run_pos[k], t.run_len[k]);
  } else if (p.bias) {
    for (int64_t x = 0; x < n * mp; ++x)
      if (t.bias_idx[x] >= 0) acc.dbias[t.bias_idx[x]] += ds[x];
  }
  if (dot) {
    tile_accum_t(t.k, D, n, D, ds, mp, dqt);
    float* dkt = direct ? acc.dk + t.kidx[0] * D : sized(sc.dkt, n * Dp);
    if (!direct) std::fill_n(dkt, n * Dp, 0.0f);
    tile_accum_rows(ds, n, mp, m, r.qrow, Dp, dkt, Dp);
    if (!direct) scatter_add(dkt, n, Dp, D, t.kidx, acc.dk);
  } else {  // e = dS * leaky'(pre): deq_i += sum_j e_ij, dek_j += sum_i e_ij
    const float* ekrow = p.ek + bh * p.N;
    for (int64_t b = 0; b < n; ++b) {
      const float ek = ekrow[t.kidx[b]];
      float sum = 0;
      for (int64_t a = 0; a < m; ++a) {
        const float e = ds[b * mp + a] * (c.eqb[a] + ek > 0 ? 1.0f : p.slope);
        deq[a] += e;
        sum += e;
      }
      acc.dek[t.kidx[b]] += sum;
    }
  }
}

void backward_block(const Problem& p, int64_t bh, const QueryBlock& blk, const BiasCache& bc, int64_t bi,
                    const float* out, const float* lse, const float* dout, const Grads& g, const Accum& acc) {
  Scratch& sc = Scratch::get();
  BlockCtx c = make_ctx(p, bh, blk, sc);
  c.bias_idx = bc.block(bi);
  c.bias_val = bc.block_values(bi, bh % p.H);
  const BiasRuns runs = bc.block_runs(bi);
  c.run_pos = runs.pos;
  c.run_idx = runs.idx;
  c.run_len = runs.len;
  c.runs = runs.count;
  const int64_t m = c.m, mp = c.mp, D = p.D, Dp = round16(D);
  const BackRows rows = pack_backward_rows(c, out, lse, dout, sc);
  float* dqt = sized(sc.dqt, D * mp);
  float* deq = sized(sc.deq, mp);
  std::fill_n(dqt, D * mp, 0.0f);
  std::fill_n(deq, mp, 0.0f);
  const bool direct = c.blk.keys.contiguous() && Dp == D;  // accumulate dK/dV rows in place
  for (const TileRef& ref : blk.tiles) backward_tile(c, ref, rows, direct, dqt, deq, acc, sc);
  for (int64_t a = 0; a < m; ++a) {
    const int64_t i = c.qidx[a];
    if (p.score == ScoreKind::Dot)
      for (int64_t d = 0; d < D; ++d) g.dq[p.bh_offset(bh) + i * D + d] = p.scale * dqt[d * mp + a];
    else
      g.deq[bh * p.N + i] = deq[a];
  }
}

// Items per parallel task: enough that small problems (many heads of a short sequence) amortize the scheduling.
int64_t grain_for(const Problem& p, int64_t items) {
  const int64_t work = p.N * p.N * p.D * p.B * p.H / std::max<int64_t>(items, 1);  // rough per-item cost
  return std::max<int64_t>(1, (int64_t{1} << 19) / std::max<int64_t>(work, 1));
}

}  // namespace

void tiled_forward(const Problem& p, const TiledPlan& plan, float* out, float* row_lse) {
  const int64_t nb = static_cast<int64_t>(plan.blocks.size());
  std::fill_n(row_lse, p.B * p.H * p.N, kNegInf);
  const BiasCache bc = make_bias_cache(p, plan);
  parallel_for(p.B * p.H * nb, grain_for(p, p.B * p.H * nb), [&](int64_t begin, int64_t end) {
    for (int64_t x = begin; x < end; ++x)
      forward_block(p, x / nb, plan.blocks[x % nb], bc.block(x % nb), bc.block_values(x % nb, (x / nb) % p.H), out,
                    row_lse);
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
  const BiasCache bc = make_bias_cache(p, plan);
  auto accum_for = [&](int64_t bh, int64_t c) {
    float* bias = T ? dbias_parts.data() + (bh * chunks + c) * T : nullptr;
    if (c == 0)
      return Accum{dot ? g.dk + bh * N * D : nullptr, g.dv + bh * N * D, dot ? nullptr : g.dek + bh * N, bias};
    float* base = extra.data() + (bh * (chunks - 1) + c - 1) * (2 * N * D + N);
    return Accum{base, base + N * D, base + 2 * N * D, bias};
  };
  parallel_for(BH * chunks, grain_for(p, BH * chunks), [&](int64_t begin, int64_t end) {
    for (int64_t x = begin; x < end; ++x) {
      const int64_t bh = x / chunks, c = x % chunks;
      Accum acc = accum_for(bh, c);
      if (c == 0) {  // the head's gradient rows belong to this item: zero them here, in parallel and cache-hot
        if (dot) std::fill_n(acc.dk, N * D, 0.0f);
        else std::fill_n(acc.dek, N, 0.0f);
        std::fill_n(acc.dv, N * D, 0.0f);
      }
      for (int64_t bi = c * per_chunk; bi < std::min(nb, (c + 1) * per_chunk); ++bi)
        backward_block(p, bh, plan.blocks[bi], bc, bi, out, row_lse, dout, g, acc);
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
