#pragma once
// Image-folder datasets: root/<class>/*.png|jpg|jpeg|bmp, one sub-folder per class (classes sorted by name),
// decoded with OpenCV and resized to height × width.
#include <string>

#include "datasets/image/image_dataset.hpp"

namespace rc::data {

struct FolderOptions {
  int64_t height = 32, width = 32;
  bool grayscale = false;  // else 3 channels, RGB order
};

// Errors name the file or folder: root missing, no class folders, an empty class folder, an unreadable image.
ImageDataset load_image_folder(const std::string& root, const FolderOptions& options = {});

}  // namespace rc::data
