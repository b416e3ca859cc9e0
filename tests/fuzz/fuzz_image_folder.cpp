// Image folders: the fuzzer's bytes as one image of a two-class folder (the other class holds a valid 4 × 4 PNG)
// through load_image_folder, as grey 8 × 8 and as colour 5 × 3 (header check, OpenCV decode, resize, CHW).
#include <opencv2/imgcodecs.hpp>

#include "datasets/image/folder.hpp"
#include "datasets/image/image_header.hpp"
#include "framework/core/error.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path root = [] {
    const auto r = rc::fuzz::scratch() / "folder";
    std::vector<uint8_t> png;
    cv::imencode(".png", cv::Mat(4, 4, CV_8UC1, cv::Scalar(7)), png);
    rc::fuzz::write_file(r / "a" / "0.png", std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    return r;
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  rc::fuzz::write_file(root / "b" / "0.png", bytes);
  try {
    (void)rc::data::read_image_header(bytes, "input");
  } catch (const rc::Error&) {
  }
  for (const auto& [h, w, grey] : {std::tuple{8, 8, true}, std::tuple{5, 3, false}}) {
    try {
      rc::data::ImageDataset d = rc::data::load_image_folder(root.string(), {h, w, grey ? "true" : "false"});
      if (static_cast<int64_t>(d.pixels.size()) != d.size() * d.image_bytes()) __builtin_trap();
    } catch (const rc::Error&) {
    }
  }
  return 0;
}
