#include "framework/attention/attention.hpp"

#include <cmath>
#include <cstring>

#include "framework/attention/kernels.hpp"
#include "framework/attention/simd.hpp"
#include "framework/core/parallel.hpp"

namespace rc {

BiasIndex make_bias_index(const Policy& policy, const BiasGrid& grid, int64_t table_size) {
  BiasIndex bi;
  bi.table_size = table_size;
  if (table_size == 0) return bi;
  auto set_2d = [&](int64_t gh, int64_t gw, int64_t first, int64_t dh, int64_t dw, int64_t rh, int64_t rw,
                    const char* what) {
    RC_CHECK(table_size == (2 * rh + 1) * (2 * rw + 1),
             "attention: rel_bias has {} entries per head but the 2-D offsets of {} need (2*{}+1)*(2*{}+1) = {}",
             table_size, what, rh, rw, (2 * rh + 1) * (2 * rw + 1));
    bi.mode = BiasIndex::Mode::Offset2d;
    bi.grid_h = gh, bi.grid_w = gw, bi.first = first, bi.dil_h = dh, bi.dil_w = dw;
    bi.radius_h = rh, bi.radius_w = rw;
  };
  if (grid.h > 0 || grid.w > 0) {
    RC_CHECK(grid.h > 0 && grid.w > 0 && grid.first >= 0, "attention: bias_grid {}x{} (first {}) is not valid",
             grid.h, grid.w, grid.first);
    set_2d(grid.h, grid.w, grid.first, 1, 1, grid.h - 1, grid.w - 1, "the bias grid");
  } else if (const Window2d* w = policy.find_window2d()) {
    set_2d(w->grid_h, w->grid_w, w->first, w->dilation_h, w->dilation_w, w->kernel_h - 1, w->kernel_w - 1,
           "the window2d kernel");
  } else {
    RC_CHECK(table_size % 2 == 1, "attention: a 1-D rel_bias needs an odd number 2R+1 of entries per head, got {}",
             table_size);
    bi.mode = BiasIndex::Mode::Offset1d;
    bi.radius = (table_size - 1) / 2;
  }
  return bi;
}

namespace {

void check_finite(const Tensor& t, const char* name) {
  const float* x = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    RC_CHECK(std::isfinite(x[i]), "attention: {} of shape {} has a non-finite value {} at flat index {}", name,
             shape_str(t.shape()), x[i], i);
}

// per-token additive terms e[bh, i] = a[h] . x[bh, i]
Tensor additive_terms(const Tensor& x, const Tensor& a, int64_t H) {
  const int64_t BH = x.dim(0) * x.dim(1), N = x.dim(2), D = x.dim(3);
  Tensor e = Tensor::empty({x.dim(0), x.dim(1), N});
  const float *xp = x.data(), *ap = a.data();
  float* ep = e.data();
  parallel_for(BH, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t bh = b0; bh < b1; ++bh) {
      const float* ah = ap + (bh % H) * D;
      for (int64_t i = 0; i < N; ++i) {
        ep[bh * N + i] = simd::dot(ah, xp + (bh * N + i) * D, D);
      }
    }
  });
  return e;
}

// de[bh, i] -> dx[bh, i, :] = de a[h];  da[h, :] = sum over b, i of de x (in (b, i) order)
void additive_backward(const Tensor& x, const Tensor& a, const Tensor& de, int64_t H, Tensor& dx, Tensor& da) {
  const int64_t B = x.dim(0), N = x.dim(2), D = x.dim(3);
  dx = Tensor::empty(x.shape());
  da = Tensor::zeros(a.shape());
  const float *xp = x.data(), *ap = a.data(), *dep = de.data();
  float *dxp = dx.data(), *dap = da.data();
  typedef float v8 __attribute__((vector_size(32)));
  parallel_for(H, 1, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      const float* __restrict ah = ap + h * D;
      for (int64_t b = 0; b < B; ++b) {  // dx rows, 8 columns at a time (a runtime-D inner loop costs more)
        const int64_t bh = b * H + h;
        float* __restrict dxb = dxp + bh * N * D;
        const float* __restrict deb = dep + bh * N;
        int64_t d0 = 0;
        for (; d0 + 8 <= D; d0 += 8) {
          v8 a8;
          std::memcpy(&a8, ah + d0, sizeof(a8));
          for (int64_t i = 0; i < N; ++i) {
            const v8 y = deb[i] * a8;
            std::memcpy(dxb + i * D + d0, &y, sizeof(y));
          }
        }
        for (; d0 < D; ++d0)
          for (int64_t i = 0; i < N; ++i) dxb[i * D + d0] = deb[i] * ah[d0];
      }
      // da in register accumulators, 8 columns at a time (then the tail columns one by one)
      int64_t d0 = 0;
      for (; d0 + 8 <= D; d0 += 8) {
        v8 acc{};
        for (int64_t b = 0; b < B; ++b) {
          const int64_t bh = b * H + h;
          for (int64_t i = 0; i < N; ++i) {
            v8 x;
            std::memcpy(&x, xp + (bh * N + i) * D + d0, sizeof(x));
            acc += dep[bh * N + i] * x;
          }
        }
        std::memcpy(dap + h * D + d0, &acc, sizeof(acc));
      }
      for (; d0 < D; ++d0) {
        float acc = 0;
        for (int64_t b = 0; b < B; ++b)
          for (int64_t i = 0; i < N; ++i) acc += dep[(b * H + h) * N + i] * xp[((b * H + h) * N + i) * D + d0];
        dap[h * D + d0] = acc;
      }
    }
  });
}

