#pragma once
// Image-folder datasets: root/<class>/*.png|jpg|jpeg|bmp, one sub-folder per class (classes sorted by name),
// decoded with OpenCV and resized to height × width.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/image/image_dataset.hpp"

namespace rc::data {

struct FolderOptions {
  int64_t height = 32, width = 32;
  bool grayscale = false;  // else 3 channels, RGB order
};

// Decodes one image file with OpenCV as the folder loader does (grayscale when channels = 1, else RGB order),
// resizes it to height × width (INTER_AREA) and appends its bytes in CHW order to `chw`. Returns false when the
// file cannot be decoded.
bool decode_image(const std::string& path, int64_t channels, int64_t height, int64_t width, std::vector<uint8_t>& chw);

// Errors name the file or folder: root missing, no class folders, an empty class folder, an unreadable image.
ImageDataset load_image_folder(const std::string& root, const FolderOptions& options = {});

}  // namespace rc::data
