#pragma once
// Optimizer: the base of SGD and AdamW. It holds parameter groups (Vars plus a per-group lr scale and weight
// decay) and one state per parameter (a step count and named buffers such as Adam's moments), calls the
// subclass's update for every parameter that has a gradient (others are skipped, their state untouched), and
// saves or restores the state as named tensors for resuming a run:
//   "<param>.step"  (a scalar; float32, exact up to 2^24 steps)
//   "<param>.<buffer>"  (the parameter's shape), e.g. "fc.weight.exp_avg"
// where <param> is the parameter's name in its group, or "<group>.<index>" when the group has no names.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framework/autograd/var.hpp"
#include "framework/core/named_tensors.hpp"
#include "framework/nn/module.hpp"

namespace rc::optim {

struct ParamGroup {
  std::vector<Var> params;
  std::vector<std::string> names;     // empty, or one per parameter: the keys of the saved state
  float lr_scale = 1.0f;              // this group's lr = optimizer lr * lr_scale
  std::optional<float> weight_decay = std::nullopt;  // unset: the optimizer's weight decay
};

// One group over the given parameters, named as in the module (or unnamed).
ParamGroup make_group(const std::vector<nn::NamedParameter>& params);
ParamGroup make_group(std::vector<Var> params);
// Two groups: {parameters that decay (the optimizer's weight decay), parameters flagged no_weight_decay
// (weight decay 0)}. Either may be empty.
std::vector<ParamGroup> weight_decay_groups(const std::vector<nn::NamedParameter>& params);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();       // one update of every parameter that has a gradient
  void zero_grad();  // drops every parameter's gradient

  float lr() const { return lr_; }
  void set_lr(float lr);  // the base lr; schedules call this before each step
  float weight_decay() const { return weight_decay_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

  NamedTensors state_dict() const;  // copies
  // Restores the state saved by state_dict. A parameter absent from the dict gets a fresh state; unknown
  // keys and shape mismatches are errors naming the key.
  void load_state_dict(const NamedTensors& dict);

 protected:
  struct ParamState {
    int64_t step = 0;              // updates applied so far (incremented before update is called)
    std::vector<Tensor> buffers;   // one per buffer name; undefined until the subclass creates it
  };
  Optimizer(std::vector<ParamGroup> groups, float lr, float weight_decay, std::vector<std::string> buffer_names,
            const char* name);
  // Updates param in place from grad (both contiguous, same shape). state.step already counts this update.
  virtual void update(Tensor& param, const Tensor& grad, ParamState& state, float lr, float weight_decay) = 0;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // [group][param]
  std::vector<std::string> buffer_names_;
  float lr_, weight_decay_;
  const char* name_;

  std::string key(size_t g, size_t i) const;
};

// Runs body(begin, end) over [0, n) in parallel chunks (elementwise updates: any order gives the same bits).
void for_each_chunk(int64_t n, const std::function<void(int64_t, int64_t)>& body);

}  // namespace rc::optim
