#include "experiments/stop_signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include "experiments/run_guard.hpp"
#include "framework/core/error.hpp"

namespace rc::exp {

namespace {
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<bool> g_graceful{false};
std::atomic<int> g_first{0};
bool g_ignored[NSIG] = {};  // ignored when the process started (nohup, a background job): stays ignored unless graceful

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kSignals) sigaddset(&set, sig);
  return set;
}

// What a stop signal does, from the signal thread or from the fallback handler (async-signal-safe: lock-free
// atomics, sigaction, pthread_sigmask, raise, _Exit).
void take(int sig, bool in_handler) {
  if (!g_graceful.load()) {
    if (g_ignored[sig]) return;
    // the default action: terminate by the signal, as if it had never been watched
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    if (in_handler) {
      raise(sig);  // pending until the handler returns and this thread unblocks it again: then fatal
      return;
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
    std::_Exit(128 + sig);  // not reached: the default action of all three ends the process
  }
  int none = 0;
  g_first.compare_exchange_strong(none, sig);
  if (stop_requested().exchange(true)) std::_Exit(128 + g_first.load());
}

// Runs only on threads that existed before watch_stop_signals() and so do not block the signals: OpenBLAS starts
// its pool in a library constructor (OpenCV links it), before main(). Those threads never run oneDNN's kernels.
extern "C" void on_stop_signal_fallback(int sig) { take(sig, true); }

void take_signals() {
  const sigset_t set = stop_set();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) take(sig, false);
  }
}
}  // namespace

void watch_stop_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : kSignals) {
      struct sigaction act = {};
      RC_CHECK(sigaction(sig, nullptr, &act) == 0, "watch_stop_signals: cannot read the action of signal {}", sig);
      g_ignored[sig] = act.sa_handler == SIG_IGN;
      act = {};
      act.sa_handler = on_stop_signal_fallback;
      act.sa_mask = stop_set();
      act.sa_flags = SA_RESTART;
      RC_CHECK(sigaction(sig, &act, nullptr) == 0, "watch_stop_signals: cannot set the action of signal {}", sig);
    }
    const sigset_t set = stop_set();
    RC_CHECK(pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0, "watch_stop_signals: cannot block SIGINT/SIGTERM/SIGHUP");
    std::thread(take_signals).detach();
  });
}

void stop_gracefully(bool on) { g_graceful.store(on); }

int stop_signal() { return g_first.load(); }

}  // namespace rc::exp
