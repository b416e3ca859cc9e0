#include "experiments/summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace rc::exp {

std::string summary_markdown(const ResultsTable& table, const std::string& title) {
  struct Cell {
    std::vector<double> acc, secs;
    std::string params;
  };
  // keep models in order of first appearance, sizes numerically
  std::vector<std::string> models;  // "dataset\tmodel"
  std::map<std::pair<std::string, double>, Cell> cells;
  const std::vector<std::string> datasets = dataset_labels(table);
  for (size_t i = 0; i < table.rows().size(); ++i) {
    const ResultRow& r = table.rows()[i];
    if (!finished_ok(r.get("status"))) continue;
    const std::string m = datasets[i] + "\t" + r.get("model");
    if (std::find(models.begin(), models.end(), m) == models.end()) models.push_back(m);
    Cell& c = cells[{m, table.number(r, "train_size")}];
    c.acc.push_back(table.number(r, "test_accuracy"));
    c.secs.push_back(table.number(r, "train_seconds"));
    c.params = r.get("params");
  }
  std::string out = fmt::format("# {}\n\nTest accuracy (%), mean ± std over seeds (the mean alone for one seed).\n\n", title);
  out += "| dataset | model | train size | test accuracy (%) | seeds | params | seconds per run |\n";
  out += "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& m : models)
    for (const auto& [key, c] : cells) {
      if (key.first != m) continue;
      double mean = 0, sd = 0, secs = 0;
      for (double a : c.acc) mean += a;
      mean /= c.acc.size();
      for (double a : c.acc) sd += (a - mean) * (a - mean);
      sd = c.acc.size() > 1 ? std::sqrt(sd / (c.acc.size() - 1)) : 0.0;
      for (double s : c.secs) secs += s;
      secs /= c.secs.size();
      const size_t tab = m.find('\t');
      // one seed has no spread: its mean stands alone rather than beside a misleading ± 0.00
      const std::string acc = c.acc.size() > 1 ? fmt::format("{:.2f} ± {:.2f}", 100 * mean, 100 * sd)
                                               : fmt::format("{:.2f}", 100 * mean);
      out += fmt::format("| {} | {} | {} | {} | {} | {} | {:.1f} |\n", m.substr(0, tab), m.substr(tab + 1), key.second,
                         acc, c.acc.size(), c.params, secs);
    }
  size_t failed = 0;
  for (const auto& r : table.rows()) failed += !finished_ok(r.get("status"));
  if (failed) out += fmt::format("\n{} run(s) stopped early (see the status column of results.csv).\n", failed);
  return out;
}

}  // namespace rc::exp
