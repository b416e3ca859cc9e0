#include "framework/nn/call_counter.hpp"

#include <map>
#include <set>

#include "framework/core/error.hpp"

namespace rc::nn {

namespace {
void collect(const Module& m, const std::string& path, std::vector<std::pair<std::string, const Module*>>& out) {
  if (dynamic_cast<const CallCounted*>(&m)) out.emplace_back(path, &m);
  for (const auto& [name, child] : m.named_children()) collect(*child, path.empty() ? name : path + "." + name, out);
}
}  // namespace

CallCounters named_call_counters(const Module& root) {
  std::vector<std::pair<std::string, const Module*>> modules;
  collect(root, "", modules);
  CallCounters out;
  for (const auto& [name, m] : modules) out.emplace_back(name, dynamic_cast<const CallCounted*>(m)->call_counter());
  return out;
}

void load_call_counters(Module& root, const CallCounters& counters) {
  std::vector<std::pair<std::string, const Module*>> modules;
  collect(root, "", modules);
  std::map<std::string, CallCounted*> by_name;
  for (const auto& [name, m] : modules)
    by_name[name] = dynamic_cast<CallCounted*>(const_cast<Module*>(m));  // the tree is root's, which is not const
  std::set<std::string> given;
  for (const auto& [name, value] : counters) {
    const auto it = by_name.find(name);
    RC_CHECK(it != by_name.end(), "load_call_counters: '{}' is not a module with a call counter", name);
    it->second->set_call_counter(value);
    given.insert(name);
  }
  for (const auto& [name, m] : by_name)
    RC_CHECK(given.count(name), "load_call_counters: no value for the call counter of module '{}'", name);
}

}  // namespace rc::nn
