#pragma once
// summary.md: mean ± std of test accuracy per model × training size over seeds, with the parameter count
// and the mean time per run; the same table printed on the terminal.
#include <string>

#include "experiments/results.hpp"

namespace rc::exp {

std::string summary_markdown(const ResultsTable& table, const std::string& title);

}  // namespace rc::exp
