#pragma once
// An image classification set read as sequences (the sequential-MNIST family of benchmarks):
//   rows      H steps of W·C values (row t is step t)
//   patches   (H/p)·(W/p) steps of p·p·C values, patches in raster order, pixels in raster order inside a patch
//   pixels    H·W steps of C values, raster order
//   permuted  pixels in one fixed permutation drawn from permutation_seed (the same for every run and for the
//             training and test sets), which removes locality: neighbouring steps are no longer neighbouring pixels
// Within a step, channels vary slowest. Values are pixel/255, standardised with the training pool's mean and std
// when `normalize` is set (one mean and std over all pixels and channels).
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/image/image_dataset.hpp"
#include "datasets/sequence/sequence_data.hpp"

namespace rc::data {

struct ImageSequenceOptions {
  std::string order = "rows";  // rows | patches | pixels | permuted
  int64_t patch = 4;           // patches: side of a square patch; must divide the image's height and width
  int64_t permutation_seed = 0;
  bool normalize = true;
};

// The binding of the options above (order, patch, permutation_seed, normalize) to config keys.
Schema image_sequence_schema();
ImageSequenceOptions image_sequence_options(const Params& options);

// (steps, features) of an image of c × h × w read in `o`'s order; errors name the option that does not fit.
std::pair<int64_t, int64_t> image_sequence_shape(int64_t c, int64_t h, int64_t w, const ImageSequenceOptions& o);

// For each slot j of a (steps × features) sequence, the byte offset of its pixel in the c × h × w image.
std::vector<int64_t> image_sequence_gather(int64_t c, int64_t h, int64_t w, const ImageSequenceOptions& o);

// The images as sequences; `name` prefixes descriptions and errors.
SequenceData images_as_sequences(TrainTest images, const ImageSequenceOptions& o, const std::string& name);

}  // namespace rc::data
