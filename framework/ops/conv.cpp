#include "framework/ops/conv.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "framework/core/parallel.hpp"
#include "framework/ops/conv_kernels.hpp"

namespace rc {

namespace {
using conv_detail::Geometry;

void check_conv_args(const Var& x, const Var& w, const Var& b, const Conv2dOptions& o) {
  RC_CHECK(x.defined() && w.defined(), "conv2d: x or w is undefined");
  RC_CHECK(x.ndim() == 4, "conv2d: x must be (N, C, H, W), got shape {}", shape_str(x.shape()));
  RC_CHECK(w.ndim() == 4, "conv2d: w must be (O, C, kh, kw), got shape {}", shape_str(w.shape()));
  RC_CHECK(x.dim(1) == w.dim(1), "conv2d: x {} has {} channels but w {} expects {}", shape_str(x.shape()), x.dim(1),
           shape_str(w.shape()), w.dim(1));
  RC_CHECK(w.dim(2) >= 1 && w.dim(3) >= 1, "conv2d: empty kernel in w {}", shape_str(w.shape()));
  if (b.defined())
    RC_CHECK(b.ndim() == 1 && b.dim(0) == w.dim(0), "conv2d: b must be ({}) for w {}, got shape {}", w.dim(0),
             shape_str(w.shape()), shape_str(b.shape()));
  RC_CHECK(o.stride[0] >= 1 && o.stride[1] >= 1, "conv2d: stride ({}, {}) must be >= 1", o.stride[0], o.stride[1]);
  RC_CHECK(o.padding[0] >= 0 && o.padding[1] >= 0, "conv2d: padding ({}, {}) must be >= 0", o.padding[0],
           o.padding[1]);
  RC_CHECK(o.dilation[0] >= 1 && o.dilation[1] >= 1, "conv2d: dilation ({}, {}) must be >= 1", o.dilation[0],
           o.dilation[1]);
  const int64_t eff_h = o.dilation[0] * (w.dim(2) - 1) + 1, eff_w = o.dilation[1] * (w.dim(3) - 1) + 1;
  RC_CHECK(x.dim(2) + 2 * o.padding[0] >= eff_h && x.dim(3) + 2 * o.padding[1] >= eff_w,
           "conv2d: padded input {}x{} is smaller than the dilated kernel {}x{} (x {}, w {}, padding ({}, {}))",
           x.dim(2) + 2 * o.padding[0], x.dim(3) + 2 * o.padding[1], eff_h, eff_w, shape_str(x.shape()),
           shape_str(w.shape()), o.padding[0], o.padding[1]);
}

// Images per task: enough work to amortise scheduling and at most kMaxChunks partials of dw, from the shape only
// (never the thread count), so the per-chunk partials of dw and db — and their sum in chunk order — are the same
// at any thread count.
constexpr int64_t kMaxChunks = 32;
int64_t images_per_chunk(const Geometry& g, int64_t N) {
  const double flops = 2.0 * static_cast<double>(g.O) * g.C * g.taps() * g.out_plane();
  return std::max({int64_t{1}, static_cast<int64_t>(8e6 / std::max(flops, 1.0)), (N + kMaxChunks - 1) / kMaxChunks});
}

// Σ v[0, n) as 16 interleaved partial sums (vectorisable, and a fixed order)
float sum_lanes(const float* v, int64_t n) {
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) lanes[l] += v[i + l];
  float s = 0.0f;
  for (float l : lanes) s += l;
  for (; i < n; ++i) s += v[i];
  return s;
}

// out = Σ_chunk parts[chunk] (each `size` floats), added in chunk order
Tensor sum_partials(const float* parts, int64_t chunks, const Shape& shape) {
  Tensor out = Tensor::zeros(shape);
  const int64_t size = out.numel();
  for (int64_t c = 0; c < chunks; ++c) out.array() += Eigen::Map<const Eigen::ArrayXf>(parts + c * size, size);
  return out;
}
}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dOptions& options) {
  check_conv_args(x, w, b, options);
  const Tensor xv = x.value().contiguous();
  const Tensor bv = b.defined() ? b.value().contiguous() : Tensor();
  const Geometry g = conv_detail::make_geometry(xv.shape(), w.shape(), options);
  const Tensor wp = conv_detail::prepare_weights(g, w.value());
  const int64_t N = xv.dim(0), per_chunk = images_per_chunk(g, N);

  // y_n = conv(x_n) + b, chunk by chunk of images (see conv_kernels.hpp for the strategies)
  Tensor y = Tensor::empty({N, g.O, g.Ho, g.Wo});
  parallel_for(num_chunks(N, per_chunk), 1, [&](int64_t begin, int64_t end) {
    const int64_t n0 = begin * per_chunk, n1 = std::min(N, end * per_chunk);
    conv_detail::forward_images(g, wp.data(), bv.defined() ? bv.data() : nullptr, xv.data() + n0 * g.in_size(),
                                y.data() + n0 * g.out_size(), n1 - n0);
  });

  // backward needs x only for dw and the (prepared) weights only for dx
  const Tensor x_saved = w.requires_grad() ? xv : Tensor(), w_saved = x.requires_grad() ? wp : Tensor();
  return make_result(y, {&x, &w, &b}, "conv2d", [x, w, b, x_saved, w_saved, g, N, per_chunk](const Tensor& dy_in) {
    // forward was y_n = conv(x_n; w) + b, linear in each of x, w and b: dx_n is the transposed convolution of
    // dy_n, dw = Σ_n (dy_n correlated with x_n) and db = Σ_n Σ_(i,j) dy_n. dw and db are summed per chunk of
    // images into partials that are then added in chunk order.
    const Tensor dy = dy_in.contiguous();
    const bool need_dx = x.requires_grad(), need_dw = w.requires_grad(), need_db = b.defined() && b.requires_grad();
    const Shape prepared_shape = conv_detail::prepared_shape(g);
    const int64_t chunks = num_chunks(N, per_chunk), w_size = shape_numel(prepared_shape), P = g.out_plane();
    // dw partials: every chunk's first image overwrites its slice, so no initialisation
    std::unique_ptr<float[]> dw_parts(need_dw ? new float[static_cast<size_t>(chunks * w_size)] : nullptr);
    std::vector<float> db_parts(need_db ? static_cast<size_t>(chunks * g.O) : 0, 0.0f);
    Tensor dx = need_dx ? Tensor::empty(x.shape()) : Tensor();
    parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t chunk = begin; chunk < end; ++chunk) {
        const int64_t n0 = chunk * per_chunk, n1 = std::min(N, (chunk + 1) * per_chunk);
        if (need_dw || need_dx)
          conv_detail::backward_images(g, need_dx ? w_saved.data() : nullptr,
                                       need_dw ? x_saved.data() + n0 * g.in_size() : nullptr,
                                       dy.data() + n0 * g.out_size(), need_dw ? dw_parts.get() + chunk * w_size : nullptr,
                                       true, need_dx ? dx.data() + n0 * g.in_size() : nullptr, n1 - n0);
        if (need_db)
          for (int64_t n = n0; n < n1; ++n) {
            float* db = db_parts.data() + chunk * g.O;
            for (int64_t o = 0; o < g.O; ++o) db[o] += sum_lanes(dy.data() + n * g.out_size() + o * P, P);
          }
      }
    });
    if (need_dx) accumulate_grad(x, dx);
    if (need_dw) {
      accumulate_grad(w, conv_detail::weights_to_standard(g, sum_partials(dw_parts.get(), chunks, prepared_shape)));
    }
    if (need_db) accumulate_grad(b, sum_partials(db_parts.data(), chunks, {g.O}));
  });
}

}  // namespace rc
