// BatchNorm (norm.hpp): x seen as (N, C, S); channel c's values are the N planes x[n, c, 0:S]. One process: one
// fused task per channel (its planes summed, then the centred squares, then written, while they stay in L2).
// Data-parallel training (a group installed, framework/core/collective.hpp): the same sums per channel, all-reduced
// between the sweeps, so the statistics are those of the whole batch over all ranks.
#include <cmath>
#include <span>
#include <vector>

#include "framework/core/collective.hpp"
#include "framework/core/parallel.hpp"
#include "framework/ops/norm.hpp"
#include "framework/ops/row_kernels.hpp"

namespace rc {

namespace {
using rowk::in;
using rowk::out;

// One plane's sum as a double (planes are then added in order).
template <class G>
double plane_sum(int64_t S, G&& g) {
  return static_cast<double>(rowk::sum(S, g));
}

struct Planes {
  int64_t N, C, S;
  int64_t offset(int64_t n, int64_t c) const { return (n * C + c) * S; }
};

struct BnGrads {
  Tensor dx, dgamma, dbeta;
};

// What the forward keeps for backward.
struct BnSaved {
  Tensor xc, g, mean, rstd, y;
  Planes P;
  bool training, relu;
};

Planes check_batch_norm(const Tensor& xv, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, bool training, float momentum, float eps, bool grouped) {
  RC_CHECK(xv.defined() && (xv.ndim() == 2 || xv.ndim() == 4),
           "batch_norm: x must be (N, C) or (N, C, H, W), got shape {}",
           xv.defined() ? shape_str(xv.shape()) : "undefined");
  const Planes P{xv.dim(0), xv.dim(1), xv.ndim() == 4 ? xv.dim(2) * xv.dim(3) : 1};
  const int64_t C = P.C, count = P.N * P.S;
  auto check_channel_vector = [&](const Tensor& t, const char* name) {
    RC_CHECK(t.defined() && t.shape() == Shape{C}, "batch_norm: {} must have shape ({}) for x of shape {}, got {}",
             name, C, shape_str(xv.shape()), t.defined() ? shape_str(t.shape()) : "undefined");
  };
  check_channel_vector(gamma, "gamma");
  check_channel_vector(beta, "beta");
  RC_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must both be given or both be undefined");
  if (running_mean.defined()) {
    check_channel_vector(running_mean, "running_mean");
    check_channel_vector(running_var, "running_var");
    RC_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(),
             "batch_norm: running_mean and running_var must be contiguous");
  }
  RC_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running_mean and running_var");
  RC_CHECK(!training || count > 1 || grouped,
           "batch_norm: training needs more than 1 value per channel, x has shape {}", shape_str(xv.shape()));
  RC_CHECK(momentum >= 0.0f && momentum <= 1.0f, "batch_norm: momentum must be in [0, 1], got {}", momentum);
  RC_CHECK(eps > 0.0f, "batch_norm: eps must be positive, got {}", eps);
  return P;
}

// y = x · scale + shift for channel c (and the fused ReLU).
void write_channel(const BnSaved& s, const Tensor& b, int64_t c, float* yp) {
  const Planes& P = s.P;
  const float scale = s.g.data()[c] * s.rstd.data()[c], shift = b.data()[c] - s.mean.data()[c] * scale;
  for (int64_t n = 0; n < P.N; ++n) {
    const float* xr = s.xc.data() + P.offset(n, c);
    float* yr = yp + P.offset(n, c);
    if (s.relu)
      rowk::for_each_segment(P.S,
                             [&](int64_t j, auto len) { out(yr + j, len) = (in(xr + j, len) * scale + shift).max(0.0f); });
    else
      rowk::for_each_segment(P.S, [&](int64_t j, auto len) { out(yr + j, len) = in(xr + j, len) * scale + shift; });
  }
}

void update_running(Tensor& running_mean, Tensor& running_var, const Tensor& mean, const std::vector<double>& unbiased_var,
                    float momentum) {
  for (int64_t c = 0; c < mean.numel(); ++c) {
    float& rm = running_mean.data()[c];
    float& rv = running_var.data()[c];
    rm = (1.0f - momentum) * rm + momentum * mean.data()[c];
    rv = static_cast<float>((1.0 - momentum) * rv + momentum * unbiased_var[static_cast<size_t>(c)]);
  }
}

// One process: one task per channel computes its statistics (training) and writes y.
void forward_fused(BnSaved& s, const Tensor& b, const Tensor& running_mean, const Tensor& running_var, float eps,
                   std::vector<double>& unbiased_var) {
  const Planes P = s.P;
  const int64_t count = P.N * P.S;
  const float* xp = s.xc.data();
  float* mp = s.mean.data();
  float* sp = s.rstd.data();
  if (!s.training) {
    for (int64_t c = 0; c < P.C; ++c) {
      mp[c] = running_mean.data()[c];
      sp[c] = 1.0f / std::sqrt(running_var.data()[c] + eps);
    }
  }
  parallel_for(P.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      if (s.training) {
        double sum = 0, m2 = 0;
        for (int64_t n = 0; n < P.N; ++n)
          sum += plane_sum(P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return in(p + j, len).eval(); });
        const float mu = static_cast<float>(sum / static_cast<double>(count));
        for (int64_t n = 0; n < P.N; ++n)
          m2 += plane_sum(
              P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return (in(p + j, len) - mu).square().eval(); });
        mp[c] = mu;
        sp[c] = 1.0f / std::sqrt(static_cast<float>(m2 / static_cast<double>(count)) + eps);
        unbiased_var[static_cast<size_t>(c)] = m2 / static_cast<double>(count - 1);
      }
      write_channel(s, b, c, s.y.data());
    }
  });
}

