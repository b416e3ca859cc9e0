#include "framework/ops/embedding.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "framework/core/parallel.hpp"

namespace rc {

namespace {
constexpr int64_t kCopyGrain = 1 << 15;  // floats per task
}

Var embedding(const Var& table, const std::vector<int64_t>& indices) {
  return embedding(table, indices, {static_cast<int64_t>(indices.size())});
}

Var embedding(const Var& table, const std::vector<int64_t>& indices, const Shape& index_shape) {
  check_ndim(table.value(), 2, "embedding", "table");
  const int64_t V = table.dim(0), D = table.dim(1), n = static_cast<int64_t>(indices.size());
  RC_CHECK(shape_numel(index_shape) == n, "embedding: index shape {} needs {} indices, got {}",
           shape_str(index_shape), shape_numel(index_shape), n);
  for (int64_t k = 0; k < n; ++k)
    RC_CHECK(indices[k] >= 0 && indices[k] < V,
             "embedding: indices[{}] = {} is out of range for a table of V = {} rows (index shape {})", k, indices[k],
             V, shape_str(index_shape));
  Shape out_shape = index_shape;
  out_shape.push_back(D);
  Tensor t = table.value().contiguous();
  Tensor y = Tensor::empty(out_shape);
  const float* tp = t.data();
  float* yp = y.data();
  const int64_t grain = std::max<int64_t>(1, kCopyGrain / std::max<int64_t>(D, 1));
  parallel_for(n, grain, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) std::memcpy(yp + k * D, tp + indices[k] * D, sizeof(float) * D);
  });
  auto idx = std::make_shared<const std::vector<int64_t>>(indices);
  // forward was y[k] = table[idx[k]], so dtable[v] = Σ_{k: idx[k] = v} dy[k]. Positions are grouped by row
  // (a stable counting sort) and each row sums its positions in increasing order, one task per row range.
  return make_result(y, {&table}, "embedding", [table, idx, V, D, grain](const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    const int64_t count = static_cast<int64_t>(idx->size());
    std::vector<int64_t> row_start(V + 1, 0), positions(count);
    for (int64_t v : *idx) ++row_start[v + 1];
    for (int64_t v = 0; v < V; ++v) row_start[v + 1] += row_start[v];
    std::vector<int64_t> fill(row_start.begin(), row_start.end() - 1);
    for (int64_t k = 0; k < count; ++k) positions[fill[(*idx)[k]]++] = k;
    Tensor dtable = Tensor::zeros({V, D});
    const float* gp = dy.data();
    float* dp = dtable.data();
    parallel_for(V, grain, [&](int64_t v0, int64_t v1) {
      for (int64_t v = v0; v < v1; ++v) {
        float* dst = dp + v * D;
        for (int64_t j = row_start[v]; j < row_start[v + 1]; ++j) {
          const float* src = gp + positions[j] * D;
          for (int64_t i = 0; i < D; ++i) dst[i] += src[i];
        }
      }
    });
    accumulate_grad(table, dtable);
  });
}

}  // namespace rc
