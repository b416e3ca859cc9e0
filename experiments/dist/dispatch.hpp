#pragma once
// Hands out the runs of a sweep and collects their rows. In one process the runs go in config order and each
// row is appended to results.csv at once. Under mpirun with K ranks, rank 0 is the only writer of results.csv
// (and, after the sweep, of summary.md and the plots): a thread on rank 0 answers each rank that asks for work
// with the next run not yet handed out, so a rank that finishes early takes the next run (a slow run holds no
// one else), and appends each row a rank sends back the moment it arrives. Rank 0 trains runs too.
//
// If any rank dies the launcher ends the job; every row appended so far stays in results.csv (appends are
// atomic), a run in progress is not recorded, and the next `receptive run` (any number of ranks) trains exactly
// the runs results.csv lacks.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

#include "experiments/dist/world.hpp"
#include "experiments/results.hpp"

namespace rc::exp::dist {

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // The index of the next run this rank trains, or nullopt when none is left (or a stop was requested).
  virtual std::optional<size_t> next() = 0;
  // A finished run's row (for the run `index` returned by next()); reaches results.csv through rank 0.
  virtual void record(size_t index, const ResultRow& row) = 0;
  // Rank 0: waits until every other rank has finished and every row has arrived; other ranks: says goodbye.
  virtual void finish() = 0;
};

// `write` appends a row to results.csv; it is called on rank 0 only, one call at a time.
using RowWriter = std::function<void(size_t index, const ResultRow& row)>;

// `count` runs in order; with a distributed world, shared over its ranks as above.
std::unique_ptr<Dispatcher> make_dispatcher(const World& world, size_t count, RowWriter write);

}  // namespace rc::exp::dist