// (B, H, N, D) <-> (B, H, N, Dp) with zero columns D .. Dp-1: the edge kernel runs head dims below 8 as 8
Tensor pad_cols(const Tensor& x, int64_t Dp) {
  const int64_t rows = x.numel() / x.dim(3), D = x.dim(3);
  Tensor y = Tensor::zeros({x.dim(0), x.dim(1), x.dim(2), Dp});
  const float* xp = x.data();
  float* yp = y.data();
  for (int64_t r = 0; r < rows; ++r) std::copy_n(xp + r * D, D, yp + r * Dp);
  return y;
}
Tensor unpad_cols(const Tensor& y, int64_t D) {
  const int64_t rows = y.numel() / y.dim(3), Dp = y.dim(3);
  Tensor x = Tensor::empty({y.dim(0), y.dim(1), y.dim(2), D});
  const float* yp = y.data();
  float* xp = x.data();
  for (int64_t r = 0; r < rows; ++r) std::copy_n(yp + r * Dp, D, xp + r * D);
  return x;
}

// p_ij = exp(s_ij - lse_i) for the requested queries (dense rows) and/or every edge of the policy
void fill_weights(const attn::Problem& p, const Tensor& lse, AttentionWeights& w) {
  const int64_t BH = p.B * p.H, N = p.N;
  auto prob = [&](int64_t bh, int64_t i, int64_t j) {
    float l = lse.data()[bh * N + i];
    return l == attn::kNegInf ? 0.0f : std::exp(p.pair_score(bh, i, j) - l);
  };
  if (!w.queries.empty()) {
    const int64_t nq = static_cast<int64_t>(w.queries.size());
    for (int64_t i : w.queries)
      RC_CHECK(i >= 0 && i < N, "attention: weights requested for query {} but N = {}", i, N);
    w.dense = Tensor::zeros({p.B, p.H, nq, N});
    parallel_for(BH, 1, [&](int64_t b0, int64_t b1) {
      std::vector<int64_t> keys;
      std::vector<uint8_t> m;
      for (int64_t bh = b0; bh < b1; ++bh)
        for (int64_t a = 0; a < nq; ++a) {
          const int64_t i = w.queries[a];
          auto [lo, hi] = p.policy->key_hull(i, i + 1, N);
          if (lo >= hi) continue;
          keys.resize(static_cast<size_t>(hi - lo));
          m.resize(keys.size());
          for (int64_t j = lo; j < hi; ++j) keys[j - lo] = j;
          p.policy->mask(&i, 1, keys.data(), hi - lo, m.data());
          for (int64_t j = lo; j < hi; ++j)
            if (m[j - lo]) w.dense.data()[(bh * nq + a) * N + j] = prob(bh, i, j);
        }
    });
  }
  if (w.edges) {
    w.edge_index = p.policy->neighbours(N);
    const Neighbours& nb = w.edge_index;
    w.edge_values = Tensor::empty({p.B, p.H, nb.edges()});
    parallel_for(BH, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t bh = b0; bh < b1; ++bh)
        for (int64_t i = 0; i < N; ++i)
          for (int64_t e = nb.row_ptr[i]; e < nb.row_ptr[i + 1]; ++e)
            w.edge_values.data()[bh * nb.edges() + e] = prob(bh, i, nb.col_idx[e]);
    });
  }
}

}  // namespace

