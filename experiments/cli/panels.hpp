#pragma once
// Drawing shared by the attention pictures (attention_maps.cpp for patch attention, sequence_maps.cpp for
// sequence Transformers).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "experiments/cli/commands.hpp"

namespace rc::cli {

// Square panels (all of one size) in a layers × heads grid with row and column captions and a title.
cv::Mat grid_of(const std::vector<std::vector<cv::Mat>>& panels, const std::string& title);

// attention-map and receptive-field for runs of a sequence model (sequence_transformer); attention_map and
// receptive_field hand a sequence run to these.
int sequence_attention_map(const MapArgs& args);
int sequence_receptive_field(const MapArgs& args);

}  // namespace rc::cli
