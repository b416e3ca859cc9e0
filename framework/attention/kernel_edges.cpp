// Edge (CSR gather) attention kernel for graphs and very sparse policies: O(B*H*edges) time and memory.
//
// Forward, per query i over its key list: s_e = score + bias, lse_i = log sum_e exp(s_e),
//   out_i = sum_e exp(s_e - lse_i) keep_e v_j.
// Backward in two passes so that no gradient row is written by two work items:
//   queries: p_e = exp(s_e - lse_i), dS_e = p_e (keep_e dO_i . v_j - dO_i . O_i), dq_i += scale sum_e dS_e k_j
//            (saves dropout(p_e) and dS_e per edge);
//   keys (over the transposed lists, in query order): dk_j += scale sum_e dS_e q_i, dv_j += sum_e dropout(p_e) dO_i.
#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/attention/kernels.hpp"
#include "framework/core/parallel.hpp"

namespace rc::attn {

namespace {

constexpr int64_t kRowsPerItem = 256;

inline float dotn(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

// The transposed lists: for key j, the edge ids e (and their queries) in increasing query order.
struct Transposed {
  std::vector<int64_t> ptr, edge, row;
};
Transposed transpose(const Neighbours& nb) {
  Transposed t;
  t.ptr.assign(static_cast<size_t>(nb.n + 1), 0);
  for (int64_t c : nb.col_idx) ++t.ptr[c + 1];
  for (int64_t j = 0; j < nb.n; ++j) t.ptr[j + 1] += t.ptr[j];
  std::vector<int64_t> fill(t.ptr.begin(), t.ptr.end() - 1);
  t.edge.resize(nb.col_idx.size());
  t.row.resize(nb.col_idx.size());
  for (int64_t i = 0; i < nb.n; ++i)
    for (int64_t e = nb.row_ptr[i]; e < nb.row_ptr[i + 1]; ++e) {
      int64_t slot = fill[nb.col_idx[e]]++;
      t.edge[slot] = e;
      t.row[slot] = i;
    }
  return t;
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

}  // namespace

void edges_forward(const Problem& p, const Neighbours& nb, float* out, float* row_lse) {
  const int64_t N = p.N, D = p.D;
  for_rows(p, [&](int64_t bh, int64_t r0, int64_t r1) {
    std::vector<float> w;
    const float* v = p.v + p.bh_offset(bh);
    float* o = out + p.bh_offset(bh);
    for (int64_t i = r0; i < r1; ++i) {
      const int64_t e0 = nb.row_ptr[i], deg = nb.row_ptr[i + 1] - e0;
      float* oi = o + i * D;
      std::fill_n(oi, D, 0.0f);
      if (deg == 0) {
        row_lse[bh * N + i] = kNegInf;
        continue;
      }
      w.resize(static_cast<size_t>(deg));
      float mx = kNegInf;
      for (int64_t t = 0; t < deg; ++t) mx = std::max(mx, w[t] = p.pair_score(bh, i, nb.col_idx[e0 + t]));
      float sum = 0;
      for (int64_t t = 0; t < deg; ++t) sum += (w[t] = std::exp(w[t] - mx));
      const float inv = 1.0f / sum;
      for (int64_t t = 0; t < deg; ++t) {
        const int64_t j = nb.col_idx[e0 + t];
        const float c = w[t] * inv * p.keep_factor(bh, i, j);
        if (c == 0) continue;
        for (int64_t d = 0; d < D; ++d) oi[d] += c * v[j * D + d];
      }
      row_lse[bh * N + i] = mx + std::log(sum);
    }
  });
}

void edges_backward(const Problem& p, const Neighbours& nb, const float* out, const float* row_lse,
                    const float* dout, const Grads& g) {
  const int64_t N = p.N, D = p.D, E = nb.edges(), BH = p.B * p.H;
  const bool dot = p.score == ScoreKind::Dot;
  std::vector<float> pdrop(static_cast<size_t>(BH * E)), dscore(static_cast<size_t>(BH * E));
  // pass 1: queries
  for_rows(p, [&](int64_t bh, int64_t r0, int64_t r1) {
    const int64_t off = p.bh_offset(bh);
    for (int64_t i = r0; i < r1; ++i) {
      const float* doi = dout + off + i * D;
      const float delta = dotn(doi, out + off + i * D, D);
      const float lse = row_lse[bh * N + i];
      float deq = 0;
      for (int64_t e = nb.row_ptr[i]; e < nb.row_ptr[i + 1]; ++e) {
        const int64_t j = nb.col_idx[e];
        const float pe = lse == kNegInf ? 0.0f : std::exp(p.pair_score(bh, i, j) - lse);
        const float keep = p.keep_factor(bh, i, j);
        const float ds = pe * (keep * dotn(doi, p.v + off + j * D, D) - delta);
        pdrop[bh * E + e] = pe * keep;
        dscore[bh * E + e] = ds;
        if (dot) {
          float* dqi = g.dq + off + i * D;
          const float* kj = p.k + off + j * D;
          for (int64_t d = 0; d < D; ++d) dqi[d] += p.scale * ds * kj[d];
        } else {
          deq += ds * (p.eq[bh * N + i] + p.ek[bh * N + j] > 0 ? 1.0f : p.slope);
        }
      }
      if (!dot) g.deq[bh * N + i] = deq;
    }
  });
  // pass 2: keys, over the transposed lists
  const Transposed tr = transpose(nb);
  for_rows(p, [&](int64_t bh, int64_t j0, int64_t j1) {
    const int64_t off = p.bh_offset(bh);
    for (int64_t j = j0; j < j1; ++j) {
      float* dvj = g.dv + off + j * D;
      float dek = 0;
      for (int64_t s = tr.ptr[j]; s < tr.ptr[j + 1]; ++s) {
        const int64_t e = tr.edge[s], i = tr.row[s];
        const float pe = pdrop[bh * E + e], ds = dscore[bh * E + e];
        const float* doi = dout + off + i * D;
        for (int64_t d = 0; d < D; ++d) dvj[d] += pe * doi[d];
        if (dot) {
          float* dkj = g.dk + off + j * D;
          const float* qi = p.q + off + i * D;
          for (int64_t d = 0; d < D; ++d) dkj[d] += p.scale * ds * qi[d];
        } else {
          dek += ds * (p.eq[bh * N + i] + p.ek[bh * N + j] > 0 ? 1.0f : p.slope);
        }
      }
      if (!dot) g.dek[bh * N + j] = dek;
    }
  });
  // bias: per head in edge order, heads of different batches summed in batch order
  if (p.bias) {
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
