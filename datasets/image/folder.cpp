#include "datasets/image/folder.hpp"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "framework/core/error.hpp"

namespace rc::data {

namespace fs = std::filesystem;

namespace {
bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp";
}
}  // namespace

ImageDataset load_image_folder(const std::string& root, const FolderOptions& o) {
  RC_CHECK(o.height > 0 && o.width > 0, "image folder {}: size {}x{} must be positive", root, o.height, o.width);
  std::error_code ec;
  RC_CHECK(fs::is_directory(root, ec), "image folder {}: no such directory", root);
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes.push_back(e.path());
  std::sort(classes.begin(), classes.end());
  RC_CHECK(!classes.empty(), "image folder {}: no class sub-folders (expected root/<class>/*.png)", root);

  ImageDataset d;
  d.channels = o.grayscale ? 1 : 3;
  d.height = o.height;
  d.width = o.width;
  for (size_t c = 0; c < classes.size(); ++c) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(classes[c]))
      if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    RC_CHECK(!files.empty(), "image folder {}: class folder {} holds no .png/.jpg/.jpeg/.bmp image", root,
             classes[c].string());
    d.class_names.push_back(classes[c].filename().string());
    for (const auto& f : files) {
      cv::Mat img = cv::imread(f.string(), o.grayscale ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
      RC_CHECK(!img.empty(), "image folder {}: cannot decode image {}", root, f.string());
      if (img.rows != o.height || img.cols != o.width)
        cv::resize(img, img, cv::Size(static_cast<int>(o.width), static_cast<int>(o.height)), 0, 0, cv::INTER_AREA);
      if (!o.grayscale) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
      // HWC bytes -> CHW
      const int64_t hw = o.height * o.width;
      size_t base = d.pixels.size();
      d.pixels.resize(base + d.channels * hw);
      for (int64_t y = 0; y < o.height; ++y) {
        const uint8_t* row = img.ptr<uint8_t>(static_cast<int>(y));
        for (int64_t x = 0; x < o.width; ++x)
          for (int64_t ch = 0; ch < d.channels; ++ch)
            d.pixels[base + ch * hw + y * o.width + x] = row[x * d.channels + ch];
      }
      d.labels.push_back(static_cast<int32_t>(c));
    }
  }
  return d;
}

}  // namespace rc::data
