#pragma once
// Axial attention: on a grid_h x grid_w token grid (tokens first .. first + grid_h*grid_w - 1, row-major), query
// (r, c) attends to every key in row r and every key in column c: grid_h + grid_w - 1 keys. Tokens off the grid
// have no neighbours and are nobody's neighbour (add them by composition, e.g. | global(0, 1)).
#include "framework/attention/policy.hpp"

namespace rc {

Policy axial_policy(int64_t grid_h, int64_t grid_w, int64_t first = 0);

}  // namespace rc
