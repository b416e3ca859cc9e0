// Score settings (score.hpp) checked by hand rather than against the reference, which shares them with the kernels:
// which relative-position bias entry a 1-D offset or a 2-D (dr, dc) offset uses, and attention dropout's masks.
#include <cmath>

#include "attention_cases.hpp"

using namespace rc;
using namespace rc::test;

namespace {

// One query and its keys with the table entry each must use (-1: no bias).
struct Row {
  int64_t query;
  std::vector<std::pair<int64_t, int64_t>> key_entry;
};

// Checks the layout twice: BiasIndex on its own, and through attention() with scores reduced to the bias
// (dot scores with scale 0), where log p_ij - log p_ij0 = table[h, e_ij] - table[h, e_ij0] (0 for no entry).
void check_layout(const Policy& policy, const BiasGrid& grid, int64_t N, int64_t T, const std::vector<Row>& rows) {
  INFO(policy.describe() << " grid " << grid.h << "x" << grid.w << " (first " << grid.first << "), T = " << T);
  const BiasIndex bi = make_bias_index(policy, grid, T);
  REQUIRE(bi.table_size == T);
  for (const Row& r : rows)
    for (auto [key, entry] : r.key_entry) {
      INFO("query " << r.query << " key " << key);
      CHECK(bi.index(r.query, key) == entry);
    }
  const int64_t H = 2, D = 3;
  const Tensor table = random_tensor({H, T}, 5, -2.0f, 2.0f);
  auto bias_of = [&](int64_t h, int64_t entry) { return entry < 0 ? 0.0 : double(table.data()[h * T + entry]); };
  for (AttentionKernel kernel : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
    INFO("kernel " << int(kernel));
    AttentionOptions o;
    o.scale = 0.0f;
    o.rel_bias = Var(table);
    o.bias_grid = grid;
    o.kernel = kernel;
    AttentionWeights w;
    for (const Row& r : rows) w.queries.push_back(r.query);
    attention(Var(random_tensor({1, H, N, D}, 1)), Var(random_tensor({1, H, N, D}, 2)),
              Var(random_tensor({1, H, N, D}, 3)), policy, o, &w);
    const int64_t nq = static_cast<int64_t>(rows.size());
    for (int64_t h = 0; h < H; ++h)
      for (int64_t a = 0; a < nq; ++a) {
        const Row& r = rows[a];
        auto weight = [&](int64_t key) { return double(w.dense.data()[(h * nq + a) * N + key]); };
        const auto [key0, entry0] = r.key_entry[0];
        for (auto [key, entry] : r.key_entry) {
          INFO("head " << h << " query " << r.query << " key " << key);
          REQUIRE(weight(key) > 0);
          CHECK(std::log(weight(key) / weight(key0)) == Approx(bias_of(h, entry) - bias_of(h, entry0)).margin(1e-5));
        }
      }
  }
}

}  // namespace

TEST_CASE("relative bias layout: a 1-D offset j - i uses entry clamp(j - i, -R, R) + R") {
  // T = 5: R = 2. Query 5 of window1d(3, 3) sees keys 2..8, offsets -3..3; the outer ones clamp to entries 0 and 4.
  check_layout(Policy::window1d(3, 3), {}, 9, 5, {{5, {{2, 0}, {3, 0}, {4, 1}, {5, 2}, {6, 3}, {7, 4}, {8, 4}}}});
  // causal, T = 7 (R = 3): query 4 sees 0..4, offsets -4..0
  check_layout(Policy::causal(), {}, 6, 7, {{4, {{0, 0}, {1, 0}, {2, 1}, {3, 2}, {4, 3}}}, {0, {{0, 3}}}});
}

TEST_CASE("relative bias layout: a 2-D offset (dr, dc) uses entry (dr + Rh)(2Rw + 1) + dc + Rw") {
  // window2d on a 5 x 6 grid, 3 x 3 kernel: Rh = Rw = 2, T = 25, rows of 5 entries.
  //   query 15 = (2, 3) sees rows 1..3, columns 2..4, offsets -1..1: key 8 = (1, 2) has (dr, dc) = (-1, -1) -> 1*5+1.
  //   query 0 = (0, 0) sees rows 0..2, columns 0..2 (the window shifts at the border), offsets 0..2: key 14 = (2, 2)
  //   has (2, 2) -> 4*5+4 = 24, the last entry.
  check_layout(Policy::window2d(grid(5, 6, 3, 3)), {}, 30, 25,
               {{15, {{8, 6}, {9, 7}, {10, 8}, {14, 11}, {15, 12}, {16, 13}, {20, 16}, {21, 17}, {22, 18}}},
                {0, {{0, 12}, {1, 13}, {2, 14}, {6, 17}, {7, 18}, {8, 19}, {12, 22}, {13, 23}, {14, 24}}}});
  // a 2 x 3 kernel on a 4 x 6 grid: Rh = 1, Rw = 2, T = 3 * 5 (a layout with the radii swapped would need rows of 3).
  //   query 8 = (1, 2) sees rows 0..1, columns 1..3: key 1 = (0, 1) has (-1, -1) -> 0*5+1; key 9 = (1, 3) (0, 1) -> 8;
  //   query 23 = (3, 5) sees rows 2..3, columns 3..5: key 15 = (2, 3) has (-1, -2) -> 0, key 22 = (3, 4) (0, -1) -> 6.
  check_layout(Policy::window2d(grid(4, 6, 2, 3)), {}, 24, 15,
               {{8, {{1, 1}, {2, 2}, {3, 3}, {7, 6}, {8, 7}, {9, 8}}},
                {23, {{15, 0}, {16, 1}, {17, 2}, {21, 5}, {22, 6}, {23, 7}}}});
  // dilation 2 along rows, grid after a class token (first = 1), composed with the class token: offsets count in
  // dilation steps, and pairs with the class token get no bias. 6 x 5 grid, 2 x 3 kernel: Rh = 1, Rw = 2, T = 15.
  //   query 13 = 1 + (2, 2) sees rows 0 and 2 (every other row), columns 1..3: key 2 = 1 + (0, 1) has
  //   (dr, dc) = (-2 / 2, -1) = (-1, -1) -> 1; key 14 = 1 + (2, 3) has (0, 1) -> 1*5+3 = 8.
  const Policy win = Policy::window2d(grid(6, 5, 2, 3, 2, 1, 1));
  check_layout(
      win | Policy::global(0, 1), {}, 31, 15,
      {{13, {{0, -1}, {2, 1}, {3, 2}, {4, 3}, {12, 6}, {13, 7}, {14, 8}}}, {0, {{0, -1}, {13, -1}, {30, -1}}}});
  const BiasIndex bi = make_bias_index(win, {}, 15);
  CHECK(bi.index(13, 8) == -1);  // key 8 = 1 + (1, 2): one row away, not a multiple of the dilation
}

