#include "framework/ops/norm.hpp"

#include <algorithm>
#include <cmath>

#include "framework/core/collective.hpp"
#include "framework/core/parallel.hpp"
#include "framework/ops/row_kernels.hpp"

namespace rc {

namespace {
using rowk::in;
using rowk::out;

// ---------------------------------------------------------------------------------------------------------
// LayerNorm

void check_layer_norm(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  RC_CHECK(x.defined() && x.ndim() >= 1, "{}: x must have at least 1 dimension", op);
  const int64_t D = x.shape().back();
  RC_CHECK(D >= 1, "{}: x of shape {} has an empty last dimension", op, shape_str(x.shape()));
  RC_CHECK(gamma.defined() && gamma.shape() == Shape{D}, "{}: gamma must have shape ({}) for x of shape {}, got {}", op,
           D, shape_str(x.shape()), gamma.defined() ? shape_str(gamma.shape()) : "undefined");
  RC_CHECK(beta.defined() && beta.shape() == Shape{D}, "{}: beta must have shape ({}) for x of shape {}, got {}", op, D,
           shape_str(x.shape()), beta.defined() ? shape_str(beta.shape()) : "undefined");
  RC_CHECK(eps > 0.0f, "{}: eps must be positive, got {}", op, eps);
}

struct RowStats {
  Tensor mean, rstd;  // (rows)
};

// y = (h − μ) rstd γ + β per row of h, where h = x, or h = x + residual written to h_out.
// Each row is read from memory once; the mean, the centred variance and y are three sweeps over it in L1.
RowStats layer_norm_rows(const Tensor& x, const Tensor* residual, Tensor* h_out, const Tensor& gamma,
                         const Tensor& beta, float eps, Tensor& y) {
  const int64_t D = x.shape().back(), rows = x.numel() / D;
  RowStats st{Tensor::empty({rows}), Tensor::empty({rows})};
  const float* xp = x.data();
  const float* rp = residual ? residual->data() : nullptr;
  float* hp = h_out ? h_out->data() : nullptr;
  float* yp = y.data();
  float* mp = st.mean.data();
  float* sp = st.rstd.data();
  const float* gp = gamma.data();
  const float* bp = beta.data();
  const float inv_d = 1.0f / static_cast<float>(D);
  parallel_for(rows, rowk::row_grain(D), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = xp + r * D;
      const float* hr = xr;
      float sum;
      if (rp) {  // h = x + residual, summed while it is written
        const float* rr = rp + r * D;
        float* hw = hp + r * D;
        sum = rowk::sum(D, [&](int64_t j, auto len) {
          auto v = (in(xr + j, len) + in(rr + j, len)).eval();
          out(hw + j, len) = v;
          return v;
        });
        hr = hw;
      } else {
        sum = rowk::sum(D, [&](int64_t j, auto len) { return in(hr + j, len).eval(); });
      }
      const float mean = sum * inv_d;
      const float var =
          rowk::sum(D, [&](int64_t j, auto len) { return (in(hr + j, len) - mean).square().eval(); }) * inv_d;
      const float rstd = 1.0f / std::sqrt(var + eps);
      float* yr = yp + r * D;
      rowk::for_each_segment(D, [&](int64_t j, auto len) {
        out(yr + j, len) = (in(hr + j, len) - mean) * rstd * in(gp + j, len) + in(bp + j, len);
      });
      mp[r] = mean;
      sp[r] = rstd;
    }
  });
  return st;
}

struct NormGrads {
  Tensor dx, dgamma, dbeta;
};

