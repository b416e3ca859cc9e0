// The building blocks of the fast attention kernels: the vectorized exp, the register-blocked tile GEMMs (against
// plain loops, every block width and remainder), and the kernels' specialized paths (head dims with and without a
// compile-time specialization, D > 64, short sequences padded to 16-query vectors) against the reference, plus
// 1-vs-2-thread bit identity for those paths.
#include <cmath>

#include "attention_cases.hpp"
#include "framework/attention/simd.hpp"
#include "framework/attention/tile_gemm.hpp"
#include "framework/core/parallel.hpp"

using namespace rc;
using namespace rc::test;

TEST_CASE("simd::exp is within 2 ulp of exp on the float range, and exact at the edges") {
  // exp(0) = 1 exactly; exp(-inf) = 0; below -87.34 the result flushes to 0; above 88.72 it is +inf.
  CHECK(simd::exp1(0.0f) == 1.0f);
  CHECK(simd::exp1(-INFINITY) == 0.0f);
  CHECK(simd::exp1(-100.0f) == 0.0f);
  CHECK(std::isinf(simd::exp1(100.0f)));
  CHECK(std::isnan(simd::exp1(NAN)));
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.00731f) {
    const double r = std::exp(static_cast<double>(x));
    const float y = simd::exp1(x);
    // the float ulp at r, in double: near exp(-87) it is 2^-149, a denormal float that the flush to zero of
    // every computing thread (parallel.hpp) would turn into 0 if it were computed in float
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(r)) - 23);
    worst = std::max(worst, std::fabs(y - r) / ulp);
  }
  CHECK(worst < 2.0);
  // the vector lanes agree with the scalar form to the bit
  float xs[16], ys[16];
  for (int i = 0; i < 16; ++i) xs[i] = -10.0f + 1.37f * i;
  simd::store(ys, simd::exp(simd::load(xs)));
  for (int i = 0; i < 16; ++i) CHECK(ys[i] == simd::exp1(xs[i]));
}

TEST_CASE("tile GEMMs match plain loops for every block width and remainder") {
  Generator gen(3);
  for (int64_t mp : {16, 32, 48, 64})
    for (int64_t n : {1, 5, 13, 128})
      for (int64_t D : {1, 7, 16, 33, 80, 130}) {
        INFO("mp=" << mp << " n=" << n << " D=" << D);
        const int64_t Dp = attn::round16(D), m = mp - 3;
        auto rnd = [&](int64_t size) { return randn({size}, gen).to_vector(); };
        std::vector<float> a = rnd(n * D), bt = rnd(D * mp), x = rnd(n * mp), y = rnd(mp * Dp);
        // scores: c = a bt
        std::vector<float> c(n * mp);
        attn::tile_scores(a.data(), D, n, D, bt.data(), mp, c.data());
        double err = 0;
        for (int64_t j = 0; j < n; ++j)
          for (int64_t q = 0; q < mp; ++q) {
            double s = 0;
            for (int64_t d = 0; d < D; ++d) s += double(a[j * D + d]) * bt[d * mp + q];
            err = std::max(err, std::fabs(s - c[j * mp + q]));
          }
        CHECK(err < 1e-4 * std::sqrt(double(D)));
        // accum_t: ct += a^T x
        std::vector<float> ct = rnd(D * mp), ct0 = ct;
        attn::tile_accum_t(a.data(), D, n, D, x.data(), mp, ct.data());
        err = 0;
        for (int64_t d = 0; d < D; ++d)
          for (int64_t q = 0; q < mp; ++q) {
            double s = ct0[d * mp + q];
            for (int64_t j = 0; j < n; ++j) s += double(a[j * D + d]) * x[j * mp + q];
            err = std::max(err, std::fabs(s - ct[d * mp + q]));
          }
        CHECK(err < 1e-4 * std::sqrt(double(n)));
        // accum_rows: c (n x Dp) += x[:, :m] y[:m]
        std::vector<float> cr = rnd(n * Dp), cr0 = cr;
        attn::tile_accum_rows(x.data(), n, mp, m, y.data(), Dp, cr.data(), Dp);
        err = 0;
        for (int64_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < Dp; ++d) {
            double s = cr0[j * Dp + d];
            for (int64_t q = 0; q < m; ++q) s += double(x[j * mp + q]) * y[q * Dp + d];
            err = std::max(err, std::fabs(s - cr[j * Dp + d]));
          }
        CHECK(err < 1e-4 * std::sqrt(double(m)));
      }
}

