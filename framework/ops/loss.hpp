#pragma once
// Classification losses (autograd ops) and metrics.
#include <cstdint>
#include <vector>

#include "framework/autograd/var.hpp"

namespace rc {

// Which samples count and how targets are smoothed.
struct CrossEntropyOptions {
  double label_smoothing = 0.0;  // ε in [0, 1): the target distribution is (1 − ε)·onehot + ε/C
  std::vector<uint8_t> mask;     // empty: every sample; else size N, nonzero = the sample counts
  int64_t ignore_index = -1;     // samples whose target equals this do not count
};

// logits: (N, C); targets: N class indices in [0, C) (or ignore_index); result: scalar
// loss = (1/n) Σ_{i counted} [ lse_i − (1 − ε) x_{i,t_i} − (ε/C) Σ_c x_{i,c} ],  lse_i = log Σ_c exp x_{i,c},
// n = number of counted samples (a loss of 0 with zero gradient when n = 0).
// Fused log-softmax + NLL; backward keeps the logits and lse: dx_{i,c} = (softmax_{i,c} − q_{i,c}) / n.
Var cross_entropy(const Var& logits, const std::vector<int64_t>& targets, const CrossEntropyOptions& options = {});

// logits: (N, C); targets: N indices in [0, C) or ignore_index; mask: empty or size N.
// Fraction of counted samples whose arg-max logit (the first on ties) is the target; 0 when none counts.
double accuracy(const Tensor& logits, const std::vector<int64_t>& targets, const std::vector<uint8_t>& mask = {},
                int64_t ignore_index = -1);

}  // namespace rc
