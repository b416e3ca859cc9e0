#include "framework/attention/policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "framework/core/error.hpp"

namespace rc {

// Derived data memoized on a policy (see Policy::memo), shared by all copies of the policy value.
struct PolicyMemo {
  struct Entry {
    int tag;
    int64_t n;
    Policy::MemoPtr value;
  };
  std::mutex mutex;
  std::vector<Entry> entries;
};

struct Policy::Impl {
  PolicyKind kind = PolicyKind::Full;
  int64_t left = 0, right = 0;  // window1d
  bool causal = false;          // window1d
  Window2d w2;                  // window2d
  int64_t first = 0, count = 0; // global
  Neighbours graph;             // graph (self-loops already merged)
  bool self_loops = false;
  Predicate pred;
  std::string name;
  std::vector<Policy> parts;  // union / intersection
  std::shared_ptr<PolicyMemo> memo = std::make_shared<PolicyMemo>();
};

namespace {

using Impl = Policy::Impl;

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

bool window2d_allowed(const Window2d& w, int64_t i, int64_t j) {
  int64_t cells = w.grid_h * w.grid_w;
  int64_t a = i - w.first, b = j - w.first;
  if (a < 0 || a >= cells || b < 0 || b >= cells) return false;
  AxisWindow rw = axis_window(a / w.grid_w, w.grid_h, w.kernel_h, w.dilation_h);
  AxisWindow cw = axis_window(a % w.grid_w, w.grid_w, w.kernel_w, w.dilation_w);
  return axis_sees(rw, b / w.grid_w, w.kernel_h, w.dilation_h) && axis_sees(cw, b % w.grid_w, w.kernel_w, w.dilation_w);
}

bool graph_allowed(const Neighbours& g, int64_t i, int64_t j) {
  if (i < 0 || i >= g.n) return false;
  auto b = g.col_idx.begin() + g.row_ptr[i], e = g.col_idx.begin() + g.row_ptr[i + 1];
  return std::binary_search(b, e, j);
}

}  // namespace

// ---- construction ----------------------------------------------------------------------------------------

namespace {
std::shared_ptr<const Impl> impl_of(Impl i) { return std::make_shared<const Impl>(std::move(i)); }
}  // namespace

Policy Policy::full() {
  Impl i;
  i.kind = PolicyKind::Full;
  return Policy(impl_of(std::move(i)));
}

Policy Policy::causal() {
  Impl i;
  i.kind = PolicyKind::Causal;
  return Policy(impl_of(std::move(i)));
}

Policy Policy::window1d(int64_t left, int64_t right, bool causal) {
  RC_CHECK(left >= 0 && right >= 0, "window1d policy: radii must be >= 0, got left = {}, right = {}", left, right);
  Impl i;
  i.kind = PolicyKind::Window1d;
  i.left = left;
  i.right = causal ? 0 : right;
  i.causal = causal;
  return Policy(impl_of(std::move(i)));
}

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
  Impl i;
  i.kind = PolicyKind::Window2d;
  i.w2 = w;
  return Policy(impl_of(std::move(i)));
}

Policy Policy::global(int64_t first, int64_t count) {
  RC_CHECK(first >= 0 && count >= 0, "global policy: first = {} and count = {} must be >= 0", first, count);
  Impl i;
  i.kind = PolicyKind::Global;
  i.first = first;
  i.count = count;
  return Policy(impl_of(std::move(i)));
}

Policy Policy::graph(const CsrView& csr, bool self_loops) {
  check_csr(csr, "graph policy");
  Impl i;
  i.kind = PolicyKind::Graph;
  i.self_loops = self_loops;
  i.graph = self_loops ? merge_self_loops(csr) : to_csr(csr);
  return Policy(impl_of(std::move(i)));
}

Policy Policy::predicate(Predicate f, std::string name) {
  RC_CHECK(static_cast<bool>(f), "predicate policy '{}': the function is empty", name);
  Impl i;
  i.kind = PolicyKind::Predicate;
  i.pred = std::move(f);
  i.name = std::move(name);
  return Policy(impl_of(std::move(i)));
}

Policy Policy::union_of(std::vector<Policy> parts) {
  RC_CHECK(!parts.empty(), "union policy: needs at least one part");
  Impl i;
  i.kind = PolicyKind::Union;
  i.parts = std::move(parts);
  return Policy(impl_of(std::move(i)));
}

