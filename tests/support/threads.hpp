#pragma once
// Test support: run the same computation at different thread counts (determinism tests).
#include <utility>

#include "framework/core/parallel.hpp"

namespace rc::test {

// Returns {f() with 1 thread, f() with 2 threads}; the default thread count is restored afterwards.
template <class F>
auto at_one_and_two_threads(F f) {
  struct Restore {
    ~Restore() { set_num_threads(0); }
  } restore;
  set_num_threads(1);
  auto one = f();
  set_num_threads(2);
  auto two = f();
  return std::pair{std::move(one), std::move(two)};
}

}  // namespace rc::test
