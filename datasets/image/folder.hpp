#pragma once
// Image-folder datasets: root/<class>/*.png|jpg|jpeg|bmp, one sub-folder per class (classes sorted by name),
// decoded with OpenCV and resized to height × width. By default the size and the channels follow the images:
// height/width 0 and grayscale "auto" take the first image's (first class folder, first file, by name), and every
// image must then have the same, so 28×28 grey images stay 28×28 and grey instead of being resized and
// colour-converted to a fixed default.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/image/image_dataset.hpp"

namespace rc::data {

struct FolderOptions {
  int64_t height = 0, width = 0;   // 0: the first image's (auto)
  std::string grayscale = "auto";  // "true" (one channel), "false" (3 channels, RGB order) or "auto": the first
                                   // image's (grey when it decodes to one channel, or grey and alpha)
};

// The options with every automatic value replaced by the first image's. Errors name the folder or file.
FolderOptions resolve_folder_options(const std::string& root, const FolderOptions& options);

// Decodes one image file with OpenCV as the folder loader does (grayscale when channels = 1, else RGB order),
// resizes it to height × width (INTER_AREA) and appends its bytes in CHW order to `chw`. Returns false when the
// file cannot be decoded.
bool decode_image(const std::string& path, int64_t channels, int64_t height, int64_t width, std::vector<uint8_t>& chw);

// Errors name the file or folder: root missing, no class folders, an empty class folder, an unreadable image, and
// with automatic options an image whose size (or grey/colour) differs from the first image's.
ImageDataset load_image_folder(const std::string& root, const FolderOptions& options = {});

}  // namespace rc::data
