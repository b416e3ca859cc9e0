#include "datasets/sequence/image_sequence.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "framework/core/error.hpp"
#include "framework/core/param_binding.hpp"
#include "framework/core/random.hpp"

namespace rc::data {

namespace {
const ParamBinding<ImageSequenceOptions>& binding() {
  using O = ImageSequenceOptions;
  static const auto b =
      ParamBinding<O>()
          .field(&O::order, "order", "image sequences: rows | patches | pixels | permuted (pixels in a fixed "
                                     "seeded order)", {}, {}, {"rows", "patches", "pixels", "permuted"})
          .field(&O::patch, "patch", "image sequences: side of a square patch for order: patches", 1.0, 4096.0)
          .when("order", {"patches"})
          .field(&O::permutation_seed, "permutation_seed", "image sequences: seed of order: permuted's permutation",
                 0.0)
          .when("order", {"permuted"})
          .field(&O::normalize, "normalize", "image sequences: standardise with the training pool's mean and std");
  return b;
}
}  // namespace

Schema image_sequence_schema() { return binding().schema(); }
ImageSequenceOptions image_sequence_options(const Params& options) { return binding().from(options); }

std::pair<int64_t, int64_t> image_sequence_shape(int64_t c, int64_t h, int64_t w, const ImageSequenceOptions& o) {
  if (o.order == "rows") return {h, w * c};
  if (o.order == "patches") {
    RC_CHECK(o.patch >= 1 && h % o.patch == 0 && w % o.patch == 0,
             "dataset.patch: {} does not divide the {}x{} images into whole patches (order: patches); choose a "
             "divisor of both, e.g. {}", o.patch, h, w, std::gcd(h, w));
    return {(h / o.patch) * (w / o.patch), o.patch * o.patch * c};
  }
  RC_CHECK(o.order == "pixels" || o.order == "permuted",
           "dataset.order: '{}' is not one of rows, patches, pixels, permuted", o.order);
  return {h * w, c};
}

std::vector<int64_t> image_sequence_gather(int64_t c, int64_t h, int64_t w, const ImageSequenceOptions& o) {
  const auto [steps, features] = image_sequence_shape(c, h, w, o);
  std::vector<int64_t> src(static_cast<size_t>(steps * features));
  auto at = [&](int64_t ch, int64_t y, int64_t x) { return (ch * h + y) * w + x; };
  if (o.order == "rows") {
    for (int64_t t = 0; t < h; ++t)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t x = 0; x < w; ++x) src[t * features + ch * w + x] = at(ch, t, x);
  } else if (o.order == "patches") {
    const int64_t p = o.patch, gw = w / p;
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t dy = 0; dy < p; ++dy)
          for (int64_t dx = 0; dx < p; ++dx)
            src[t * features + (ch * p + dy) * p + dx] = at(ch, (t / gw) * p + dy, (t % gw) * p + dx);
  } else {
    std::vector<int64_t> pixel(static_cast<size_t>(h * w));
    std::iota(pixel.begin(), pixel.end(), 0);
    if (o.order == "permuted") {
      std::mt19937_64 gen(mix_seed(static_cast<uint64_t>(o.permutation_seed), 0x5e9u));
      std::shuffle(pixel.begin(), pixel.end(), gen);
    }
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t ch = 0; ch < c; ++ch) src[t * features + ch] = ch * h * w + pixel[t];
  }
  return src;
}

namespace {
// mean and std of all training pixels (as values in [0, 1])
std::pair<float, float> pixel_moments(const ImageDataset& d) {
  double s = 0, s2 = 0;
  for (uint8_t p : d.pixels) {
    const double v = p / 255.0;
    s += v;
    s2 += v * v;
  }
  const double n = std::max<double>(1, double(d.pixels.size())), mean = s / n;
  const double sd = std::sqrt(std::max(0.0, s2 / n - mean * mean));
  return {float(mean), float(sd > 1e-6 ? sd : 1.0)};
}

SequenceSet as_set(std::shared_ptr<const ImageDataset> images, std::shared_ptr<const std::vector<int64_t>> src,
                   int64_t steps, int64_t features, float mean, float sd, const std::string& what) {
  SequenceSet s;
  s.length = steps;
  s.features = features;
  s.labels = images->labels;
  s.class_names = images->class_names;
  s.description = what;
  const float scale = 1.0f / (255.0f * sd), shift = -mean / sd;
  s.fill = [images, src, scale, shift](int64_t i, float* out) {
    const uint8_t* px = images->image(i);
    for (size_t j = 0; j < src->size(); ++j) out[j] = float(px[(*src)[j]]) * scale + shift;
  };
  return s;
}
}  // namespace

SequenceData images_as_sequences(TrainTest images, const ImageSequenceOptions& o, const std::string& name) {
  const ImageDataset& tr = images.train;
  RC_CHECK(images.test.channels == tr.channels && images.test.height == tr.height && images.test.width == tr.width,
           "dataset {}: test images are {}x{}x{} but training images {}x{}x{}", name, images.test.channels,
           images.test.height, images.test.width, tr.channels, tr.height, tr.width);
  const auto [steps, features] = image_sequence_shape(tr.channels, tr.height, tr.width, o);
  auto src = std::make_shared<const std::vector<int64_t>>(image_sequence_gather(tr.channels, tr.height, tr.width, o));
  const auto [mean, sd] = o.normalize ? pixel_moments(tr) : std::pair<float, float>{0.0f, 1.0f};
  const std::string what = fmt::format("{} as {} ({} steps × {} values)", name,
                                       o.order == "patches" ? fmt::format("{}x{} patches", o.patch, o.patch) : o.order,
                                       steps, features);
  auto train = std::make_shared<const ImageDataset>(std::move(images.train));
  auto test = std::make_shared<const ImageDataset>(std::move(images.test));
  return {as_set(train, src, steps, features, mean, sd, what), as_set(test, src, steps, features, mean, sd, what)};
}

}  // namespace rc::data
