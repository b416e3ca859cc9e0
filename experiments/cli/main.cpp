// The `receptive` command line: parses, sizes the thread pool, then dispatches to one subcommand.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <map>

#include "experiments/cli/commands.hpp"
#include "experiments/stop_signals.hpp"
#include "framework/attention/policy_params.hpp"
#include "framework/core/parallel.hpp"

namespace {

// The flags of `receptive attention` that carry policy keys (one per key of rc::policy_schema(), so the command
// has the config's vocabulary and defaults) and the shape flags whose use is checked against the policy.
struct AttentionFlags {
  std::map<std::string, int64_t> ints;  // storage the options bind to (map nodes do not move)
  std::map<std::string, bool> bools;
  std::map<std::string, CLI::Option*> keys;   // policy key -> its flag
  std::map<std::string, CLI::Option*> shape;  // tokens, grid_h, grid_w, degree -> their flags
  // Only the flags given go into the arguments (the rest take the schema's defaults).
  void collect(rc::cli::AttentionArgs& att) {
    for (const auto& [key, opt] : keys)
      if (opt->count() > 0) {
        if (ints.count(key)) att.policy_keys.set(key, ints[key]);
        else att.policy_keys.set(key, bools[key]);
      }
    for (const auto& [key, opt] : shape)
      if (opt->count() > 0) att.given.insert(key);
  }
};

CLI::App* add_attention_command(CLI::App& app, rc::cli::AttentionArgs& att, AttentionFlags& f) {
  auto* attn = app.add_subcommand(
      "attention", "run the attention operator once on seeded random inputs and dump q, k, v, out and gradients as .npy");
  attn->add_option("--policy", att.policy,
                   "a kind (full, causal, window1d, window2d, axial, global, graph) or a composition: 'a | b' "
                   "(union), 'a & b' (intersection)")
      ->capture_default_str();
  attn->add_option("--score", att.score, "dot | additive")
      ->check(CLI::IsMember({"dot", "additive"}))
      ->capture_default_str();
  attn->add_option("--dump", att.dump, "output folder")->required();
  attn->add_option("--batch", att.batch, "B")->capture_default_str();
  attn->add_option("--heads", att.heads, "H")->capture_default_str();
  auto& shape_flags = f.shape;
  shape_flags["tokens"] = attn->add_option("--tokens", att.tokens, "N (window2d, axial: grid-h × grid-w)")
                               ->capture_default_str();
  attn->add_option("--dim", att.dim, "D")->capture_default_str();
  shape_flags["grid_h"] = attn->add_option("--grid-h", att.grid_h, "window2d, axial: grid rows")->capture_default_str();
  shape_flags["grid_w"] = attn->add_option("--grid-w", att.grid_w, "window2d, axial: grid columns")->capture_default_str();
  shape_flags["degree"] = attn->add_option("--degree", att.degree, "graph: random neighbours per node")->capture_default_str();
  // one flag per key of the policy schema (--kernel-h for kernel_h), with its doc; defaults are the schema's
  auto &int_keys = f.ints;
  auto &bool_keys = f.bools;
  auto &key_flags = f.keys;
  for (const rc::ParamSpec& spec : rc::policy_schema().params) {
    if (spec.name == "kind") continue;
    std::string flag = "--" + spec.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    const std::string doc = spec.doc + " (default " + rc::param_value_str(spec.default_value) + ")";
    if (spec.type == rc::ParamType::Bool && !std::get<bool>(spec.default_value))
      key_flags[spec.name] = attn->add_flag(flag, bool_keys[spec.name], doc);
    else if (spec.type == rc::ParamType::Bool)
      key_flags[spec.name] = attn->add_option(flag, bool_keys[spec.name], doc);
    else
      key_flags[spec.name] = attn->add_option(flag, int_keys[spec.name], doc);
  }
  attn->add_flag("--bias", att.bias, "learned relative-position bias (random table; default off)");
  attn->add_option("--scale", att.scale, "dot: score scale (0 = 1/sqrt(D))")->capture_default_str();
  attn->add_option("--seed", att.seed, "random seed")->capture_default_str();

  return attn;
}

}  // namespace

