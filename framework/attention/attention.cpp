#include "framework/attention/attention.hpp"

#include <cmath>
#include <cstring>

#include "framework/attention/kernels.hpp"
#include "framework/attention/policy_rule.hpp"
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
  } else if (const std::optional<GridOffsets> g = policy.grid_offsets()) {
    set_2d(g->grid_h, g->grid_w, g->first, g->dil_h, g->dil_w, g->radius_h, g->radius_w,
           policy.find_window2d() ? "the window2d kernel" : "the policy's grid");
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

namespace {

// Step 1: shapes, tables and options; throws naming the argument and the values. Returns the scale.
float check_inputs(const Var& q, const Var& k, const Var& v, const Policy& policy, const AttentionOptions& options) {
  RC_CHECK(q.defined() && k.defined() && v.defined(), "attention: q, k and v must be defined");
  check_ndim(q.value(), 4, "attention", "q");
  check_ndim(k.value(), 4, "attention", "k");
  check_ndim(v.value(), 4, "attention", "v");
  RC_CHECK(k.shape() == q.shape(), "attention: k has shape {} but q has shape {}; both must be (B, H, N, D)",
           shape_str(k.shape()), shape_str(q.shape()));
  RC_CHECK(v.shape() == q.shape(), "attention: v has shape {} but q has shape {}; v must be (B, H, N, D)",
           shape_str(v.shape()), shape_str(q.shape()));
  const int64_t H = q.dim(1), N = q.dim(2), D = q.dim(3);
  RC_CHECK(D > 0, "attention: head dimension D must be > 0, got q of shape {}", shape_str(q.shape()));
  policy.validate(N);
  if (options.score == ScoreKind::Additive) {
    RC_CHECK(options.a_q.defined() && options.a_k.defined(),
             "attention: additive scores need a_q and a_k of shape ({}, {})", H, D);
    RC_CHECK(options.a_q.shape() == Shape({H, D}), "attention: a_q has shape {} but must be ({}, {})",
             shape_str(options.a_q.shape()), H, D);
    RC_CHECK(options.a_k.shape() == Shape({H, D}), "attention: a_k has shape {} but must be ({}, {})",
             shape_str(options.a_k.shape()), H, D);
  }
  if (options.rel_bias.defined())
    RC_CHECK(options.rel_bias.ndim() == 2 && options.rel_bias.dim(0) == H,
             "attention: rel_bias has shape {} but must be ({}, T)", shape_str(options.rel_bias.shape()), H);
  RC_CHECK(options.dropout >= 0.0f && options.dropout < 1.0f, "attention: dropout must be in [0, 1), got {}",
           options.dropout);
  const float scale = options.scale ? *options.scale : 1.0f / std::sqrt(static_cast<float>(D));
  RC_CHECK(std::isfinite(scale), "attention: scale must be finite, got {}", scale);
  return scale;
}

// Step 2: the kernel. Auto follows the policy's hint (graphs, axial: the edge kernel).
bool use_edge_kernel(const Policy& policy, const AttentionOptions& options) {
  return options.kernel == AttentionKernel::Edges ||
         (options.kernel == AttentionKernel::Auto && policy.rule().plan_hint().edge_kernel);
}

// What the forward computes from and the backward needs. The Problem holds raw pointers into these tensors, so
// the backward closure keeps the whole struct alive.
struct Saved {
  Tensor q, k, v;     // the kernel's inputs, (B, H, N, Dk): Dk = 8 for the edge kernel when D < 8
  Tensor qa, ka;      // additive scores: the unpadded q, k (for da_q, da_k)
  Tensor eq, ek, aq, ak, bias, out, lse, probs;
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const attn::EdgeLists> edges;  // one of these two, memoized on the policy
  std::shared_ptr<const attn::TiledPlan> plan;
  attn::Problem p;
};

// Step 3: packed inputs, once per distinct Var (a GAT layer passes one tensor as q, k and v), padded to the
// kernel's head dim: the edge kernel's vector loops want D = 8 rather than a runtime D < 8 (e.g. a GAT output
// layer over 7 classes); zero columns change no dot product, and out/dq/dk/dv drop them again.
void pack_inputs(const Var& q, const Var& k, const Var& v, const AttentionOptions& options, bool edges, Saved& s,
                 Tensor& qc, Tensor& kc) {
  const bool k_is_q = k.node() == q.node(), v_is_q = v.node() == q.node(), v_is_k = v.node() == k.node();
  qc = q.value().contiguous();
  kc = k_is_q ? qc : k.value().contiguous();
  Tensor vc = v_is_q ? qc : v_is_k ? kc : v.value().contiguous();
  if (options.check_finite) {
    check_finite(qc, "q");
    check_finite(kc, "k");
    check_finite(vc, "v");
  }
  const int64_t D = q.dim(3), Dk = edges && D < 8 ? 8 : D;
  s.q = qc, s.k = kc, s.v = vc;
  if (Dk != D) {
    s.q = pad_cols(qc, Dk);
    s.k = k_is_q ? s.q : pad_cols(kc, Dk);
    s.v = v_is_q ? s.q : v_is_k ? s.k : pad_cols(vc, Dk);
  }
}

// Step 4: the kernel's problem: sizes, inputs, score, bias table and dropout.
void make_problem(const Policy& policy, const AttentionOptions& options, float scale, const Tensor& qc,
                  const Tensor& kc, Saved& s) {
  attn::Problem& p = s.p;
  p.B = s.q.dim(0), p.H = s.q.dim(1), p.N = s.q.dim(2), p.D = s.q.dim(3);
  p.q = s.q.data(), p.k = s.k.data(), p.v = s.v.data();
  p.score = options.score;
  p.scale = scale;
  p.slope = options.leaky_slope;
  if (options.score == ScoreKind::Additive) {
    s.aq = options.a_q.value().contiguous();
    s.ak = options.a_k.value().contiguous();
    if (options.check_finite) check_finite(s.aq, "a_q"), check_finite(s.ak, "a_k");
    s.qa = qc, s.ka = kc;
    s.eq = additive_terms(qc, s.aq, p.H);
    s.ek = additive_terms(kc, s.ak, p.H);
    p.eq = s.eq.data(), p.ek = s.ek.data();
  }
  if (options.rel_bias.defined()) {
    s.bias = options.rel_bias.value().contiguous();
    if (options.check_finite) check_finite(s.bias, "rel_bias");
    p.bias = s.bias.data();
    p.bias_index = make_bias_index(policy, options.bias_grid, s.bias.dim(1));
  }
  if (options.training && options.dropout > 0) p.dropout = options.dropout, p.seed = options.seed;
  s.policy = std::make_shared<const Policy>(policy);
  p.policy = s.policy.get();
}

// Step 5: the forward kernel (plan or edge lists memoized on the policy); fills out, lse and (edges) probs.
void run_forward(bool edges, bool need_lse, Saved& s) {
  const attn::Problem& p = s.p;
  if (edges)
    s.edges = attn::make_edge_lists(*s.policy, p.N);
  else
    s.plan = attn::make_tiled_plan(*s.policy, p.N);
  // the edge kernel writes every row, the tiled one every row that is in a query block
  const bool writes_all = edges || attn::tiled_writes_every_row(*s.plan);
  s.out = writes_all ? Tensor::empty(s.q.shape()) : Tensor::zeros(s.q.shape());
  // the tiled backward needs the row log-sum-exp; the edge kernel only when weights are requested
  s.lse = !edges || need_lse ? Tensor::empty({p.B, p.H, p.N}) : Tensor();
  if (edges) {
    s.probs = Tensor::empty({p.dropout > 0 ? 2 * p.B : p.B, p.H, s.edges->rows.edges()});  // + dropout factors
    attn::edges_forward(p, *s.edges, s.out.data(), s.lse.defined() ? s.lse.data() : nullptr, s.probs.data());
  } else {
    attn::tiled_forward(p, *s.plan, s.out.data(), s.lse.data());
  }
}

// The gradients of one backward pass, in the caller's head dim.
struct InputGrads {
  Tensor dq, dk, dv, dbias, daq, dak;
};

// Step 6: backward from dout (the caller's head dim; the saved problem's may be padded).
InputGrads run_backward(const Saved& sv, const Tensor& dout_in) {
  const attn::Problem& p = sv.p;
  const bool additive = p.score == ScoreKind::Additive;
  const int64_t D = dout_in.dim(3);
  Tensor dout = p.D == D ? dout_in.contiguous() : pad_cols(dout_in.contiguous(), p.D);
  // the edge kernel writes every row of its outputs; the tiled one the dq rows of its query blocks and every
  // row of dk, dv (see kernels.hpp). Additive scores leave dq, dk to additive_backward.
  auto grad_buffer = [&](bool needed, bool written) {
    return !needed ? Tensor() : written ? Tensor::empty(sv.q.shape()) : Tensor::zeros(sv.q.shape());
  };
  const bool edges = sv.edges != nullptr;
  InputGrads r;
  r.dq = grad_buffer(!additive, edges || attn::tiled_writes_every_row(*sv.plan));
  r.dk = grad_buffer(!additive, true), r.dv = grad_buffer(true, true);
  r.dbias = p.bias ? Tensor::zeros(sv.bias.shape()) : Tensor();
  Tensor deq = additive ? Tensor::zeros({p.B, p.H, p.N}) : Tensor();
  Tensor dek = additive ? Tensor::zeros({p.B, p.H, p.N}) : Tensor();
  attn::Grads g;
  if (!additive) g.dq = r.dq.data(), g.dk = r.dk.data();
  g.dv = r.dv.data();
  if (p.bias) g.dbias = r.dbias.data();
  if (additive) g.deq = deq.data(), g.dek = dek.data();
  if (edges)
    attn::edges_backward(p, *sv.edges, sv.out.data(), sv.probs.data(), dout.data(), g);
  else
    attn::tiled_backward(p, *sv.plan, sv.out.data(), sv.lse.data(), dout.data(), g);
  if (additive) {
    additive_backward(sv.qa, sv.aq, deq, p.H, r.dq, r.daq);
    additive_backward(sv.ka, sv.ak, dek, p.H, r.dk, r.dak);
  }
  if (p.D != D) {
    if (!additive) r.dq = unpad_cols(r.dq, D), r.dk = unpad_cols(r.dk, D);
    r.dv = unpad_cols(r.dv, D);
  }
  return r;
}

}  // namespace

Var attention(const Var& q, const Var& k, const Var& v, const Policy& policy, const AttentionOptions& options,
              AttentionWeights* weights) {
  const float scale = check_inputs(q, k, v, policy, options);
  const bool edges = use_edge_kernel(policy, options);
  auto sv = std::make_shared<Saved>();
  Tensor qc, kc;  // the unpadded packed q, k
  pack_inputs(q, k, v, options, edges, *sv, qc, kc);
  make_problem(policy, options, scale, qc, kc, *sv);
  run_forward(edges, weights != nullptr, *sv);
  if (weights) fill_weights(sv->p, sv->lse, *weights);

  const int64_t D = q.dim(3);
  Tensor result = sv->p.D == D ? sv->out : unpad_cols(sv->out, D);
  std::vector<Var> inputs{q, k, v};
  if (options.score == ScoreKind::Additive) inputs.push_back(options.a_q), inputs.push_back(options.a_k);
  if (options.rel_bias.defined()) inputs.push_back(options.rel_bias);
  return make_result(result, inputs, "attention",
                     [sv, q, k, v, aqv = options.a_q, akv = options.a_k, bv = options.rel_bias](const Tensor& dout) {
                       InputGrads g = run_backward(*sv, dout);
                       if (sv->p.score == ScoreKind::Additive) accumulate_grad(aqv, g.daq), accumulate_grad(akv, g.dak);
                       accumulate_grad(q, g.dq);
                       accumulate_grad(k, g.dk);
                       accumulate_grad(v, g.dv);
                       if (sv->p.bias) accumulate_grad(bv, g.dbias);
                     });
}

}  // namespace rc
