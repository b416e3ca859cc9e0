#include "datasets/image/folder.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "datasets/image/image_header.hpp"
#include "framework/core/error.hpp"
#include "framework/io/file_util.hpp"

namespace rc::data {

namespace fs = std::filesystem;

namespace {
bool is_image(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp";
}
}  // namespace

bool decode_image(const std::string& path, int64_t channels, int64_t height, int64_t width, std::vector<uint8_t>& chw) {
  RC_CHECK(channels == 1 || channels == 3, "decode_image: {} channels (expected 1 or 3)", channels);
  RC_CHECK(height >= 1 && width >= 1 && height <= kMaxImageSide && width <= kMaxImageSide,
           "decode_image: target size {}x{} (expected 1 to {} a side)", height, width, kMaxImageSide);
  const std::string bytes = io::read_file_bytes(path, "decode_image");
  (void)read_image_header(bytes, path);  // the declared size is checked before anything is decoded
  cv::Mat img;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    img = cv::imdecode(raw, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    fail("{}: OpenCV cannot decode it: {}", path, e.what());
  }
  if (img.empty()) return false;
  RC_CHECK(img.channels() == channels && img.depth() == CV_8U, "{}: decoded to {} channels of depth {}, expected {}",
           path, img.channels(), img.depth(), channels);
  if (img.rows != height || img.cols != width)
    cv::resize(img, img, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0, cv::INTER_AREA);
  if (channels == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  // HWC bytes -> CHW
  const int64_t hw = height * width;
  const size_t base = chw.size();
  chw.resize(base + channels * hw);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = img.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < width; ++x)
      for (int64_t ch = 0; ch < channels; ++ch) chw[base + ch * hw + y * width + x] = row[x * channels + ch];
  }
  return true;
}

namespace {
std::vector<fs::path> class_folders(const std::string& root) {
  std::error_code ec;
  RC_CHECK(fs::is_directory(root, ec), "image folder {}: no such directory", root);
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) classes.push_back(e.path());
  std::sort(classes.begin(), classes.end());
  RC_CHECK(!classes.empty(), "image folder {}: no class sub-folders (expected root/<class>/*.png)", root);
  return classes;
}

std::vector<fs::path> image_files(const std::string& root, const fs::path& class_dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(class_dir))
    if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  RC_CHECK(!files.empty(), "image folder {}: class folder {} holds no .png/.jpg/.jpeg/.bmp image", root,
           class_dir.string());
  return files;
}

// What an image file holds before any conversion: its size and whether it is grey (one channel, or grey and alpha).
struct ImageKind {
  int64_t height = 0, width = 0;
  bool grey = false;
};
ImageKind image_kind(const std::string& root, const fs::path& file) {
  const std::string bytes = io::read_file_bytes(file.string(), "image folder");
  cv::Mat img;
  try {
    const ImageHeader h = read_image_header(bytes, file.string());
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    img = cv::imdecode(raw, cv::IMREAD_UNCHANGED);
    RC_CHECK(!img.empty(), "image folder {}: cannot decode image {} (corrupt or truncated image data)", root,
             file.string());
    return {h.height, h.width, img.channels() <= 2};
  } catch (const cv::Exception& e) {
    fail("image folder {}: {}: OpenCV cannot decode it: {}", root, file.string(), e.what());
  } catch (const Error& e) {
    fail("image folder {}: {}", root, e.what());
  }
}

bool auto_size(const FolderOptions& o) { return o.height == 0 || o.width == 0; }
}  // namespace

FolderOptions resolve_folder_options(const std::string& root, const FolderOptions& o) {
  RC_CHECK(o.height >= 0 && o.width >= 0 && o.height <= kMaxImageSide && o.width <= kMaxImageSide,
           "image folder {}: size {}x{} must be 1 to {} a side (or 0: the first image's)", root, o.height, o.width,
           kMaxImageSide);
  RC_CHECK(o.grayscale == "auto" || o.grayscale == "true" || o.grayscale == "false",
           "image folder {}: grayscale '{}' (expected auto, true or false)", root, o.grayscale);
  if (!auto_size(o) && o.grayscale != "auto") return o;
  const auto classes = class_folders(root);
  const fs::path first = image_files(root, classes.front()).front();
  const ImageKind k = image_kind(root, first);
  FolderOptions r = o;
  if (r.height == 0) r.height = k.height;
  if (r.width == 0) r.width = k.width;
  if (r.grayscale == "auto") r.grayscale = k.grey ? "true" : "false";
  return r;
}

ImageDataset load_image_folder(const std::string& root, const FolderOptions& given) {
  const FolderOptions o = resolve_folder_options(root, given);
  const auto classes = class_folders(root);
  ImageDataset d;
  d.channels = o.grayscale == "true" ? 1 : 3;
  d.height = o.height;
  d.width = o.width;
  std::optional<std::pair<fs::path, ImageKind>> first;  // what every image must match with automatic options
  for (size_t c = 0; c < classes.size(); ++c) {
    d.class_names.push_back(classes[c].filename().string());
    for (const auto& f : image_files(root, classes[c])) {
      if (auto_size(given) || given.grayscale == "auto") {
        const ImageKind k = image_kind(root, f);
        if (!first) first.emplace(f, k);
        const ImageKind& a = first->second;
        RC_CHECK(!auto_size(given) || (k.height == a.height && k.width == a.width),
                 "image folder {}: {} is {}x{} but {} is {}x{}; with dataset.height and dataset.width unset the images "
                 "must all have the first image's size: set both to resize them to one size", root, f.string(),
                 k.height, k.width, first->first.string(), a.height, a.width);
        RC_CHECK(given.grayscale != "auto" || k.grey == a.grey,
                 "image folder {}: {} is {} but {} is {}; with dataset.grayscale auto the images must all be grey or "
                 "all colour: set grayscale: true or false to convert them", root, f.string(),
                 k.grey ? "grey" : "colour", first->first.string(), a.grey ? "grey" : "colour");
      }
      bool decoded = false;
      try {
        decoded = decode_image(f.string(), d.channels, o.height, o.width, d.pixels);
      } catch (const Error& e) {
        fail("image folder {}: {}", root, e.what());
      }
      RC_CHECK(decoded, "image folder {}: cannot decode image {} (corrupt or truncated image data)", root, f.string());
      d.labels.push_back(static_cast<int32_t>(c));
    }
  }
  return d;
}

}  // namespace rc::data
