// Kind `window2d`: a kh x kw window on a gh x gw token grid (NATTEN semantics, shifted at the borders; see
// policy.hpp), optionally dilated. The tiled planner groups its queries in 2-D patches (PlanHint::patches).
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "framework/attention/policy_params.hpp"
#include "framework/attention/policy_rule.hpp"
#include "framework/core/error.hpp"

namespace rc {

namespace {

// The rows (or columns) that position x on an axis of length n sees: x ≡ group (mod dil), positions
// group + dil*(start .. start+k-1).
struct AxisWindow {
  int64_t group, start;
};
inline AxisWindow axis_window(int64_t x, int64_t n, int64_t k, int64_t dil) {
  int64_t g = x % dil;
  int64_t len = (n - g + dil - 1) / dil;
  return {g, window2d_start(x / dil, len, k)};
}
inline bool axis_sees(const AxisWindow& w, int64_t y, int64_t k, int64_t dil) {
  if (y % dil != w.group) return false;
  int64_t p = y / dil;
  return p >= w.start && p < w.start + k;
}

class Window2dRule final : public PolicyRule {
 public:
  explicit Window2dRule(const Window2d& w) : w_(w) {}
  const std::string& name() const override {
    static const std::string n = "window2d";
    return n;
  }
  std::string describe() const override {
    return fmt::format("window2d(grid={}x{}, kernel={}x{}, dilation={}x{}, first={})", w_.grid_h, w_.grid_w,
                       w_.kernel_h, w_.kernel_w, w_.dilation_h, w_.dilation_w, w_.first);
  }
  bool allowed(int64_t i, int64_t j) const override {
    const int64_t cells = w_.grid_h * w_.grid_w;
    const int64_t a = i - w_.first, b = j - w_.first;
    if (a < 0 || a >= cells || b < 0 || b >= cells) return false;
    AxisWindow rw = axis_window(a / w_.grid_w, w_.grid_h, w_.kernel_h, w_.dilation_h);
    AxisWindow cw = axis_window(a % w_.grid_w, w_.grid_w, w_.kernel_w, w_.dilation_w);
    return axis_sees(rw, b / w_.grid_w, w_.kernel_h, w_.dilation_h) &&
           axis_sees(cw, b % w_.grid_w, w_.kernel_w, w_.dilation_w);
  }
  void validate(int64_t n) const override {
    RC_CHECK(w_.first + w_.grid_h * w_.grid_w <= n,
             "attention: window2d grid {}x{} starting at token {} needs {} tokens but the sequence has N = {}",
             w_.grid_h, w_.grid_w, w_.first, w_.first + w_.grid_h * w_.grid_w, n);
  }
  std::pair<int64_t, int64_t> key_hull(int64_t q0, int64_t q1, int64_t n) const override {
    const Window2d& w = w_;
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    int64_t a0 = std::max(q0, w.first) - w.first, a1 = std::min(q1, w.first + w.grid_h * w.grid_w) - w.first;
    for (int64_t a = a0; a < a1; ++a) {
      AxisWindow rw = axis_window(a / w.grid_w, w.grid_h, w.kernel_h, w.dilation_h);
      AxisWindow cw = axis_window(a % w.grid_w, w.grid_w, w.kernel_w, w.dilation_w);
      int64_t r0 = rw.group + rw.start * w.dilation_h, r1 = r0 + (w.kernel_h - 1) * w.dilation_h;
      int64_t c0 = cw.group + cw.start * w.dilation_w, c1 = c0 + (w.kernel_w - 1) * w.dilation_w;
      lo = std::min(lo, w.first + r0 * w.grid_w + c0);
      hi = std::max(hi, w.first + r1 * w.grid_w + c1 + 1);
    }
    return a0 < a1 ? std::pair{lo, hi} : std::pair<int64_t, int64_t>{0, 0};
  }
  // Decomposes each key once; then the pair test is four comparisons.
  void mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const override {
    const Window2d& w = w_;
    std::fill_n(out, nq * nk, uint8_t{0});
    const int64_t cells = w.grid_h * w.grid_w;
    std::vector<int64_t> kpos(static_cast<size_t>(4 * nk), -1);  // row group, row position, col group, col pos
    for (int64_t b = 0; b < nk; ++b) {
      int64_t ka = keys[b] - w.first;
      if (ka < 0 || ka >= cells) continue;
      int64_t r = ka / w.grid_w, c = ka % w.grid_w;
      kpos[4 * b] = r % w.dilation_h, kpos[4 * b + 1] = r / w.dilation_h;
      kpos[4 * b + 2] = c % w.dilation_w, kpos[4 * b + 3] = c / w.dilation_w;
    }
    for (int64_t a = 0; a < nq; ++a) {
      int64_t qa = queries[a] - w.first;
      if (qa < 0 || qa >= cells) continue;
      AxisWindow rw = axis_window(qa / w.grid_w, w.grid_h, w.kernel_h, w.dilation_h);
      AxisWindow cw = axis_window(qa % w.grid_w, w.grid_w, w.kernel_w, w.dilation_w);
      const int64_t r1 = rw.start + w.kernel_h, c1 = cw.start + w.kernel_w;
      uint8_t* row = out + a * nk;
      for (int64_t b = 0; b < nk; ++b) {
        const int64_t* kp = kpos.data() + 4 * b;
        row[b] = kp[0] == rw.group && kp[1] >= rw.start && kp[1] < r1 && kp[2] == cw.group && kp[3] >= cw.start &&
                 kp[3] < c1;
      }
    }
  }
  PlanHint plan_hint() const override { return {.patches = &w_}; }
  std::optional<GridOffsets> grid_offsets() const override {
    return GridOffsets{w_.grid_h, w_.grid_w, w_.first, w_.dilation_h, w_.dilation_w, w_.kernel_h - 1, w_.kernel_w - 1};
  }
  const Window2d* window2d() const override { return &w_; }

