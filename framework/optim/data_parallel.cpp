#include "framework/optim/data_parallel.hpp"

#include <cstring>

#include "framework/core/collective.hpp"
#include "framework/core/error.hpp"

namespace rc {

void allreduce_gradients(const std::vector<Var>& params, double local_weight) {
  Collective* group = data_parallel_group();
  if (!group || group->size() <= 1) return;
  size_t total = 0;
  for (const Var& p : params) total += static_cast<size_t>(p.value().numel());
  std::vector<double> buffer(total, 0.0);
  size_t offset = 0;
  for (const Var& p : params) {
    const size_t n = static_cast<size_t>(p.value().numel());
    const Tensor& g = p.grad();
    if (g.defined()) {
      RC_CHECK(g.numel() == p.value().numel(), "allreduce_gradients: a gradient of {} elements for a parameter of {}",
               g.numel(), p.value().numel());
      const Tensor gc = g.contiguous();
      const float* src = gc.data();
      for (size_t i = 0; i < n; ++i) buffer[offset + i] = local_weight * static_cast<double>(src[i]);
    }
    offset += n;
  }
  group->allreduce_sum(std::span<double>(buffer));
  offset = 0;
  for (const Var& p : params) {
    const size_t n = static_cast<size_t>(p.value().numel());
    Var handle = p;
    Tensor& g = handle.grad();
    if (!g.defined()) g = Tensor::zeros(p.value().shape());
    else if (!g.is_contiguous()) g = g.contiguous();
    float* dst = g.data();
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(buffer[offset + i]);
    offset += n;
  }
}

}  // namespace rc
