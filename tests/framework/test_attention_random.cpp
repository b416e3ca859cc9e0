// Randomised shapes: seeded draws of B, heads (1..8), N (never a multiple of 8, so never of a block size), D in
// {1, 7, 16, 64} and random parameters for every policy kind, each with dot and additive scores, with and without a
// relative-position bias (1-D, 2-D window2d, 2-D explicit grid), sometimes an explicit scale or dropout. Both kernels
// must match the float64 reference in the output and every gradient (q, k, v, a_q, a_k, bias).
#include <algorithm>
#include <set>

#include "attention_cases.hpp"

using namespace rc;
using namespace rc::test;

namespace {

enum class Kind { Full, Causal, Window1d, Window2d, Global, Graph, Union, Intersection, Predicate };
constexpr int kKinds = 9;

struct Draw {
  Generator gen;
  explicit Draw(uint64_t seed) : gen(seed) {}
  int64_t in(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); }
  bool coin(double p = 0.5) { return std::uniform_real_distribution<double>(0, 1)(gen) < p; }
  int64_t odd_n(int64_t lo, int64_t hi) {  // N in [lo, hi], not a multiple of 8
    int64_t n = in(lo, hi);
    return n % 8 == 0 ? n + 1 : n;
  }
  Window2d window2d(int64_t first) {
    Window2d w;
    w.grid_h = in(2, 11), w.grid_w = in(2, 11), w.first = first;
    w.kernel_h = in(1, w.grid_h), w.kernel_w = in(1, w.grid_w);
    w.dilation_h = in(1, w.grid_h / w.kernel_h), w.dilation_w = in(1, w.grid_w / w.kernel_w);
    return w;
  }
  Policy graph(int64_t n) {  // the policy copies the CSR
    const Csr g = random_graph(n, static_cast<double>(in(1, 8)), gen());
    return Policy::graph(g.view(), coin());
  }
  Policy predicate() {  // a hashed pair set of random density; some rows may have no key
    const uint64_t s = gen();
    const uint64_t keep_in_16 = static_cast<uint64_t>(in(1, 12));
    return Policy::predicate([s, keep_in_16](int64_t i, int64_t j) {
      return mix_seed(s, static_cast<uint64_t>(i) * 100003u + static_cast<uint64_t>(j)) % 16 < keep_in_16;
    });
  }
};

// A case of the given policy kind with random shape and parameters (policy, N, bias table size, grid).
AttnCase draw_case(Kind kind, Draw& r) {
  AttnCase c;
  int64_t n = r.odd_n(2, 140);
  switch (kind) {
    case Kind::Full:
      c.name = "full", c.policy = Policy::full();
      break;
    case Kind::Causal:
      c.name = "causal", c.policy = Policy::causal();
      break;
    case Kind::Window1d:
      c.name = "window1d", c.policy = Policy::window1d(r.in(0, 20), r.in(0, 20), r.coin(0.3));
      break;
    case Kind::Window2d: {
      const int64_t first = r.in(0, 2);
      Window2d w = r.window2d(first);
      n = first + w.grid_h * w.grid_w + r.in(0, 4);  // tokens after the grid have no neighbours
      if (n % 8 == 0) ++n;
      c.name = "window2d", c.policy = Policy::window2d(w);
      if (first > 0 && r.coin()) c.name += " | class tokens", c.policy = c.policy | Policy::global(0, first);
      break;
    }
    case Kind::Global: {
      n = std::max<int64_t>(n, 5);
      c.name = "global", c.policy = Policy::global(r.in(0, n - 4), r.in(1, 3));
      break;
    }
    case Kind::Graph:
      c.name = "graph", c.policy = r.graph(n);
      break;
    case Kind::Union:
      switch (r.in(0, 2)) {
        case 0:
          c.name = "window1d | global", c.policy = Policy::window1d(r.in(0, 6), r.in(0, 6)) | Policy::global(0, 2);
          break;
        case 1:
          c.name = "graph | causal", c.policy = r.graph(n) | Policy::causal();
          break;
        default:
          c.name = "predicate | window1d", c.policy = r.predicate() | Policy::window1d(1, 1);
          break;
      }
      break;
    case Kind::Intersection:
      switch (r.in(0, 2)) {
        case 0:
          c.name = "causal & window1d", c.policy = Policy::causal() & Policy::window1d(r.in(1, 30), r.in(1, 30));
          break;
        case 1:
          c.name = "graph & window1d", c.policy = r.graph(n) & Policy::window1d(r.in(2, 40), r.in(2, 40));
          break;
        default: {
          Window2d w = r.window2d(0);
          n = w.grid_h * w.grid_w + 1;
          if (n % 8 == 0) ++n;
          c.name = "window2d & predicate", c.policy = Policy::window2d(w) & r.predicate();
          break;
        }
      }
      break;
    case Kind::Predicate:
      c.name = "predicate", c.policy = r.predicate();
      break;
  }
  c.N = n;
  return c;
}

