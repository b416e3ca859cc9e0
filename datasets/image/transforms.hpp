#pragma once
// Batches of float images with OpenCV augmentation. Each image's randomness comes from a generator seeded
// by (epoch_seed, dataset index), so a batch is the same whatever the thread count or batch composition.
#include <cstdint>
#include <vector>

#include "datasets/image/image_dataset.hpp"
#include "framework/core/tensor.hpp"

namespace rc::data {

struct Augment {
  int64_t crop_padding = 0;        // random crop of the original size after zero-padding this many pixels
  bool horizontal_flip = false;    // with probability 1/2
  double affine_degrees = 0.0;     // random rotation in [-d, d]
  double affine_translate = 0.0;   // random shift of up to this fraction of the size, each axis
  double affine_scale = 0.0;       // random scale in [1 - s, 1 + s]
  bool any() const {
    return crop_padding > 0 || horizontal_flip || affine_degrees > 0 || affine_translate > 0 || affine_scale > 0;
  }
};

struct Normalize {
  std::vector<float> mean{0.0f}, stddev{1.0f};  // one value for all channels, or one per channel
};

// images (B, C, H, W) = (pixel / 255 − mean[c]) / stddev[c] after augmentation (when `augment`);
// labels_out gets the labels of `indices` in order. parallel = false keeps the work on the calling thread
// (a prefetch thread beside training).
Tensor make_batch(const ImageDataset& data, const std::vector<int64_t>& indices, const Augment& aug,
                  const Normalize& norm, bool augment, uint64_t epoch_seed, std::vector<int64_t>* labels_out,
                  bool parallel = true);

// Per-channel mean and standard deviation of pixel / 255 over the given items (all when empty).
Normalize compute_normalize(const ImageDataset& data, const std::vector<int64_t>& indices = {});

}  // namespace rc::data
