// Edge (CSR gather) attention kernel for graphs and very sparse policies: O(B*H*edges) time and memory.
//
// Forward, per query i over its key list: s_e = score + bias, p_e = exp(s_e - max) / sum (simd::exp),
//   out_i = sum_e p_e keep_e v_j; p_e is saved per edge (B*H*E floats) so backward never recomputes scores.
// Backward in two passes so that no gradient row is written by two work items:
//   queries: dS_e = p_e (keep_e dO_i . v_j - dO_i . O_i), dq_i = scale sum_e dS_e k_j   (saves dS_e per edge);
//   keys (over the transposed lists, in query order): dk_j = scale sum_e dS_e q_i, dv_j = sum_e keep_e p_e dO_i.
// Rows are processed in fixed chunks and every sum runs in a fixed order, so results are thread-count independent.
// The head dimension is a template parameter for D = 8, 16, 32, 64 (unrolled, vectorized loops), runtime otherwise.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "framework/attention/kernels.hpp"
#include "framework/attention/simd.hpp"
#include "framework/core/parallel.hpp"

namespace rc::attn {

namespace {

constexpr int64_t kRowsPerItem = 512;
constexpr int kMemoTag = 2;  // Policy::memo tag of the edge lists

typedef float v8 __attribute__((vector_size(32)));
using simd::dot;

// out[e] = a[ia[e]] . b[ib[e]] (rows of D floats) for e in [e0, e1). For D = 8 two edges share one 16-float vector,
// reduced within each half in simd::dot's order (so the values are the same as the one-edge loop's).
template <int DC>
void edge_dots(const float* a, const int64_t* ia, const float* b, const int64_t* ib, int64_t e0, int64_t e1,
               int64_t D, float* out) {
  int64_t e = e0;
  if constexpr (DC == 8) {
    for (; e + 2 <= e1; e += 2) {
      v8 a0, a1, b0, b1;
      std::memcpy(&a0, a + ia[e] * 8, sizeof(v8));
      std::memcpy(&a1, a + ia[e + 1] * 8, sizeof(v8));
      std::memcpy(&b0, b + ib[e] * 8, sizeof(v8));
      std::memcpy(&b1, b + ib[e + 1] * 8, sizeof(v8));
      simd::f16v x = __builtin_shufflevector(a0, a1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
      simd::f16v y = __builtin_shufflevector(b0, b1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
      simd::f16v t = x * y;
      t += __builtin_shufflevector(t, t, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
      t += __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
      t += __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
      out[e] = t[0];
      out[e + 1] = t[8];
    }
  }
  for (; e < e1; ++e) out[e] = dot(a + ia[e] * D, b + ib[e] * D, D);
}

// A row accumulator of D floats: in registers for the specialized D (DC > 0), in scratch memory otherwise.
template <int DC>
struct RowAcc {
  v8 x[DC / 8];
  RowAcc(int64_t, float*) {
    for (v8& v : x) v = v8{};
  }
  void add(float c, const float* src) {
    for (int v = 0; v < DC / 8; ++v) {
      v8 y;
      std::memcpy(&y, src + 8 * v, sizeof(y));
      x[v] += c * y;
    }
  }
  void write(float* dst, float scale) const {
    for (int v = 0; v < DC / 8; ++v) {
      v8 y = x[v] * scale;
      std::memcpy(dst + 8 * v, &y, sizeof(y));
    }
  }
};
template <>
struct RowAcc<0> {
  int64_t D;
  float* m;
  RowAcc(int64_t d, float* mem) : D(d), m(mem) { std::fill_n(m, D, 0.0f); }
  void add(float c, const float* src) {
    for (int64_t d = 0; d < D; ++d) m[d] += c * src[d];
  }
  void write(float* dst, float scale) const {
    for (int64_t d = 0; d < D; ++d) dst[d] = scale * m[d];
  }
};

struct Scratch {
  std::vector<float> s, w, u, acc, acc2, row, row2;
  static Scratch& get() {
    thread_local Scratch s;
    return s;
  }
};

// Calls body(bh, row_begin, row_end) over (head, chunk of rows) work items.
template <class F>
void for_rows(const Problem& p, F&& body) {
  const int64_t chunks = num_chunks(p.N, kRowsPerItem);
  parallel_for(p.B * p.H * chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t x = begin; x < end; ++x) {
      const int64_t bh = x / chunks, c = x % chunks;
      body(bh, c * kRowsPerItem, std::min(p.N, (c + 1) * kRowsPerItem));
    }
  });
}

// LeakyReLU and its derivative without branches (the sign of a GAT pre-activation is a coin flip, so a branch
// mispredicts on every other edge). Equal to the bit to x > 0 ? x : slope * x.
inline float leaky(float x, float slope) { return std::max(x, 0.0f) + slope * std::min(x, 0.0f); }
inline float leaky_slope_at(float x, float slope) {  // a two-entry table: GCC turns a ?: here into a branch
  const float f[2] = {slope, 1.0f};
  return f[x > 0];
}

// Rows [r0, r1) of head bh in flat phases over their edges [e0, e1) (independent per edge, so the CPU overlaps
// them): scores, row max, exp, row sums and normalization, then the weighted sums of V rows.
template <int DC>
void forward_rows(const Problem& p, const EdgeLists& el, int64_t bh, int64_t r0, int64_t r1, float* out,
                  float* row_lse, float* probs) {
  const Neighbours& nb = el.rows;
  const int64_t D = DC ? DC : p.D, N = p.N, E = nb.edges(), off = p.bh_offset(bh);
  const float *q = p.q + off, *k = p.k + off, *v = p.v + off;
  const int64_t *rp = nb.row_ptr.data(), *ci = nb.col_idx.data(), *er = el.e_row.data();
  const int64_t e0 = rp[r0], e1 = rp[r1], ne = e1 - e0;
  Scratch& sc = Scratch::get();
  sized(sc.row, D), sized(sc.row2, D);
  float* s = sized(sc.s, ne + 16) - e0;  // indexed by edge id
  if (p.score == ScoreKind::Dot) {
    float* qs = sized(sc.acc, (r1 - r0) * D) - r0 * D;  // scale * q rows
    for (int64_t x = r0 * D; x < r1 * D; ++x) qs[x] = p.scale * q[x];
    edge_dots<DC>(qs, er, k, ci, e0, e1, D, s);
  } else {
    const float *eq = p.eq + bh * N, *ek = p.ek + bh * N;
    for (int64_t e = e0; e < e1; ++e) s[e] = leaky(eq[er[e]] + ek[ci[e]], p.slope);
  }
  if (p.bias) {
    const float* table = p.bias + (bh % p.H) * p.bias_index.table_size;
    for (int64_t e = e0; e < e1; ++e) {
      int64_t x = p.bias_index.index(er[e], ci[e]);
      if (x >= 0) s[e] += table[x];
    }
  }
  // softmax in three phases so that exp runs on 16 edges at a time rather than once per (short) row:
  //   w_e = s_e - max of its row;  w_e = exp(w_e) flat over the edges;  u_e = w_e / sum of its row.
  // Rows of up to 16 keys (almost all graph rows) are one masked vector per phase, longer rows loops. w and u have
  // 16 floats of slack past the last edge; a row's vector store spills into the next row's slots, which that row
  // rewrites afterwards (rows run in increasing order).
  float* w = sized(sc.w, ne + 16) - e0;
  float* u = sized(sc.u, ne + 16) - e0;
  float* rmax = row_lse ? sized(sc.acc2, r1 - r0) - r0 : nullptr;
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t a = rp[i], deg = rp[i + 1] - a;
    float mx;
    if (deg <= simd::kWidth) {
      const simd::f16v x = simd::select_mask(simd::lanes_below(deg), simd::load(s + a), simd::splat(kNegInf));
      mx = simd::hmax(x);
      simd::store(w + a, x - mx);
    } else {
      mx = kNegInf;
      for (int64_t e = a; e < a + deg; ++e) mx = std::max(mx, s[e]);
      for (int64_t e = a; e < a + deg; ++e) w[e] = s[e] - mx;
    }
    if (rmax) rmax[i] = mx;
  }
  for (int64_t e = e0; e < e1; e += simd::kWidth) simd::store(w + e, simd::exp(simd::load(w + e)));
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t a = rp[i], deg = rp[i + 1] - a;
    float sum;
    if (deg <= simd::kWidth) {
      const simd::f16v x = simd::select_mask(simd::lanes_below(deg), simd::load(w + a), simd::splat(0.0f));
      sum = simd::hsum(x);
      simd::store(u + a, x * (1.0f / sum));
    } else {
      sum = 0;
      for (int64_t e = a; e < a + deg; ++e) sum += w[e];
      const float inv = 1.0f / sum;
      for (int64_t e = a; e < a + deg; ++e) u[e] = w[e] * inv;
    }
    if (row_lse) row_lse[bh * N + i] = deg > 0 ? rmax[i] + std::log(sum) : kNegInf;
  }
  float* pe = probs + bh * E;
  float* keep = p.dropout > 0 ? probs + p.B * p.H * E + bh * E : nullptr;  // saved for backward
  if (keep) {  // keep_factor without its branch (the keep decisions are coin flips) and with 1/(1-p) hoisted
    const float kept = 1.0f / (1.0f - p.dropout);
    for (int64_t e = e0; e < e1; ++e)
      keep[e] = static_cast<float>(dropout_keep(p.seed, bh, er[e], ci[e], N, p.dropout)) * kept;
  }
  std::copy(u + e0, u + e1, pe + e0);
  for (int64_t i = r0; i < r1; ++i) {
    RowAcc<DC> acc(D, sc.row.data());
    for (int64_t e = rp[i]; e < rp[i + 1]; ++e)
      acc.add(keep ? pe[e] * keep[e] : pe[e], v + ci[e] * D);
    acc.write(out + off + i * D, 1.0f);
  }
}

// pass 1 (queries), flat over the edges of rows [r0, r1): dS per edge, then dq (dot) or deq (additive) per row
template <int DC>
void backward_rows(const Problem& p, const EdgeLists& el, int64_t bh, int64_t r0, int64_t r1, const float* out,
                   const float* probs, const float* dout, const Grads& g, float* dscore) {
  const Neighbours& nb = el.rows;
  const int64_t D = DC ? DC : p.D, N = p.N, E = nb.edges(), off = p.bh_offset(bh);
  const float *k = p.k + off, *v = p.v + off, *dob = dout + off;
  const int64_t *rp = nb.row_ptr.data(), *ci = nb.col_idx.data(), *er = el.e_row.data();
  Scratch& sc = Scratch::get();
  sized(sc.row, D), sized(sc.row2, D);
  float* delta = sized(sc.acc2, r1 - r0) - r0;
  for (int64_t i = r0; i < r1; ++i) delta[i] = dot(dob + i * D, out + off + i * D, D);
  const float* pe = probs + bh * E;
  const float* keep = p.dropout > 0 ? probs + p.B * p.H * E + bh * E : nullptr;
  float* ds = dscore + bh * E;  // dot: dS; additive: dS leaky'(pre) (and dS itself in ds_bias for the bias)
  const bool additive = p.score == ScoreKind::Additive;
  float* ds_raw = additive && p.bias ? ds + p.B * p.H * E : ds;
  edge_dots<DC>(dob, er, v, ci, rp[r0], rp[r1], D, ds_raw);  // dP_e = dO_i . v_j, then dS in place
  for (int64_t e = rp[r0]; e < rp[r1]; ++e) {
    ds_raw[e] = pe[e] * ((keep ? keep[e] : 1.0f) * ds_raw[e] - delta[er[e]]);
  }
  if (!additive) {
    for (int64_t i = r0; i < r1; ++i) {
      RowAcc<DC> acc(D, sc.row.data());
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) acc.add(ds[e], k + ci[e] * D);
      acc.write(g.dq + off + i * D, p.scale);
    }
  } else {
    const float *eq = p.eq + bh * N, *ek = p.ek + bh * N;
    for (int64_t e = rp[r0]; e < rp[r1]; ++e) ds[e] = ds_raw[e] * leaky_slope_at(eq[er[e]] + ek[ci[e]], p.slope);
    for (int64_t i = r0; i < r1; ++i) {
      float deq = 0;
      for (int64_t e = rp[i]; e < rp[i + 1]; ++e) deq += ds[e];
      g.deq[bh * N + i] = deq;
    }
  }
}

