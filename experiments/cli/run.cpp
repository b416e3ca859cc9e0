#include <fmt/format.h>

#include <csignal>

#include "experiments/cli/commands.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/dist/world.hpp"
#include "experiments/runner.hpp"
#include "experiments/run_guard.hpp"
#include "experiments/stop_signals.hpp"

namespace rc::cli {

// The first SIGINT, SIGTERM or SIGHUP (Ctrl-C; what cluster schedulers and a closed terminal send) asks the
// runner to stop after the current step: finished rows stay in results.csv, the unfinished run saves its training
// state and continues from it next time. The exit code is then 128 + the signal's number (130, 143, 129), as a
// shell reports a process killed by it; a second signal quits at once with the same code. The signals are taken
// by a thread of their own, never by a handler (stop_signals.hpp: a handler can corrupt the heap inside oneDNN).

int run(const RunArgs& a) {
  exp::Experiment e = exp::load_experiment(a.config, a.overrides);
  if (!a.only.empty()) exp::keep_only(e, a.only);
  exp::RunnerOptions o;
  o.rerun = a.rerun;
  o.extend = a.extend;
  o.out_dir = a.out.empty() ? std::filesystem::path("results") / e.name : std::filesystem::path(a.out);
  o.dry_run = a.dry_run;
  o.resume = true;
  exp::watch_stop_signals();  // main() already did; a no-op then
  exp::stop_gracefully(true);
  int unfinished = 0;
  try {
    unfinished = exp::run_experiment(e, o);
  } catch (const std::exception& err) {
    // under mpirun an error on one rank ends the whole job, so no rank waits for it forever
    const auto& world = exp::dist::World::get();
    if (!world.distributed()) throw;
    fmt::print(stderr, "error (rank {} of {}): {}\n", world.rank(), world.size(), err.what());
    world.abort(1);
  }
  if (exp::stop_requested()) {
    const int sig = exp::stop_signal() ? exp::stop_signal() : SIGINT;
    fmt::print(stderr, "interrupted by {}: {}; run the same command (or --resume) to continue\n",
               sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT",
               std::filesystem::exists(o.out_dir / "results.csv")
                   ? fmt::format("finished runs are in {}/results.csv", o.out_dir.string())
                   : "no run had finished");
    return 128 + sig;
  }
  return unfinished == 0 ? 0 : 3;
}

int report(const ReportArgs& a) {
  const std::filesystem::path dir(a.dir);
  std::string title = a.title;
  if (title.empty()) title = std::filesystem::absolute(dir).lexically_normal().filename().string();
  if (title.empty()) title = std::filesystem::absolute(dir).lexically_normal().parent_path().filename().string();
  exp::write_report(dir, title);
  return 0;
}

}  // namespace rc::cli
