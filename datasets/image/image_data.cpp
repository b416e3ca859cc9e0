#include "datasets/image/image_data.hpp"

#include <fmt/format.h>

#include <cmath>

#include "framework/core/error.hpp"
#include "framework/core/param_binding.hpp"

namespace rc::data {

namespace {
const ParamBinding<ImageOptions>& image_binding() {
  static const auto b =
      ParamBinding<ImageOptions>()
          .field(&ImageOptions::val_fraction, "val_fraction",
                 "images: fraction of each class held out of the training pool for validation", 0.0, 0.9)
          .field(&ImageOptions::normalize, "normalize",
                 "images: standardise with the training pool's per-channel mean and std");
  return b;
}

const ParamBinding<Augment>& augment_binding() {
  static const auto b =
      ParamBinding<Augment>()
          .field(&Augment::crop_padding, "crop_padding", "images: random crop after zero-padding (pixels)", 0.0)
          .field(&Augment::horizontal_flip, "horizontal_flip", "images: random horizontal flip")
          .field(&Augment::affine_degrees, "affine_degrees", "images: random rotation range (degrees)", 0.0, 180.0)
          .field(&Augment::affine_translate, "affine_translate", "images: random shift (fraction of size)", 0.0, 0.5)
          .field(&Augment::affine_scale, "affine_scale", "images: random scale range (1 ± s)", 0.0, 0.9);
  return b;
}
}  // namespace

Schema image_options_schema() {
  return concat_schemas({image_binding().schema(), augment_binding().schema("augment.")});
}
ImageOptions image_options(const Params& options) { return image_binding().from(options); }
Augment augment_options(const Params& options) { return augment_binding().from(options, "augment."); }

void check_image_data(const ImageData& d, const std::string& name) {
  RC_CHECK(d.train.size() > 0, "dataset {}: no training images", name);
  RC_CHECK(d.test.size() > 0, "dataset {}: no test images; a test accuracy over no images would be meaningless", name);
  RC_CHECK(distinct_labels(d.train.labels, {}) >= 2,
           "dataset {}: every training image has the same class; classification needs at least 2 classes", name);
  RC_CHECK(d.test.channels == d.train.channels && d.test.height == d.train.height && d.test.width == d.train.width,
           "dataset {}: test images are {}x{}x{} but training images {}x{}x{}", name, d.test.channels, d.test.height,
           d.test.width, d.train.channels, d.train.height, d.train.width);
}

SubsetIndices run_subset(const ImageData& d, const Params& options, double train_size, uint64_t seed,
                         const std::string& dataset, const std::string& run) {
  return run_class_subset(d.train.labels, d.train.num_classes(), image_options(options).val_fraction, train_size, seed,
                          dataset, run, "images");
}

TrainTest split_off_test(const ImageDataset& all, double test_fraction) {
  SubsetSpec spec;  // seed 0: the same test set for every run
  spec.fraction = 1.0;
  spec.val_fraction = test_fraction;
  const SubsetIndices parts = stratified_subset(all.labels, all.num_classes(), spec);
  auto take = [&](const std::vector<int64_t>& idx) {
    ImageDataset s;
    s.channels = all.channels;
    s.height = all.height;
    s.width = all.width;
    s.class_names = all.class_names;
    for (int64_t i : idx) {
      s.pixels.insert(s.pixels.end(), all.image(i), all.image(i) + all.image_bytes());
      s.labels.push_back(all.labels[i]);
    }
    return s;
  };
  return {take(parts.train), take(parts.val)};
}

}  // namespace rc::data