// pass 2 (keys): dk, dv (or dek) from the transposed lists
template <int DC>
void backward_keys(const Problem& p, const EdgeLists& el, int64_t bh, int64_t j0, int64_t j1, const float* probs,
                   const float* dout, const Grads& g, const float* dscore) {
  const int64_t D = DC ? DC : p.D, N = p.N, E = el.rows.edges(), off = p.bh_offset(bh);
  const bool dot_score = p.score == ScoreKind::Dot;
  const float* q = p.q + off;
  Scratch& sc = Scratch::get();
  sized(sc.row, D), sized(sc.row2, D);
  const float *pe = probs + bh * E, *ds = dscore + bh * E;
  const float* keep = p.dropout > 0 ? probs + p.B * p.H * E + bh * E : nullptr;
  for (int64_t j = j0; j < j1; ++j) {
    RowAcc<DC> dv(D, sc.row.data()), dk(D, sc.row2.data());
    float dek = 0;
    for (int64_t s = el.t_ptr[j]; s < el.t_ptr[j + 1]; ++s) {
      const int64_t e = el.t_edge[s], i = el.t_row[s];
      const float c = keep ? pe[e] * keep[e] : pe[e];
      const float* doi = dout + off + i * D;
      dv.add(c, doi);
      if (dot_score)
        dk.add(ds[e], q + i * D);
      else
        dek += ds[e];
    }
    dv.write(g.dv + off + j * D, 1.0f);
    if (dot_score)
      dk.write(g.dk + off + j * D, p.scale);
    else
      g.dek[bh * N + j] = dek;
  }
}

