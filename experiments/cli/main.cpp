// The `receptive` command line: parses, sizes the thread pool, then dispatches to one subcommand.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>

#include "experiments/cli/commands.hpp"
#include "framework/core/parallel.hpp"

int main(int argc, char** argv) {
  CLI::App app{"receptive: self-attention on images and graphs, one operator with any receptive field"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);

  auto* list = app.add_subcommand("list", "print the registered models, datasets, attention policies and options");
  bool markdown = false;
  list->add_flag("--markdown", markdown, "print the lists as Markdown tables (the README's reference)");

  rc::cli::RunArgs run_args;
  auto* run = app.add_subcommand("run", "train the runs of an experiment config and write results.csv, summary.md");
  run->add_option("config", run_args.config, "experiment config (YAML)")->required()->check(CLI::ExistingFile);
  run->add_option("--out", run_args.out, "output folder (default: results/<config name>)");
  run->add_option("--set", run_args.overrides, "override a config key: --set train.epochs=3 (repeatable)");
  run->add_option("--threads", threads, "worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  run->add_flag("--resume", run_args.resume, "continue in --out: skip runs already in results.csv (the default)");
  run->add_flag("--dry-run", run_args.dry_run, "print the expanded runs and parameter counts; train nothing");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    rc::set_num_threads(threads);
    if (*list) rc::cli::print_list(markdown);
    if (*run) return rc::cli::run(run_args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "receptive: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
