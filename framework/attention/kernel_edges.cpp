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

constexpr int64_t kRowsPerItem = 128;
constexpr int kMemoTag = 2;  // Policy::memo tag of the edge lists

// a . b with 8 partial sums combined in a fixed tree, then the tail
inline float dot(const float* a, const float* b, int64_t D) {
  typedef float v8 __attribute__((vector_size(32)));
  v8 acc{};
  int64_t d = 0;
  for (; d + 8 <= D; d += 8) {
    v8 x, y;
    std::memcpy(&x, a + d, sizeof(x));
    std::memcpy(&y, b + d, sizeof(y));
    acc += x * y;
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; d < D; ++d) s += a[d] * b[d];
  return s;
}

struct Scratch {
  std::vector<float> s, acc, acc2;
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

inline float leaky_grad(const Problem& p, int64_t bh, int64_t i, int64_t j) {
  return p.eq[bh * p.N + i] + p.ek[bh * p.N + j] > 0 ? 1.0f : p.slope;
}

template <int DC>
void forward_rows(const Problem& p, const Neighbours& nb, int64_t bh, int64_t r0, int64_t r1, float* out,
                  float* row_lse, float* probs) {
  const int64_t D = DC ? DC : p.D, N = p.N, E = nb.edges(), off = p.bh_offset(bh);
  const bool dot_score = p.score == ScoreKind::Dot;
  const float *q = p.q + off, *k = p.k + off, *v = p.v + off;
  const int64_t *rp = nb.row_ptr.data(), *ci = nb.col_idx.data();
  Scratch& sc = Scratch::get();
  float* qs = sized(sc.acc, D);
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t e0 = rp[i], deg = rp[i + 1] - e0;
    const int64_t* cols = ci + e0;
    float* oi = out + off + i * D;
    if (deg == 0) {
      std::fill_n(oi, D, 0.0f);
      row_lse[bh * N + i] = kNegInf;
      continue;
    }
    float* s = sized(sc.s, deg + 16);
    if (dot_score) {
      for (int64_t d = 0; d < D; ++d) qs[d] = p.scale * q[i * D + d];
      for (int64_t t = 0; t < deg; ++t) s[t] = dot(qs, k + cols[t] * D, D);
    } else {
      const float eqi = p.eq[bh * N + i];
      const float* ek = p.ek + bh * N;
      for (int64_t t = 0; t < deg; ++t) s[t] = leaky_relu(eqi + ek[cols[t]], p.slope);
    }
    if (p.bias) {
      const float* table = p.bias + (bh % p.H) * p.bias_index.table_size;
      for (int64_t t = 0; t < deg; ++t) {
        int64_t x = p.bias_index.index(i, cols[t]);
        if (x >= 0) s[t] += table[x];
      }
    }
    float mx = kNegInf;
    for (int64_t t = 0; t < deg; ++t) mx = std::max(mx, s[t]);
    std::fill_n(s + deg, 16, kNegInf);  // padding lanes: exp gives 0
    simd::f16v vsum{};
    for (int64_t t = 0; t < deg; t += 16) {
      simd::f16v e = simd::exp(simd::load(s + t) - mx);
      simd::store(s + t, e);
      vsum += e;
    }
    const float sum = simd::hsum(vsum), inv = 1.0f / sum;
    float* pe = probs + bh * E + e0;
    for (int64_t t = 0; t < deg; ++t) pe[t] = s[t] * inv;
    float o[DC ? DC : 1];
    float* acc = DC ? o : sized(sc.acc2, D);
    std::fill_n(acc, D, 0.0f);
    for (int64_t t = 0; t < deg; ++t) {
      const float c = p.dropout > 0 ? pe[t] * p.keep_factor(bh, i, cols[t]) : pe[t];
      const float* vj = v + cols[t] * D;
      for (int64_t d = 0; d < D; ++d) acc[d] += c * vj[d];
    }
    std::copy_n(acc, D, oi);
    row_lse[bh * N + i] = mx + std::log(sum);
  }
}