Policy Policy::intersection_of(std::vector<Policy> parts) {
  RC_CHECK(!parts.empty(), "intersection policy: needs at least one part");
  Impl i;
  i.kind = PolicyKind::Intersection;
  i.parts = std::move(parts);
  return Policy(impl_of(std::move(i)));
}

Policy operator|(const Policy& a, const Policy& b) { return Policy::union_of({a, b}); }
Policy operator&(const Policy& a, const Policy& b) { return Policy::intersection_of({a, b}); }

// ---- queries -------------------------------------------------------------------------------------------------

PolicyKind Policy::kind() const { return impl_->kind; }
const Window2d* Policy::window2d_params() const { return impl_->kind == PolicyKind::Window2d ? &impl_->w2 : nullptr; }
std::pair<int64_t, int64_t> Policy::window1d_radii() const { return {impl_->left, impl_->right}; }
const std::vector<Policy>& Policy::parts() const { return impl_->parts; }

const Window2d* Policy::find_window2d() const {
  if (impl_->kind == PolicyKind::Window2d) return &impl_->w2;
  const Window2d* found = nullptr;
  for (const Policy& p : impl_->parts)
    if (const Window2d* w = p.find_window2d()) {
      if (found) return nullptr;  // ambiguous
      found = w;
    }
  return found;
}

bool Policy::allowed(int64_t i, int64_t j) const {
  const Impl& p = *impl_;
  switch (p.kind) {
    case PolicyKind::Full: return true;
    case PolicyKind::Causal: return j <= i;
    case PolicyKind::Window1d: return j >= i - p.left && j <= i + p.right;
    case PolicyKind::Window2d: return window2d_allowed(p.w2, i, j);
    case PolicyKind::Global:
      return (i >= p.first && i < p.first + p.count) || (j >= p.first && j < p.first + p.count);
    case PolicyKind::Graph: return graph_allowed(p.graph, i, j);
    case PolicyKind::Predicate: return p.pred(i, j);
    case PolicyKind::Union:
      for (const Policy& c : p.parts)
        if (c.allowed(i, j)) return true;
      return false;
    case PolicyKind::Intersection:
      for (const Policy& c : p.parts)
        if (!c.allowed(i, j)) return false;
      return true;
  }
  return false;
}

void Policy::validate(int64_t n) const {
  const Impl& p = *impl_;
  switch (p.kind) {
    case PolicyKind::Window2d:
      RC_CHECK(p.w2.first + p.w2.grid_h * p.w2.grid_w <= n,
               "attention: window2d grid {}x{} starting at token {} needs {} tokens but the sequence has N = {}",
               p.w2.grid_h, p.w2.grid_w, p.w2.first, p.w2.first + p.w2.grid_h * p.w2.grid_w, n);
      break;
    case PolicyKind::Global:
      RC_CHECK(p.first + p.count <= n, "attention: global tokens [{}, {}) exceed the sequence length N = {}", p.first,
               p.first + p.count, n);
      break;
    case PolicyKind::Graph:
      RC_CHECK(p.graph.n == n, "attention: graph policy has {} nodes but the sequence has N = {} tokens", p.graph.n,
               n);
      break;
    default: break;
  }
  for (const Policy& c : p.parts) c.validate(n);
}