TEST_CASE("relative bias layout: an explicit bias grid gives full attention 2-D offsets (Rh = h - 1, Rw = w - 1)") {
  // 3 x 4 grid after a class token (tokens 1..12), one more token 13 after it; T = 5 * 7 = 35.
  //   query 7 = 1 + (1, 2): key 1 = 1 + (0, 0) has (-1, -2) -> 1*7+1 = 8; key 12 = 1 + (2, 3) has (1, 1) -> 3*7+4 = 25;
  //   itself (0, 0) -> 2*7+3 = 17; key 5 = 1 + (1, 0) has (0, -2) -> 2*7+1 = 15; the tokens off the grid (0 and 13)
  //   get no bias.
  //   corner to corner: query 1 -> key 12 is (2, 3) -> 4*7+6 = 34 and query 12 -> key 1 is (-2, -3) -> 0.
  BiasGrid g;
  g.h = 3, g.w = 4, g.first = 1;
  check_layout(Policy::full(), g, 14, 35,
               {{7, {{0, -1}, {1, 8}, {12, 25}, {7, 17}, {13, -1}, {2, 9}, {5, 15}}},
                {1, {{12, 34}, {1, 17}, {0, -1}}},
                {12, {{1, 0}, {12, 17}, {13, -1}}},
                {0, {{0, -1}, {5, -1}}}});
}

TEST_CASE("attention dropout: off when not training, keeps about 1 - p of the weights scaled by 1/(1 - p), seeded") {
  // With v_j = e_j (D = N), out_i = sum_j dropout(p_ij) e_j, so out[i][j] is p_ij * keep_ij / (1 - p) itself and can
  // be set against the returned weights (p_ij before dropout).
  const int64_t B = 2, H = 4, N = 64;
  const float drop = 0.3f;
  Tensor q = random_tensor({B, H, N, N}, 1), k = random_tensor({B, H, N, N}, 2), dout = random_tensor({B, H, N, N}, 4);
  Tensor v = Tensor::zeros({B, H, N, N});
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t j = 0; j < N; ++j) v.data()[(bh * N + j) * N + j] = 1.0f;
  for (AttentionKernel kernel : {AttentionKernel::Tiled, AttentionKernel::Edges}) {
    INFO("kernel " << int(kernel));
    auto run = [&](float p, bool training, uint64_t seed, AttentionWeights* w = nullptr) {
      AttentionOptions o;
      o.dropout = p, o.training = training, o.seed = seed, o.kernel = kernel;
      return run_op([&](const std::vector<Var>& x) { return attention(x[0], x[1], x[2], Policy::full(), o, w); },
                    {q, k, v}, dout);
    };
    // not training: exactly the p = 0 result, gradients included
    const OpRun none = run(0.0f, true, 1), off = run(drop, false, 1);
    CHECK(off.out.to_vector() == none.out.to_vector());
    for (size_t i = 0; i < 3; ++i) CHECK(off.grads[i].to_vector() == none.grads[i].to_vector());
    // training: each weight is dropped (exactly 0) or scaled by 1/(1 - p); the decision is dropout_keep's hash
    AttentionWeights w;
    for (int64_t i = 0; i < N; ++i) w.queries.push_back(i);
    const OpRun on = run(drop, true, 1, &w), other_seed = run(drop, true, 2);
    REQUIRE(w.dense.shape() == Shape({B, H, N, N}));
    int64_t kept = 0, differ = 0, mismatches = 0;
    for (int64_t t = 0; t < B * H * N * N; ++t) {
      const int64_t bh = t / (N * N), i = t / N % N, j = t % N;
      const float p = w.dense.data()[t], o = on.out.data()[t];
      REQUIRE(p > 1e-6f);
      const bool keep = o != 0.0f;
      kept += keep;
      differ += keep != (other_seed.out.data()[t] != 0.0f);
      mismatches += keep != dropout_keep(1, bh, i, j, N, drop);
      if (keep) CHECK(o / p == Approx(1.0f / (1.0f - drop)).epsilon(1e-5));
    }
    const double total = static_cast<double>(B * H * N * N);  // 32768 weights: the kept fraction has std 0.0025
    CHECK(kept / total == Approx(1.0 - drop).margin(0.015));
    CHECK(mismatches == 0);
    CHECK(differ / total == Approx(2 * drop * (1 - drop)).margin(0.02));  // another seed: an independent mask
  }
}
