#pragma once
// Subcommands of the `receptive` CLI, one function each.
#include <cstdint>
#include <string>
#include <vector>

namespace rc::cli {

void register_everything();  // fills the catalog from models/, datasets/ and the attention policies
std::string list_text(bool markdown = false);  // what `receptive list [--markdown]` prints
void print_list(bool markdown = false);        // `receptive list [--markdown]`

struct RunArgs {
  std::string config, out;
  std::vector<std::string> overrides;  // --set key=value
  bool dry_run = false, resume = false;
};
int run(const RunArgs& args);  // `receptive run`; returns the process exit code

struct ReportArgs {
  std::string dir, title;  // title: default the folder's name
};
int report(const ReportArgs& args);  // `receptive report DIR`: summary.md and plots from results.csv

struct AttentionArgs {
  std::string policy = "full", score = "dot", dump;
  int64_t batch = 1, heads = 2, tokens = 16, dim = 8;
  int64_t left = 4, right = 4, grid_h = 4, grid_w = 4, kernel = 3, dilation = 1, degree = 4;
  bool causal = false, self_loops = true, bias = false;
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

struct InfoArgs {
  double probe_seconds = 1.0;  // 0 = no GEMM probe
};
// `receptive info`: CPU, ISAs, threads, GEMM backend and kernel, probe and peak; exit code 4 when the backend
// runs a generic kernel on a CPU with AVX2
int info(const InfoArgs& args);

}  // namespace rc::cli
