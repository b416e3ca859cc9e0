#include "framework/core/parallel.hpp"

#include "framework/core/error.hpp"

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <tbb/task_scheduler_observer.h>

#include <memory>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace rc {

namespace {
#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFtzDaz = 0x8040;  // MXCSR: flush-to-zero (bit 15), denormals-are-zero (bit 6)
#endif
thread_local bool t_flushing = false;
}  // namespace

void flush_denormals_on_this_thread() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(_mm_getcsr() | kFtzDaz);
#endif
  t_flushing = true;
}

bool denormals_flushed_on_this_thread() {
#if defined(__x86_64__) || defined(__i386__)
  return (_mm_getcsr() & kFtzDaz) == kFtzDaz;
#else
  return false;
#endif
}

namespace {
inline void ensure_flushing() {
  if (!t_flushing) flush_denormals_on_this_thread();
}

// The main thread flushes from the start (static initialisation runs on it), so serial code outside
// parallel_for rounds as the workers do.
const bool g_main_flushing = (flush_denormals_on_this_thread(), true);

// Every thread that joins an arena (its workers, and callers of execute) flushes denormals before its first task.
class FlushDenormals : public tbb::task_scheduler_observer {
 public:
  explicit FlushDenormals(tbb::task_arena& a) : tbb::task_scheduler_observer(a) { observe(true); }
  ~FlushDenormals() override { observe(false); }
  void on_scheduler_entry(bool) override { flush_denormals_on_this_thread(); }
};

struct Arena {
  explicit Arena(int threads) : arena(threads), observer(arena) {}
  tbb::task_arena arena;
  FlushDenormals observer;
};

std::mutex g_mutex;
std::unique_ptr<Arena> g_arena;
int g_threads = 0;

tbb::task_arena& arena() {
  ensure_flushing();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_arena) {
    g_threads = tbb::info::default_concurrency();
    g_arena = std::make_unique<Arena>(g_threads);
  }
  return g_arena->arena;
}
}  // namespace

void set_num_threads(int n) {
  ensure_flushing();
  std::lock_guard<std::mutex> lock(g_mutex);
  g_threads = n > 0 ? n : tbb::info::default_concurrency();
  g_arena = std::make_unique<Arena>(g_threads);
}

int num_threads() {
  arena();
  return g_threads;
}

namespace {
// The chunks tbb::simple_partitioner makes of a blocked_range: halve [begin, end) (at begin + size / 2) while it
// holds more than `grain` items. Walked in order on the calling thread when there is one thread, so that a body
// sees the same chunk boundaries at every thread count: a loop whose rounding depends on where a chunk starts
// (a vectorised body with a scalar tail, tiles counted from the chunk's start) then gives bit-identical results
// with 1 and with N threads.
void serial_chunks(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (end - begin <= grain) {
    body(begin, end);
    return;
  }
  const int64_t middle = begin + (end - begin) / 2;
  serial_chunks(begin, middle, grain, body);
  serial_chunks(middle, end, grain, body);
}
}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  ensure_flushing();
  if (n <= grain) {
    body(0, n);
    return;
  }
  if (num_threads() == 1) {
    serial_chunks(0, n, grain, body);
    return;
  }
  arena().execute([&] {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); },
                      tbb::simple_partitioner());
  });
}

struct BackgroundTask::Impl {
  tbb::task_arena* arena = nullptr;  // the arena the task went to (set_num_threads may replace the global one)
  tbb::task_group group;
};

BackgroundTask::BackgroundTask() : impl_(std::make_unique<Impl>()) {}

BackgroundTask::~BackgroundTask() {
  try {
    wait();
  } catch (...) {
  }
}

void BackgroundTask::run(std::function<void()> fn) {
  RC_CHECK(!pending_, "BackgroundTask: run() while the previous task is still pending; wait() first");
  impl_->arena = &arena();
  impl_->arena->execute([&] { impl_->group.run(std::move(fn)); });
  pending_ = true;
}

void BackgroundTask::wait() {
  if (!pending_) return;
  pending_ = false;
  impl_->arena->execute([&] { impl_->group.wait(); });
}

}  // namespace rc
