// Winograd F(2×2, 3×3) convolution kernels (internal to conv2d; see conv_kernels.hpp for when they are used).
//
// Lavin & Gray 2016: a 2×2 block of outputs of a 3×3 kernel is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, where d is the
// 4×4 input patch the block reads. Over all blocks ("tiles") and channels this is 16 GEMMs, one per position p
// of the 4×4 transformed domain:  M_p (T, O) = V_p (T, C) · U_p (C, O),  with U = G g Gᵀ (weights),
// V = Bᵀ d B (input tiles) and T tiles — 16 products of depth C where the direct method needs 36 per 2×2
// block of outputs, 2.25× fewer multiplications. The backward pass is the exact adjoint of this computation:
//   dM_p = A dY Aᵀ (per tile, zero where the tile reaches past the output),
//   dU_p = V_pᵀ · dM_p  (a GEMM of depth T, summed over images; dw = Gᵀ dU G once at the end),
//   dV_p = dM_p · U_pᵀ, and dx = B dV Bᵀ added back onto the (overlapping) input patches.
//
//   Bᵀ = | 1  0 −1  0 |     G = | 1    0    0  |     Aᵀ = | 1  1  1  0 |
//        | 0  1  1  0 |         | ½    ½    ½  |          | 0  1 −1 −1 |
//        | 0 −1  1  0 |         | ½   −½    ½  |
//        | 0  1  0 −1 |         | 0    0    1  |
//
// Layout: the transforms work on channels-last copies of the image (rows × columns × channels, the channels
// padded to a multiple of the native vector), so every transform is a few vector adds per tile with the
// channels in the lanes. V and M are (16, tiles, channels): each position's GEMM is one call over the tiles
// of a group of images.
#include <algorithm>
#include <cstring>
#include <vector>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "framework/core/gemm.hpp"
#include "framework/ops/conv_kernels.hpp"

