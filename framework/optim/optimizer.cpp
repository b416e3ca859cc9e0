#include "framework/optim/optimizer.hpp"

#include <fmt/format.h>

#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "framework/core/parallel.hpp"

namespace rc::optim {

ParamGroup make_group(const std::vector<nn::NamedParameter>& params) {
  ParamGroup g;
  for (const auto& p : params) {
    g.params.push_back(p.var);
    g.names.push_back(p.name);
  }
  return g;
}

ParamGroup make_group(std::vector<Var> params) {
  ParamGroup g;
  g.params = std::move(params);
  return g;
}

std::vector<ParamGroup> weight_decay_groups(const std::vector<nn::NamedParameter>& params) {
  ParamGroup decay, no_decay;
  no_decay.weight_decay = 0.0f;
  for (const auto& p : params) {
    ParamGroup& g = p.no_weight_decay ? no_decay : decay;
    g.params.push_back(p.var);
    g.names.push_back(p.name);
  }
  return {decay, no_decay};
}

void for_each_chunk(int64_t n, const std::function<void(int64_t, int64_t)>& body) {
  parallel_for(n, 1 << 14, body);
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, float lr, float weight_decay,
                     std::vector<std::string> buffer_names, const char* name)
    : groups_(std::move(groups)), buffer_names_(std::move(buffer_names)), lr_(lr), weight_decay_(weight_decay),
      name_(name) {
  RC_CHECK(std::isfinite(lr) && lr >= 0.0f, "{}: lr must be finite and >= 0, got {}", name_, lr);
  RC_CHECK(std::isfinite(weight_decay) && weight_decay >= 0.0f, "{}: weight_decay must be >= 0, got {}", name_,
           weight_decay);
  std::unordered_set<const Node*> seen;
  std::unordered_set<std::string> keys;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& grp = groups_[g];
    RC_CHECK(grp.names.empty() || grp.names.size() == grp.params.size(),
             "{}: group {} has {} names for {} parameters", name_, g, grp.names.size(), grp.params.size());
    RC_CHECK(grp.lr_scale >= 0.0f, "{}: group {} has lr_scale {} < 0", name_, g, grp.lr_scale);
    RC_CHECK(!grp.weight_decay || *grp.weight_decay >= 0.0f, "{}: group {} has weight_decay {} < 0", name_, g,
             grp.weight_decay.value_or(0.0f));
    for (size_t i = 0; i < grp.params.size(); ++i) {
      const Var& p = grp.params[i];
      RC_CHECK(p.defined(), "{}: parameter {} is undefined", name_, key(g, i));
      RC_CHECK(p.requires_grad(), "{}: parameter {} does not require grad", name_, key(g, i));
      RC_CHECK(p.value().is_contiguous(), "{}: parameter {} of shape {} is not contiguous", name_, key(g, i),
               shape_str(p.shape()));
      RC_CHECK(seen.insert(p.node().get()).second, "{}: parameter {} appears more than once", name_, key(g, i));
      RC_CHECK(keys.insert(key(g, i)).second, "{}: two parameters are named '{}'", name_, key(g, i));
    }
    state_.emplace_back(grp.params.size());
  }
}

std::string Optimizer::key(size_t g, size_t i) const {
  const ParamGroup& grp = groups_[g];
  return grp.names.empty() ? fmt::format("{}.{}", g, i) : grp.names[i];
}

void Optimizer::set_lr(float lr) {
  RC_CHECK(std::isfinite(lr) && lr >= 0.0f, "{}: lr must be finite and >= 0, got {}", name_, lr);
  lr_ = lr;
}

void Optimizer::step() {
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& grp = groups_[g];
    const float lr = lr_ * grp.lr_scale;
    const float wd = grp.weight_decay.value_or(weight_decay_);
    for (size_t i = 0; i < grp.params.size(); ++i) {
      Var& p = grp.params[i];
      if (!p.grad().defined()) continue;
      Tensor grad = p.grad().contiguous();
      RC_CHECK(grad.shape() == p.shape(), "{}: gradient of shape {} for parameter {} of shape {}", name_,
               shape_str(grad.shape()), key(g, i), shape_str(p.shape()));
      ParamState& st = state_[g][i];
      if (st.buffers.empty()) st.buffers.resize(buffer_names_.size());
      ++st.step;
      update(p.value(), grad, st, lr, wd);
    }
  }
}

void Optimizer::zero_grad() {
  for (auto& grp : groups_)
    for (auto& p : grp.params) p.zero_grad();
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.step == 0) continue;
      const std::string k = key(g, i);
      out.emplace_back(k + ".step", Tensor::scalar(static_cast<float>(st.step)));
      for (size_t b = 0; b < buffer_names_.size(); ++b)
        if (st.buffers[b].defined()) out.emplace_back(k + "." + buffer_names_[b], st.buffers[b].clone());
    }
  }
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& dict) {
  std::unordered_map<std::string, const Tensor*> given;
  for (const auto& [name, t] : dict)
    RC_CHECK(given.emplace(name, &t).second, "{}: load_state_dict: key '{}' appears twice", name_, name);
  // Build the new state completely before replacing the old one, so a failed load changes nothing.
  std::vector<std::vector<ParamState>> fresh;
  size_t used = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    fresh.emplace_back(groups_[g].params.size());
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const std::string k = key(g, i);
      ParamState& st = fresh[g][i];
      st.buffers.resize(buffer_names_.size());
      auto step_it = given.find(k + ".step");
      if (step_it != given.end()) {
        const Tensor& s = *step_it->second;
        RC_CHECK(s.defined() && s.numel() == 1, "{}: load_state_dict: '{}.step' must be a scalar, got shape {}",
                 name_, k, s.defined() ? shape_str(s.shape()) : "undefined");
        float v = s.item();
        RC_CHECK(v >= 1.0f && v == std::floor(v), "{}: load_state_dict: '{}.step' is {}, not a positive integer",
                 name_, k, v);
        st.step = static_cast<int64_t>(v);
        ++used;
      }
      for (size_t b = 0; b < buffer_names_.size(); ++b) {
        auto it = given.find(k + "." + buffer_names_[b]);
        if (it == given.end()) continue;
        const Tensor& t = *it->second;
        const Shape& want = groups_[g].params[i].shape();
        RC_CHECK(t.defined() && t.shape() == want, "{}: load_state_dict: '{}.{}': expected shape {}, got {}", name_,
                 k, buffer_names_[b], shape_str(want), t.defined() ? shape_str(t.shape()) : "undefined");
        RC_CHECK(st.step > 0, "{}: load_state_dict: '{}.{}' is given without '{}.step'", name_, k, buffer_names_[b], k);
        st.buffers[b] = t.clone();
        ++used;
      }
    }
  }
  if (used != given.size()) {
    std::unordered_set<std::string> known;
    for (size_t g = 0; g < groups_.size(); ++g)
      for (size_t i = 0; i < groups_[g].params.size(); ++i) {
        known.insert(key(g, i) + ".step");
        for (const auto& b : buffer_names_) known.insert(key(g, i) + "." + b);
      }
    std::vector<std::string> unexpected;
    for (const auto& [name, t] : dict)
      if (!known.count(name)) unexpected.push_back(name);
    fail("{}: load_state_dict: unexpected keys: [{}]", name_, fmt::join(unexpected, ", "));
  }
  state_ = std::move(fresh);
}

}  // namespace rc::optim