// Per channel: Σ_planes of f(n, c) in plane order, over all channels in parallel.
template <class F>
void channel_sums(const Planes& P, std::vector<double>& out_sums, F&& f) {
  parallel_for(P.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum = 0;
      for (int64_t n = 0; n < P.N; ++n) sum += f(n, c);
      out_sums[static_cast<size_t>(c)] = sum;
    }
  });
}

// Data parallel: Σx (and the element count), all-reduced; then Σ(x − μ)² with the global μ, all-reduced; then y.
// Returns the element count per channel over all ranks.
double forward_synced(BnSaved& s, const Tensor& b, Tensor& running_mean, Tensor& running_var, float momentum,
                    float eps) {
  const Planes P = s.P;
  const int64_t C = P.C;
  const float* xp = s.xc.data();
  std::vector<double> stats(static_cast<size_t>(C) + 1);
  channel_sums(P, stats, [&](int64_t n, int64_t c) {
    return plane_sum(P.S, [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return in(p + j, len).eval(); });
  });
  stats[static_cast<size_t>(C)] = static_cast<double>(P.N * P.S);
  group_allreduce_sum(std::span<double>(stats));
  const double count = stats[static_cast<size_t>(C)];
  RC_CHECK(count > 1, "batch_norm: training needs more than 1 value per channel over all ranks");
  for (int64_t c = 0; c < C; ++c) s.mean.data()[c] = static_cast<float>(stats[static_cast<size_t>(c)] / count);
  channel_sums(P, stats, [&](int64_t n, int64_t c) {
    const float mu = s.mean.data()[c];
    return plane_sum(P.S,
                     [&, p = xp + P.offset(n, c)](int64_t j, auto len) { return (in(p + j, len) - mu).square().eval(); });
  });
  stats[static_cast<size_t>(C)] = 0;
  group_allreduce_sum(std::span<double>(stats));
  std::vector<double> unbiased_var(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double m2 = stats[static_cast<size_t>(c)];
    s.rstd.data()[c] = 1.0f / std::sqrt(static_cast<float>(m2 / count) + eps);
    unbiased_var[static_cast<size_t>(c)] = m2 / (count - 1);
  }
  if (running_mean.defined()) update_running(running_mean, running_var, s.mean, unbiased_var, momentum);
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) write_channel(s, b, c, s.y.data());
  });
  return count;
}

// Channel c's Σ dy and Σ dy (x − μ) over its planes; with the fused ReLU, dy is first masked where y = 0, into
// `masked` (dx's buffer, which the last sweep overwrites).
std::pair<double, double> channel_grad_sums(const BnSaved& s, const Tensor& dy, float* masked, int64_t c) {
  const Planes& P = s.P;
  const float mu = s.mean.data()[c];
  const float* dyp = s.relu ? masked : dy.data();
  double sum_dy = 0, sum_dy_xc = 0;
  for (int64_t n = 0; n < P.N; ++n) {
    const float* xr = s.xc.data() + P.offset(n, c);
    const float* dyr = dyp + P.offset(n, c);
    if (s.relu) {
      const float* yr = s.y.data() + P.offset(n, c);
      const float* dy_raw = dy.data() + P.offset(n, c);
      float* m = masked + P.offset(n, c);
      // A plain loop: GCC 12 at -O3 miscompiled the Eigen select form (lanes of the mask dropped).
      for (int64_t j = 0; j < P.S; ++j) m[j] = yr[j] > 0.0f ? dy_raw[j] : 0.0f;
    }
    sum_dy += plane_sum(P.S, [&](int64_t j, auto len) { return in(dyr + j, len).eval(); });
    sum_dy_xc +=
        plane_sum(P.S, [&](int64_t j, auto len) { return (in(dyr + j, len) * (in(xr + j, len) - mu)).eval(); });
  }
  return {sum_dy, sum_dy_xc};
}

