#include "framework/nn/module.hpp"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

namespace rc::nn {

void Module::check_new_name(const std::string& name, const char* what) const {
  RC_CHECK(!name.empty() && name.find('.') == std::string::npos,
           "Module: {} name '{}' must be non-empty and contain no '.'", what, name);
  bool taken = false;
  for (const auto& p : params_) taken = taken || p.name == name;
  for (const auto& b : buffers_) taken = taken || b.first == name;
  for (const auto& c : children_) taken = taken || c.first == name;
  RC_CHECK(!taken, "Module: cannot register {} '{}': the name is already used in this module", what, name);
}

Var Module::register_parameter(const std::string& name, Tensor value, bool no_weight_decay) {
  RC_CHECK(value.defined(), "Module: parameter '{}' is an undefined tensor", name);
  return register_parameter(name, Var(std::move(value), true), no_weight_decay);
}

Var Module::register_parameter(const std::string& name, Var var, bool no_weight_decay) {
  check_new_name(name, "parameter");
  RC_CHECK(var.defined(), "Module: parameter '{}' is an undefined Var", name);
  RC_CHECK(var.value().is_contiguous(), "Module: parameter '{}' of shape {} is not contiguous", name,
           shape_str(var.shape()));
  var.set_requires_grad(true);
  params_.push_back({name, var, no_weight_decay});
  return var;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name, "buffer");
  RC_CHECK(value.defined(), "Module: buffer '{}' is an undefined tensor", name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "module");
  RC_CHECK(child != nullptr, "Module: child module '{}' is null", name);
  RC_CHECK(child.get() != this, "Module: cannot register module '{}' as its own child", name);
  children_.emplace_back(name, std::move(child));
}

Var& Module::param(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) return p.var;
  std::vector<std::string> known;
  for (const auto& p : params_) known.push_back(p.name);
  fail("Module: no parameter '{}' (parameters: [{}])", name, fmt::join(known, ", "));
}

Tensor& Module::buffer(const std::string& name) {
  for (auto& b : buffers_)
    if (b.first == name) return b.second;
  std::vector<std::string> known;
  for (const auto& b : buffers_) known.push_back(b.first);
  fail("Module: no buffer '{}' (buffers: [{}])", name, fmt::join(known, ", "));
}

void Module::collect_parameters(const std::string& prefix, std::vector<NamedParameter>& out) const {
  for (const auto& p : params_) out.push_back({prefix + p.name, p.var, p.no_weight_decay});
  for (const auto& [name, child] : children_) child->collect_parameters(prefix + name + ".", out);
}

void Module::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  for (const auto& b : buffers_) out.emplace_back(prefix + b.first, b.second);
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

std::vector<NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> all, unique;
  collect_parameters("", all);
  std::unordered_set<const Node*> seen;
  for (auto& p : all)
    if (seen.insert(p.var.node().get()).second) unique.push_back(std::move(p));
  return unique;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& p : named_parameters()) out.push_back(std::move(p.var));
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : named_parameters()) n += p.var.value().numel();
  return n;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect_buffers("", out);
  return out;
}

void Module::zero_grad() {
  for (auto& p : named_parameters()) p.var.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

NamedTensors Module::state_dict() const {
  std::vector<NamedParameter> params;
  collect_parameters("", params);  // not deduplicated: tied weights are saved under every name, as in PyTorch
  NamedTensors out;
  for (const auto& p : params) out.emplace_back(p.name, p.var.value());
  collect_buffers("", out);
  return out;
}

LoadReport Module::load_state_dict(const NamedTensors& dict, bool strict) {
  NamedTensors targets = state_dict();
  std::unordered_map<std::string, const Tensor*> given;
  for (const auto& [name, t] : dict) {
    RC_CHECK(given.emplace(name, &t).second, "load_state_dict: key '{}' appears twice in the state dict", name);
  }
  LoadReport report;
  std::vector<std::string> mismatched;
  std::unordered_set<std::string> known;
  for (const auto& [name, target] : targets) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      report.missing.push_back(name);
    } else if (!it->second->defined() || it->second->shape() != target.shape()) {
      mismatched.push_back(fmt::format("'{}': expected shape {}, got {}", name, shape_str(target.shape()),
                                       it->second->defined() ? shape_str(it->second->shape()) : "undefined"));
    }
  }
  for (const auto& [name, t] : dict)
    if (!known.count(name)) report.unexpected.push_back(name);

  std::string problems;
  if (!mismatched.empty()) problems += fmt::format("; shape mismatch for {}", fmt::join(mismatched, ", "));
  if (strict && !report.missing.empty()) problems += fmt::format("; missing keys: [{}]", fmt::join(report.missing, ", "));
  if (strict && !report.unexpected.empty())
    problems += fmt::format("; unexpected keys: [{}]", fmt::join(report.unexpected, ", "));
  if (!problems.empty()) fail("load_state_dict: {}", problems.substr(2));

  // All checks passed: copy in place (nothing is written when anything is wrong).
  for (auto& [name, target] : targets) {
    auto it = given.find(name);
    if (it != given.end()) target.copy_(*it->second);
  }
  return report;
}

}  // namespace rc::nn
