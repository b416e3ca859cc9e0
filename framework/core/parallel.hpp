#pragma once
// All parallelism goes through one oneTBB task arena sized by set_num_threads (the CLI's --threads).
// Work is split into chunks whose boundaries depend only on the problem size and the grain, never on
// timing, so a reduction that combines per-chunk partials in chunk order is reproducible to the bit.
#include <cstdint>
#include <functional>

namespace rc {

void set_num_threads(int n);  // n <= 0: all hardware threads; also pins BLAS to one thread
int num_threads();

// Calls body(begin, end) over [0, n) in chunks of about `grain` items, in the global arena.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// Deterministic chunking for reductions: chunk c covers [c*chunk, min(n, (c+1)*chunk)).
inline int64_t num_chunks(int64_t n, int64_t chunk) { return chunk <= 0 ? 1 : (n + chunk - 1) / chunk; }

}  // namespace rc