// Runs f.template operator()<DC>() with DC = D for the specialized sizes, 0 (runtime D) otherwise.
template <class F>
void dispatch_d(int64_t D, F&& f) {
  switch (D) {
    case 8: f.template operator()<8>(); break;
    case 16: f.template operator()<16>(); break;
    case 32: f.template operator()<32>(); break;
    case 64: f.template operator()<64>(); break;
    default: f.template operator()<0>(); break;
  }
}

}  // namespace

std::shared_ptr<const EdgeLists> make_edge_lists(const Policy& policy, int64_t n) {
  return std::static_pointer_cast<const EdgeLists>(policy.memo(kMemoTag, n, [&]() -> Policy::MemoPtr {
    auto el = std::make_shared<EdgeLists>();
    el->rows = policy.neighbours(n);
    const Neighbours& nb = el->rows;
    el->t_ptr.assign(static_cast<size_t>(n + 1), 0);
    for (int64_t c : nb.col_idx) ++el->t_ptr[c + 1];
    for (int64_t j = 0; j < n; ++j) el->t_ptr[j + 1] += el->t_ptr[j];
    std::vector<int64_t> fill(el->t_ptr.begin(), el->t_ptr.end() - 1);
    el->e_row.resize(nb.col_idx.size());
    for (int64_t i = 0; i < n; ++i) std::fill(el->e_row.begin() + nb.row_ptr[i], el->e_row.begin() + nb.row_ptr[i + 1], i);
    el->t_edge.resize(nb.col_idx.size());
    el->t_row.resize(nb.col_idx.size());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t e = nb.row_ptr[i]; e < nb.row_ptr[i + 1]; ++e) {
        int64_t slot = fill[nb.col_idx[e]]++;
        el->t_edge[slot] = e;
        el->t_row[slot] = i;
      }
    return el;
  }));
}

