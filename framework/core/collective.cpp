#include "framework/core/collective.hpp"

namespace rc {
namespace {
Collective* g_group = nullptr;
}

Collective* data_parallel_group() { return g_group; }
void set_data_parallel_group(Collective* group) { g_group = group; }

void group_allreduce_sum(std::span<double> data) {
  if (g_group && g_group->size() > 1) g_group->allreduce_sum(data);
}
void group_allreduce_sum(std::span<float> data) {
  if (g_group && g_group->size() > 1) g_group->allreduce_sum(data);
}

}  // namespace rc
