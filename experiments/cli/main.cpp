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

  auto* list = app.add_subcommand("list", "print the registered models, datasets and attention policies");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    rc::set_num_threads(threads);
    if (*list) rc::cli::print_list();
  } catch (const std::exception& e) {
    fmt::print(stderr, "receptive: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