void edges_forward(const Problem& p, const EdgeLists& el, float* out, float* row_lse, float* probs) {
  dispatch_d(p.D, [&]<int DC>() {
    for_rows(p, [&](int64_t bh, int64_t r0, int64_t r1) { forward_rows<DC>(p, el, bh, r0, r1, out, row_lse, probs); });
  });
}

void edges_backward(const Problem& p, const EdgeLists& el, const float* out, const float* probs, const float* dout,
                    const Grads& g) {
  const int64_t N = p.N, E = el.rows.edges(), BH = p.B * p.H;
  // per-edge dS (dot) or dS leaky'(pre) (additive; then dS itself follows when there is a bias), never zero-filled
  const bool two = p.score == ScoreKind::Additive && p.bias;
  std::unique_ptr<float[]> dscore_mem(new float[static_cast<size_t>(BH * E * (two ? 2 : 1))]);
  float* dscore = dscore_mem.get();
  const float* ds_raw = two ? dscore + BH * E : dscore;
  dispatch_d(p.D, [&]<int DC>() {
    for_rows(p, [&](int64_t bh, int64_t r0, int64_t r1) {
      backward_rows<DC>(p, el, bh, r0, r1, out, probs, dout, g, dscore);
    });
    for_rows(p, [&](int64_t bh, int64_t j0, int64_t j1) {
      backward_keys<DC>(p, el, bh, j0, j1, probs, dout, g, dscore);
    });
  });
  // bias: per head in edge order, heads of different batches summed in batch order
  if (p.bias) {
    const Neighbours& nb = el.rows;
    const int64_t T = p.bias_index.table_size;
    for (int64_t bh = 0; bh < BH; ++bh) {
      float* db = g.dbias + (bh % p.H) * T;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t e = nb.row_ptr[i]; e < nb.row_ptr[i + 1]; ++e) {
          int64_t x = p.bias_index.index(i, nb.col_idx[e]);
          if (x >= 0) db[x] += ds_raw[bh * E + e];
        }
    }
  }
}

}  // namespace rc::attn