// dx for channel c from the batch's Σ dy (= dβ) and Σ dy x̂ (= dγ) over `count` values:
//   eval: dx = γ rstd dy;  training: dx = γ rstd (dy − dβ/m − x̂ dγ/m).
void write_channel_dx(const BnSaved& s, const Tensor& dy, float* dxp, int64_t c, float dbeta, float dgamma,
                      float inv_m) {
  const Planes& P = s.P;
  const float mu = s.mean.data()[c], rs = s.rstd.data()[c];
  const float* dyp = s.relu ? dxp : dy.data();
  const float k = s.g.data()[c] * rs;
  const float mean_dy = s.training ? dbeta * inv_m : 0.0f;
  const float xc_coef = s.training ? rs * dgamma * inv_m : 0.0f;
  for (int64_t n = 0; n < P.N; ++n) {
    const float* xr = s.xc.data() + P.offset(n, c);
    const float* dyr = dyp + P.offset(n, c);
    float* dxr = dxp + P.offset(n, c);
    rowk::for_each_segment(P.S, [&](int64_t j, auto len) {
      out(dxr + j, len) = k * (in(dyr + j, len) - mean_dy - (in(xr + j, len) - mu) * xc_coef);
    });
  }
}

// forward was y = x̂ γ + β, x̂ = (x − μ) rstd per channel, so dβ = Σ dy and dγ = Σ dy x̂. One process: one task per
// channel. Data parallel: the sums of every channel are all-reduced before dx (dγ, dβ stay this rank's share: the
// gradient all-reduce adds them), and m is the count over all ranks.
BnGrads backward(const BnSaved& s, const Tensor& dy_in, bool synced, double count) {
  Tensor dy = dy_in.contiguous();
  const Planes P = s.P;
  BnGrads grads{Tensor::empty(s.xc.shape()), Tensor::empty({P.C}), Tensor::empty({P.C})};
  float* dxp = grads.dx.data();
  const float inv_m = synced ? static_cast<float>(1.0 / count) : 1.0f / static_cast<float>(P.N * P.S);
  if (!synced) {
    parallel_for(P.C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const auto [sum_dy, sum_dy_xc] = channel_grad_sums(s, dy, dxp, c);
        const float dbeta = static_cast<float>(sum_dy), dgamma = static_cast<float>(sum_dy_xc) * s.rstd.data()[c];
        grads.dbeta.data()[c] = dbeta;
        grads.dgamma.data()[c] = dgamma;
        write_channel_dx(s, dy, dxp, c, dbeta, dgamma, inv_m);
      }
    });
    return grads;
  }
  std::vector<double> sums(2 * static_cast<size_t>(P.C));
  parallel_for(P.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const auto [sum_dy, sum_dy_xc] = channel_grad_sums(s, dy, dxp, c);
      sums[2 * static_cast<size_t>(c)] = sum_dy;
      sums[2 * static_cast<size_t>(c) + 1] = sum_dy_xc;
      grads.dbeta.data()[c] = static_cast<float>(sum_dy);
      grads.dgamma.data()[c] = static_cast<float>(sum_dy_xc) * s.rstd.data()[c];
    }
  });
  group_allreduce_sum(std::span<double>(sums));
  parallel_for(P.C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      write_channel_dx(s, dy, dxp, c, static_cast<float>(sums[2 * static_cast<size_t>(c)]),
                       static_cast<float>(sums[2 * static_cast<size_t>(c) + 1]) * s.rstd.data()[c], inv_m);
  });
  return grads;
}
}  // namespace

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
               bool training, float momentum, float eps, bool relu) {
  const Collective* group = data_parallel_group();
  const bool synced = training && group && group->size() > 1;
  const Planes P = check_batch_norm(x.value(), gamma.value(), beta.value(), running_mean, running_var, training,
                                    momentum, eps, synced);
  auto s = std::make_shared<BnSaved>();
  s->xc = x.value().contiguous();
  s->g = gamma.value().contiguous();
  const Tensor b = beta.value().contiguous();
  s->y = Tensor::empty(s->xc.shape());
  s->mean = Tensor::empty({P.C});
  s->rstd = Tensor::empty({P.C});
  s->P = P;
  s->training = training;
  s->relu = relu;
  double count = static_cast<double>(P.N * P.S);
  if (synced) {
    count = forward_synced(*s, b, running_mean, running_var, momentum, eps);
  } else {
    std::vector<double> unbiased_var(training ? static_cast<size_t>(P.C) : 0);
    forward_fused(*s, b, running_mean, running_var, eps, unbiased_var);
    if (training && running_mean.defined()) update_running(running_mean, running_var, s->mean, unbiased_var, momentum);
  }
  return make_result(s->y, {&x, &gamma, &beta}, relu ? "batch_norm_relu" : "batch_norm",
                     [x, gamma, beta, s, synced, count](const Tensor& dy) {
                       BnGrads g = backward(*s, dy, synced, count);
                       accumulate_grad(x, g.dx);
                       accumulate_grad(gamma, g.dgamma);
                       accumulate_grad(beta, g.dbeta);
                     });
}

}  // namespace rc
