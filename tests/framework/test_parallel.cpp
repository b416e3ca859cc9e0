#include <atomic>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

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
