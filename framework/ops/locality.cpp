#include "framework/ops/locality.hpp"

#include <cmath>

#include "framework/core/parallel.hpp"

namespace rc {

double softplus(double x) { return x > 30.0 ? x : std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double locality_width(double alpha) { return 1.0 / std::sqrt(2.0 * softplus(alpha)); }
double locality_alpha_for_width(double width) {
  RC_CHECK(width > 0.0, "locality: the initial width must be > 0, got {}", width);
  const double s = 1.0 / (2.0 * width * width);  // softplus(α) = s  ->  α = log(e^s − 1)
  return s > 30.0 ? s : std::log(std::expm1(s));
}

namespace {

void check_locality_inputs(const Var& alpha, const Var& mu, const Tensor& offsets) {
  check_ndim(alpha.value(), 1, "locality_bias", "alpha");
  const int64_t H = alpha.dim(0);
  RC_CHECK(mu.ndim() == 2 && mu.dim(0) == H && mu.dim(1) == 2,
           "locality_bias: mu must be (H, 2) = ({}, 2) for alpha of H = {} heads, got {}", H, H, shape_str(mu.shape()));
  RC_CHECK(offsets.ndim() == 2 && offsets.dim(1) == 2, "locality_bias: offsets must be (T, 2), got {}",
           shape_str(offsets.shape()));
}

}  // namespace

Var locality_bias(const Var& alpha, const Var& mu, const Tensor& offsets_in) {
  check_locality_inputs(alpha, mu, offsets_in);
  const int64_t H = alpha.dim(0), T = offsets_in.dim(0);
  Tensor a = alpha.value().contiguous(), m = mu.value().contiguous(), off = offsets_in.contiguous();
  Tensor b = Tensor::empty({H, T});
  for (int64_t h = 0; h < H; ++h) {
    const double sp = softplus(a.data()[h]), mr = m.data()[2 * h], mc = m.data()[2 * h + 1];
    for (int64_t t = 0; t < T; ++t) {
      const double dr = off.data()[2 * t] - mr, dc = off.data()[2 * t + 1] - mc;
      b.data()[h * T + t] = static_cast<float>(-sp * (dr * dr + dc * dc));
    }
  }
  // b = −softplus(α)·‖Δ − μ‖²:  dα = Σ_t db·(−sigmoid(α)‖Δ − μ‖²),  dμ = Σ_t db·2 softplus(α)(Δ − μ)
  return make_result(b, {&alpha, &mu}, "locality_bias", [alpha, mu, a, m, off, H, T](const Tensor& db_in) {
    Tensor db = db_in.contiguous();
    Tensor dalpha = Tensor::zeros({H}), dmu = Tensor::zeros({H, 2});
    for (int64_t h = 0; h < H; ++h) {
      const double sp = softplus(a.data()[h]), sg = sigmoid(a.data()[h]);
      const double mr = m.data()[2 * h], mc = m.data()[2 * h + 1];
      double ga = 0, gr = 0, gc = 0;
      for (int64_t t = 0; t < T; ++t) {
        const double dr = off.data()[2 * t] - mr, dc = off.data()[2 * t + 1] - mc, g = db.data()[h * T + t];
        ga -= g * sg * (dr * dr + dc * dc);
        gr += g * 2.0 * sp * dr;
        gc += g * 2.0 * sp * dc;
      }
      dalpha.data()[h] = static_cast<float>(ga);
      dmu.data()[2 * h] = static_cast<float>(gr), dmu.data()[2 * h + 1] = static_cast<float>(gc);
    }
    accumulate_grad(alpha, dalpha);
    accumulate_grad(mu, dmu);
  });
}

Var gated_mix(const Var& content, const Var& positional, const Var& gate_logit) {
  check_ndim(content.value(), 4, "gated_mix", "content");
  RC_CHECK(positional.shape() == content.shape(), "gated_mix: positional {} must have content's shape {}",
           shape_str(positional.shape()), shape_str(content.shape()));
  const int64_t H = content.dim(1), inner = content.dim(2) * content.dim(3), outer = content.dim(0);
  RC_CHECK(gate_logit.ndim() == 1 && gate_logit.dim(0) == H, "gated_mix: gate_logit must be (H) = ({}), got {}", H,
           shape_str(gate_logit.shape()));
  Tensor c = content.value().contiguous(), p = positional.value().contiguous(), l = gate_logit.value().contiguous();
  Tensor y = Tensor::empty(content.shape());
  const float *cp = c.data(), *pp = p.data();
  float* yp = y.data();
  parallel_for(outer * H, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float g = static_cast<float>(sigmoid(l.data()[r % H]));
      for (int64_t i = r * inner; i < (r + 1) * inner; ++i) yp[i] = (1.0f - g) * cp[i] + g * pp[i];
    }
  });
  // y = (1 − g)c + g p:  dc = (1 − g)dy,  dp = g dy,  dλ_h = Σ dy (p − c) g(1 − g)   (summed in a fixed order)
  return make_result(y, {&content, &positional, &gate_logit}, "gated_mix",
                     [content, positional, gate_logit, c, p, l, H, inner, outer](const Tensor& dy_in) {
                       Tensor dy = dy_in.contiguous();
                       Tensor dc = Tensor::empty(c.shape()), dp = Tensor::empty(c.shape());
                       std::vector<double> per_row(outer * H, 0.0);
                       parallel_for(outer * H, 1, [&](int64_t r0, int64_t r1) {
                         for (int64_t r = r0; r < r1; ++r) {
                           const double g = sigmoid(l.data()[r % H]);
                           double acc = 0;
                           for (int64_t i = r * inner; i < (r + 1) * inner; ++i) {
                             const float d = dy.data()[i];
                             dc.data()[i] = static_cast<float>((1.0 - g) * d);
                             dp.data()[i] = static_cast<float>(g * d);
                             acc += double(d) * (double(p.data()[i]) - double(c.data()[i]));
                           }
                           per_row[r] = acc * g * (1.0 - g);
                         }
                       });
                       Tensor dl = Tensor::zeros({H});
                       for (int64_t r = 0; r < outer * H; ++r) dl.data()[r % H] += static_cast<float>(per_row[r]);
                       accumulate_grad(content, dc);
                       accumulate_grad(positional, dp);
                       accumulate_grad(gate_logit, dl);
                     });
}

Tensor bias_table_offsets(const BiasIndex& index) {
  RC_CHECK(index.mode == BiasIndex::Mode::Offset2d,
           "locality: the bias needs 2-D offsets on a grid (a window2d policy or a bias grid), not {}",
           index.mode == BiasIndex::Mode::None ? "no bias table" : "1-D token offsets");
  const int64_t cols = 2 * index.radius_w + 1;
  Tensor off = Tensor::empty({index.table_size, 2});
  for (int64_t t = 0; t < index.table_size; ++t) {
    off.data()[2 * t] = static_cast<float>((t / cols - index.radius_h) * index.dil_h);
    off.data()[2 * t + 1] = static_cast<float>((t % cols - index.radius_w) * index.dil_w);
  }
  return off;
}

}  // namespace rc