// forward was y = x̂ γ + β, x̂ = (x − μ) rstd, so with g = dy γ:
//   dx = rstd (g − mean(g) − x̂ mean(g x̂)),  dγ = Σ_rows dy x̂,  dβ = Σ_rows dy.
// dγ, dβ are summed per fixed chunk of rows (the chunking depends on the shape only), then over chunks in order.
NormGrads layer_norm_backward_rows(const Tensor& x, const Tensor& gamma, const RowStats& st, const Tensor& dy_in) {
  Tensor dy = dy_in.contiguous();
  const int64_t D = x.shape().back(), rows = x.numel() / D;
  const int64_t chunk = std::max<int64_t>(1, 8192 / D), chunks = num_chunks(rows, chunk);
  NormGrads grads{Tensor::empty(x.shape()), Tensor::empty({D}), Tensor::empty({D})};
  Tensor partial = Tensor::empty({chunks, 2, D});  // per chunk: Σ dy x̂, Σ dy
  const float* xp = x.data();
  const float* dyp = dy.data();
  const float* mp = st.mean.data();
  const float* sp = st.rstd.data();
  float* dxp = grads.dx.data();
  float* pp = partial.data();
  const float* gp = gamma.data();
  const float inv_d = 1.0f / static_cast<float>(D);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* dgamma = pp + c * 2 * D;
      float* dbeta = dgamma + D;
      std::fill_n(dgamma, 2 * D, 0.0f);
      for (int64_t r = c * chunk; r < std::min(rows, (c + 1) * chunk); ++r) {
        const float* xr = xp + r * D;
        const float* dyr = dyp + r * D;
        float* dxr = dxp + r * D;
        const float mean = mp[r], rstd = sp[r];
        // mean(g) and mean(g x̂) = rstd · mean(dy γ (x − μ))
        const float mean_g = inv_d * rowk::sum(D, [&](int64_t j, auto len) {
          return (in(dyr + j, len) * in(gp + j, len)).eval();
        });
        const float mean_gx = rstd * inv_d * rowk::sum(D, [&](int64_t j, auto len) {
          return (in(dyr + j, len) * in(gp + j, len) * (in(xr + j, len) - mean)).eval();
        });
        rowk::for_each_segment(D, [&](int64_t j, auto len) {
          const auto xhat = ((in(xr + j, len) - mean) * rstd).eval();
          const auto dyj = in(dyr + j, len);
          out(dxr + j, len) = rstd * (dyj * in(gp + j, len) - mean_g - xhat * mean_gx);
          out(dgamma + j, len) += dyj * xhat;
          out(dbeta + j, len) += dyj;
        });
      }
    }
  });
  Eigen::ArrayXd dgamma = Eigen::ArrayXd::Zero(D), dbeta = Eigen::ArrayXd::Zero(D);
  for (int64_t c = 0; c < chunks; ++c) {
    dgamma += ConstVecMap(pp + c * 2 * D, D).cast<double>();
    dbeta += ConstVecMap(pp + c * 2 * D + D, D).cast<double>();
  }
  grads.dgamma.array() = dgamma.cast<float>();
  grads.dbeta.array() = dbeta.cast<float>();
  return grads;
}

// The LayerNorm node over h (x itself, or the fused sum): saves h, γ, μ, rstd.
Var layer_norm_node(const Var& h, const Tensor& h_value, const Var& gamma, const Var& beta, const Tensor& y,
                    RowStats st) {
  return make_result(y, {&h, &gamma, &beta}, "layer_norm", [h, gamma, beta, h_value, st](const Tensor& dy) {
    NormGrads g = layer_norm_backward_rows(h_value, gamma.value().contiguous(), st, dy);
    accumulate_grad(h, g.dx);
    accumulate_grad(gamma, g.dgamma);
    accumulate_grad(beta, g.dbeta);
  });
}

// ---------------------------------------------------------------------------------------------------------
// BatchNorm: x seen as (N, C, S); channel c's values are the N planes x[n, c, 0:S].

// One plane's sum as a double (planes are then added in order).
template <class G>
double plane_sum(int64_t S, G&& g) {
  return static_cast<double>(rowk::sum(S, g));
}

struct Planes {
  int64_t N, C, S;
  int64_t offset(int64_t n, int64_t c) const { return (n * C + c) * S; }
};
}  // namespace

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
  check_layer_norm("layer_norm", x.value(), gamma.value(), beta.value(), eps);
  Tensor xc = x.value().contiguous();
  Tensor y = Tensor::empty(xc.shape());
  RowStats st = layer_norm_rows(xc, nullptr, nullptr, gamma.value().contiguous(), beta.value().contiguous(), eps, y);
  return layer_norm_node(x, xc, gamma, beta, y, std::move(st));
}

LayerNormResidual layer_norm_residual(const Var& x, const Var& residual, const Var& gamma, const Var& beta, float eps) {
  check_layer_norm("layer_norm_residual", x.value(), gamma.value(), beta.value(), eps);
  check_same_shape(x.value(), residual.value(), "layer_norm_residual", "x", "residual");
  Tensor xc = x.value().contiguous(), rc_ = residual.value().contiguous();
  Tensor h = Tensor::empty(xc.shape()), y = Tensor::empty(xc.shape());
  RowStats st = layer_norm_rows(xc, &rc_, &h, gamma.value().contiguous(), beta.value().contiguous(), eps, y);
  // forward was sum = x + residual, so both get the sum's gradient
  Var sum = make_result(h, {&x, &residual}, "add", [x, residual](const Tensor& dsum) {
    accumulate_grad(x, dsum);
    accumulate_grad(residual, dsum);
  });
  Var out = layer_norm_node(sum, h, gamma, beta, y, std::move(st));
  return {sum, out};
}

