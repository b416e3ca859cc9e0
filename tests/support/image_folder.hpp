#pragma once
// Test support: a small image-folder dataset on disk (root/<class>/<i>.png, the layout load_image_folder reads),
// with the pixels of each image given by the test, so every test keeps its own pattern.
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace rc::test {

// Writes `per_class` images for each of `classes` classes, named root/<c>/<i>.png; make(c, i) returns the image.
template <typename Make>
void write_image_folder(const std::filesystem::path& root, int classes, int per_class, Make&& make) {
  for (int c = 0; c < classes; ++c) {
    std::filesystem::create_directories(root / std::to_string(c));
    for (int i = 0; i < per_class; ++i) {
      const cv::Mat m = make(c, i);
      REQUIRE(cv::imwrite((root / std::to_string(c) / (std::to_string(i) + ".png")).string(), m));
    }
  }
}

}  // namespace rc::test
