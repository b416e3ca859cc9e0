#include <fmt/format.h>

#include <csignal>

#include "experiments/cli/commands.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/runner.hpp"
#include "experiments/train/image_trainer.hpp"

namespace rc::cli {

namespace {
extern "C" void on_sigint(int) {
  if (exp::stop_requested().exchange(true)) std::_Exit(130);  // a second Ctrl-C quits at once
}
}  // namespace

int run(const RunArgs& a) {
  exp::Experiment e = exp::load_experiment(a.config, a.overrides);
  exp::RunnerOptions o;
  o.out_dir = a.out.empty() ? std::filesystem::path("results") / e.name : std::filesystem::path(a.out);
  o.dry_run = a.dry_run;
  o.resume = true;
  std::signal(SIGINT, on_sigint);
  int unfinished = exp::run_experiment(e, o);
  if (exp::stop_requested()) {
    fmt::print(stderr, "interrupted: finished runs are in {}/results.csv; run the same command (or --resume) to "
                       "continue\n", o.out_dir.string());
    return 130;
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
