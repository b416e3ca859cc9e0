#pragma once
// Runs a computation with 1 and with 2 threads and checks the results are bit-identical (ops must not
// depend on the thread count or on scheduling). Restores the default thread count afterwards.
#include <catch2/catch.hpp>
#include <vector>

#include "framework/core/parallel.hpp"
#include "support/gradcheck.hpp"

namespace rc::test {

// Every tensor an op run produced (output, then the gradients), flattened.
inline std::vector<std::vector<float>> flatten(const OpRun& r) {
  std::vector<std::vector<float>> v{r.out.to_vector()};
  for (const Tensor& g : r.grads) v.push_back(g.defined() ? g.to_vector() : std::vector<float>{});
  return v;
}

template <class F>
void check_same_with_1_and_2_threads(F run) {
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(0);
  CHECK(one == two);
}

}  // namespace rc::test