std::pair<int64_t, int64_t> Policy::key_hull(int64_t q0, int64_t q1, int64_t n) const {
  const Impl& p = *impl_;
  q0 = std::max<int64_t>(q0, 0);
  q1 = std::min(q1, n);
  if (q0 >= q1) return {0, 0};
  switch (p.kind) {
    case PolicyKind::Full:
    case PolicyKind::Predicate: return {0, n};
    case PolicyKind::Causal: return {0, q1};
    case PolicyKind::Window1d: return {std::max<int64_t>(0, q0 - p.left), std::min(n, q1 + p.right)};
    case PolicyKind::Global:
      if (q0 < p.first + p.count && q1 > p.first) return {0, n};
      return {p.first, p.first + p.count};
    case PolicyKind::Window2d: {
      const Window2d& w = p.w2;
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
    case PolicyKind::Graph: {
      int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
      for (int64_t r = q0; r < std::min(q1, p.graph.n); ++r) {
        int64_t b = p.graph.row_ptr[r], e = p.graph.row_ptr[r + 1];
        if (b == e) continue;
        lo = std::min(lo, p.graph.col_idx[b]);
        hi = std::max(hi, p.graph.col_idx[e - 1] + 1);
      }
      return lo < hi ? std::pair{lo, hi} : std::pair<int64_t, int64_t>{0, 0};
    }
    case PolicyKind::Union: {
      int64_t lo = n, hi = 0;
      for (const Policy& c : p.parts) {
        auto [a, b] = c.key_hull(q0, q1, n);
        if (a >= b) continue;
        lo = std::min(lo, a);
        hi = std::max(hi, b);
      }
      return {lo, hi};
    }
    case PolicyKind::Intersection: {
      int64_t lo = 0, hi = n;
      for (const Policy& c : p.parts) {
        auto [a, b] = c.key_hull(q0, q1, n);
        lo = std::max(lo, a);
        hi = std::min(hi, b);
      }
      return {lo, hi};
    }
  }
  return {0, n};
}

void Policy::mask(const int64_t* queries, int64_t nq, const int64_t* keys, int64_t nk, uint8_t* out) const {
  const Impl& p = *impl_;
  switch (p.kind) {
    case PolicyKind::Full: std::fill_n(out, nq * nk, uint8_t{1}); return;
    case PolicyKind::Causal:
    case PolicyKind::Window1d: {
      bool causal = p.kind == PolicyKind::Causal;
      for (int64_t a = 0; a < nq; ++a) {
        int64_t i = queries[a], lo = causal ? std::numeric_limits<int64_t>::min() : i - p.left,
                hi = causal ? i : i + p.right;
        for (int64_t b = 0; b < nk; ++b) out[a * nk + b] = keys[b] >= lo && keys[b] <= hi;
      }
      return;
    }
    case PolicyKind::Window2d: {  // decompose each key once; then the pair test is four comparisons
      const Window2d& w = p.w2;
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
      return;
    }
    case PolicyKind::Graph: {
      std::fill_n(out, nq * nk, uint8_t{0});
      for (int64_t a = 0; a < nq; ++a) {
        int64_t i = queries[a];
        if (i < 0 || i >= p.graph.n) continue;
        const int64_t* c = p.graph.col_idx.data() + p.graph.row_ptr[i];
        const int64_t* ce = p.graph.col_idx.data() + p.graph.row_ptr[i + 1];
        int64_t b = 0;
        while (c < ce && b < nk) {  // merge two sorted lists
          if (*c < keys[b]) ++c;
          else if (*c > keys[b]) ++b;
          else out[a * nk + b++] = 1, ++c;
        }
      }
      return;
    }
    case PolicyKind::Global:
    case PolicyKind::Predicate:
      for (int64_t a = 0; a < nq; ++a)
        for (int64_t b = 0; b < nk; ++b) out[a * nk + b] = allowed(queries[a], keys[b]);
      return;
    case PolicyKind::Union:
    case PolicyKind::Intersection: {
      bool is_union = p.kind == PolicyKind::Union;
      p.parts[0].mask(queries, nq, keys, nk, out);
      std::vector<uint8_t> tmp(static_cast<size_t>(nq * nk));
      for (size_t c = 1; c < p.parts.size(); ++c) {
        p.parts[c].mask(queries, nq, keys, nk, tmp.data());
        for (int64_t t = 0; t < nq * nk; ++t) out[t] = is_union ? (out[t] | tmp[t]) : (out[t] & tmp[t]);
      }
      return;
    }
  }
}

Neighbours Policy::neighbours(int64_t n) const {
  const Impl& p = *impl_;
  if (p.kind == PolicyKind::Graph && p.graph.n == n) return p.graph;
  Neighbours g;
  g.n = n;
  g.row_ptr.assign(1, 0);
  std::vector<int64_t> keys;
  std::vector<uint8_t> m;
  if (p.kind == PolicyKind::Union) {  // merge the parts' lists row by row
    std::vector<Neighbours> lists;
    for (const Policy& c : p.parts) lists.push_back(c.neighbours(n));
    std::vector<int64_t> merged;
    for (int64_t i = 0; i < n; ++i) {
      merged.clear();
      for (const Neighbours& l : lists)
        merged.insert(merged.end(), l.col_idx.begin() + l.row_ptr[i], l.col_idx.begin() + l.row_ptr[i + 1]);
      std::sort(merged.begin(), merged.end());
      merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
      g.col_idx.insert(g.col_idx.end(), merged.begin(), merged.end());
      g.row_ptr.push_back(g.edges());
    }
    return g;
  }
  for (int64_t i = 0; i < n; ++i) {  // scan the hull of each query with the tile mask
    auto [lo, hi] = key_hull(i, i + 1, n);
    if (lo < hi) {
      keys.resize(static_cast<size_t>(hi - lo));
      for (int64_t j = lo; j < hi; ++j) keys[j - lo] = j;
      m.resize(keys.size());
      mask(&i, 1, keys.data(), hi - lo, m.data());
      for (int64_t j = lo; j < hi; ++j)
        if (m[j - lo]) g.col_idx.push_back(j);
    }
    g.row_ptr.push_back(g.edges());
  }
  return g;
}

Policy::MemoPtr Policy::memo(int tag, int64_t n, const std::function<MemoPtr()>& make) const {
  PolicyMemo& m = *impl_->memo;
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    for (const PolicyMemo::Entry& e : m.entries)
      if (e.tag == tag && e.n == n) return e.value;
  }
  MemoPtr value = make();  // outside the lock: make() may run parallel work; a concurrent duplicate is harmless
  std::lock_guard<std::mutex> lock(m.mutex);
  for (const PolicyMemo::Entry& e : m.entries)
    if (e.tag == tag && e.n == n) return e.value;
  if (static_cast<int>(m.entries.size()) >= kMemoEntries) m.entries.erase(m.entries.begin());
  m.entries.push_back({tag, n, value});
  return value;
}

