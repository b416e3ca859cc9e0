#include "framework/ops/activation.hpp"

#include "framework/core/parallel.hpp"

namespace rc {

namespace {
constexpr int64_t kPointwiseGrain = 1 << 15;

// y[i] = f(x[i]) over contiguous data, in parallel chunks
template <class F>
Tensor map_pointwise(const Tensor& x_in, F f) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(x.numel(), kPointwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) yp[i] = f(xp[i]);
  });
  return y;
}

// dx[i] = g(a[i], dy[i])
template <class G>
Tensor map_backward(const Tensor& a_in, const Tensor& dy_in, G g) {
  Tensor a = a_in.contiguous(), dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(a.shape());
  const float* ap = a.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  parallel_for(a.numel(), kPointwiseGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dxp[i] = g(ap[i], dyp[i]);
  });
  return dx;
}
}  // namespace

Var relu(const Var& x) {
  Tensor y = map_pointwise(x.value(), [](float v) { return v > 0.0f ? v : 0.0f; });
  // forward was y = max(x, 0): dx = dy where y > 0 (save the output, not the input)
  return make_result(y, {&x}, "relu", [x, y](const Tensor& dy) {
    accumulate_grad(x, map_backward(y, dy, [](float out, float g) { return out > 0.0f ? g : 0.0f; }));
  });
}

}  // namespace rc
