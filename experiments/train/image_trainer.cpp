#include "experiments/train/image_trainer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "experiments/results.hpp"
#include "experiments/train/checkpoint.hpp"
#include "experiments/train/progress.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/ops/loss.hpp"
#include "framework/optim/clip.hpp"

namespace rc::exp {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

EvalResult evaluate_image_set(models::ImageModel& model, const data::ImageDataset& d,
                              const std::vector<int64_t>& indices, const data::Normalize& normalize, int64_t batch_size,
                              const EvalProgress& progress) {
  // inference: no autograd graph is recorded (nothing is saved for a backward pass), evaluation-mode layers
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = indices.empty() ? d.size() : static_cast<int64_t>(indices.size());
  int64_t correct = 0;
  double loss_sum = 0;
  std::vector<int64_t> idx, labels;
  for (int64_t start = 0; start < n; start += batch_size) {
    idx.clear();
    for (int64_t i = start; i < std::min(n, start + batch_size); ++i) idx.push_back(indices.empty() ? i : indices[i]);
    Tensor x = data::make_batch(d, idx, {}, normalize, false, 0, &labels);
    Var logits = model.forward(Var(x));
    correct += std::llround(accuracy(logits.value(), labels) * double(idx.size()));
    loss_sum += cross_entropy(logits, labels).value().item() * double(idx.size());  // batch mean → sum
    if (progress.bar)
      progress.bar->evaluation(progress.what, start + static_cast<int64_t>(idx.size()), n,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  model.train(was_training);
  EvalResult r;
  r.items = n;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.accuracy = n > 0 ? double(correct) / double(n) : 0.0;
  r.loss = n > 0 ? loss_sum / double(n) : 0.0;
  return r;
}

double evaluate_images(models::ImageModel& model, const data::ImageDataset& d, const std::vector<int64_t>& indices,
                       const data::Normalize& normalize, int64_t batch_size) {
  return evaluate_image_set(model, d, indices, normalize, batch_size).accuracy;
}

namespace {
// The test set, once per checkpoint at the end of a run: best.safetensors gives test_accuracy (the selected
// epoch) and last.safetensors last_test_accuracy (evaluated once when both hold the same epoch). The model is
// left holding the last weights. A run without a checkpoint (stopped before its first evaluation) has neither.
void evaluate_test_checkpoints(models::ImageModel& model, const ImageTask& task, const TrainSettings& s,
                               const std::filesystem::path& best_path, const std::filesystem::path& last_path,
                               Progress& progress, RunOutcome& out) {
  if (!std::filesystem::exists(best_path)) return;
  const io::Metadata best_meta = io::load_module(best_path.string(), model);
  const EvalResult best =
      evaluate_image_set(model, *task.test, {}, task.normalize, s.eval_batch_size, {&progress, "test (best)"});
  out.test_accuracy = out.last_test_accuracy = best.accuracy;
  out.eval_items_per_second = best.items / std::max(best.seconds, 1e-9);
  if (!std::filesystem::exists(last_path)) return;
  const io::Metadata last_meta = io::load_module(last_path.string(), model);
  if (last_meta.count("step") && best_meta.count("step") && last_meta.at("step") == best_meta.at("step")) return;
  out.last_test_accuracy =
      evaluate_image_set(model, *task.test, {}, task.normalize, s.eval_batch_size, {&progress, "test (last)"})
          .accuracy;
}
}  // namespace

RunOutcome train_image_model(models::ImageModel& model, const ImageTask& task, const TrainSettings& s,
                             const std::filesystem::path& run_dir, uint64_t seed, const std::string& label) {
  RC_CHECK(task.train && task.test, "train_image_model: missing training or test data");
  RC_CHECK(!task.train_idx.empty(), "train_image_model: empty training set");
  const int64_t n = static_cast<int64_t>(task.train_idx.size());
  const int64_t batch = std::min(s.batch_size, n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const int64_t total_steps = s.steps > 0 ? s.steps : s.epochs * steps_per_epoch;
  const int64_t epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;
  auto opt = make_optimizer(s, model);
  auto schedule = make_lr_schedule(s, steps_per_epoch, total_steps);
  auto params = model.parameters();
  std::filesystem::create_directories(run_dir);
  const auto metrics_path = run_dir / "metrics.jsonl", last_path = run_dir / "last.safetensors",
             best_path = run_dir / "best.safetensors";
  // a restarted run starts afresh: no metrics or weights of an earlier, unfinished attempt are left to be
  // mistaken for this one's
  for (const auto& p : {metrics_path, last_path, best_path}) std::filesystem::remove(p);
  // every checkpoint records how its input was prepared (shape, normalisation, class names)
  const io::Metadata input_meta = image_input_metadata(
      {{task.train->channels, task.train->height, task.train->width, task.train->num_classes()},
       task.normalize,
       task.train->class_names});

  RunOutcome out;
  out.params = model.num_parameters();
  out.best_val_accuracy = -1;
  Progress progress(label, total_steps, s.progress);
  const auto t0 = std::chrono::steady_clock::now();
  double train_seconds = 0;
  int64_t step = 0, items = 0, since_best = 0;
  std::vector<int64_t> order = task.train_idx;

  // Evaluation points: after each epoch, or (eval_every > 0) every eval_every steps and after the last step.
  // Train loss and accuracy in metrics.jsonl average the steps since the previous evaluation.
  double loss_sum = 0, acc_sum = 0;
  int64_t batches = 0;
  bool stop = false;
  int64_t saved_step = 0;  // the step of the last evaluation, whose weights last.safetensors holds
  auto stop_run = [&](const std::string& reason) {
    out.status = "stopped: " + reason;
    if (saved_step > 0)
      fmt::print(stderr, "\n{}: {}; keeping the last good checkpoint (epoch {} step {}) and the metrics\n", label,
                 out.status, out.epochs_run, saved_step);
    else
      fmt::print(stderr, "\n{}: {}; no evaluation had finished, so there is no checkpoint\n", label, out.status);
    stop = true;
  };
  auto evaluate_point = [&](int64_t epoch) {
    // weights that became NaN or Inf in the steps since the last evaluation are neither evaluated nor saved:
    // last.safetensors and best.safetensors keep the last finite weights
    if (const std::string bad = non_finite_tensor(model); !bad.empty()) {
      stop_run(fmt::format("weights became non-finite ({}) at epoch {} step {}", bad, epoch, step));
      return;
    }
    // the validation set at every evaluation point; the test set only when the config asks (test_every_eval),
    // otherwise once at the end, for the best and the last checkpoints
    EvalResult val;
    val.accuracy = -1;
    if (!task.val_idx.empty())
      val = evaluate_image_set(model, *task.train, task.val_idx, task.normalize, s.eval_batch_size, {&progress, "val"});
    const double test = s.test_every_eval ? evaluate_image_set(model, *task.test, {}, task.normalize,
                                                               s.eval_batch_size, {&progress, "test"})
                                                .accuracy
                                          : std::nan("");
    out.epochs_run = epoch;
    out.final_train_loss = loss_sum / std::max<int64_t>(batches, 1);
    const double train_acc = acc_sum / std::max<int64_t>(batches, 1);
    io::Metadata meta = input_meta;
    meta["epoch"] = std::to_string(epoch);
    meta["step"] = std::to_string(step);
    io::save_module(last_path.string(), model, meta);
    saved_step = step;
    const bool better = task.val_idx.empty() || val.accuracy > out.best_val_accuracy;
    if (better) {
      out.best_val_accuracy = val.accuracy;
      out.best_epoch = epoch;
      since_best = 0;
      io::save_module(best_path.string(), model, meta);
    } else {
      ++since_best;
    }
    nlohmann::json m = {{"epoch", epoch},
                        {"step", step},
                        {"train_loss", out.final_train_loss},
                        {"train_accuracy", train_acc},
                        {"val_accuracy", val.accuracy},
                        {"lr", schedule->lr_at(std::max<int64_t>(step - 1, 0))},
                        {"epoch_seconds", train_seconds},
                        {"items_per_second", items / std::max(train_seconds, 1e-9)}};
    if (!task.val_idx.empty()) {
      m["val_loss"] = val.loss;
      m["eval_items_per_second"] = val.items / std::max(val.seconds, 1e-9);
    }
    if (s.test_every_eval) m["test_accuracy"] = test;
    append_line(metrics_path, m.dump());
    std::string summary = fmt::format("epoch {}/{} step {}: loss {:.4f} train {:.4f}", epoch, epochs, step,
                                      out.final_train_loss, train_acc);
    if (!task.val_idx.empty()) summary += fmt::format(" val {:.4f} (loss {:.4f})", val.accuracy, val.loss);
    if (s.test_every_eval) summary += fmt::format(" test {:.4f}", test);
    summary += fmt::format(" ({:.0f} img/s", items / std::max(train_seconds, 1e-9));
    if (!task.val_idx.empty()) summary += fmt::format(", eval {:.0f} img/s", val.items / std::max(val.seconds, 1e-9));
    progress.epoch_end(summary + ")");
    loss_sum = acc_sum = 0;
    batches = 0;
    if (s.patience > 0 && since_best >= s.patience) stop = true;
  };

  for (int64_t epoch = 1; epoch <= epochs && step < total_steps && !stop; ++epoch) {
    model.train();
    std::mt19937_64 gen(mix_seed(seed, 1000 + epoch));
    std::shuffle(order.begin(), order.end(), gen);
    const uint64_t aug_seed = mix_seed(seed, 2000 + epoch);
    auto batch_at = [&](int64_t b, std::vector<int64_t>* labels) {
      std::vector<int64_t> idx(order.begin() + b * batch, order.begin() + std::min(n, (b + 1) * batch));
      return data::make_batch(*task.train, idx, task.augment, task.normalize, true, aug_seed, labels, false);
    };
    auto e0 = std::chrono::steady_clock::now();
    // the next batch is prepared (decoded, augmented, normalised) as a TBB task beside this one's training step
    std::vector<int64_t> labels, next_labels;
    Tensor next_x;
    BackgroundTask next;
    next.run([&] { next_x = batch_at(0, &next_labels); });
    for (int64_t b = 0; b < steps_per_epoch && step < total_steps; ++b) {
      next.wait();
      Tensor x = std::move(next_x);
      labels.swap(next_labels);
      if (b + 1 < steps_per_epoch && step + 1 < total_steps)
        next.run([&, b] { next_x = batch_at(b + 1, &next_labels); });
      Var logits = model.forward(Var(x));
      CrossEntropyOptions ce;
      ce.label_smoothing = s.label_smoothing;
      Var loss = cross_entropy(logits, labels, ce);
      const double l = loss.value().item();
      if (!std::isfinite(l)) {
        next.wait();
        stop_run(fmt::format("loss became {} at epoch {} step {}", l, epoch, step + 1));
        break;
      }
      backward(loss);
      if (s.clip_grad_norm > 0) optim::clip_grad_norm(params, float(s.clip_grad_norm));
      opt->set_lr(schedule->lr_at(step));
      opt->step();
      opt->zero_grad();
      ++step;
      ++batches;
      items += static_cast<int64_t>(labels.size());
      loss_sum += l;
      acc_sum += accuracy(logits.value(), labels);
      progress.step(step, epoch, epochs, loss_sum / batches, acc_sum / batches, items);
      if (stop_requested()) {
        next.wait();
        out.status = "interrupted";
        break;
      }
      if (s.eval_every > 0 && (step % s.eval_every == 0 || step == total_steps)) {
        next.wait();  // the next batch is ready before evaluation starts timing its own work
        train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
        evaluate_point(epoch);
        model.train();
        e0 = std::chrono::steady_clock::now();
        if (stop) break;
      }
    }
    next.wait();
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
    if (out.status != "ok") break;
    if (s.eval_every == 0) evaluate_point(epoch);
  }
  if (task.val_idx.empty()) out.best_val_accuracy = std::nan("");  // no validation set
  if (out.status != "interrupted") evaluate_test_checkpoints(model, task, s, best_path, last_path, progress, out);
  out.steps = step;
  out.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.items_per_second = items / std::max(train_seconds, 1e-9);
  progress.finish();
  return out;
}

}  // namespace rc::exp