namespace rc::conv_detail {

namespace {
// the build's native vector (GCC/Clang vector extension): one register of 16 floats with AVX-512, 8 otherwise
#ifdef __AVX512F__
constexpr int64_t kLanes = 16;
#else
constexpr int64_t kLanes = 8;
#endif
typedef float nvf __attribute__((vector_size(kLanes * sizeof(float))));
constexpr int64_t kPositions = 16;
int64_t round_up(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }
inline nvf ld(const float* p) {
  nvf v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void st(float* p, nvf v) { std::memcpy(p, &v, sizeof(v)); }

struct Tiles {
  int64_t th, tw, per_image, Hq, Wq;  // tile rows and columns, tiles per image, padded input plane Hq × Wq
  int64_t Cp, Op;                     // channels rounded up to whole vectors
};
Tiles tiles_of(const Geometry& g) {
  const int64_t th = (g.Ho + 1) / 2, tw = (g.Wo + 1) / 2;
  return {th, tw, th * tw, 2 * th + 2, 2 * tw + 2, round_up(g.C), round_up(g.O)};
}

enum Slot { kIn, kOut, kV, kM, kSlots };
float* scratch(Slot slot, int64_t n) {
  thread_local std::vector<float> buffers[kSlots];
  auto& b = buffers[slot];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

// Images per group: enough tiles for the GEMMs to be efficient, few enough for V and M to stay in cache.
int64_t images_per_group(const Tiles& t) {
  const int64_t budget = std::max<int64_t>(64, 12288 / (t.Cp + t.Op));
  return std::max<int64_t>(1, budget / t.per_image);
}

// out[j][i] = in[i][j] for an 8×8 block whose rows are in[i] and out[j] (8 floats each); exact
inline void transpose8(const float* const in[8], float* const out[8]) {
#ifdef __AVX__
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in[i]);
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // i0 i'0 i1 i'1 | i4 i'4 i5 i'5
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // i2 i'2 i3 i'3 | i6 i'6 i7 i'7
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3, then 4-7: columns (0, 4), (1, 5), (2, 6), (3, 7) of four rows
    u[4 * h] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    _mm256_storeu_ps(out[j], _mm256_permute2f128_ps(u[j], u[4 + j], 0x20));
    _mm256_storeu_ps(out[4 + j], _mm256_permute2f128_ps(u[j], u[4 + j], 0x31));
  }
#else
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) out[j][i] = in[i][j];
#endif
}

// Calls f(q, at) for each whole block of 8 pixels q .. q + 7 of an H × W image (flat pixel order), at[i] being
// where pixel q + i sits in a channels-last plane (·, Wc, lanes) that holds the image at (oh, ow).
template <class F>
void for_pixel_blocks(int64_t H, int64_t W, int64_t Wc, int64_t lanes, int64_t oh, int64_t ow, F&& f) {
  int64_t at[8];
  for (int64_t q = 0, h = 0, w = 0; q + 8 <= H * W; q += 8) {
    for (int i = 0; i < 8; ++i) {
      at[i] = ((h + oh) * Wc + w + ow) * lanes;
      if (++w == W) w = 0, ++h;
    }
    f(q, at);
  }
}

// dst (Hd, Wd, lanes) = src (channels, H, W) placed at (oh, ow), zero elsewhere and in the padding lanes
void to_channels_last(const float* src, int64_t channels, int64_t H, int64_t W, float* dst, int64_t Hd, int64_t Wd,
                      int64_t lanes, int64_t oh, int64_t ow) {
  std::fill_n(dst, Hd * Wd * lanes, 0.0f);
  const int64_t h_end = std::min(H, Hd - oh), w_end = std::min(W, Wd - ow), P = H * W;
  auto pixel = [&](int64_t q) { return dst + ((q / W + oh) * Wd + q % W + ow) * lanes; };
  int64_t c = 0, q_end = 0;
  if (h_end == H && w_end == W) {  // blocks of 8 channels × 8 pixels (in the image's flat pixel order)
    q_end = P / 8 * 8;
    c = channels / 8 * 8;
    for_pixel_blocks(H, W, Wd, lanes, oh, ow, [&](int64_t q, const int64_t* at) {
      for (int64_t cb = 0; cb < c; cb += 8) {
        const float* in[8];
        float* out[8];
        for (int i = 0; i < 8; ++i) in[i] = src + (cb + i) * P + q, out[i] = dst + at[i] + cb;
        transpose8(in, out);
      }
    });
  }
  for (int64_t c2 = 0; c2 < channels; ++c2)  // the rest, one value at a time: pixels from q_end, channels from c
    for (int64_t q = c2 < c ? q_end : 0; q < P; ++q)
      if (q / W < h_end && q % W < w_end) pixel(q)[c2] = src[c2 * P + q];
}

// dst (channels, H, W) = the window at (oh, ow) of src (Hs, Ws, lanes) (+ bias per channel); pixels outside
// src are zero
void from_channels_last(const float* src, int64_t Hs, int64_t Ws, int64_t lanes, int64_t oh, int64_t ow,
                        const float* bias, float* dst, int64_t channels, int64_t H, int64_t W) {
  const int64_t h_end = std::min(H, Hs - oh), w_end = std::min(W, Ws - ow), P = H * W;
  auto pixel = [&](int64_t q) { return src + ((q / W + oh) * Ws + q % W + ow) * lanes; };
  int64_t c = 0, q_end = 0;
  if (h_end == H && w_end == W) {
    q_end = P / 8 * 8;
    c = channels / 8 * 8;
    for_pixel_blocks(H, W, Ws, lanes, oh, ow, [&](int64_t q, const int64_t* at) {
      for (int64_t cb = 0; cb < c; cb += 8) {
        const float* in[8];
        float* out[8];
        for (int i = 0; i < 8; ++i) in[i] = src + at[i] + cb, out[i] = dst + (cb + i) * P + q;
        transpose8(in, out);
      }
    });
  } else {
    std::fill_n(dst, channels * P, 0.0f);
  }
  for (int64_t c2 = 0; c2 < channels; ++c2)
    for (int64_t q = c2 < c ? q_end : 0; q < P; ++q)
      if (q / W < h_end && q % W < w_end) dst[c2 * P + q] = pixel(q)[c2];
  if (bias)
    for (int64_t c2 = 0; c2 < channels; ++c2) {
      float* d = dst + c2 * P;
      for (int64_t q = 0; q < P; ++q) d[q] += bias[c2];
    }
}

// V[p, t0 + tile, c] = (Bᵀ d B)[p] for every tile of image x (C, H, W); T = tiles of the group
void input_transform(const Geometry& g, const Tiles& t, const float* x, float* V, int64_t T) {
  const int64_t Wq = t.Wq, Cp = t.Cp, row = Wq * Cp, pstride = T * Cp;
  float* xq = scratch(kIn, t.Hq * Wq * Cp);
  to_channels_last(x, g.C, g.H, g.W, xq, t.Hq, Wq, Cp, g.ph, g.pw);
  for (int64_t ti = 0; ti < t.th; ++ti)
    for (int64_t tj = 0; tj < t.tw; ++tj) {
      const float* d = xq + (2 * ti * Wq + 2 * tj) * Cp;
      float* v = V + (ti * t.tw + tj) * Cp;
      for (int64_t c = 0; c < Cp; c += kLanes) {
        for (int64_t a = 0; a < 4; ++a) {
          nvf s[4];  // row a of Bᵀ d, columns 0-3
          for (int64_t j = 0; j < 4; ++j) {
            const float* col = d + j * Cp + c;
            const nvf d0 = ld(col), d1 = ld(col + row), d2 = ld(col + 2 * row), d3 = ld(col + 3 * row);
            s[j] = a == 0 ? d0 - d2 : a == 1 ? d1 + d2 : a == 2 ? d2 - d1 : d1 - d3;
          }
          float* va = v + 4 * a * pstride + c;  // (Bᵀ d) B, row a
          st(va, s[0] - s[2]);
          st(va + pstride, s[1] + s[2]);
          st(va + 2 * pstride, s[2] - s[1]);
          st(va + 3 * pstride, s[1] - s[3]);
        }
      }
    }
}

// y (O, Ho, Wo) of one image = Aᵀ M A for each tile (+ bias), from M[p, t0 + tile, o]
void output_transform(const Geometry& g, const Tiles& t, const float* M, int64_t T, const float* bias, float* y) {
  const int64_t Op = t.Op, Wy = 2 * t.tw, pstride = T * Op;
  float* yq = scratch(kOut, 2 * t.th * Wy * Op);  // (2·th, 2·tw, Op)
  for (int64_t ti = 0; ti < t.th; ++ti)
    for (int64_t tj = 0; tj < t.tw; ++tj) {
      const float* m = M + (ti * t.tw + tj) * Op;
      float* out = yq + (2 * ti * Wy + 2 * tj) * Op;
      for (int64_t o = 0; o < Op; o += kLanes) {
        nvf t0[4], t1[4];  // M A: the two columns of each of the 4 rows
        for (int64_t a = 0; a < 4; ++a) {
          const float* ma = m + 4 * a * pstride + o;
          const nvf m0 = ld(ma), m1 = ld(ma + pstride), m2 = ld(ma + 2 * pstride), m3 = ld(ma + 3 * pstride);
          t0[a] = m0 + m1 + m2;
          t1[a] = m1 - m2 - m3;
        }
        st(out + o, t0[0] + t0[1] + t0[2]);
        st(out + Op + o, t1[0] + t1[1] + t1[2]);
        st(out + Wy * Op + o, t0[1] - t0[2] - t0[3]);
        st(out + (Wy + 1) * Op + o, t1[1] - t1[2] - t1[3]);
      }
    }
  from_channels_last(yq, 2 * t.th, Wy, Op, 0, 0, bias, y, g.O, g.Ho, g.Wo);
}

// dM[p, t0 + tile, o] = A dY Aᵀ of one image's dy (O, Ho, Wo), the outputs past Ho or Wo taken as zero
void output_adjoint(const Geometry& g, const Tiles& t, const float* dy, float* dM, int64_t T) {
  const int64_t Op = t.Op, Wy = 2 * t.tw, pstride = T * Op;
  float* dyq = scratch(kOut, 2 * t.th * Wy * Op);
  to_channels_last(dy, g.O, g.Ho, g.Wo, dyq, 2 * t.th, Wy, Op, 0, 0);
  for (int64_t ti = 0; ti < t.th; ++ti)
    for (int64_t tj = 0; tj < t.tw; ++tj) {
      const float* q = dyq + (2 * ti * Wy + 2 * tj) * Op;
      float* m = dM + (ti * t.tw + tj) * Op;
      for (int64_t o = 0; o < Op; o += kLanes) {
        const nvf e0 = ld(q + o), o0 = ld(q + Op + o), e1 = ld(q + Wy * Op + o), o1 = ld(q + (Wy + 1) * Op + o);
        // rows: z_a = Σ_r Aᵀ[r, a] dy_r, for the even and the odd column
        const nvf ze[4] = {e0, e0 + e1, e0 - e1, -e1}, zo[4] = {o0, o0 + o1, o0 - o1, -o1};
        for (int64_t a = 0; a < 4; ++a) {  // columns: Σ_s Aᵀ[s, b] z_a[s]
          float* ma = m + 4 * a * pstride + o;
          st(ma, ze[a]);
          st(ma + pstride, ze[a] + zo[a]);
          st(ma + 2 * pstride, ze[a] - zo[a]);
          st(ma + 3 * pstride, -zo[a]);
        }
      }
    }
}

// dx (C, H, W) of one image = B dV Bᵀ of every tile, added onto the overlapping 4×4 patches, then cropped
void input_adjoint(const Geometry& g, const Tiles& t, const float* dV, int64_t T, float* dx) {
  const int64_t Wq = t.Wq, Cp = t.Cp, row = Wq * Cp, pstride = T * Cp;
  float* dxq = scratch(kIn, t.Hq * Wq * Cp);
  std::fill_n(dxq, t.Hq * Wq * Cp, 0.0f);
  for (int64_t ti = 0; ti < t.th; ++ti)
    for (int64_t tj = 0; tj < t.tw; ++tj) {
      const float* v = dV + (ti * t.tw + tj) * Cp;
      float* d = dxq + (2 * ti * Wq + 2 * tj) * Cp;
      for (int64_t c = 0; c < Cp; c += kLanes)
        for (int64_t j = 0; j < 4; ++j) {
          nvf r[4];  // column j of dV B for each row a: Σ_b Bᵀ[b, j] dV[a, b]
          for (int64_t a = 0; a < 4; ++a) {
            const float* va = v + 4 * a * pstride + c;
            r[a] = j == 0 ? ld(va)
                 : j == 1 ? ld(va + pstride) - ld(va + 2 * pstride) + ld(va + 3 * pstride)
                 : j == 2 ? ld(va + pstride) + ld(va + 2 * pstride) - ld(va)
                          : -ld(va + 3 * pstride);
          }
          float* col = d + j * Cp + c;  // rows: Σ_a Bᵀ[a, i] r_a, added onto the patch
          st(col, ld(col) + r[0]);
          st(col + row, ld(col + row) + (r[1] - r[2] + r[3]));
          st(col + 2 * row, ld(col + 2 * row) + (r[1] + r[2] - r[0]));
          st(col + 3 * row, ld(col + 3 * row) - r[3]);
        }
    }
  from_channels_last(dxq, t.Hq, Wq, Cp, g.ph, g.pw, nullptr, dx, g.C, g.H, g.W);
}

constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
}  // namespace