 private:
  Window2d w_;
};

}  // namespace

Policy Policy::window2d(const Window2d& w) {
  RC_CHECK(w.grid_h > 0 && w.grid_w > 0, "window2d policy: grid must be positive, got {}x{}", w.grid_h, w.grid_w);
  RC_CHECK(w.kernel_h > 0 && w.kernel_w > 0, "window2d policy: kernel must be positive, got {}x{}", w.kernel_h,
           w.kernel_w);
  RC_CHECK(w.dilation_h > 0 && w.dilation_w > 0, "window2d policy: dilation must be positive, got {}x{}",
           w.dilation_h, w.dilation_w);
  RC_CHECK(w.first >= 0, "window2d policy: first token index must be >= 0, got {}", w.first);
  RC_CHECK(w.kernel_h * w.dilation_h <= w.grid_h && w.kernel_w * w.dilation_w <= w.grid_w,
           "window2d policy: kernel {}x{} with dilation {}x{} is larger than the {}x{} grid", w.kernel_h, w.kernel_w,
           w.dilation_h, w.dilation_w, w.grid_h, w.grid_w);
  return from_rule(std::make_shared<const Window2dRule>(w));
}

// Config keys: kernel (both sides) or kernel_h / kernel_w (0: kernel), dilation or dilation_h / dilation_w
// (0: dilation); the grid comes from the context (a model's patch grid, `receptive attention --grid-h --grid-w`).
PolicyKindSpec window2d_kind() {
  return {"window2d", "kh x kw window on the token grid (NATTEN semantics, shifted at borders)",
          {"kernel", "kernel_h", "kernel_w", "dilation", "dilation_h", "dilation_w"}, true, true,
          [](const PolicyArgs& a) {
            const PolicyContext& c = a.ctx;
            auto side = [&](const char* key, const char* both) {
              const int64_t v = a.get_int(key);
              return v > 0 ? v : a.get_int(both);
            };
            Window2d w;
            w.grid_h = c.grid_h, w.grid_w = c.grid_w, w.first = c.first;
            w.kernel_h = side("kernel_h", "kernel"), w.kernel_w = side("kernel_w", "kernel");
            w.dilation_h = side("dilation_h", "dilation"), w.dilation_w = side("dilation_w", "dilation");
            RC_CHECK(w.kernel_h * w.dilation_h <= w.grid_h && w.kernel_w * w.dilation_w <= w.grid_w,
                     "{} {}×{} with dilation {}×{} is larger than the {}×{} {}", a.key("kernel"), w.kernel_h,
                     w.kernel_w, w.dilation_h, w.dilation_w, w.grid_h, w.grid_w, c.grid_name);
            return Policy::window2d(w);
          }};
}

}  // namespace rc
