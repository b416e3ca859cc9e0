#include "framework/core/tensor.hpp"

#include <fmt/format.h>
#include <malloc.h>

#include <map>
#include <mutex>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace rc {

std::string shape_str(const Shape& s) {
  return fmt::format("({})", fmt::join(s, ", "));
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

namespace {
// Training allocates and frees the same large activation and gradient sizes every step, so storage must be
// reused without page-faulting it in again (which costs ~1 ms per MB here, more with several threads).
// aligned_alloc defeats glibc's reuse (the aligned block it frees is too small for the next aligned request
// of the same size, so the heap keeps growing into fresh pages), hence malloc with 64 bytes of slack aligned by
// hand; and freed blocks up to 32 MB stay in the heap instead of going back to the OS.
void keep_freed_memory() {
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)once;
}

// Blocks above glibc's largest mmap threshold (32 MB: batch-500 activations of the CNN, long-sequence attention)
// are unmapped when freed and page-faulted in again at the next allocation of the same size, every step. This
// cache keeps freed blocks of that size, by exact byte count, up to kBigCacheBytes in all, for reuse.
constexpr size_t kBigBlock = size_t{32} << 20, kBigCacheBytes = size_t{1} << 30;
class BigBlockCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end()) return nullptr;
    void* raw = it->second;
    free_.erase(it);
    cached_ -= bytes;
    return raw;
  }
  void give(void* raw, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > kBigCacheBytes) {  // full: hand everything back to the OS, then keep this one
      for (auto& [size, block] : free_) std::free(block);
      free_.clear();
      cached_ = 0;
    }
    if (bytes > kBigCacheBytes) {
      std::free(raw);
      return;
    }
    free_.emplace(bytes, raw);
    cached_ += bytes;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};
BigBlockCache& big_blocks() {
  static BigBlockCache* cache = new BigBlockCache;  // never destroyed: tensors may outlive static destruction
  return *cache;
}

std::shared_ptr<float[]> allocate(int64_t n) {
  keep_freed_memory();
  // 64-byte aligned so that AVX-512 loads of a fresh tensor are aligned
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
  bytes = (bytes + 63) / 64 * 64;
  const size_t raw_bytes = bytes + 64;
  const bool big = raw_bytes >= kBigBlock;
  void* raw = big ? big_blocks().take(raw_bytes) : nullptr;
  if (!raw) raw = std::malloc(raw_bytes);
  if (!raw) fail("Tensor: out of memory allocating {} bytes", bytes);
  float* p = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + 64) & ~uintptr_t{63});
  if (big) return std::shared_ptr<float[]>(p, [raw, raw_bytes](float*) { big_blocks().give(raw, raw_bytes); });
  return std::shared_ptr<float[]>(p, [raw](float*) { std::free(raw); });
}

void check_shape_valid(const Shape& s) {
  for (int64_t d : s) RC_CHECK(d >= 0, "Tensor: negative dimension in shape {}", shape_str(s));
}
}  // namespace

Tensor Tensor::empty(const Shape& shape) {
  check_shape_valid(shape);
  Tensor t;
  t.storage_ = allocate(shape_numel(shape));
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  return t;
}

Tensor::Tensor(const Shape& shape) {
  *this = empty(shape);
  std::memset(storage_.get(), 0, sizeof(float) * numel());
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  std::fill_n(t.data(), t.numel(), value);
  return t;
}

Tensor Tensor::from(const Shape& shape, std::vector<float> values) {
  RC_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           "Tensor::from: shape {} needs {} values, got {}", shape_str(shape), shape_numel(shape), values.size());
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  RC_CHECK(j >= 0 && j < n, "Tensor::dim: index {} out of range for shape {}", i, shape_str(shape_));
  return shape_[j];
}

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != acc) return false;
    acc *= shape_[i];
  }
  return true;
}