int main(int argc, char** argv) {
  // before any thread starts: SIGINT, SIGTERM and SIGHUP go to a thread of their own, never to a handler on a
  // thread inside a oneDNN kernel (stop_signals.hpp)
  rc::exp::watch_stop_signals();
  CLI::App app{"receptive: self-attention on images and graphs, one operator with any receptive field"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);

  auto* list = app.add_subcommand("list", "print the registered models, datasets, attention policies and options");
  bool markdown = false;
  list->add_flag("--markdown", markdown, "print the lists as Markdown tables (the README's reference)");

  rc::cli::InfoArgs info_args;
  auto* info = app.add_subcommand("info", "print the CPU, its ISA and the build's, the thread count, the GEMM backend "
                                          "and its kernel, and a short GEMM probe beside the machine's fp32 peak");
  info->add_option("--probe-seconds", info_args.probe_seconds, "length of the GEMM probe in seconds (0 = none)")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  info->add_option("--threads", threads, "worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);

  rc::cli::RunArgs run_args;
  auto* run = app.add_subcommand("run", "train the runs of an experiment config and write results.csv, summary.md");
  run->add_option("config", run_args.config, "experiment config (YAML)")->required()->check(CLI::ExistingFile);
  run->add_option("--out", run_args.out, "output folder (default: results/<config name>)");
  run->add_option("--set", run_args.overrides,
                  "override a config key: --set train.epochs=3 (repeatable); in a config with several experiments a "
                  "key goes to all of them when all accept it, or to the only one that does (else the error lists "
                  "the experiments.N.<key> paths)");
  run->add_option("--threads", threads, "worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  run->add_option("--only", run_args.only,
                  "train only part of the config: an experiment's name, a model's name, or EXPERIMENT/MODEL "
                  "(repeatable)");
  run->add_option("--rerun", run_args.rerun,
                  "train a run already in results.csv again from scratch and replace its row: a run id or a glob "
                  "such as 'cnn__*' (repeatable)");
  run->add_flag("--extend", run_args.extend,
                "continue finished runs whose training budget (train.epochs, steps, patience) changed from their "
                "saved training state to the new budget, replacing their rows");
  run->add_flag("--resume", run_args.resume,
                "continue in --out (the default): skip runs already in results.csv, continue interrupted runs from "
                "their saved state");
  run->add_flag("--dry-run", run_args.dry_run,
                "print the expanded runs with their training and validation item counts and parameter counts; train "
                "nothing");

  rc::cli::ReportArgs report_args;
  auto* report = app.add_subcommand(
      "report", "rewrite summary.md and plots/ from DIR/results.csv (e.g. while a sweep is still running)");
  report->add_option("dir", report_args.dir, "output folder of `receptive run` (holds results.csv)")
      ->required()
      ->check(CLI::ExistingDirectory);
  report->add_option("--title", report_args.title, "title of summary.md (default: the folder's name)");

  rc::cli::AttentionArgs att;
  AttentionFlags att_flags;
  auto* attn = add_attention_command(app, att, att_flags);

  rc::cli::MapArgs map_args, rf_args;
  auto* amap = app.add_subcommand("attention-map",
                                  "for a trained patch-attention run and a test image or an image file, the attention "
                                  "of one query patch for every layer and head, overlaid on the image (PNG); for a "
                                  "sequence-Transformer run, the attention of one query step over the steps");
  amap->add_option("run", map_args.run, "run folder: <out>/runs/<run> (holds config.yaml and best.safetensors)")
      ->required();
  auto* map_index = amap->add_option("--index", map_args.index, "test image index (default 0)")
                        ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  amap->add_option("--image", map_args.image,
                   "an image file (PNG, JPG, BMP) instead of a test image: converted to the run's channels, resized "
                   "to its input size and normalised as its training data")
      ->excludes(map_index);
  amap->add_option("--query", map_args.query,
                   "query: cls (the class token) or row,col (a patch); sequence runs: cls, last or a step number");
  amap->add_option("--out", map_args.out, "PNG to write")->required();
  auto* rfield = app.add_subcommand("receptive-field",
                                    "for a trained patch-attention run, the mean attention weight by 2-D offset between "
                                    "query and key patches over test images, per layer and head (PNG + .npy); for a "
                                    "sequence-Transformer run, by 1-D offset over test sequences (PNG + .npy + .csv)");
  rfield->add_option("run", rf_args.run, "run folder: <out>/runs/<run>")->required();
  rfield->add_option("--images", rf_args.images, "test images to average over");
  rfield->add_option("--out", rf_args.out, "PNG to write (the maps also go to the same name with .npy)")->required();

  // using a trained run: predict, evaluate, compare
  rc::cli::PredictArgs predict_args;
  auto* predict = app.add_subcommand("predict", "a trained run's predictions: per item the predicted class, the class "
                                                "probabilities and the true label where known (CSV)");
  predict->add_option("run", predict_args.run, "run folder: <out>/runs/<run> (holds config.yaml and the checkpoints)")
      ->required();
  auto* predict_images =
      predict->add_option("--images", predict_args.images,
                          "image files or folders (searched recursively; an image in a folder named after a class "
                          "gets that class as its true label), prepared as the checkpoint records");
  predict->add_option("--split", predict_args.split, "a split of the run's data: test or val (images); train, val, "
                                                     "test or all (graphs, rows keyed by node id)")
      ->check(CLI::IsMember({"test", "val", "train", "all"}))
      ->excludes(predict_images);
  predict->add_option("--checkpoint", predict_args.checkpoint, "best (the selected epoch) or last")
      ->check(CLI::IsMember({"best", "last"}))
      ->capture_default_str();
  predict->add_option("--batch-size", predict_args.batch_size, "images per inference batch")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  predict->add_option("--out", predict_args.out, "CSV to write")->required();

  rc::cli::EvaluateArgs evaluate_args;
  auto* evaluate = app.add_subcommand("evaluate", "a trained run's accuracy and per-class accuracy on a split, and "
                                                  "its confusion matrix (PNG)");
  evaluate->add_option("run", evaluate_args.run, "run folder: <out>/runs/<run>")->required();
  evaluate->add_option("--split", evaluate_args.split, "test or val (images); train, val, test or all (graphs)")
      ->check(CLI::IsMember({"test", "val", "train", "all"}))
      ->capture_default_str();
  evaluate->add_option("--checkpoint", evaluate_args.checkpoint, "best (the selected epoch) or last")
      ->check(CLI::IsMember({"best", "last"}))
      ->capture_default_str();
  evaluate->add_option("--batch-size", evaluate_args.batch_size, "images per inference batch")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  evaluate->add_option("--out", evaluate_args.out, "confusion-matrix PNG to write (default: none)");

  rc::cli::CompareArgs compare_args;
  auto* compare = app.add_subcommand("compare", "overlay the curves (validation accuracy, training and validation "
                                                "loss; mean over seeds with a band) of several runs or results "
                                                "folders, and print one merged table");
  compare->add_option("dirs", compare_args.dirs, "results folders (holding results.csv) or run folders (runs/<run>)")
      ->required();
  compare->add_option("--out", compare_args.out, "PNG to write")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    rc::set_num_threads(threads);
    if (*list) rc::cli::print_list(markdown);
    if (*info) return rc::cli::info(info_args);
    if (*run) return rc::cli::run(run_args);
    if (*report) return rc::cli::report(report_args);
    if (*attn) {
      att_flags.collect(att);
      return rc::cli::attention_dump(att);
    }
    if (*amap) return rc::cli::attention_map(map_args);
    if (*rfield) return rc::cli::receptive_field(rf_args);
    if (*predict) return rc::cli::predict(predict_args);
    if (*evaluate) return rc::cli::evaluate(evaluate_args);
    if (*compare) return rc::cli::compare(compare_args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "receptive: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
