#include "datasets/image/transforms.hpp"

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "framework/core/error.hpp"
#include "framework/core/parallel.hpp"
#include "framework/core/random.hpp"

namespace rc::data {

namespace {
// Augments one HWC image in place.
void augment_image(cv::Mat& img, const Augment& a, std::mt19937_64& gen) {
  const int h = img.rows, w = img.cols;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  if (a.affine_degrees > 0 || a.affine_translate > 0 || a.affine_scale > 0) {
    double angle = a.affine_degrees * u(gen);
    double scale = 1.0 + a.affine_scale * u(gen);
    cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(w / 2.0f - 0.5f, h / 2.0f - 0.5f), angle, scale);
    m.at<double>(0, 2) += a.affine_translate * w * u(gen);
    m.at<double>(1, 2) += a.affine_translate * h * u(gen);
    cv::Mat out;
    cv::warpAffine(img, out, m, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    img = out;
  }
  if (a.crop_padding > 0) {
    const int p = static_cast<int>(a.crop_padding);
    cv::Mat padded;
    cv::copyMakeBorder(img, padded, p, p, p, p, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    std::uniform_int_distribution<int> off(0, 2 * p);
    int dy = off(gen), dx = off(gen);
    img = padded(cv::Rect(dx, dy, w, h)).clone();
  }
  if (a.horizontal_flip && std::bernoulli_distribution(0.5)(gen)) cv::flip(img, img, 1);
}

float channel_value(const std::vector<float>& v, int64_t c, const char* what) {
  RC_CHECK(!v.empty(), "normalize: {} is empty", what);
  return v.size() == 1 ? v[0] : v.at(static_cast<size_t>(c));
}
}  // namespace

Tensor make_batch(const ImageDataset& d, const std::vector<int64_t>& indices, const Augment& aug,
                  const Normalize& norm, bool augment, uint64_t epoch_seed, std::vector<int64_t>* labels_out,
                  bool parallel) {
  const int64_t b = static_cast<int64_t>(indices.size()), c = d.channels, h = d.height, w = d.width;
  RC_CHECK(norm.mean.size() == 1 || static_cast<int64_t>(norm.mean.size()) == c,
           "normalize: {} mean values for {} channels", norm.mean.size(), c);
  RC_CHECK(norm.stddev.size() == 1 || static_cast<int64_t>(norm.stddev.size()) == c,
           "normalize: {} stddev values for {} channels", norm.stddev.size(), c);
  for (int64_t i : indices) RC_CHECK(i >= 0 && i < d.size(), "make_batch: index {} outside [0, {})", i, d.size());
  Tensor out = Tensor::empty({b, c, h, w});
  const bool do_aug = augment && aug.any();
  auto body = [&](int64_t lo, int64_t hi) {
    std::vector<uint8_t> hwc(static_cast<size_t>(h * w * c));
    for (int64_t k = lo; k < hi; ++k) {
      const uint8_t* src = d.image(indices[k]);
      float* dst = out.data() + k * c * h * w;
      const uint8_t* chw = src;
      std::vector<uint8_t> aug_chw;
      if (do_aug) {
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t p = 0; p < h * w; ++p) hwc[p * c + ch] = src[ch * h * w + p];
        cv::Mat img(static_cast<int>(h), static_cast<int>(w), CV_8UC(static_cast<int>(c)), hwc.data());
        std::mt19937_64 gen(mix_seed(epoch_seed, static_cast<uint64_t>(indices[k])));
        augment_image(img, aug, gen);
        aug_chw.resize(hwc.size());
        for (int64_t y = 0; y < h; ++y) {
          const uint8_t* row = img.ptr<uint8_t>(static_cast<int>(y));
          for (int64_t x = 0; x < w; ++x)
            for (int64_t ch = 0; ch < c; ++ch) aug_chw[ch * h * w + y * w + x] = row[x * c + ch];
        }
        chw = aug_chw.data();
      }
      for (int64_t ch = 0; ch < c; ++ch) {
        const float mean = channel_value(norm.mean, ch, "mean");
        const float inv = 1.0f / channel_value(norm.stddev, ch, "stddev");
        for (int64_t p = 0; p < h * w; ++p) dst[ch * h * w + p] = (chw[ch * h * w + p] / 255.0f - mean) * inv;
      }
    }
  };
  if (parallel) parallel_for(b, 16, body);
  else body(0, b);
  if (labels_out) {
    labels_out->clear();
    for (int64_t i : indices) labels_out->push_back(d.labels[i]);
  }
  return out;
}

Normalize compute_normalize(const ImageDataset& d, const std::vector<int64_t>& indices) {
  const int64_t hw = d.height * d.width;
  Normalize n;
  n.mean.assign(d.channels, 0.0f);
  n.stddev.assign(d.channels, 1.0f);
  const int64_t count = indices.empty() ? d.size() : static_cast<int64_t>(indices.size());
  RC_CHECK(count > 0, "compute_normalize: no images");
  for (int64_t ch = 0; ch < d.channels; ++ch) {
    double s = 0, s2 = 0;
    for (int64_t k = 0; k < count; ++k) {
      const uint8_t* p = d.image(indices.empty() ? k : indices[k]) + ch * hw;
      for (int64_t i = 0; i < hw; ++i) {
        double v = p[i] / 255.0;
        s += v;
        s2 += v * v;
      }
    }
    double m = s / (count * hw);
    n.mean[ch] = static_cast<float>(m);
    n.stddev[ch] = static_cast<float>(std::sqrt(std::max(1e-12, s2 / (count * hw) - m * m)));
  }
  return n;
}

}  // namespace rc::data