// A bias table for case c: 2-D under a window2d, else 1-D or (when it fits) 2-D on an explicit grid.
void draw_bias(AttnCase& c, Draw& r) {
  if (const Window2d* w = c.policy.find_window2d()) {
    c.bias_T = (2 * w->kernel_h - 1) * (2 * w->kernel_w - 1);
    c.name += " + 2-D bias";
  } else if (c.N >= 6 && r.coin()) {
    c.grid.first = r.in(0, 1);
    c.grid.h = r.in(1, 5);
    c.grid.w = std::max<int64_t>(1, std::min<int64_t>(r.in(1, 9), (c.N - c.grid.first) / c.grid.h));
    c.bias_T = (2 * c.grid.h - 1) * (2 * c.grid.w - 1);
    c.name += " + 2-D grid bias";
  } else {
    c.bias_T = 2 * r.in(0, 12) + 1;
    c.name += " + 1-D bias";
  }
}

}  // namespace

TEST_CASE("attention: random shapes, every policy, both scores, with and without bias, both kernels vs float64") {
  Draw r(20240611);
  std::vector<int64_t> heads{1, 2, 3, 4, 5, 6, 7, 8};
  std::shuffle(heads.begin(), heads.end(), r.gen);
  const int64_t dims[] = {1, 7, 16, 64};
  std::set<int64_t> seen_h, seen_d;
  std::set<int> seen_kind;
  // three rounds over (policy kind, score, bias): 108 draws
  for (int t = 0; t < 3 * kKinds * 4; ++t) {
    const int kind = t / 4 % kKinds;
    const bool bias = t % 2 == 1;
    AttnCase c = draw_case(static_cast<Kind>(kind), r);
    c.abs_tol = 1e-6;  // rows with one key: see close_to_ref
    c.score = t % 4 < 2 ? ScoreKind::Dot : ScoreKind::Additive;
    c.B = r.in(1, 2);
    c.H = heads[t % 8];
    c.D = dims[(t + t / 4) % 4];  // each policy kind sees every D, on a different (score, bias) each round
    if (bias) draw_bias(c, r);
    if (r.coin(0.2)) c.scale = static_cast<float>(r.in(3, 20)) / 10.0f;
    if (r.coin(0.2)) c.dropout = 0.2f;
    seen_h.insert(c.H), seen_d.insert(c.D), seen_kind.insert(kind);
    INFO("draw " << t << ": " << c.name << " " << c.policy.describe() << " B=" << c.B << " H=" << c.H << " N=" << c.N
                 << " D=" << c.D << " score " << int(c.score) << " T=" << c.bias_T << " dropout " << c.dropout);
    REQUIRE(c.N % 8 != 0);
    AttnData d = make_data(c, 1000 + t);
    const std::vector<RefD> ref = run_ref(c, d);
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
      INFO("kernel " << int(k));
      c.kernel = k;
      check_against_ref(run_fast(c, d), ref, c.rel_tol, c.abs_tol);
    }
  }
  CHECK(seen_h == std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(seen_d == std::set<int64_t>{1, 7, 16, 64});
  CHECK(static_cast<int>(seen_kind.size()) == kKinds);
}
