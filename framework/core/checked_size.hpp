#pragma once
// Overflow-safe size arithmetic for shapes and lengths read from files (IDX, safetensors, npy, image headers,
// CSR). A header that declares a shape is untrusted: its element count must be computed without wrapping
// around, and so must the strides a tensor of that shape would get (the product of the non-zero dimensions;
// a zero dimension makes the count 0 but does not make (0, 2^40, 2^40) a valid shape).
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

namespace rc {

// a * b, or nullopt when the product of two non-negative values does not fit in int64.
inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// a + b, or nullopt when the sum of two non-negative values does not fit in int64.
inline std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The element count of `dims` times `item_bytes`, or nullopt when a dimension is negative, or when the product
// of the non-zero dimensions times item_bytes exceeds `limit` (so strides and byte counts cannot overflow
// either, even when a zero dimension makes the count itself 0).
inline std::optional<int64_t> checked_numel(std::span<const int64_t> dims, int64_t item_bytes = 1,
                                            int64_t limit = std::numeric_limits<int64_t>::max()) {
  int64_t nonzero = item_bytes;
  bool zero = false;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d == 0) {
      zero = true;
      continue;
    }
    auto p = checked_mul(nonzero, d);
    if (!p || *p > limit) return std::nullopt;
    nonzero = *p;
  }
  if (nonzero > limit) return std::nullopt;
  return zero ? 0 : nonzero;
}

}  // namespace rc
