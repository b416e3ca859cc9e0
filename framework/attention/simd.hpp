#pragma once
// f16v is 64 bytes. Where AVX-512 is off (an AVX2 build), GCC notes at every function that passes or returns one by
// value that its ABI differs from an AVX-512 build's (-Wpsabi). Every such function here is inline and every
// caller is compiled with the same flags, so no call crosses that ABI boundary: the note is silenced for the
// files that include this header.
#pragma GCC diagnostic ignored "-Wpsabi"
// 16-float SIMD vectors (GCC/Clang vector extensions: one zmm register with AVX-512, two ymm with AVX2, plain
// code elsewhere) and the vectorized exp shared by every attention kernel, forward and backward, so that a
// probability recomputed in backward is bit-identical to the one used in forward.
#include <cstdint>
#include <cstring>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace rc::simd {

constexpr int kWidth = 16;
typedef float f16v __attribute__((vector_size(64)));
typedef int32_t i16v __attribute__((vector_size(64)));

template <class V = f16v>
inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <class V>
inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(v));
}
inline f16v splat(float x) { return f16v{} + x; }

// Lane-wise functions that select (a ? b : c on vectors). With AVX-512 a 16-lane select is one instruction;
// without it GCC lowers a 16-lane select lane by lane into scalar code, so there the function runs on the two
// 8-lane halves (one vcmpps + vblendvps each on AVX2). f is a generic lambda, called on f16v or on halves.
typedef float f8v __attribute__((vector_size(32)));
typedef int32_t i8v __attribute__((vector_size(32)));
// The native vector of the build: what one register holds (16 floats with AVX-512, 8 otherwise). Lane-wise code
// that works on columns written as loops over native vectors gives the same bits as over f16v.
#ifdef __AVX512F__
constexpr int kNative = 16;
typedef f16v nvf;
typedef i16v nvi;
#else
constexpr int kNative = 8;
typedef f8v nvf;
typedef i8v nvi;
#endif
// dst[-j] += src[j] for j in [0, len), 1 <= len <= 16: a run of attention pairs whose bias-table indices fall by one
// as their positions rise (the bias gradient's scatter). One masked load, reverse, add and store with AVX-512;
// the same float additions either way.
inline void add_reversed(float* dst, const float* src, int len) {
#ifdef __AVX512F__
  const __mmask16 m = static_cast<__mmask16>((1u << len) - 1);
  const __m512i rev = _mm512_sub_epi32(_mm512_set1_epi32(len - 1),
                                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m512 r = _mm512_permutexvar_ps(rev, _mm512_maskz_loadu_ps(m, src));  // lane k: src[len-1-k]
  float* lo = dst - (len - 1);
  _mm512_mask_storeu_ps(lo, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, lo), r));
#else
  for (int j = 0; j < len; ++j) dst[-j] += src[j];
