#pragma once
// A run's training state, saved so that an interrupted run continues where it stopped and a finished run can be
// extended to a larger budget (trainer.hpp, `receptive run --extend`): DIR/runs/<run>/train_state.safetensors,
// beside last.safetensors and best.safetensors (which stay plain checkpoints: weights and metadata only, so
// every checkpoint loads for inference as before). One safetensors file:
//   tensors  "model.<name>"      the model's state dict (parameters and buffers such as BatchNorm's running
//                                statistics) at the step the run stopped, which may lie after the last
//                                evaluation (last.safetensors holds that evaluation's weights);
//            "optimizer.<key>"   the optimizer's state (optim::Optimizer::state_dict: step counts, moments);
//            "last.<name>", "best.<name>"  the last and the selected evaluation's weights, as last.safetensors and
//                                best.safetensors hold them (after the first evaluation), so that the state alone
//                                continues the run: a process killed between writing the checkpoints and the state
//                                leaves checkpoints of a later evaluation beside it, which the continued run
//                                overwrites;
//   metadata "format"            "receptive-train-state 1";
//            "loop"              the training loop's counters as a JSON object (step, epoch, batches of the epoch
//                                done, evaluation points logged, model selection and patience, timing, whether the
//                                run had finished; doubles as C99 hex-float strings so that they round-trip bit for
//                                bit, NaN and Inf included);
//            "call_counters"     the modules' dropout call counters (nn::Module::named_call_counters), JSON;
//            "task"              the task's own state (TrainingTask::save_state, e.g. the epoch's shuffled order);
//            "last_metadata", "best_metadata"  the two checkpoints' metadata (JSON objects of strings).
// States written before the snapshots were part of them have none; the run then reads them from the checkpoint
// files beside the state.
// The learning-rate schedule has no state of its own: it is a function of the step.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "framework/core/named_tensors.hpp"
#include "framework/io/safetensors.hpp"

namespace rc::exp {

struct TrainState {
  NamedTensors model, optimizer;
  std::string loop, call_counters, task;  // JSON texts
  struct Snapshot {
    NamedTensors tensors;
    io::Metadata metadata;
  };
  std::optional<Snapshot> last, best;  // both or neither
};

inline constexpr const char* kTrainStateFile = "train_state.safetensors";
inline constexpr const char* kTrainStateFormat = "receptive-train-state 1";

// Atomic (temporary + rename), as every checkpoint.
void save_train_state(const std::filesystem::path& path, const TrainState& state);
// nullopt when the file does not exist; a file that is not a training state (another format, missing keys) is an
// error naming it.
std::optional<TrainState> load_train_state(const std::filesystem::path& path);

// Whether the state at `path` is that of a run that stopped before its end (interrupted: loop "finished" is
// false); false when there is no state. Reads the file's header only.
bool train_state_unfinished(const std::filesystem::path& path);

// A task's shuffled order of training indices as its state (TrainingTask::save_state): {"order": [...]}; and
// back, checked to be a permutation of `items` (the run's training indices) so that a state of other data is an
// error naming `what` ("image task").
std::string order_state(const std::vector<int64_t>& order);
std::vector<int64_t> order_from_state(const std::string& json, const std::vector<int64_t>& items, const char* what);

// Doubles as exact text: C99 hex floats ("0x1.8p+1"), "nan", "inf", "-inf".
std::string exact_double(double v);
double parse_exact_double(const std::string& s);  // errors name the text

}  // namespace rc::exp