int64_t Tensor::offset_of(std::initializer_list<int64_t> idx) const {
  RC_CHECK(static_cast<int>(idx.size()) == ndim(), "Tensor::at: {} indices for shape {}", idx.size(),
           shape_str(shape_));
  int64_t off = 0;
  int i = 0;
  for (int64_t v : idx) {
    RC_CHECK(v >= 0 && v < shape_[i], "Tensor::at: index {} out of range in dimension {} of shape {}", v, i,
             shape_str(shape_));
    off += v * strides_[i];
    ++i;
  }
  return off;
}

float& Tensor::at(std::initializer_list<int64_t> idx) { return data()[offset_of(idx)]; }
float Tensor::at(std::initializer_list<int64_t> idx) const { return data()[offset_of(idx)]; }

float Tensor::item() const {
  RC_CHECK(numel() == 1, "Tensor::item: tensor of shape {} has {} elements, expected 1", shape_str(shape_), numel());
  return data()[0];
}

namespace {
// Calls f(dst_linear_index, src_offset) for every element of t in row-major order.
template <class F>
void for_each_offset(const Shape& shape, const Shape& strides, F&& f) {
  const int nd = static_cast<int>(shape.size());
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  std::vector<int64_t> idx(nd, 0);
  int64_t off = 0;
  for (int64_t lin = 0; lin < n; ++lin) {
    f(lin, off);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (!defined() || is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_);
  if (is_contiguous()) {
    std::memcpy(out.data(), data(), sizeof(float) * numel());
  } else {
    const float* src = data();
    float* dst = out.data();
    for_each_offset(shape_, strides_, [&](int64_t lin, int64_t off) { dst[lin] = src[off]; });
  }
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      RC_CHECK(infer < 0, "Tensor::reshape: more than one -1 in {}", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    RC_CHECK(known > 0 && numel() % known == 0, "Tensor::reshape: cannot reshape {} into {}", shape_str(shape_),
             shape_str(shape));
    shape[infer] = numel() / known;
  }
  RC_CHECK(shape_numel(shape) == numel(), "Tensor::reshape: cannot reshape {} ({} elements) into {}",
           shape_str(shape_), numel(), shape_str(shape));
  Tensor src = contiguous();
  src.shape_ = shape;
  src.strides_ = contiguous_strides(shape);
  return src;
}

Tensor Tensor::transpose(int a, int b) const {
  int n = ndim();
  int aa = a < 0 ? a + n : a, bb = b < 0 ? b + n : b;
  RC_CHECK(aa >= 0 && aa < n && bb >= 0 && bb < n, "Tensor::transpose: dims ({}, {}) out of range for shape {}", a,
           b, shape_str(shape_));
  Tensor t = *this;
  std::swap(t.shape_[aa], t.shape_[bb]);
  std::swap(t.strides_[aa], t.strides_[bb]);
  return t;
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  RC_CHECK(static_cast<int>(order.size()) == ndim(), "Tensor::permute: order {} has {} entries for shape {}",
           fmt::join(order, ","), order.size(), shape_str(shape_));
  std::vector<bool> seen(ndim(), false);
  Tensor t = *this;
  for (int i = 0; i < ndim(); ++i) {
    int o = order[i];
    RC_CHECK(o >= 0 && o < ndim() && !seen[o], "Tensor::permute: order {} is not a permutation of 0..{}",
             fmt::join(order, ","), ndim() - 1);
    seen[o] = true;
    t.shape_[i] = shape_[o];
    t.strides_[i] = strides_[o];
  }
  return t;
}

Tensor Tensor::slice(int d, int64_t start, int64_t end) const {
  int n = ndim();
  int dd = d < 0 ? d + n : d;
  RC_CHECK(dd >= 0 && dd < n, "Tensor::slice: dim {} out of range for shape {}", d, shape_str(shape_));
  RC_CHECK(0 <= start && start <= end && end <= shape_[dd], "Tensor::slice: [{}, {}) out of range for dim {} of {}",
           start, end, dd, shape_str(shape_));
  Tensor t = *this;
  t.offset_ += start * strides_[dd];
  t.shape_[dd] = end - start;
  return t;
}

void Tensor::fill_(float value) {
  if (is_contiguous()) {
    std::fill_n(data(), numel(), value);
  } else {
    float* p = data();
    for_each_offset(shape_, strides_, [&](int64_t, int64_t off) { p[off] = value; });
  }
}

void Tensor::copy_(const Tensor& src) {
  check_same_shape(*this, src, "Tensor::copy_", "dst", "src");
  if (is_contiguous() && src.is_contiguous()) {
    std::memmove(data(), src.data(), sizeof(float) * numel());
    return;
  }
  Tensor packed = src.contiguous();
  const float* s = packed.data();
  float* p = data();
  for_each_offset(shape_, strides_, [&](int64_t lin, int64_t off) { p[off] = s[lin]; });
}

void Tensor::add_(const Tensor& src) {
  check_same_shape(*this, src, "Tensor::add_", "dst", "src");
  if (is_contiguous() && src.is_contiguous()) {
    array() += src.array();
    return;
  }
  Tensor packed = src.contiguous();
  const float* s = packed.data();
  float* p = data();
  for_each_offset(shape_, strides_, [&](int64_t lin, int64_t off) { p[off] += s[lin]; });
}

void Tensor::scale_(float s) {
  RC_CHECK(is_contiguous(), "Tensor::scale_: tensor of shape {} is not contiguous", shape_str(shape_));
  array() *= s;
}

MatMap Tensor::matrix() {
  RC_CHECK(ndim() == 2, "Tensor::matrix: expected 2 dimensions, got shape {}", shape_str(shape_));
  return matrix(shape_[0], shape_[1]);
}
ConstMatMap Tensor::matrix() const {
  RC_CHECK(ndim() == 2, "Tensor::matrix: expected 2 dimensions, got shape {}", shape_str(shape_));
  return matrix(shape_[0], shape_[1]);
}
MatMap Tensor::matrix(int64_t rows, int64_t cols) {
  RC_CHECK(is_contiguous() && rows * cols == numel(), "Tensor::matrix: cannot view {} as {}x{}", shape_str(shape_),
           rows, cols);
  return MatMap(data(), rows, cols);
}
ConstMatMap Tensor::matrix(int64_t rows, int64_t cols) const {
  RC_CHECK(is_contiguous() && rows * cols == numel(), "Tensor::matrix: cannot view {} as {}x{}", shape_str(shape_),
           rows, cols);
  return ConstMatMap(data(), rows, cols);
}
VecMap Tensor::array() {
  RC_CHECK(is_contiguous(), "Tensor::array: tensor of shape {} is not contiguous", shape_str(shape_));
  return VecMap(data(), numel());
}
ConstVecMap Tensor::array() const {
  RC_CHECK(is_contiguous(), "Tensor::array: tensor of shape {} is not contiguous", shape_str(shape_));
  return ConstVecMap(data(), numel());
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = contiguous();
  return std::vector<float>(c.data(), c.data() + c.numel());
}

std::string Tensor::str(int max_items) const {
  if (!defined()) return "Tensor(undefined)";
  auto v = to_vector();
  bool cut = static_cast<int64_t>(v.size()) > max_items;
  if (cut) v.resize(max_items);
  return fmt::format("Tensor{} [{}{}]", shape_str(shape_), fmt::join(v, ", "), cut ? ", ..." : "");
}

void check_ndim(const Tensor& t, int ndim, const char* op, const char* arg) {
  RC_CHECK(t.defined(), "{}: {} is undefined", op, arg);
  RC_CHECK(t.ndim() == ndim, "{}: {} must have {} dimensions, got shape {}", op, arg, ndim, shape_str(t.shape()));
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* a_name, const char* b_name) {
  RC_CHECK(a.shape() == b.shape(), "{}: {} has shape {} but {} has shape {}", op, a_name, shape_str(a.shape()), b_name,
           shape_str(b.shape()));
}

}  // namespace rc
