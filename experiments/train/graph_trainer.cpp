#include "experiments/train/graph_trainer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>

#include "experiments/results.hpp"
#include "experiments/train/checkpoint.hpp"
#include "experiments/train/image_trainer.hpp"
#include "experiments/train/progress.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/ops/loss.hpp"
#include "framework/optim/clip.hpp"

namespace rc::exp {

namespace {
std::vector<uint8_t> mask_of(const std::vector<int64_t>& nodes, int64_t n) {
  std::vector<uint8_t> m(n, 0);
  for (int64_t i : nodes) m[i] = 1;
  return m;
}
}  // namespace

GraphTask make_graph_task(const data::GraphDataset& g, const data::Split& split) {
  GraphTask t;
  auto& in = t.input;
  in.num_nodes = g.num_nodes();
  in.num_features = g.features.dim(1);
  in.num_classes = g.num_classes();
  const int64_t nnz = (g.features.array() != 0.0f).count();
  if (nnz * 10 < g.features.numel()) {
    t.sparse_features = std::make_shared<CsrMatrix>(CsrMatrix::from_dense(g.features));
    in.sparse_features = t.sparse_features.get();
  } else {
    in.dense_features = g.features;
  }
  in.adjacency = data::csr_arrays(g.graph, false);
  t.labels.assign(g.labels.begin(), g.labels.end());
  t.split = split;
  return t;
}

RunOutcome train_graph_model(models::GraphModel& model, const GraphTask& task, const TrainSettings& s,
                             const std::filesystem::path& run_dir, const std::string& label) {
  const int64_t n = task.input.num_nodes;
  RC_CHECK(!task.split.train.empty(), "train_graph_model: no training nodes");
  const auto train_mask = mask_of(task.split.train, n), val_mask = mask_of(task.split.val, n),
             test_mask = mask_of(task.split.test, n);
  const int64_t epochs = s.steps > 0 ? s.steps : s.epochs;  // one step per epoch (full batch)
  auto opt = make_optimizer(s, model);
  auto schedule = make_lr_schedule(s, 1, epochs);
  auto params = model.parameters();
  std::filesystem::create_directories(run_dir);
  const auto metrics_path = run_dir / "metrics.jsonl", last_path = run_dir / "last.safetensors",
             best_path = run_dir / "best.safetensors";
  for (const auto& p : {metrics_path, last_path, best_path}) std::filesystem::remove(p);  // a restart starts afresh

  RunOutcome out;
  out.params = model.num_parameters();
  out.best_val_accuracy = -1;
  Progress progress(label, epochs, s.progress);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t since_best = 0;
  double best_val_loss = 1e300, max_val_accuracy = -1, min_val_loss = 1e300;
  const bool has_val = !task.split.val.empty();
  // The weights of the best-validation epoch and of the last epoch, kept in memory (a copy costs far less than
  // an epoch) and written once at the end, as best.safetensors and last.safetensors. Only finite weights are
  // evaluated and kept: a run whose loss or weights become NaN or Inf stops, and its files hold the last good
  // epoch.
  StateSnapshot best_weights, last_weights;
  auto stop_run = [&](const std::string& reason) {
    out.status = "stopped: " + reason;
    if (last_weights.empty())
      fmt::print(stderr, "\n{}: {}; no epoch had finished, so there is no checkpoint\n", label, out.status);
    else
      fmt::print(stderr, "\n{}: {}; keeping the last good checkpoint (epoch {}) and the metrics\n", label,
                 out.status, out.epochs_run);
  };
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    model.train();
    Var logits = model.forward(task.input);
    CrossEntropyOptions ce;
    ce.label_smoothing = s.label_smoothing;
    ce.mask = train_mask;
    Var loss = cross_entropy(logits, task.labels, ce);
    const double l = loss.value().item();
    if (!std::isfinite(l)) {
      stop_run(fmt::format("loss became {} at epoch {} step {}", l, epoch, epoch));
      break;
    }
    const double train_acc = accuracy(logits.value(), task.labels, train_mask);
    backward(loss);
    if (s.clip_grad_norm > 0) optim::clip_grad_norm(params, float(s.clip_grad_norm));
    opt->set_lr(schedule->lr_at(epoch - 1));
    opt->step();
    opt->zero_grad();
    if (const std::string bad = non_finite_tensor(model); !bad.empty()) {
      stop_run(fmt::format("weights became non-finite ({}) at epoch {} step {}", bad, epoch, epoch));
      break;
    }

    // validation every epoch; the test nodes only when the config asks (test_every_eval), otherwise once at the
    // end for the best and the last weights
    double val = -1, val_loss = 0, test = std::nan("");
    {
      NoGradGuard no_grad;
      model.eval();
      Var eval_logits = model.forward(task.input);
      if (has_val) {
        val = accuracy(eval_logits.value(), task.labels, val_mask);
        CrossEntropyOptions vce;
        vce.mask = val_mask;
        val_loss = cross_entropy(eval_logits, task.labels, vce).value().item();
      }
      if (s.test_every_eval) test = accuracy(eval_logits.value(), task.labels, test_mask);
    }
    out.epochs_run = epoch;
    out.steps = epoch;
    out.final_train_loss = l;
    // Model selection as in the GAT reference code: the best validation accuracy, ties broken by the lower
    // validation loss; patience counts epochs in which neither the accuracy nor the loss improved.
    const bool better = !has_val || val > out.best_val_accuracy ||
                        (val == out.best_val_accuracy && val_loss < best_val_loss);
    if (better) {
      out.best_val_accuracy = val;
      best_val_loss = val_loss;
      out.best_epoch = epoch;
      best_weights.capture(model, {{"epoch", std::to_string(epoch)}, {"step", std::to_string(epoch)}});
    }
    last_weights.capture(model, {{"epoch", std::to_string(epoch)}, {"step", std::to_string(epoch)}});
    if (!has_val || val >= max_val_accuracy || val_loss <= min_val_loss) since_best = 0;
    else ++since_best;
    max_val_accuracy = std::max(max_val_accuracy, val);
    min_val_loss = std::min(min_val_loss, val_loss);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json m{{"epoch", epoch},
                     {"train_loss", l},
                     {"train_accuracy", train_acc},
                     {"val_accuracy", val},
                     {"val_loss", val_loss},
                     {"lr", schedule->lr_at(epoch - 1)},
                     {"seconds", secs}};
    if (s.test_every_eval) m["test_accuracy"] = test;
    append_line(metrics_path, m.dump());
    progress.step(epoch, epoch, epochs, l, train_acc, epoch * n);
    if (stop_requested()) {
      out.status = "interrupted";
      break;
    }
    if (s.patience > 0 && since_best >= s.patience) break;
  }
  if (out.status != "interrupted" && !last_weights.empty()) {  // an interrupted run restarts from scratch
    last_weights.save(last_path);
    if (!best_weights.empty()) best_weights.save(best_path);  // no epoch ever better (e.g. NaN validation loss)
  }
  if (!has_val) out.best_val_accuracy = std::nan("");
  if (out.status != "interrupted") {
    // the test nodes, once for the best and once for the last weights (the model is left holding the last)
    auto test_of = [&](const StateSnapshot& w) {
      w.restore(model);
      NoGradGuard no_grad;
      model.eval();
      const auto e0 = std::chrono::steady_clock::now();
      const double acc = accuracy(model.forward(task.input).value(), task.labels, test_mask);
      out.eval_items_per_second =
          double(n) / std::max(std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count(), 1e-9);
      return acc;
    };
    if (!best_weights.empty()) out.test_accuracy = out.last_test_accuracy = test_of(best_weights);
    if (!last_weights.empty() && last_weights.metadata() != best_weights.metadata())
      out.last_test_accuracy = test_of(last_weights);
  }
  out.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.items_per_second = out.epochs_run / std::max(out.train_seconds, 1e-9);
  progress.epoch_end(fmt::format("{} epochs: best val {:.4f} at epoch {}, test {:.4f}, {:.1f} s", out.epochs_run,
                                 out.best_val_accuracy, out.best_epoch, out.test_accuracy, out.train_seconds));
  return out;
}

}  // namespace rc::exp

