#include "experiments/dist/world.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <string>

#include "framework/core/error.hpp"

namespace rc::exp::dist {
namespace {
int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(fmt::format("MPI: {} failed: {}", what, std::string(text, static_cast<size_t>(len))));
}
}  // namespace

bool launched_with_ranks() {
  // Open MPI's mpirun, MPICH's mpiexec (Hydra), and a Slurm job step started by srun
  return env_int("OMPI_COMM_WORLD_SIZE") > 1 || env_int("PMI_SIZE") > 1 || env_int("SLURM_STEP_NUM_TASKS") > 1;
}

World::World(bool use_launcher) {
  if (!use_launcher || !launched_with_ranks()) return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  initialised_ = true;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  if (provided < MPI_THREAD_MULTIPLE && size_ > 1) {
    fmt::print(stderr, "error: the MPI library provides thread level {} but a distributed sweep needs "
                       "MPI_THREAD_MULTIPLE ({}); rebuild MPI with thread support\n", provided, int(MPI_THREAD_MULTIPLE));
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
}

World& World::get() {
  static World w(true);
  return w;
}

const World& World::single() {
  static const World w(false);
  return w;
}

World::~World() {
  if (initialised_) MPI_Finalize();
}

void World::abort(int code) const {
  if (initialised_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void World::send(int dest, int tag, const std::string& text) const {
  check(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD), "MPI_Send");
}

std::string World::receive(int source, int tag, int* from, int* tag_out) const {
  // Open MPI's blocking probe spins on a core until a message comes. Rank 0's dispatcher thread waits here for
  // the whole sweep, on the core its own training uses (mpirun binds each rank to a core), so poll instead, and
  // back off: every wake-up preempts rank 0's training thread (polling every millisecond made 520 000 involuntary
  // context switches in 15 minutes, 2 December 2026, though no speed loss was measurable). The interval doubles
  // from 1 ms to at most 100 ms, so a message waits at most 0.1 s (a run takes minutes) and rank 0's trainer is
  // interrupted about 10 times a second.
  MPI_Status st;
  auto pause = std::chrono::milliseconds(1);
  for (int flag = 0;;) {
    check(MPI_Iprobe(source < 0 ? MPI_ANY_SOURCE : source, tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &flag, &st),
          "MPI_Iprobe");
    if (flag) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(2 * pause, std::chrono::milliseconds(100));
  }
  int count = 0;
  check(MPI_Get_count(&st, MPI_CHAR, &count), "MPI_Get_count");
  std::string text(static_cast<size_t>(count), '\0');
  check(MPI_Recv(text.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
  if (from) *from = st.MPI_SOURCE;
  if (tag_out) *tag_out = st.MPI_TAG;
  return text;
}

void World::barrier() const {
  if (initialised_) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

std::vector<std::string> World::all_gather(const std::string& text) const {
  if (!initialised_) return {text};
  int len = static_cast<int>(text.size());
  std::vector<int> lens(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[static_cast<size_t>(r)] = total;
    total += lens[static_cast<size_t>(r)];
  }
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Allgatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR,
                       MPI_COMM_WORLD), "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r)
    out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                             static_cast<size_t>(lens[static_cast<size_t>(r)])));
  return out;
}

// All-gather, then every rank adds the contributions in rank order: the same bits everywhere and at every run
// (MPI_Allreduce may combine in any order). Costs size× the memory of one buffer; gradients here are small.
void WorldCollective::allreduce_sum(std::span<double> data) {
  const size_t n = data.size();
  const int k = world_.size();
  gathered_.resize(n * static_cast<size_t>(k));
  check(MPI_Allgather(data.data(), static_cast<int>(n), MPI_DOUBLE, gathered_.data(), static_cast<int>(n),
                      MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather");
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (int r = 0; r < k; ++r) s += gathered_[static_cast<size_t>(r) * n + i];
    data[i] = s;
  }
}

void WorldCollective::allreduce_sum(std::span<float> data) {
  std::vector<double> wide(data.begin(), data.end());
  allreduce_sum(std::span<double>(wide));
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(wide[i]);
}

}  // namespace rc::exp::dist
