#include <atomic>
#include <cstdint>
#include <cstring>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>
#include <xmmintrin.h>

#include "framework/core/parallel.hpp"
#include "support/threads.hpp"

using namespace rc;

namespace {
// A background task that itself calls parallel_for (as batch preparation may), while the caller runs
// parallel_for too; returns both sums.
std::pair<int64_t, int64_t> sums_beside_each_other() {
  std::vector<int64_t> bg(1000, 0), fg(1000, 0);
  BackgroundTask task;
  task.run([&] {
    parallel_for(1000, 10, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) bg[i] = 3 * i + 1;
    });
  });
  parallel_for(1000, 10, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) fg[i] = 2 * i;
  });
  task.wait();
  int64_t sb = 0, sf = 0;
  for (int64_t i = 0; i < 1000; ++i) sb += bg[i], sf += fg[i];
  return {sb, sf};
}
}  // namespace

TEST_CASE("BackgroundTask: runs beside parallel_for, with nested parallel_for, at 1 and 2 threads") {
  auto [one, two] = rc::test::at_one_and_two_threads(sums_beside_each_other);
  // sum of 3i+1 over 0..999 and of 2i
  CHECK(one.first == 3 * 499500 + 1000);
  CHECK(one.second == 2 * 499500);
  CHECK(two == one);
}

TEST_CASE("BackgroundTask: wait() rethrows the task's exception, and the task can be reused after it") {
  BackgroundTask task;
  task.run([] { throw std::runtime_error("batch 7: cannot decode"); });
  CHECK(task.pending());
  CHECK_THROWS_WITH(task.wait(), "batch 7: cannot decode");
  CHECK(!task.pending());
  int value = 0;
  task.run([&] { value = 42; });
  task.wait();
  CHECK(value == 42);
  task.wait();  // nothing pending: returns at once
}

TEST_CASE("BackgroundTask: a second run() before wait() is an error, and the destructor waits") {
  std::atomic<int> done{0};
  {
    BackgroundTask task;
    task.run([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done = 1;
    });
    CHECK_THROWS_WITH(task.run([] {}), Catch::Contains("wait() first"));
  }
  CHECK(done == 1);
}

namespace {
// 1e-30 · 1e-10 = 1e-40 is denormal: 0 when results are flushed (FTZ); 1e-40 · 1 is 0 when inputs are (DAZ).
bool flushes_here() {
  volatile float a = 1e-30f, b = 1e-10f, d = 1e-40f, one = 1.0f;
  const float product = a * b, through = d * one;
  return product == 0.0f && through == 0.0f && rc::denormals_flushed_on_this_thread();
}
}  // namespace

TEST_CASE("parallel: every computing thread flushes denormals to zero (main thread, workers, other threads)") {
  const float d = 1e-40f;  // the literal is a denormal the compiler kept (its bits; with DAZ it compares equal to 0)
  uint32_t bits = 0;
  std::memcpy(&bits, &d, sizeof(bits));
  REQUIRE((bits != 0 && bits < 0x00800000u));
  CHECK(flushes_here());  // the main thread, from static initialisation
  for (int threads : {1, 2}) {
    rc::set_num_threads(threads);
    std::atomic<int> bad{0}, calls{0};
    rc::parallel_for(256, 1, [&](int64_t, int64_t) {
      calls++;
      if (!flushes_here()) bad++;
    });
    CHECK(calls == 256);
    CHECK(bad == 0);
  }
  // a thread the framework did not start flushes from its first parallel_for (it inherits the creator's MXCSR
  // on Linux, so clear the bits first, as a thread started by other code may have them)
  bool before = true, after = false;
  std::thread t([&] {
    _mm_setcsr(_mm_getcsr() & ~0x8040u);
    before = rc::denormals_flushed_on_this_thread();
    rc::parallel_for(4, 1, [](int64_t, int64_t) {});
    after = flushes_here();
  });
  t.join();
  CHECK_FALSE(before);
  CHECK(after);
  rc::set_num_threads(0);
}