Tensor winograd_weights(const Geometry& g, const Tensor& w) {
  Tensor u = Tensor::empty({kPositions, g.C, g.O});  // u[(a, b), c, o] = (G w[o, c] Gᵀ)[a, b]
  const Tensor wc = w.contiguous();
  for (int64_t oc = 0; oc < g.O * g.C; ++oc) {
    const float* k = wc.data() + oc * 9;
    double gk[4][3];  // G k
    for (int a = 0; a < 4; ++a)
      for (int j = 0; j < 3; ++j) gk[a][j] = kG[a][0] * k[j] + kG[a][1] * k[3 + j] + kG[a][2] * k[6 + j];
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b)
        u.data()[((a * 4 + b) * g.C + oc % g.C) * g.O + oc / g.C] =
            static_cast<float>(gk[a][0] * kG[b][0] + gk[a][1] * kG[b][1] + gk[a][2] * kG[b][2]);
  }
  return u;
}

Tensor winograd_weights_adjoint(const Geometry& g, const Tensor& du) {
  Tensor w = Tensor::empty({g.O, g.C, 3, 3});  // dw[o, c] = Gᵀ du[·, o, c] G
  for (int64_t oc = 0; oc < g.O * g.C; ++oc) {
    double gtu[3][4];  // Gᵀ du
    for (int i = 0; i < 3; ++i)
      for (int b = 0; b < 4; ++b) {
        double s = 0;
        for (int a = 0; a < 4; ++a) s += kG[a][i] * du.data()[((a * 4 + b) * g.C + oc % g.C) * g.O + oc / g.C];
        gtu[i][b] = s;
      }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double s = 0;
        for (int b = 0; b < 4; ++b) s += gtu[i][b] * kG[b][j];
        w.data()[oc * 9 + i * 3 + j] = static_cast<float>(s);
      }
  }
  return w;
}

