#pragma once
// Module: the thin base of every layer and model. A module owns
//   - parameters: name -> Var (requires_grad), each with a "no weight decay" flag set at registration
//     (norm scales and biases are usually registered with it);
//   - buffers: name -> Tensor, state that is saved but not trained (BatchNorm running statistics);
//     modules update buffers in place so that the registered tensor stays the one that is saved;
//   - children: name -> shared_ptr<Module>.
// Names are local (no dots); the dotted full names ("blocks.0.attn.wq.weight") are built by the walks below,
// which visit a module's own parameters (or buffers) in registration order, then its children in
// registration order, depth first (PyTorch's order).
// Modules hold parameters and call the functional ops; the math lives in framework/ops.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/autograd/var.hpp"
#include "framework/core/named_tensors.hpp"

namespace rc::nn {

struct NamedParameter {
  std::string name;  // dotted full name
  Var var;
  bool no_weight_decay = false;
};

// What load_state_dict found (only non-empty when strict is false; strict loads throw instead).
struct LoadReport {
  std::vector<std::string> missing;     // expected by the module, absent from the dict
  std::vector<std::string> unexpected;  // in the dict, unknown to the module
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // Parameters, deduplicated (a Var registered twice, e.g. tied weights, appears once, under its first name).
  std::vector<NamedParameter> named_parameters() const;
  std::vector<Var> parameters() const;
  int64_t num_parameters() const;  // elements over the deduplicated parameters
  NamedTensors named_buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }

  void zero_grad();  // drops every parameter's gradient

  void train(bool on = true);  // sets the flag on this module and every descendant
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Parameters then buffers of every module, with dotted names. The tensors share storage with the module
  // (clone them for a snapshot that later training must not change).
  NamedTensors state_dict() const;
  // Copies values in place. Every shape must match (error names the key, expected and actual shape). With
  // strict, missing or unexpected keys are an error that lists all of them; otherwise they are reported.
  LoadReport load_state_dict(const NamedTensors& dict, bool strict = true);

  // Local lookups (throw naming the module's known names when absent).
  Var& param(const std::string& name);
  Tensor& buffer(const std::string& name);

 protected:
  // value becomes a leaf Var with requires_grad; returns it (the module keeps a handle to the same node).
  Var register_parameter(const std::string& name, Tensor value, bool no_weight_decay = false);
  Var register_parameter(const std::string& name, Var var, bool no_weight_decay = false);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

 private:
  struct Param {
    std::string name;
    Var var;
    bool no_weight_decay;
  };
  std::vector<Param> params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;

  void check_new_name(const std::string& name, const char* what) const;
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter>& out) const;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const;
};

// An ordered list of child modules named "0", "1", ... (the "blocks" in "blocks.0.attn.wq.weight").
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    register_module(std::to_string(items_.size()), m);
    items_.push_back(m);
    return m;
  }
  size_t size() const { return items_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const { return items_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

}  // namespace rc::nn