#endif
}
// kNative bytes at p widened to a native int vector (one vpmovzxbd: GCC lowers __builtin_convertvector from bytes
// to 32-bit lanes byte by byte).
inline nvi widen_u8(const uint8_t* p) {
#if defined(__AVX512F__)
  return reinterpret_cast<nvi>(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#elif defined(__AVX2__)
  return reinterpret_cast<nvi>(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
#else
  typedef uint8_t u8n __attribute__((vector_size(kNative)));
  u8n b;
  std::memcpy(&b, p, sizeof(b));
  return __builtin_convertvector(b, nvi);
#endif
}
#ifdef __AVX512F__
template <class F>
inline f16v map1(F f, f16v a) {
  return f(a);
}
template <class F>
inline f16v map2(F f, f16v a, f16v b) {
  return f(a, b);
}
inline f16v select_mask(i16v m, f16v x, f16v y) { return m != 0 ? x : y; }
#else
// (halves through memcpy: GCC keeps a 16-lane vector in two ymm registers, and a byte copy of either half is
// that register, where a shufflevector of 16 lanes would go lane by lane)
template <class Half, class V>
inline Half half(const V& v, int which) {
  Half h;
  std::memcpy(&h, reinterpret_cast<const char*>(&v) + which * sizeof(Half), sizeof(Half));
  return h;
}
inline f8v lo(f16v v) { return half<f8v>(v, 0); }
inline f8v hi(f16v v) { return half<f8v>(v, 1); }
inline i8v lo(i16v v) { return half<i8v>(v, 0); }
inline i8v hi(i16v v) { return half<i8v>(v, 1); }
inline f16v join(f8v a, f8v b) {
  f16v v;
  std::memcpy(&v, &a, sizeof(a));
  std::memcpy(reinterpret_cast<char*>(&v) + sizeof(a), &b, sizeof(b));
  return v;
}
template <class F>
inline f16v map1(F f, f16v a) {
  return join(f(lo(a)), f(hi(a)));
}
template <class F>
inline f16v map2(F f, f16v a, f16v b) {
  return join(f(lo(a), lo(b)), f(hi(a), hi(b)));
}
inline f16v select_mask(i16v m, f16v x, f16v y) {
  return join(lo(m) != 0 ? lo(x) : lo(y), hi(m) != 0 ? hi(x) : hi(y));
}
#endif
inline f16v vmax(f16v a, f16v b) {
  return map2([](auto x, auto y) { return x > y ? x : y; }, a, b);
}
inline f16v bits_to_float(i16v x) {
  f16v r;
  std::memcpy(&r, &x, sizeof(r));
  return r;
}
inline i16v float_to_bits(f16v x) {
  i16v r;
  std::memcpy(&r, &x, sizeof(r));
  return r;
}

// exp(x) lane by lane, Cephes expf scheme: x = n ln2 + r with |r| <= ln2/2 (n by round-to-nearest through the
// 1.5 * 2^23 trick, ln2 split in two so n ln2 is exact), exp(r) by a degree-6 polynomial, times 2^n built in the
// exponent bits. About 1 ulp on [-87.3, 88.7]; below gives 0 (also for -inf), above +inf; NaN gives NaN.
template <class V>
inline V exp_lanes(V x);
inline f16v exp(f16v x) { return exp_lanes(x); }
inline f8v exp(f8v x) { return exp_lanes(x); }

template <class V>
inline V exp_lanes(V x) {
  using I = decltype(x > x);  // the integer vector of the same lanes
  const V hi = V{} + 88.72283935546875f, lo = V{} - 87.33654022216797f;
  const V magic = V{} + 12582912.0f;  // 1.5 * 2^23
  auto bits = [](V v) {
    I b;
    std::memcpy(&b, &v, sizeof(b));
    return b;
  };
  auto from_bits = [](I b) {
    V v;
    std::memcpy(&v, &b, sizeof(v));
    return v;
  };
  V xc;
  if constexpr (sizeof(V) == 64) {
    xc = map1(
        [](auto v) {
          using W = decltype(v);
          const W clamped_hi = v > 88.72283935546875f ? W{} + 88.72283935546875f : v;
          return clamped_hi < -87.33654022216797f ? W{} - 87.33654022216797f : clamped_hi;
        },
        x);
  } else {
    const V clamped_hi = x > hi ? hi : x;
    xc = clamped_hi < lo ? lo : clamped_hi;
  }
  V t = xc * 1.44269504088896341f + magic;
  V n = t - magic;  // round(x / ln2), exact
  I ni = bits(t) - bits(magic);
  V r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  V y;
#ifdef __AVX512F__
  if constexpr (sizeof(V) == 64) {
    // p * 2^n in one rounding (vscalefps), the same value as the two-factor product below
    (void)ni;
    __m512 pm, nm;
    std::memcpy(&pm, &p, sizeof(pm));
    std::memcpy(&nm, &n, sizeof(nm));
    __m512 ym = _mm512_maskz_scalef_ps(0xFFFF, pm, nm);  // (the unmasked form warns in GCC 12)
    std::memcpy(&y, &ym, sizeof(y));
  } else
#endif
  {
    // 2^n for n in [-126, 128]: split into two factors so that n = 128 (x near the top) stays finite
    I n1 = ni >> 1, n2 = ni - n1;
    V s1 = from_bits((n1 + 127) << 23), s2 = from_bits((n2 + 127) << 23);
    y = p * s1 * s2;
  }
  // below the range 0 (also for -inf), above +inf, NaN stays NaN
  if constexpr (sizeof(V) != 64) {
    y = x < lo ? V{} : y;
    y = x > hi ? V{} + __builtin_inff() : y;
    return x != x ? x : y;
  } else {
    (void)hi;
    (void)lo;
    const V below = map2(
        [](auto v, auto r) {
          using W = decltype(r);
          return v < -87.33654022216797f ? W{} : r;
        },
        x, y);
    return map2(
        [](auto v, auto r) {
          using W = decltype(r);
          return v != v ? v : (v > 88.72283935546875f ? W{} + __builtin_inff() : r);
        },
        x, below);
  }
}

// a . b over D floats: 8 partial sums combined in a fixed tree, then the tail (the same order on every thread).
inline float dot(const float* a, const float* b, int64_t D) {
  typedef float v8 __attribute__((vector_size(32)));
  v8 acc{};
  int64_t d = 0;
  for (; d + 8 <= D; d += 8) {
    v8 x, y;
    std::memcpy(&x, a + d, sizeof(x));
    std::memcpy(&y, b + d, sizeof(y));
    acc += x * y;
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; d < D; ++d) s += a[d] * b[d];
  return s;
}

// Lanes 0 .. n-1 set (a mask for `mask ? a : b`).
inline i16v lanes_below(int64_t n) {
  const i16v iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return iota < static_cast<int32_t>(n);
}

// Scalar exp with the same arithmetic as the vector one (lane 0 of a splat).
inline float exp1(float x) { return exp(splat(x))[0]; }

// Horizontal sum and max in a fixed order (lane i with lane i + w for w = 8, 4, 2, 1), in registers.
typedef float f4v __attribute__((vector_size(16)));
typedef float f2v __attribute__((vector_size(8)));
template <class Op>
inline float fold(f16v v, Op op) {
#ifdef __AVX512F__
  f8v a = op(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7),
             __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
#else
  f8v a = op(lo(v), hi(v));
#endif
  f4v b = op(__builtin_shufflevector(a, a, 0, 1, 2, 3), __builtin_shufflevector(a, a, 4, 5, 6, 7));
  f2v c = op(__builtin_shufflevector(b, b, 0, 1), __builtin_shufflevector(b, b, 2, 3));
  return op(f2v{c[0], 0}, f2v{c[1], 0})[0];
}
inline float hsum(f16v v) {
  return fold(v, [](auto x, auto y) { return x + y; });
}
inline float hmax(f16v v) {
  return fold(v, [](auto x, auto y) { return x > y ? x : y; });
}

}  // namespace rc::simd
