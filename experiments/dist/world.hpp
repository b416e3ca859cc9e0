#pragma once
// The processes of one job. When the program was started by a launcher (mpirun/mpiexec of Open MPI or MPICH,
// or Slurm's srun: OMPI_COMM_WORLD_SIZE, PMI_SIZE or SLURM_STEP_NUM_TASKS above 1 in the environment) MPI is initialised with
// MPI_THREAD_MULTIPLE (rank 0 hands out runs from a second thread); otherwise the world is one process and MPI
// is never touched, so a plain `receptive run` needs no MPI runtime.
#include <span>
#include <string>
#include <vector>

#include "framework/core/collective.hpp"

namespace rc::exp::dist {

class World {
 public:
  // Initialises MPI on first use when launched under a launcher. Errors name what the MPI library lacks.
  static World& get();
  // A world of this process alone, whatever the launcher (for work that is not shared out).
  static const World& single();
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool distributed() const { return size_ > 1; }
  // Ends the whole job (MPI_Abort) after an error on one rank, so the other ranks never wait for it.
  [[noreturn]] void abort(int code) const;
  ~World();

  // Point-to-point text messages (the sweep dispatcher's protocol). `source` < 0: any rank. receive() blocks,
  // polling once a millisecond (an MPI blocking receive would keep a core busy while it waits).
  void send(int dest, int tag, const std::string& text) const;
  std::string receive(int source, int tag, int* from, int* tag_out) const;  // tag < 0: any tag
  void barrier() const;
  // Every rank's `text`, in rank order (on every rank).
  std::vector<std::string> all_gather(const std::string& text) const;

 private:
  explicit World(bool use_launcher);
  int rank_ = 0, size_ = 1;
  bool initialised_ = false;
};

// True when the environment says a launcher started this process with more than one rank.
bool launched_with_ranks();

// The data-parallel group over all ranks of the world (allreduce_sum by an all-gather summed in rank order).
class WorldCollective : public Collective {
 public:
  explicit WorldCollective(const World& w) : world_(w) {}
  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }
  void allreduce_sum(std::span<double> data) override;
  void allreduce_sum(std::span<float> data) override;

 private:
  const World& world_;
  std::vector<double> gathered_;
};

}  // namespace rc::exp::dist