void winograd_forward(const Geometry& g, const float* u, const float* bias, const float* x, float* y,
                      int64_t images) {
  const Tiles t = tiles_of(g);
  const int64_t per_group = images_per_group(t);
  for (int64_t n0 = 0; n0 < images; n0 += per_group) {
    const int64_t n = std::min(per_group, images - n0), T = n * t.per_image;
    float* V = scratch(kV, kPositions * T * t.Cp);
    float* M = scratch(kM, kPositions * T * t.Op);
    for (int64_t i = 0; i < n; ++i) input_transform(g, t, x + (n0 + i) * g.in_size(), V + i * t.per_image * t.Cp, T);
    for (int64_t p = 0; p < kPositions; ++p)  // M_p (T, O) = V_p (T, C) · U_p (C, O)
      gemm_serial(Op::N, Op::N, T, g.O, g.C, 1.0f, V + p * T * t.Cp, t.Cp, u + p * g.C * g.O, g.O, 0.0f,
                  M + p * T * t.Op, t.Op);
    for (int64_t i = 0; i < n; ++i)
      output_transform(g, t, M + i * t.per_image * t.Op, T, bias, y + (n0 + i) * g.out_size());
  }
}

void winograd_backward(const Geometry& g, const float* u, const float* x, const float* dy, float* du_acc, bool first,
                       float* dx, int64_t images) {
  const Tiles t = tiles_of(g);
  const int64_t per_group = images_per_group(t);
  for (int64_t n0 = 0; n0 < images; n0 += per_group) {
    const int64_t n = std::min(per_group, images - n0), T = n * t.per_image;
    float* V = scratch(kV, kPositions * T * t.Cp);
    float* dM = scratch(kM, kPositions * T * t.Op);
    for (int64_t i = 0; i < n; ++i)
      output_adjoint(g, t, dy + (n0 + i) * g.out_size(), dM + i * t.per_image * t.Op, T);
    if (du_acc) {  // dU_p (C, O) (+)= V_pᵀ · dM_p
      for (int64_t i = 0; i < n; ++i)
        input_transform(g, t, x + (n0 + i) * g.in_size(), V + i * t.per_image * t.Cp, T);
      const float beta = first && n0 == 0 ? 0.0f : 1.0f;
      for (int64_t p = 0; p < kPositions; ++p)
        gemm_serial(Op::T, Op::N, g.C, g.O, T, 1.0f, V + p * T * t.Cp, t.Cp, dM + p * T * t.Op, t.Op, beta,
                    du_acc + p * g.C * g.O, g.O);
    }
    if (dx) {  // dV_p (T, C) = dM_p · U_pᵀ (into V's buffer; its padding lanes are never read), then onto x
      if (t.Cp != g.C) std::fill_n(V, kPositions * T * t.Cp, 0.0f);
      for (int64_t p = 0; p < kPositions; ++p)
        gemm_serial(Op::N, Op::T, T, g.C, g.O, 1.0f, dM + p * T * t.Op, t.Op, u + p * g.C * g.O, g.O, 0.0f,
                    V + p * T * t.Cp, t.Cp);
      for (int64_t i = 0; i < n; ++i)
        input_adjoint(g, t, V + i * t.per_image * t.Cp, T, dx + (n0 + i) * g.in_size());
    }
  }
}

}  // namespace rc::conv_detail
