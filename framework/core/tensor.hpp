#pragma once
// Tensor: float32, n-dimensional, shared storage with shape, strides (in elements) and an offset.
// Freshly made tensors are contiguous (row-major). reshape/transpose/permute/slice return views that share
// storage; contiguous() copies only when needed. Math goes through Eigen maps of contiguous tensors.
#include <Eigen/Core>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/error.hpp"

namespace rc {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);    // "(2, 3, 4)"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMap = Eigen::Map<MatrixRM, Eigen::Unaligned>;
using ConstMatMap = Eigen::Map<const MatrixRM, Eigen::Unaligned>;
using VecMap = Eigen::Map<Eigen::ArrayXf, Eigen::Unaligned>;
using ConstVecMap = Eigen::Map<const Eigen::ArrayXf, Eigen::Unaligned>;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() is false
  explicit Tensor(const Shape& shape);  // zero-filled

  static Tensor empty(const Shape& shape);  // uninitialized
  static Tensor zeros(const Shape& shape) { return Tensor(shape); }
  static Tensor full(const Shape& shape, float value);
  static Tensor ones(const Shape& shape) { return full(shape, 1.0f); }
  static Tensor from(const Shape& shape, std::vector<float> values);  // values.size() must equal numel
  static Tensor scalar(float value) { return from({}, {value}); }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  bool is_contiguous() const;
  bool same_storage(const Tensor& o) const { return storage_ == o.storage_; }
  long storage_owners() const { return storage_.use_count(); }  // tensor handles sharing the storage

  float* data() { return storage_.get() + offset_; }
  const float* data() const { return storage_.get() + offset_; }

  // element access by full index (bounds-checked); slow, for tests and small code paths
  float& at(std::initializer_list<int64_t> idx);
  float at(std::initializer_list<int64_t> idx) const;
  float item() const;  // the value of a one-element tensor

  Tensor contiguous() const;  // *this if already contiguous, else a packed copy
  Tensor clone() const;       // always a packed copy
  Tensor reshape(Shape shape) const;  // a view of a contiguous tensor; one -1 is inferred
  Tensor transpose(int a, int b) const;
  Tensor permute(const std::vector<int>& order) const;
  Tensor slice(int dim, int64_t start, int64_t end) const;  // [start, end) along dim, a view

  void fill_(float value);
  void copy_(const Tensor& src);  // same shape, any strides
  void add_(const Tensor& src);   // same shape; this += src
  void scale_(float s);

  // Eigen views of contiguous tensors: matrix() of a 2-D tensor (or rows×cols of any contiguous one), array()
  MatMap matrix();
  ConstMatMap matrix() const;
  MatMap matrix(int64_t rows, int64_t cols);
  ConstMatMap matrix(int64_t rows, int64_t cols) const;
  VecMap array();
  ConstVecMap array() const;

  std::vector<float> to_vector() const;
  std::string str(int max_items = 8) const;

 private:
  std::shared_ptr<float[]> storage_;
  Shape shape_, strides_;
  int64_t offset_ = 0;
  int64_t offset_of(std::initializer_list<int64_t> idx) const;
};

// Checks that t has the given number of dimensions, naming the op and argument on failure.
void check_ndim(const Tensor& t, int ndim, const char* op, const char* arg);
void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* a_name, const char* b_name);

}  // namespace rc
