#include "datasets/image/image_dataset.hpp"

#include <fmt/ranges.h>

#include "datasets/image/idx.hpp"
#include "datasets/locate.hpp"
#include "framework/core/error.hpp"

namespace rc::data {

ImageDataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels,
                           std::vector<std::string> class_names) {
  IdxArray im = read_idx(images);
  IdxArray lb = read_idx(labels);
  RC_CHECK(im.shape.size() == 3, "{}: expected an image array (N, H, W), got {} dimensions", images.string(),
           im.shape.size());
  RC_CHECK(lb.shape.size() == 1, "{}: expected a label array (N), got {} dimensions", labels.string(),
           lb.shape.size());
  RC_CHECK(im.shape[0] == lb.shape[0], "{} holds {} images but {} holds {} labels", images.string(), im.shape[0],
           labels.string(), lb.shape[0]);
  RC_CHECK(im.shape[0] > 0, "{}: holds no images (shape ({}))", images.string(), fmt::join(im.shape, ", "));
  RC_CHECK(im.shape[1] > 0 && im.shape[2] > 0, "{}: images of {}x{} pixels (expected at least 1x1)", images.string(),
           im.shape[1], im.shape[2]);
  ImageDataset d;
  d.channels = 1;
  d.height = im.shape[1];
  d.width = im.shape[2];
  d.pixels = std::move(im.data);
  d.labels.reserve(lb.data.size());
  for (size_t i = 0; i < lb.data.size(); ++i) {
    RC_CHECK(lb.data[i] < class_names.size(), "{}: label {} of item {} is out of range for {} classes",
             labels.string(), int(lb.data[i]), i, class_names.size());
    d.labels.push_back(lb.data[i]);
  }
  d.class_names = std::move(class_names);
  return d;
}

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

TrainTest load_idx_train_test(const std::string& name, const std::string& root, std::vector<std::string> class_names,
                              const std::optional<std::filesystem::path>& default_dir) {
  const std::vector<std::string> files{"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  auto dir = locate_dataset(name, root, files, default_dir);
  TrainTest t;
  t.train = load_idx_pair(find_maybe_gz(dir, files[0]), find_maybe_gz(dir, files[1]), class_names);
  t.test = load_idx_pair(find_maybe_gz(dir, files[2]), find_maybe_gz(dir, files[3]), std::move(class_names));
  // a model is built for the training images' size; test images of another size would be scored wrongly
  RC_CHECK(t.test.height == t.train.height && t.test.width == t.train.width,
           "{}: test images are {}x{} but the training images ({}) are {}x{}; both sets must have one size",
           find_maybe_gz(dir, files[2]).string(), t.test.height, t.test.width, find_maybe_gz(dir, files[0]).string(),
           t.train.height, t.train.width);
  return t;
}

TrainTest load_fashion_mnist(const std::string& root) {
  return load_idx_train_test("fashion-mnist", root, fashion_mnist_classes(),
                             std::filesystem::path("/usr/share/datasets/fashion-mnist"));
}

}  // namespace rc::data
