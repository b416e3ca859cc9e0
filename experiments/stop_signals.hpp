#pragma once
// SIGINT, SIGTERM and SIGHUP taken by a thread of their own, never by a handler on a computing thread.
//
// oneDNN's JIT sgemm kernels (2.x, Debian 12 ships 2.6.3; fixed upstream in 3.11 by uxlfoundation/oneDNN#4855,
// reported as #4845) point the stack pointer at a heap workspace while they run. A signal handler that runs on
// such a thread has its frame pushed onto the heap, which corrupts it: glibc then aborts in a later free()
// ("corrupted size vs. prev_size while consolidating", "free(): invalid pointer"). `receptive run` stopped that
// way by Ctrl-C, `kill`, a scheduler's SIGTERM or `timeout` could crash instead of saving its state.
//
// So no handler runs on a thread that can be inside oneDNN: watch_stop_signals() blocks the three signals in the
// calling thread (every thread started afterwards inherits the mask: TBB's, OpenMP's and Open MPI's included)
// and takes them in a thread of its own with sigwait(). Threads that libraries started before main() (OpenBLAS's
// pool, started by its constructor because OpenCV links it) do not block them; a fallback handler with the same
// effect runs there, on threads that never enter oneDNN.
#include <atomic>

namespace rc::exp {

// Call first thing in main(), before any other thread exists. Idempotent. The three signals then either
// - terminate the process as their default action would (the default), or
// - when stop_gracefully(true) is in force, stop a run: the first signal sets stop_requested() (run_guard.hpp),
//   a further one while stop_requested() is still set quits at once with std::_Exit(128 + the first signal).
void watch_stop_signals();
void stop_gracefully(bool on);

// The first signal that set stop_requested() (SIGINT, SIGTERM or SIGHUP), or 0 if none has.
int stop_signal();

}  // namespace rc::exp
