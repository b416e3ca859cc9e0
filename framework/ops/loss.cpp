#include "framework/ops/loss.hpp"

#include <algorithm>
#include <cmath>

#include "framework/core/parallel.hpp"
#include "framework/ops/row_kernels.hpp"

namespace rc {

namespace {
using rowk::in;
using rowk::out;
using rowk::row_grain;

// Checks logits (N, C), targets (N, each in [0, C) or ignore_index) and mask (empty or N); returns which
// samples count.
std::vector<uint8_t> check_and_count(const char* op, const Tensor& logits, const std::vector<int64_t>& targets,
                                     const std::vector<uint8_t>& mask, int64_t ignore_index) {
  check_ndim(logits, 2, op, "logits");
  const int64_t N = logits.dim(0), C = logits.dim(1);
  RC_CHECK(C >= 1, "{}: logits of shape {} have no classes", op, shape_str(logits.shape()));
  RC_CHECK(static_cast<int64_t>(targets.size()) == N, "{}: {} targets for logits of shape {}", op, targets.size(),
           shape_str(logits.shape()));
  RC_CHECK(mask.empty() || static_cast<int64_t>(mask.size()) == N, "{}: mask has {} entries for logits of shape {}", op,
           mask.size(), shape_str(logits.shape()));
  std::vector<uint8_t> counted(N);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = targets[i];
    RC_CHECK(t == ignore_index || (t >= 0 && t < C),
             "{}: target {} of sample {} is out of range [0, {}) (ignore_index is {})", op, t, i, C, ignore_index);
    counted[i] = t != ignore_index && (mask.empty() || mask[i] != 0);
  }
  return counted;
}
}  // namespace

Var cross_entropy(const Var& logits, const std::vector<int64_t>& targets, const CrossEntropyOptions& options) {
  const double eps = options.label_smoothing;
  RC_CHECK(eps >= 0.0 && eps < 1.0, "cross_entropy: label_smoothing must be in [0, 1), got {}", eps);
  std::vector<uint8_t> counted =
      check_and_count("cross_entropy", logits.value(), targets, options.mask, options.ignore_index);
  Tensor x = logits.value().contiguous();
  const int64_t N = x.dim(0), C = x.dim(1);
  int64_t n = 0;
  for (uint8_t c : counted) n += c;

  // One pass per row: m = max, s = Σ exp(x − m), lse = m + log s; the row's loss is
  // (1 − ε)(lse − x_t) + ε (lse − mean_c x), each term written as (m − ·) + log s to keep it exact for big logits.
  Tensor row_lse = Tensor::empty({N});
  std::vector<double> row_loss(N, 0.0);
  const float* xp = x.data();
  float* lsep = row_lse.data();
  parallel_for(N, row_grain(C), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* xr = xp + i * C;
      const float m = rowk::max(xr, C);
      const float log_s =
          std::log(rowk::sum(C, [&](int64_t j, auto len) { return (in(xr + j, len) - m).exp().eval(); }));
      lsep[i] = m + log_s;
      if (!counted[i]) continue;
      double loss = (1.0 - eps) * (static_cast<double>(m - xr[targets[i]]) + log_s);
      if (eps > 0) {
        const float mean = rowk::sum(C, [&](int64_t j, auto len) { return in(xr + j, len).eval(); }) / C;
        loss += eps * (static_cast<double>(m - mean) + log_s);
      }
      row_loss[i] = loss;
    }
  });
  double total = 0;  // summed in sample order: independent of the thread count
  for (double l : row_loss) total += l;
  Tensor loss_value = Tensor::scalar(n == 0 ? 0.0f : static_cast<float>(total / static_cast<double>(n)));

  // forward was loss = (1/n) Σ_i −Σ_c q_{i,c} log softmax(x_i)_c, so
  //   dx_{i,c} = dloss · (exp(x_{i,c} − lse_i) − q_{i,c}) / n  (zero rows for samples that do not count)
  return make_result(loss_value, {&logits}, "cross_entropy",
                     [logits, x, row_lse, counted = std::move(counted), targets, n, eps](const Tensor& dloss) {
                       const int64_t N = x.dim(0), C = x.dim(1);
                       const float scale = n == 0 ? 0.0f : dloss.item() / static_cast<float>(n);
                       const float off_target = static_cast<float>(eps / static_cast<double>(C)) * scale;
                       const float on_target = static_cast<float>(1.0 - eps) * scale;
                       Tensor dx = Tensor::empty({N, C});
                       const float* xp = x.data();
                       const float* lsep = row_lse.data();
                       float* dxp = dx.data();
                       parallel_for(N, row_grain(C), [&](int64_t b, int64_t e) {
                         for (int64_t i = b; i < e; ++i) {
                           float* dxr = dxp + i * C;
                           const float* xr = xp + i * C;
                           if (!counted[i]) {
                             std::fill_n(dxr, C, 0.0f);
                             continue;
                           }
                           rowk::for_each_segment(C, [&](int64_t j, auto len) {
                             out(dxr + j, len) = (in(xr + j, len) - lsep[i]).exp() * scale - off_target;
                           });
                           dxr[targets[i]] -= on_target;
                         }
                       });
                       accumulate_grad(logits, dx);
                     });
}

double accuracy(const Tensor& logits_in, const std::vector<int64_t>& targets, const std::vector<uint8_t>& mask,
                int64_t ignore_index) {
  std::vector<uint8_t> counted = check_and_count("accuracy", logits_in, targets, mask, ignore_index);
  Tensor x = logits_in.contiguous();
  const int64_t N = x.dim(0), C = x.dim(1);
  int64_t n = 0, correct = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (!counted[i]) continue;
    const float* row = x.data() + i * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; ++c)
      if (row[c] > row[best]) best = c;
    ++n;
    correct += best == targets[i];
  }
  return n == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace rc
