#pragma once
// A process group for data-parallel training, as the framework sees it: a rank, a size, and a sum over all ranks.
// The framework never knows how the processes talk (MPI lives in experiments/dist/); with no group installed
// (the default) everything runs as a single process.
//
// Contract of allreduce_sum: every rank passes the same length; afterwards every rank holds the same bits, the
// elementwise sum over ranks taken in rank order (0, 1, ..., size-1) in double precision, so results do not
// depend on message timing.
#include <cstddef>
#include <span>

namespace rc {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void allreduce_sum(std::span<double> data) = 0;
  virtual void allreduce_sum(std::span<float> data) = 0;  // summed in double, rounded once
};

// The data-parallel group training uses (nullptr: single process). Not owned; set before training starts.
Collective* data_parallel_group();
void set_data_parallel_group(Collective* group);

// Sums `data` over the group in place; does nothing without a group.
void group_allreduce_sum(std::span<double> data);
void group_allreduce_sum(std::span<float> data);

}  // namespace rc
