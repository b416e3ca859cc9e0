#pragma once
// The receptive field as a measured curve (README: Learnable locality): from the "receptive_field" entries of
// the runs' metrics.jsonl lines (ImageModel::receptive_field, written at every evaluation point),
//   DIR/plots/receptive_<run>.png: per layer, the attention-weighted mean offset distance E_A[‖Δ‖] (mean over
//     heads, in patches) against the training step, and the learned Gaussian width σ of locality models;
//   DIR/plots/receptive_vs_size_<dataset>_<model>.png: the same per-layer quantities at the end of training
//     against the training-set size (mean ± std over seeds), for every model with at least two sizes;
//   DIR/plots/receptive_vs_step_<dataset>_<model>.png: for those models, the top layer's σ and E_A[‖Δ‖] against
//     the training step, one colour per training-set size (mean ± std over the seeds that logged the step).
//     A sweep with an epoch budget trains larger sets for more steps; this plot tells the two apart;
//   DIR/receptive_by_step.csv: every finished run's points as dataset, model, train_size, step, seeds,
//     quantity (mean_distance | width), layer (from 1), mean, std over seeds; a step appears for a size only
//     when every finished run of that size logged it.
#include <filesystem>
#include <vector>

#include "experiments/results.hpp"

namespace rc::exp {

// Returns the plots written (none for runs without receptive-field metrics).
std::vector<std::filesystem::path> write_receptive_plots(const ResultsTable& table,
                                                         const std::filesystem::path& out_dir);

}  // namespace rc::exp
