#pragma once
// NPY tensor dumps (numpy.save / numpy.load format):
//   "\x93NUMPY", version 1.0, header length H (uint16 little-endian), then H bytes of a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and ending in '\n' so that
//   10 + H is a multiple of 64 (exactly as numpy writes it), then the elements row-major.
// save_npy writes float32 ('<f4'), save_npy_int64 int64 ('<i8', e.g. CSR index arrays). load_npy reads versions 1.0, 2.0 and 3.0 with descr '<f4' or '<f8'
// (converted to float32) in C order; anything else is an error naming the file.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.hpp"

namespace rc::io {

void save_npy(const std::string& path, const Tensor& t);
// int64 values of the given shape (default: 1-D), written as '<i8'.
void save_npy_int64(const std::string& path, const std::vector<int64_t>& values, const Shape& shape);
void save_npy_int64(const std::string& path, const std::vector<int64_t>& values);
Tensor load_npy(const std::string& path);

// The complete header (magic through the '\n') that save_npy writes for this shape (descr '<f4', or '<i8' for
// save_npy_int64).
std::string npy_header(const Shape& shape, const char* descr = "<f4");

}  // namespace rc::io
