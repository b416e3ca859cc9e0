#pragma once
// Subcommands of the `receptive` CLI, one function each.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "framework/core/params.hpp"

namespace rc::cli {

void register_everything();  // fills the catalog from models/, datasets/ and the attention policies
std::string list_text(bool markdown = false);  // what `receptive list [--markdown]` prints
void print_list(bool markdown = false);        // `receptive list [--markdown]`

struct RunArgs {
  std::string config, out;
  std::vector<std::string> overrides;  // --set key=value
  std::vector<std::string> only;       // --only EXPERIMENT[/MODEL]
  std::vector<std::string> rerun;      // --rerun RUN (ids or globs)
  bool dry_run = false, resume = false, extend = false;
};
int run(const RunArgs& args);  // `receptive run`; returns the process exit code

struct ReportArgs {
  std::string dir, title;  // title: default the folder's name
};
int report(const ReportArgs& args);  // `receptive report DIR`: summary.md and plots from results.csv

struct AttentionArgs {
  std::string policy = "full", score = "dot", dump;  // policy: a kind or a composition (policy_params.hpp)
  int64_t batch = 1, heads = 2, tokens = 16, dim = 8;
  int64_t grid_h = 4, grid_w = 4;  // the token grid of window2d and axial (N = grid_h * grid_w)
  int64_t degree = 4;              // graph: random out-neighbours per node
  Params policy_keys;              // the policy flags given, by schema key (--kernel-h 5: "kernel_h" = 5)
  std::set<std::string> given;     // the shape flags given (tokens, grid_h, grid_w, degree): checked against the kind
  bool bias = false;
  double scale = 0;
  uint64_t seed = 0;
};
int attention_dump(const AttentionArgs& args);  // `receptive attention --dump DIR`

struct MapArgs {
  std::string run, out, query = "cls";
  std::string image;  // attention-map: an image file instead of a test image (exclusive with index)
  int64_t index = -1;  // attention-map: test image index; < 0 = not given (image 0 unless `image` is set)
  int64_t images = 1000;  // receptive-field: test images to average over
};
int attention_map(const MapArgs& args);    // `receptive attention-map`
int receptive_field(const MapArgs& args);  // `receptive receptive-field`

struct PredictArgs {
  std::string run, out, split;       // split: test | val (images); train | val | test | all (graphs)
  std::vector<std::string> images;   // or image files and folders (image runs)
  std::string checkpoint = "best";   // best | last
  int64_t batch_size = 64;
};
// `receptive predict RUN`: per item the predicted class, the class probabilities and the true label where
// known, as CSV
int predict(const PredictArgs& args);

struct EvaluateArgs {
  std::string run, out, split = "test";  // out: confusion-matrix PNG ("" = none)
  std::string checkpoint = "best";
  int64_t batch_size = 64;
};
// `receptive evaluate RUN`: accuracy and per-class accuracy on a split, and the confusion matrix as a PNG
int evaluate(const EvaluateArgs& args);

struct CompareArgs {
  std::vector<std::string> dirs;  // run folders (runs/<run>) or results folders (holding results.csv)
  std::string out;                // PNG
};
// `receptive compare DIR...`: the runs' curves overlaid (one line per model, mean over seeds with a band) and
// a merged table of their results
int compare(const CompareArgs& args);

struct InfoArgs {
  double probe_seconds = 1.0;  // 0 = no GEMM probe
};
// `receptive info`: CPU, ISAs, threads, GEMM backend and kernel, probe and peak; exit code 4 when the backend
// runs a generic kernel on a CPU with AVX2
int info(const InfoArgs& args);

}  // namespace rc::cli
