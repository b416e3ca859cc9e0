#pragma once
// Fixed-boundary parallel loops for ops whose per-chunk work must not depend on the thread count:
// chunk c always covers [c*chunk, min(n, (c+1)*chunk)), so per-chunk random streams, partial sums and the
// vectorized head/tail split of each chunk are the same for 1 thread or 64.
#include <algorithm>
#include <cstdint>

#include "framework/core/parallel.hpp"

namespace rc {

// Calls body(chunk_index, begin, end) for every chunk of [0, n), in parallel.
template <class F>
void parallel_chunks(int64_t n, int64_t chunk, F&& body) {
  const int64_t count = num_chunks(n, chunk);
  if (n <= 0) return;
  parallel_for(count, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) body(c, c * chunk, std::min(n, (c + 1) * chunk));
  });
}

}  // namespace rc
