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

double evaluate_images(models::ImageModel& model, const data::ImageDataset& d, const std::vector<int64_t>& indices,
                       const data::Normalize& normalize, int64_t batch_size) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t n = indices.empty() ? d.size() : static_cast<int64_t>(indices.size());
  int64_t correct = 0;
  std::vector<int64_t> idx, labels;
  for (int64_t start = 0; start < n; start += batch_size) {
    idx.clear();
    for (int64_t i = start; i < std::min(n, start + batch_size); ++i) idx.push_back(indices.empty() ? i : indices[i]);
    Tensor x = data::make_batch(d, idx, {}, normalize, false, 0, &labels);
    Tensor logits = model.forward(Var(x)).value();
    correct += std::llround(accuracy(logits, labels) * double(idx.size()));
  }
  model.train(was_training);
  return n > 0 ? double(correct) / double(n) : 0.0;
}

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
    const double val = task.val_idx.empty()
                           ? -1
                           : evaluate_images(model, *task.train, task.val_idx, task.normalize, s.eval_batch_size);
    const double test = evaluate_images(model, *task.test, {}, task.normalize, s.eval_batch_size);
    out.epochs_run = epoch;
    out.final_train_loss = loss_sum / std::max<int64_t>(batches, 1);
    const double train_acc = acc_sum / std::max<int64_t>(batches, 1);
    io::Metadata meta = input_meta;
    meta["epoch"] = std::to_string(epoch);
    meta["step"] = std::to_string(step);
    io::save_module(last_path.string(), model, meta);
    saved_step = step;
    const bool better = task.val_idx.empty() || val > out.best_val_accuracy;
    if (better) {
      out.best_val_accuracy = val;
      out.best_epoch = epoch;
      out.test_accuracy = test;
      since_best = 0;
      io::save_module(best_path.string(), model, meta);
    } else {
      ++since_best;
    }
    nlohmann::json m = {{"epoch", epoch},
                        {"step", step},
                        {"train_loss", out.final_train_loss},
                        {"train_accuracy", train_acc},
                        {"val_accuracy", val},
                        {"test_accuracy", test},
                        {"lr", schedule->lr_at(std::max<int64_t>(step - 1, 0))},
                        {"epoch_seconds", train_seconds},
                        {"items_per_second", items / std::max(train_seconds, 1e-9)}};
    append_line(metrics_path, m.dump());
    progress.epoch_end(fmt::format("epoch {}/{} step {}: loss {:.4f} train {:.4f} val {:.4f} test {:.4f} ({:.0f} img/s)",
                                   epoch, epochs, step, out.final_train_loss, train_acc, val, test,
                                   items / std::max(train_seconds, 1e-9)));
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
  out.steps = step;
  out.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.items_per_second = items / std::max(train_seconds, 1e-9);
  progress.finish();
  return out;
}

}  // namespace rc::exp
