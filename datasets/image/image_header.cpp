#include "datasets/image/image_header.hpp"

#include "framework/core/error.hpp"

namespace rc::data {

namespace {
uint32_t be16(std::string_view b, size_t at) {
  return (uint32_t(uint8_t(b[at])) << 8) | uint32_t(uint8_t(b[at + 1]));
}
uint32_t be32(std::string_view b, size_t at) { return (be16(b, at) << 16) | be16(b, at + 2); }
uint32_t le16(std::string_view b, size_t at) {
  return uint32_t(uint8_t(b[at])) | (uint32_t(uint8_t(b[at + 1])) << 8);
}
uint32_t le32(std::string_view b, size_t at) { return le16(b, at) | (le16(b, at + 2) << 16); }

ImageHeader png(std::string_view b, const std::string& path) {
  // signature (8), then the IHDR chunk: length (4), "IHDR", width (4), height (4), ... (big-endian)
  RC_CHECK(b.size() >= 24 && b.substr(12, 4) == "IHDR", "{}: PNG file without an IHDR header ({} bytes)", path,
           b.size());
  return {"png", be32(b, 16), be32(b, 20)};
}

ImageHeader bmp(std::string_view b, const std::string& path) {
  // file header (14), then the info header: its size (4); a 12-byte core header has 16-bit width and height,
  // larger ones 32-bit signed (a negative height means rows stored top-down)
  RC_CHECK(b.size() >= 26, "{}: BMP file of {} bytes is too short for its header", path, b.size());
  const uint32_t info = le32(b, 14);
  if (info == 12) return {"bmp", le16(b, 18), le16(b, 20)};
  RC_CHECK(info >= 40 && b.size() >= 26, "{}: BMP info header of {} bytes is not supported (expected 12 or >= 40)",
           path, info);
  const int64_t w = static_cast<int32_t>(le32(b, 18)), h = static_cast<int32_t>(le32(b, 22));
  RC_CHECK(w > 0 && h != 0 && h != INT32_MIN, "{}: BMP header declares {}x{} pixels", path, w, h);
  return {"bmp", w, h < 0 ? -h : h};
}

ImageHeader jpeg(std::string_view b, const std::string& path) {
  // segments after SOI (FF D8): FF <marker> [<length, 2 bytes, big-endian, including itself> <payload>]; the
  // first start-of-frame (C0-CF except C4 DHT, C8 JPG, CC DAC) holds precision (1), height (2), width (2)
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (uint8_t(b[at]) != 0xFF) break;
    const uint8_t marker = uint8_t(b[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      at += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) break;  // end of image, start of scan: no frame header before it
    const size_t len = be16(b, at + 2);
    RC_CHECK(len >= 2, "{}: JPEG segment 0x{:02X} at byte {} has length {}", path, marker, at, len);
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      RC_CHECK(len >= 7 && at + 9 <= b.size(), "{}: JPEG frame header at byte {} is truncated", path, at);
      return {"jpeg", be16(b, at + 7), be16(b, at + 5)};
    }
    at += 2 + len;
  }
  fail("{}: JPEG file without a frame header (SOF) before its image data", path);
}
}  // namespace

ImageHeader read_image_header(std::string_view b, const std::string& path) {
  ImageHeader h;
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) h = png(b, path);
  else if (b.size() >= 2 && b.substr(0, 2) == "BM") h = bmp(b, path);
  else if (b.size() >= 3 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8 && uint8_t(b[2]) == 0xFF) h = jpeg(b, path);
  else fail("{}: not a PNG, JPEG or BMP file (by its first bytes; {} bytes)", path, b.size());
  RC_CHECK(h.width > 0 && h.height > 0, "{}: {} header declares {}x{} pixels (expected at least 1x1)", path, h.format,
           h.width, h.height);
  RC_CHECK(h.width <= kMaxImageSide && h.height <= kMaxImageSide && h.width * h.height <= kMaxImagePixels,
           "{}: {} header declares {}x{} pixels, over the limit of {} pixels ({} a side)", path, h.format, h.width,
           h.height, kMaxImagePixels, kMaxImageSide);
  return h;
}

}  // namespace rc::data