// pass 1 (queries): dS per edge, dq (dot) or deq (additive)
template <int DC>
void backward_rows(const Problem& p, const Neighbours& nb, int64_t bh, int64_t r0, int64_t r1, const float* out,
                   const float* probs, const float* dout, const Grads& g, float* dscore) {
  const int64_t D = DC ? DC : p.D, N = p.N, E = nb.edges(), off = p.bh_offset(bh);
  const bool dot_score = p.score == ScoreKind::Dot;
  const float *k = p.k + off, *v = p.v + off;
  const int64_t *rp = nb.row_ptr.data(), *ci = nb.col_idx.data();
  Scratch& sc = Scratch::get();
  float buf[DC ? DC : 1];
  float* acc = DC ? buf : sized(sc.acc, D);
  for (int64_t i = r0; i < r1; ++i) {
    const int64_t e0 = rp[i], deg = rp[i + 1] - e0;
    const int64_t* cols = ci + e0;
    const float* doi = dout + off + i * D;
    const float delta = dot(doi, out + off + i * D, D);
    const float* pe = probs + bh * E + e0;
    float* ds = dscore + bh * E + e0;
    for (int64_t t = 0; t < deg; ++t) {
      const float keep = p.dropout > 0 ? p.keep_factor(bh, i, cols[t]) : 1.0f;
      ds[t] = pe[t] * (keep * dot(doi, v + cols[t] * D, D) - delta);
    }
    if (dot_score) {
      std::fill_n(acc, D, 0.0f);
      for (int64_t t = 0; t < deg; ++t) {
        const float* kj = k + cols[t] * D;
        for (int64_t d = 0; d < D; ++d) acc[d] += ds[t] * kj[d];
      }
      float* dqi = g.dq + off + i * D;
      for (int64_t d = 0; d < D; ++d) dqi[d] = p.scale * acc[d];
    } else {
      float deq = 0;
      for (int64_t t = 0; t < deg; ++t) deq += ds[t] * leaky_grad(p, bh, i, cols[t]);
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
  float b1[DC ? DC : 1], b2[DC ? DC : 1];
  float* dv = DC ? b1 : sized(sc.acc, D);
  float* dk = DC ? b2 : sized(sc.acc2, D);
  const float *pe = probs + bh * E, *ds = dscore + bh * E;
  for (int64_t j = j0; j < j1; ++j) {
    std::fill_n(dv, D, 0.0f);
    std::fill_n(dk, D, 0.0f);
    float dek = 0;
    for (int64_t s = el.t_ptr[j]; s < el.t_ptr[j + 1]; ++s) {
      const int64_t e = el.t_edge[s], i = el.t_row[s];
      const float c = p.dropout > 0 ? pe[e] * p.keep_factor(bh, i, j) : pe[e];
      const float* doi = dout + off + i * D;
      for (int64_t d = 0; d < D; ++d) dv[d] += c * doi[d];
      if (dot_score) {
        const float* qi = q + i * D;
        for (int64_t d = 0; d < D; ++d) dk[d] += ds[e] * qi[d];
      } else {
        dek += ds[e] * leaky_grad(p, bh, i, j);
      }
    }
    std::copy_n(dv, D, g.dv + off + j * D);
    if (dot_score)
      for (int64_t d = 0; d < D; ++d) g.dk[off + j * D + d] = p.scale * dk[d];
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
    for_rows(p, [&](int64_t bh, int64_t r0, int64_t r1) { forward_rows<DC>(p, el.rows, bh, r0, r1, out, row_lse, probs); });
  });
}

void edges_backward(const Problem& p, const EdgeLists& el, const float* out, const float* probs, const float* dout,
                    const Grads& g) {
  const int64_t N = p.N, E = el.rows.edges(), BH = p.B * p.H;
  std::vector<float> dscore(static_cast<size_t>(BH * E));
  dispatch_d(p.D, [&]<int DC>() {
    for_rows(p, [&](int64_t bh, int64_t r0, int64_t r1) {
      backward_rows<DC>(p, el.rows, bh, r0, r1, out, probs, dout, g, dscore.data());
    });
    for_rows(p, [&](int64_t bh, int64_t j0, int64_t j1) {
      backward_keys<DC>(p, el, bh, j0, j1, probs, dout, g, dscore.data());
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
          if (x >= 0) db[x] += dscore[bh * E + e];
        }
    }
  }
}

}  // namespace rc::attn
