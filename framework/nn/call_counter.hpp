#pragma once
// Random state beyond a module's tensors: the call counters from which dropout draws a fresh seed per forward
// (nn::Dropout, attention dropout, recurrent dropout, a model that seeds its dropout per forward). A module with
// such a counter also derives from CallCounted; named_call_counters walks a module tree (names as for buffers:
// the module's dotted path, "" for the root) so that a run's training state can save them and a continued run
// draws the same masks. They are not part of state_dict: checkpoints hold tensors only.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framework/nn/module.hpp"

namespace rc::nn {

class CallCounted {
 public:
  virtual ~CallCounted() = default;
  virtual uint64_t call_counter() const = 0;
  virtual void set_call_counter(uint64_t calls) = 0;
};

using CallCounters = std::vector<std::pair<std::string, uint64_t>>;

CallCounters named_call_counters(const Module& root);
// Sets every counter of the tree from `counters`; a name that is not a module with a counter, or a counter that
// is not given, is an error naming it.
void load_call_counters(Module& root, const CallCounters& counters);

}  // namespace rc::nn
