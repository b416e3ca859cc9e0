#pragma once
// In-memory image classification data: uint8 pixels (N, C, H, W), one integer label per image.
// Kept as bytes (Fashion-MNIST's 70 000 images are 55 MB); batches convert to float when they are made.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rc::data {

struct ImageDataset {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // size() * channels * height * width
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
};

// An images IDX file (N, H, W) and a labels IDX file (N); the counts must agree and every label must be
// below class_names.size(). Errors name the file.
ImageDataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels,
                           std::vector<std::string> class_names);

struct TrainTest {
  ImageDataset train, test;
};

// A dataset in MNIST's layout: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte (each plain or .gz), found through locate_dataset(name, root, ..., default_dir). Test
// images of another size than the training images are an error naming both files.
TrainTest load_idx_train_test(const std::string& name, const std::string& root, std::vector<std::string> class_names,
                              const std::optional<std::filesystem::path>& default_dir = std::nullopt);

// Fashion-MNIST (train-images-idx3-ubyte[.gz] etc.), found through locate_dataset("fashion-mnist", root)
// with /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist) as the default.
TrainTest load_fashion_mnist(const std::string& root = "");
std::vector<std::string> fashion_mnist_classes();

}  // namespace rc::data
