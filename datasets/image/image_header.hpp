#pragma once
// The size an image file declares in its header (PNG IHDR, BMP info header, JPEG start-of-frame), read before
// anything is decoded, so that a 60000 × 60000 claim in a few hundred bytes is a clear error instead of an
// allocation that fails or an OpenCV assertion.
#include <cstdint>
#include <string>
#include <string_view>

namespace rc::data {

struct ImageHeader {
  std::string format;  // "png", "bmp", "jpeg"
  int64_t width = 0, height = 0;
};

// The largest image the loaders decode: 2^26 pixels (e.g. 8192 × 8192) and 32768 pixels a side.
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
constexpr int64_t kMaxImageSide = 32768;

// Parses the header of `bytes` (the whole file). Throws rc::Error naming `path` when the content is not a PNG,
// BMP or JPEG file, the header is truncated or malformed, or the declared size is zero or over the limits above.
ImageHeader read_image_header(std::string_view bytes, const std::string& path);

}  // namespace rc::data
