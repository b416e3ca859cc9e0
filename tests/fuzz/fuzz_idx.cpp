// IDX files (plain or gzip) through read_idx and the image/label pair loader, then the normalisation statistics
// training computes (where a wrapped-around element count once read a null pointer). Input: images file, then
// optionally "\n--labels--\n" and a labels file.
#include "datasets/image/idx.hpp"
#include "datasets/image/image_dataset.hpp"
#include "datasets/image/transforms.hpp"
#include "framework/core/error.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = rc::fuzz::split_input(data, size, "\n--labels--\n");
  const auto images = rc::fuzz::write_file(rc::fuzz::scratch() / "images-idx", parts[0]);
  try {
    rc::data::IdxArray a = rc::data::read_idx(images);
    size_t n = 1;
    for (int64_t s : a.shape) n *= static_cast<size_t>(s);
    if (n != a.data.size()) __builtin_trap();  // the shape must describe exactly the data read
  } catch (const rc::Error&) {
  }
  if (parts.size() < 2) return 0;
  const auto labels = rc::fuzz::write_file(rc::fuzz::scratch() / "labels-idx", parts[1]);
  try {
    rc::data::ImageDataset d = rc::data::load_idx_pair(images, labels, {"a", "b", "c"});
    (void)rc::data::compute_normalize(d);
  } catch (const rc::Error&) {
  }
  return 0;
}