std::string Policy::describe() const {
  const Impl& p = *impl_;
  switch (p.kind) {
    case PolicyKind::Full: return "full";
    case PolicyKind::Causal: return "causal";
    case PolicyKind::Window1d:
      return fmt::format("window1d(left={}, right={}, causal={})", p.left, p.right, p.causal);
    case PolicyKind::Window2d:
      return fmt::format("window2d(grid={}x{}, kernel={}x{}, dilation={}x{}, first={})", p.w2.grid_h, p.w2.grid_w,
                         p.w2.kernel_h, p.w2.kernel_w, p.w2.dilation_h, p.w2.dilation_w, p.w2.first);
    case PolicyKind::Global: return fmt::format("global(first={}, count={})", p.first, p.count);
    case PolicyKind::Graph:
      return fmt::format("graph(nodes={}, edges={}, self_loops={})", p.graph.n, p.graph.edges(), p.self_loops);
    case PolicyKind::Predicate: return fmt::format("predicate({})", p.name);
    case PolicyKind::Union:
    case PolicyKind::Intersection: {
      std::vector<std::string> s;
      for (const Policy& c : p.parts) s.push_back(c.describe());
      return fmt::format("({})", fmt::join(s, p.kind == PolicyKind::Union ? " | " : " & "));
    }
  }
  return "?";
}

void register_policies() {
  catalog_add("policies", {"full", "every query sees every key (Transformer)", {}});
  catalog_add("policies", {"causal", "query i sees keys j <= i (masked attention)", {}});
  catalog_add("policies", {"window1d",
                           "|i - j| within a radius (truncated attention for long sequences)",
                           {{"left", "64", "keys before the query"},
                            {"right", "64", "keys after the query"},
                            {"causal", "false", "forces right = 0"}}});
  catalog_add("policies", {"window2d",
                           "kh x kw neighbourhood on an H x W token grid (NATTEN semantics, shifted at borders)",
                           {{"grid_h", "-", "grid rows"},
                            {"grid_w", "-", "grid columns"},
                            {"kernel_h", "7", "window rows (kernel_h * dilation_h <= grid_h)"},
                            {"kernel_w", "7", "window columns"},
                            {"dilation_h", "1", "row dilation"},
                            {"dilation_w", "1", "column dilation"},
                            {"first", "0", "index of the first grid token (1 after a class token)"}}});
  catalog_add("policies", {"global", "tokens [first, first+count) see and are seen by all (class token)",
                           {{"first", "0", "first global token"}, {"count", "1", "number of global tokens"}}});
  catalog_add("policies", {"graph", "neighbours in a CSR adjacency (graph attention)",
                           {{"self_loops", "true", "adds (i, i) where missing"}}});
  catalog_add("policies", {"union / intersection", "compositions of the above (e.g. window2d | global)", {}});
  catalog_add("policies", {"predicate", "a user function (i, j) -> bool (C++ API only)", {}});
}

}  // namespace rc