Var attention(const Var& q, const Var& k, const Var& v, const Policy& policy, const AttentionOptions& options,
              AttentionWeights* weights) {
  RC_CHECK(q.defined() && k.defined() && v.defined(), "attention: q, k and v must be defined");
  check_ndim(q.value(), 4, "attention", "q");
  check_ndim(k.value(), 4, "attention", "k");
  check_ndim(v.value(), 4, "attention", "v");
  RC_CHECK(k.shape() == q.shape(), "attention: k has shape {} but q has shape {}; both must be (B, H, N, D)",
           shape_str(k.shape()), shape_str(q.shape()));
  RC_CHECK(v.shape() == q.shape(), "attention: v has shape {} but q has shape {}; v must be (B, H, N, D)",
           shape_str(v.shape()), shape_str(q.shape()));
  const int64_t B = q.dim(0), H = q.dim(1), N = q.dim(2), D = q.dim(3);
  RC_CHECK(D > 0, "attention: head dimension D must be > 0, got q of shape {}", shape_str(q.shape()));
  policy.validate(N);
  const bool additive = options.score == ScoreKind::Additive;
  if (additive) {
    RC_CHECK(options.a_q.defined() && options.a_k.defined(),
             "attention: additive scores need a_q and a_k of shape ({}, {})", H, D);
    RC_CHECK(options.a_q.shape() == Shape({H, D}), "attention: a_q has shape {} but must be ({}, {})",
             shape_str(options.a_q.shape()), H, D);
    RC_CHECK(options.a_k.shape() == Shape({H, D}), "attention: a_k has shape {} but must be ({}, {})",
             shape_str(options.a_k.shape()), H, D);
  }
  const bool has_bias = options.rel_bias.defined();
  if (has_bias)
    RC_CHECK(options.rel_bias.ndim() == 2 && options.rel_bias.dim(0) == H,
             "attention: rel_bias has shape {} but must be ({}, T)", shape_str(options.rel_bias.shape()), H);
  RC_CHECK(options.dropout >= 0.0f && options.dropout < 1.0f, "attention: dropout must be in [0, 1), got {}",
           options.dropout);
  const float scale = options.scale ? *options.scale : 1.0f / std::sqrt(static_cast<float>(D));
  RC_CHECK(std::isfinite(scale), "attention: scale must be finite, got {}", scale);

  attn::Problem p;
  // packed inputs, once per distinct Var (a GAT layer passes one tensor as q, k and v)
  const bool k_is_q = k.node() == q.node(), v_is_q = v.node() == q.node(), v_is_k = v.node() == k.node();
  Tensor qc = q.value().contiguous();
  Tensor kc = k_is_q ? qc : k.value().contiguous();
  Tensor vc = v_is_q ? qc : v_is_k ? kc : v.value().contiguous();
  Tensor bias, aq, ak, eq, ek;
  if (options.check_finite) {
    check_finite(qc, "q");
    check_finite(kc, "k");
    check_finite(vc, "v");
  }
  const bool use_edges = options.kernel == AttentionKernel::Edges ||
                         (options.kernel == AttentionKernel::Auto && policy.kind() == PolicyKind::Graph);
  // the edge kernel's vector loops want D = 8 rather than a runtime D < 8 (e.g. a GAT output layer over 7
  // classes): zero columns change no dot product, and out/dq/dk/dv drop them again
  const int64_t Dk = use_edges && D < 8 ? 8 : D;
  Tensor qk = qc, kk = kc, vk = vc;  // the kernel's inputs, (B, H, N, Dk)
  if (Dk != D) {
    qk = pad_cols(qc, Dk);
    kk = k_is_q ? qk : pad_cols(kc, Dk);
    vk = v_is_q ? qk : v_is_k ? kk : pad_cols(vc, Dk);
  }
  p.B = B, p.H = H, p.N = N, p.D = Dk;
  p.q = qk.data(), p.k = kk.data(), p.v = vk.data();
  p.score = options.score;
  p.scale = scale;
  p.slope = options.leaky_slope;
  if (additive) {
    aq = options.a_q.value().contiguous();
    ak = options.a_k.value().contiguous();
    if (options.check_finite) check_finite(aq, "a_q"), check_finite(ak, "a_k");
    eq = additive_terms(qc, aq, H);
    ek = additive_terms(kc, ak, H);
    p.eq = eq.data(), p.ek = ek.data();
  }
  if (has_bias) {
    bias = options.rel_bias.value().contiguous();
    if (options.check_finite) check_finite(bias, "rel_bias");
    p.bias = bias.data();
    p.bias_index = make_bias_index(policy, options.bias_grid, bias.dim(1));
  }
  if (options.training && options.dropout > 0) p.dropout = options.dropout, p.seed = options.seed;
  auto policy_ptr = std::make_shared<const Policy>(policy);
  p.policy = policy_ptr.get();

  std::shared_ptr<const attn::EdgeLists> edges;  // both memoized on the policy
  std::shared_ptr<const attn::TiledPlan> plan;
  if (use_edges)
    edges = attn::make_edge_lists(policy, N);
  else
    plan = attn::make_tiled_plan(policy, N);

  // the edge kernel writes every row, the tiled one every row that is in a query block
  const bool writes_all = use_edges || attn::tiled_writes_every_row(*plan);
  Tensor out = writes_all ? Tensor::empty(qk.shape()) : Tensor::zeros(qk.shape());
  // the tiled backward needs the row log-sum-exp; the edge kernel only when weights are requested
  Tensor lse = !use_edges || weights ? Tensor::empty({B, H, N}) : Tensor();
  Tensor probs;  // edges: per-edge probabilities for backward
  if (use_edges) {
    probs = Tensor::empty({p.dropout > 0 ? 2 * B : B, H, edges->rows.edges()});  // + dropout factors
    attn::edges_forward(p, *edges, out.data(), lse.defined() ? lse.data() : nullptr, probs.data());
  } else {
    attn::tiled_forward(p, *plan, out.data(), lse.data());
  }
  if (weights) fill_weights(p, lse, *weights);

  // backward needs: the kernel's q, k, v and output, eq/ek, a_q/a_k and the unpadded q, k (additive), the
  // table, and the row lse or edge probabilities. The Problem holds raw pointers into these tensors, so the
  // closure keeps them all alive explicitly.
  struct Saved {
    Tensor q, k, v, qa, ka, eq, ek, aq, ak, bias, out, lse, probs;
    std::shared_ptr<const Policy> policy;
    std::shared_ptr<const attn::EdgeLists> edges;
    std::shared_ptr<const attn::TiledPlan> plan;
    attn::Problem p;
  };
  auto sv = std::make_shared<Saved>(Saved{qk, kk, vk, additive ? qc : Tensor(), additive ? kc : Tensor(), eq, ek, aq,
                                          ak, bias, out, lse, probs, policy_ptr, edges, plan, p});
  Tensor result = Dk == D ? out : unpad_cols(out, D);
  std::vector<Var> inputs{q, k, v};
  if (additive) inputs.push_back(options.a_q), inputs.push_back(options.a_k);
  if (has_bias) inputs.push_back(options.rel_bias);
  return make_result(result, inputs, "attention", [sv, q, k, v, aqv = options.a_q, akv = options.a_k,
                                                    bv = options.rel_bias](const Tensor& dout_in) {
    const attn::Problem& p = sv->p;
    const bool additive = p.score == ScoreKind::Additive;
    const int64_t D = dout_in.dim(3);  // the caller's head dim; p.D may be padded
    Tensor dout = p.D == D ? dout_in.contiguous() : pad_cols(dout_in.contiguous(), p.D);
    // the edge kernel writes every row of its outputs; the tiled one the dq rows of its query blocks and every
    // row of dk, dv (see kernels.hpp). Additive scores leave dq, dk to additive_backward.
    auto grad_buffer = [&](bool needed, bool written) {
      return !needed ? Tensor() : written ? Tensor::empty(sv->q.shape()) : Tensor::zeros(sv->q.shape());
    };
    const bool edges = sv->edges != nullptr;
    Tensor dq = grad_buffer(!additive, edges || attn::tiled_writes_every_row(*sv->plan));
    Tensor dk = grad_buffer(!additive, true), dv = grad_buffer(true, true);
    Tensor dbias = p.bias ? Tensor::zeros(sv->bias.shape()) : Tensor();
    Tensor deq = additive ? Tensor::zeros({p.B, p.H, p.N}) : Tensor();
    Tensor dek = additive ? Tensor::zeros({p.B, p.H, p.N}) : Tensor();
    attn::Grads g;
    if (!additive) g.dq = dq.data(), g.dk = dk.data();
    g.dv = dv.data();
    if (p.bias) g.dbias = dbias.data();
    if (additive) g.deq = deq.data(), g.dek = dek.data();
    if (sv->edges)
      attn::edges_backward(p, *sv->edges, sv->out.data(), sv->probs.data(), dout.data(), g);
    else
      attn::tiled_backward(p, *sv->plan, sv->out.data(), sv->lse.data(), dout.data(), g);
    if (additive) {
      Tensor daq, dak;
      additive_backward(sv->qa, sv->aq, deq, p.H, dq, daq);
      additive_backward(sv->ka, sv->ak, dek, p.H, dk, dak);
      accumulate_grad(aqv, daq);
      accumulate_grad(akv, dak);
    }
    if (p.D != D) {
      if (!additive) dq = unpad_cols(dq, D), dk = unpad_cols(dk, D);
      dv = unpad_cols(dv, D);
    }
    accumulate_grad(q, dq);
    accumulate_grad(k, dk);
    accumulate_grad(v, dv);
    if (p.bias) accumulate_grad(bv, dbias);
  });
}

}  // namespace rc
