#include "framework/ops/norm.hpp"

#include <algorithm>
#include <cmath>

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

}  // namespace rc