namespace {

std::vector<AttnCase> path_cases() {
  static const Csr g = random_graph(90, 6.0, 21);
  std::vector<AttnCase> cs;
  auto add = [&](std::string name, Policy p, int64_t B, int64_t H, int64_t N, int64_t D, ScoreKind s) {
    AttnCase c;
    c.name = std::move(name);
    c.policy = std::move(p);
    c.B = B, c.H = H, c.N = N, c.D = D, c.score = s;
    cs.push_back(c);
  };
  for (ScoreKind s : {ScoreKind::Dot, ScoreKind::Additive}) {
    add("full short (one padded block)", Policy::full(), 5, 2, 21, 16, s);
    add("full D=32", Policy::full(), 1, 2, 70, 32, s);
    add("full D=80 (two column chunks)", Policy::full(), 1, 1, 45, 80, s);
    add("window1d D=130", Policy::window1d(9, 4), 1, 1, 77, 130, s);
    add("graph D=32", Policy::graph(g.view(), true), 2, 2, 90, 32, s);
    add("graph D=24 (runtime D)", Policy::graph(g.view(), false), 1, 3, 90, 24, s);
    add("graph D=7 (edge kernel pads to 8)", Policy::graph(g.view(), true), 2, 2, 90, 7, s);
    add("graph D=8 with dropout (saved factors)", Policy::graph(g.view(), true), 1, 3, 90, 8, s);
    cs.back().dropout = 0.3f;
  }
  return cs;
}

}  // namespace

TEST_CASE("attention kernels: specialized and generic head dims, padded short blocks, D > 64") {
  for (AttnCase c : path_cases())
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
      c.kernel = k;
      check_fast_vs_ref(c);
    }
}

TEST_CASE("attention kernels: the new paths are identical to the bit for 1 and 2 threads") {
  for (AttnCase c : path_cases())
    for (AttentionKernel k : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
      c.kernel = k;
      INFO(c.name << " kernel " << int(k));
      AttnData d = make_data(c, 17);
      set_num_threads(1);
      OpRun one = run_fast(c, d);
      set_num_threads(2);
      OpRun two = run_fast(c, d);
      set_num_threads(0);
      CHECK(one.out.to_vector() == two.out.to_vector());
      for (size_t i = 0; i < one.grads.size(); ++i) CHECK(one.grads[i].to_vector() == two.grads[i].to_vector());
    }
}

TEST_CASE("attention: one Var as q, k and v (a GAT layer) equals three copies, gradients summed") {
  static const Csr g = random_graph(60, 5.0, 33);
  for (int64_t D : {7, 8})
    for (ScoreKind s : {ScoreKind::Dot, ScoreKind::Additive}) {
      INFO("D=" << D << " score " << int(s));
      const int64_t H = 3, N = 60;
      Tensor x = random_tensor({1, H, N, D}, 5), dout = random_tensor({1, H, N, D}, 6);
      AttentionOptions o;
      o.score = s;
      o.dropout = 0.25f;
      o.seed = 4;
      if (s == ScoreKind::Additive) {
        o.a_q = Var(random_tensor({H, D}, 7), false);
        o.a_k = Var(random_tensor({H, D}, 8), false);
      }
      const Policy policy = Policy::graph(g.view(), true);
      Var one(x.clone(), true);
      Var y1 = attention(one, one, one, policy, o);
      backward(y1, dout);
      Var q(x.clone(), true), k(x.clone(), true), v(x.clone(), true);
      Var y3 = attention(q, k, v, policy, o);
      backward(y3, dout);
      CHECK(y1.value().to_vector() == y3.value().to_vector());
      Tensor sum = q.grad().clone();
      sum.add_(k.grad());
      sum.add_(v.grad());
      std::vector<float> a = one.grad().to_vector(), b = sum.to_vector();
      REQUIRE(a.size() == b.size());
      double err = 0;
      for (size_t i = 0; i < a.size(); ++i) err = std::max(err, std::fabs(double(a[i]) - b[i]));
      CHECK(err < 1e-6);
    }
}
