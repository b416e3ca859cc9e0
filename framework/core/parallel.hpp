#pragma once
// All parallelism goes through one oneTBB task arena sized by set_num_threads (the CLI's --threads).
// Work is split into chunks whose boundaries depend only on the problem size and the grain, never on
// timing, so a reduction that combines per-chunk partials in chunk order is reproducible to the bit.
#include <cstdint>
#include <functional>
#include <memory>

namespace rc {

void set_num_threads(int n);  // n <= 0: all hardware threads (the GEMM backend runs one thread per task)
int num_threads();

// Denormal floats (below 1.18e-38) are flushed to zero on every computing thread: the main thread from
// static initialisation, the arena's threads when they join it, and any other thread at its first
// parallel_for. On x86 an operation with a denormal input or result takes a microcode assist of ~100 cycles,
// and some models make many (the learnable-locality bias over a 14×14 grid: exp of scores far below the row's
// maximum gives probabilities near 1e-38, and their products with gradients are denormal); flushing them made
// that model's training step 4.5–4.7× faster (README, Benchmarks). TensorFlow flushes likewise. Results differ only
// where a value would have been denormal. Sets the MXCSR's FTZ and DAZ bits (no-op off x86).
void flush_denormals_on_this_thread();
bool denormals_flushed_on_this_thread();

// Calls body(begin, end) over [0, n) in chunks of about `grain` items, in the global arena. The chunk
// boundaries depend only on n and grain (the range is halved while a part holds more than grain items), the
// same with one thread as with many.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// Deterministic chunking for reductions: chunk c covers [c*chunk, min(n, (c+1)*chunk)).
inline int64_t num_chunks(int64_t n, int64_t chunk) { return chunk <= 0 ? 1 : (n + chunk - 1) / chunk; }

// One task run in the global arena beside the caller's later parallel_for calls, for example preparing the
// next training batch while the current one trains. wait() returns once it has finished (running it on the
// calling thread if no worker has started it yet) and rethrows what it threw. With one thread there is no
// worker, so the task runs inside wait(). The destructor waits (and drops any exception).
class BackgroundTask {
 public:
  BackgroundTask();
  ~BackgroundTask();
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;
  void run(std::function<void()> fn);  // at most one task at a time: wait() before the next run()
  void wait();
  bool pending() const { return pending_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool pending_ = false;
};

}  // namespace rc
