#pragma once
// An image dataset as runs see it, and the options every image dataset shares: the validation hold-out, the
// normalisation and the augmentation (`dataset: {val_fraction, normalize, augment: {...}}`), each declared once
// and bound to its struct (framework/core/param_binding.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/image/image_dataset.hpp"
#include "datasets/image/subset.hpp"
#include "datasets/image/transforms.hpp"
#include "framework/core/params.hpp"

namespace rc::data {

// Training pool, test set, and the training pool's per-channel normalisation (identity when not asked for).
struct ImageData {
  ImageDataset train, test;
  Normalize normalize;
};

struct ImageOptions {
  double val_fraction = 0.1;  // of each class held out of the training pool for validation
  bool normalize = true;      // standardise with the training pool's per-channel mean and std
};

// val_fraction, normalize, augment.* (what every image dataset accepts besides its own options).
Schema image_options_schema();
ImageOptions image_options(const Params& options);
Augment augment_options(const Params& options);

// Errors that would make a number meaningless (no training or test images, one class, test images of another
// size), naming the dataset.
void check_image_data(const ImageData& d, const std::string& name);

// One run's items: a class-stratified, seeded subset of the training pool, `train_size` a fraction (<= 1) or a
// count (> 1, split evenly over the classes), after holding out val_fraction of each class for validation
// (nested across sizes for one seed). A subset with fewer than 2 classes is an error naming the run.
SubsetIndices run_subset(const ImageData& d, const Params& options, double train_size, uint64_t seed,
                         const std::string& dataset, const std::string& run);

// A fixed (seed 0) class-stratified split of one set into training pool and test set (`test_fraction` of each
// class), for datasets that ship no test set.
TrainTest split_off_test(const ImageDataset& all, double test_fraction);

}  // namespace rc::data