namespace {
// Synchronised BatchNorm (data-parallel training): three sweeps over all channels with an all-reduce between
// them, instead of one fused task per channel. Per channel: Σx (and the element count), then Σ(x − μ)² with the
// global μ, then y. Backward: Σdy and Σdy(x − μ) all-reduced, then dx with the global count.
Var batch_norm_synced(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
                      float momentum, float eps, bool relu, const Planes P) {
  const int64_t C = P.C;
  Tensor xc = x.value().contiguous(), g = gamma.value().contiguous(), b = beta.value().contiguous();
  Tensor y = Tensor::empty(xc.shape()), mean = Tensor::empty({C}), rstd = Tensor::empty({C});
  const float* xp = xc.data();
  std::vector<double> stats(static_cast<size_t>(C) + 1);
  auto channel_sums = [&](auto&& plane) {
    parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t n = 0; n < P.N; ++n) s += plane(n, c);
        stats[static_cast<size_t>(c)] = s;
      }
    });
  };
  channel_sums([&](int64_t n, int64_t c) {
    return plane_sum(P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return in(p + j, len).eval(); });
  });
  stats[static_cast<size_t>(C)] = static_cast<double>(P.N * P.S);
  group_allreduce_sum(std::span<double>(stats));
  const double count = stats[static_cast<size_t>(C)];
  RC_CHECK(count > 1, "batch_norm: training needs more than 1 value per channel over all ranks");
  for (int64_t c = 0; c < C; ++c) mean.data()[c] = static_cast<float>(stats[static_cast<size_t>(c)] / count);
  channel_sums([&](int64_t n, int64_t c) {
    const float mu = mean.data()[c];
    return plane_sum(P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return (in(p + j, len) - mu).square().eval(); });
  });
  stats[static_cast<size_t>(C)] = 0;
  group_allreduce_sum(std::span<double>(stats));
  for (int64_t c = 0; c < C; ++c) {
    const double m2 = stats[static_cast<size_t>(c)];
    rstd.data()[c] = 1.0f / std::sqrt(static_cast<float>(m2 / count) + eps);
    if (running_mean.defined()) {
      float& rm = running_mean.data()[c];
      float& rv = running_var.data()[c];
      rm = (1.0f - momentum) * rm + momentum * mean.data()[c];
      rv = static_cast<float>((1.0 - momentum) * rv + momentum * (m2 / (count - 1)));
    }
  }
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float scale = g.data()[c] * rstd.data()[c], shift = b.data()[c] - mean.data()[c] * scale;
      for (int64_t n = 0; n < P.N; ++n) {
        const float* xr = xp + P.offset(n, c);
        float* yr = y.data() + P.offset(n, c);
        rowk::for_each_segment(P.S, [&](int64_t j, auto len) {
          if (relu) out(yr + j, len) = (in(xr + j, len) * scale + shift).max(0.0f);
          else out(yr + j, len) = in(xr + j, len) * scale + shift;
        });
      }
    }
  });
  return make_result(
      y, {&x, &gamma, &beta}, relu ? "batch_norm_relu" : "batch_norm",
      [x, gamma, beta, xc, g, mean, rstd, P, relu, y, count](const Tensor& dy_in) {
        Tensor dy = dy_in.contiguous();
        if (relu) {  // mask dy where y = 0
          Tensor masked = Tensor::empty(dy.shape());
          for (int64_t i = 0; i < dy.numel(); ++i) masked.data()[i] = y.data()[i] > 0.0f ? dy.data()[i] : 0.0f;
          dy = masked;
        }
        const int64_t C = P.C;
        const float* xp = xc.data();
        const float* dyp = dy.data();
        std::vector<double> sums(2 * static_cast<size_t>(C));
        parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            const float mu = mean.data()[c];
            double s_dy = 0, s_dyx = 0;
            for (int64_t n = 0; n < P.N; ++n) {
              const float* xr = xp + P.offset(n, c);
              const float* dyr = dyp + P.offset(n, c);
              s_dy += plane_sum(P.S, [&](int64_t j, auto len) { return in(dyr + j, len).eval(); });
              s_dyx += plane_sum(P.S, [&](int64_t j, auto len) { return (in(dyr + j, len) * (in(xr + j, len) - mu)).eval(); });
            }
            sums[2 * static_cast<size_t>(c)] = s_dy;
            sums[2 * static_cast<size_t>(c) + 1] = s_dyx;
          }
        });
        NormGrads grads{Tensor::empty(xc.shape()), Tensor::empty({C}), Tensor::empty({C})};
        for (int64_t c = 0; c < C; ++c) {  // this rank's share of dβ, dγ
          grads.dbeta.data()[c] = static_cast<float>(sums[2 * static_cast<size_t>(c)]);
          grads.dgamma.data()[c] = static_cast<float>(sums[2 * static_cast<size_t>(c) + 1]) * rstd.data()[c];
        }
        group_allreduce_sum(std::span<double>(sums));
        const float inv_m = static_cast<float>(1.0 / count);
        parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            const float mu = mean.data()[c], rs = rstd.data()[c];
            const float dbeta = static_cast<float>(sums[2 * static_cast<size_t>(c)]);
            const float dgamma = static_cast<float>(sums[2 * static_cast<size_t>(c) + 1]) * rs;
            const float k = g.data()[c] * rs, mean_dy = dbeta * inv_m, xc_coef = rs * dgamma * inv_m;
            for (int64_t n = 0; n < P.N; ++n) {
              const float* xr = xp + P.offset(n, c);
              const float* dyr = dyp + P.offset(n, c);
              float* dxr = grads.dx.data() + P.offset(n, c);
              rowk::for_each_segment(P.S, [&](int64_t j, auto len) {
                out(dxr + j, len) = k * (in(dyr + j, len) - mean_dy - (in(xr + j, len) - mu) * xc_coef);
              });
            }
          }
        });
        accumulate_grad(x, grads.dx);
        accumulate_grad(gamma, grads.dgamma);
        accumulate_grad(beta, grads.dbeta);
      });
}
}  // namespace

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
               bool training, float momentum, float eps, bool relu) {
  const Tensor& xv = x.value();
  RC_CHECK(xv.defined() && (xv.ndim() == 2 || xv.ndim() == 4),
           "batch_norm: x must be (N, C) or (N, C, H, W), got shape {}",
           xv.defined() ? shape_str(xv.shape()) : "undefined");
  const Planes P{xv.dim(0), xv.dim(1), xv.ndim() == 4 ? xv.dim(2) * xv.dim(3) : 1};
  const int64_t C = P.C, count = P.N * P.S;
  auto check_channel_vector = [&](const Tensor& t, const char* name) {
    RC_CHECK(t.defined() && t.shape() == Shape{C}, "batch_norm: {} must have shape ({}) for x of shape {}, got {}",
             name, C, shape_str(xv.shape()), t.defined() ? shape_str(t.shape()) : "undefined");
  };
  check_channel_vector(gamma.value(), "gamma");
  check_channel_vector(beta.value(), "beta");
  RC_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must both be given or both be undefined");
  const bool track = running_mean.defined();
  if (track) {
    check_channel_vector(running_mean, "running_mean");
    check_channel_vector(running_var, "running_var");
    RC_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(),
             "batch_norm: running_mean and running_var must be contiguous");
  }
  RC_CHECK(training || track, "batch_norm: eval mode needs running_mean and running_var");
  const Collective* group = data_parallel_group();
  RC_CHECK(!training || count > 1 || (group && group->size() > 1),
           "batch_norm: training needs more than 1 value per channel, x has shape {}", shape_str(xv.shape()));
  RC_CHECK(momentum >= 0.0f && momentum <= 1.0f, "batch_norm: momentum must be in [0, 1], got {}", momentum);
  RC_CHECK(eps > 0.0f, "batch_norm: eps must be positive, got {}", eps);
  if (training && group && group->size() > 1)
    return batch_norm_synced(x, gamma, beta, running_mean, running_var, momentum, eps, relu, P);

  Tensor xc = xv.contiguous(), g = gamma.value().contiguous(), b = beta.value().contiguous();
  Tensor y = Tensor::empty(xc.shape());
  Tensor mean = Tensor::empty({C}), rstd = Tensor::empty({C});
  const float* xp = xc.data();
  float* yp = y.data();
  float* mp = mean.data();
  float* sp = rstd.data();
  if (!training) {
    for (int64_t c = 0; c < C; ++c) {
      mp[c] = running_mean.data()[c];
      sp[c] = 1.0f / std::sqrt(running_var.data()[c] + eps);
    }
  }
  // One task per channel: its planes are summed, then the centred squares, then written (the channel's
  // N·S values stay in L2 between the sweeps); every sum runs in a fixed order.
  std::vector<double> unbiased_var(training ? C : 0);
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      if (training) {
        double sum = 0, m2 = 0;
        for (int64_t n = 0; n < P.N; ++n)
          sum += plane_sum(P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return in(p + j, len).eval(); });
        const float mu = static_cast<float>(sum / static_cast<double>(count));
        for (int64_t n = 0; n < P.N; ++n)
          m2 += plane_sum(
              P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return (in(p + j, len) - mu).square().eval(); });
        mp[c] = mu;
        sp[c] = 1.0f / std::sqrt(static_cast<float>(m2 / static_cast<double>(count)) + eps);
        unbiased_var[c] = m2 / static_cast<double>(count - 1);
      }
      const float scale = g.data()[c] * sp[c], shift = b.data()[c] - mp[c] * scale;
      for (int64_t n = 0; n < P.N; ++n) {
        const float* xr = xp + P.offset(n, c);
        float* yr = yp + P.offset(n, c);
        if (relu)
          rowk::for_each_segment(
              P.S, [&](int64_t j, auto len) { out(yr + j, len) = (in(xr + j, len) * scale + shift).max(0.0f); });
        else
          rowk::for_each_segment(P.S,
                                 [&](int64_t j, auto len) { out(yr + j, len) = in(xr + j, len) * scale + shift; });
      }
    }
  });
  if (training && track) {
    for (int64_t c = 0; c < C; ++c) {
      float& rm = running_mean.data()[c];
      float& rv = running_var.data()[c];
      rm = (1.0f - momentum) * rm + momentum * mp[c];
      rv = static_cast<float>((1.0 - momentum) * rv + momentum * unbiased_var[c]);
    }
  }

  // forward was y = x̂ γ + β, x̂ = (x − μ) rstd per channel, so dβ = Σ dy, dγ = Σ dy x̂ and
  //   eval: dx = γ rstd dy;  training (μ, rstd depend on the batch): dx = γ rstd (dy − dβ/m − x̂ dγ/m), m = N·S.
  // With the fused ReLU, dy is first masked where y = 0 (written into dx, which the last sweep overwrites).
  return make_result(
      y, {&x, &gamma, &beta}, relu ? "batch_norm_relu" : "batch_norm",
      [x, gamma, beta, xc, g, mean, rstd, P, training, relu, y](const Tensor& dy_in) {
        Tensor dy = dy_in.contiguous();
        NormGrads grads{Tensor::empty(xc.shape()), Tensor::empty({P.C}), Tensor::empty({P.C})};
        const float* xp = xc.data();
        float* dxp = grads.dx.data();
        const float* dyp = relu ? dxp : dy.data();  // the masked dy lives in dx until the last sweep
        const float inv_m = 1.0f / static_cast<float>(P.N * P.S);
        parallel_for(P.C, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            const float mu = mean.data()[c], rs = rstd.data()[c];
            double sum_dy = 0, sum_dy_xc = 0;
            for (int64_t n = 0; n < P.N; ++n) {
              const float* xr = xp + P.offset(n, c);
              const float* dyr = dyp + P.offset(n, c);
              if (relu) {
                const float* yr = y.data() + P.offset(n, c);
                const float* dy_raw = dy.data() + P.offset(n, c);
                float* masked = dxp + P.offset(n, c);
                // A plain loop: GCC 12 at -O3 miscompiled the Eigen select form (lanes of the mask dropped).
                for (int64_t j = 0; j < P.S; ++j) masked[j] = yr[j] > 0.0f ? dy_raw[j] : 0.0f;
              }
              sum_dy += plane_sum(P.S, [&](int64_t j, auto len) { return in(dyr + j, len).eval(); });
              sum_dy_xc += plane_sum(
                  P.S, [&](int64_t j, auto len) { return (in(dyr + j, len) * (in(xr + j, len) - mu)).eval(); });
            }
            const float dbeta = static_cast<float>(sum_dy);
            const float dgamma = static_cast<float>(sum_dy_xc) * rs;
            grads.dbeta.data()[c] = dbeta;
            grads.dgamma.data()[c] = dgamma;
            const float k = g.data()[c] * rs;
            const float mean_dy = training ? dbeta * inv_m : 0.0f;
            const float xc_coef = training ? rs * dgamma * inv_m : 0.0f;
            for (int64_t n = 0; n < P.N; ++n) {
              const float* xr = xp + P.offset(n, c);
              const float* dyr = dyp + P.offset(n, c);
              float* dxr = dxp + P.offset(n, c);
              rowk::for_each_segment(P.S, [&](int64_t j, auto len) {
                out(dxr + j, len) = k * (in(dyr + j, len) - mean_dy - (in(xr + j, len) - mu) * xc_coef);
              });
            }
          }
        });
        accumulate_grad(x, grads.dx);
        accumulate_grad(gamma, grads.dgamma);
        accumulate_grad(beta, grads.dbeta);
      });
}

}  // namespace rc
