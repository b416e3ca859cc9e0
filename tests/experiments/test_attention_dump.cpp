#include <cstring>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "experiments/cli/commands.hpp"
#include "framework/io/npy.hpp"
#include "support/files.hpp"

using namespace rc;
namespace fs = std::filesystem;

namespace {

// What another tool would do with the dump, from the files and meta.json alone, densely in float64:
//   s_ij = score(q_i, k_j) + bias[h, e(i, j)] where mask[i, j] = 1;  p = softmax_j(s);  out_i = sum_j p_ij v_j,
// and backward from dout: dv_j += p_ij dout_i, dp_ij = dout_i . v_j, ds_ij = p_ij (dp_ij - sum_t p_it dp_it), then
// through the score (dot: scale q . k; additive: LeakyReLU(a_q . q_i + a_k . k_j)) and the bias entry.
struct Dense64 {
  std::vector<double> out, weights, dq, dk, dv, da_q, da_k, dbias;
};

// A 1-D '<i8' .npy file's values (the header is checked to say int64).
std::vector<int64_t> read_int64_npy(const fs::path& path) {
  const std::string bytes = test::read_all(path.string());
  REQUIRE(bytes.size() >= 10);
  const size_t header = 10 + (uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8));
  CHECK(bytes.substr(10, header - 10).find("'descr': '<i8'") != std::string::npos);
  REQUIRE((bytes.size() - header) % 8 == 0);
  std::vector<int64_t> v((bytes.size() - header) / 8);
  std::memcpy(v.data(), bytes.data() + header, bytes.size() - header);
  return v;
}

using BiasEntry = std::function<int64_t(int64_t i, int64_t j)>;  // table entry of a pair (meta.json's bias_index)

Dense64 recompute(const fs::path& dir, const nlohmann::json& meta, const BiasEntry& entry) {
  auto load = [&](const char* f) { return io::load_npy((dir / f).string()); };
  const Tensor q = load("q.npy"), k = load("k.npy"), v = load("v.npy"), dout = load("dout.npy"),
               mask = load("mask.npy");
  const bool additive = meta["score"] == "additive", has_bias = meta["bias"].get<bool>();
  const Tensor aq = additive ? load("a_q.npy") : Tensor(), ak = additive ? load("a_k.npy") : Tensor();
  const Tensor bias = has_bias ? load("bias.npy") : Tensor();
  const int64_t B = q.dim(0), H = q.dim(1), N = q.dim(2), D = q.dim(3), T = has_bias ? bias.dim(1) : 0;
  const double scale = meta["scale"].get<double>(), slope = meta["leaky_slope"].get<double>();
  auto x = [](const Tensor& t, int64_t row, int64_t c, int64_t D) { return double(t.data()[row * D + c]); };
  Dense64 r;
  r.out.assign(q.numel(), 0), r.dq.assign(q.numel(), 0), r.dk.assign(q.numel(), 0), r.dv.assign(q.numel(), 0);
  r.weights.assign(B * H * N * N, 0);
  r.da_q.assign(additive ? H * D : 0, 0), r.da_k.assign(additive ? H * D : 0, 0), r.dbias.assign(H * T, 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t bh = b * H + h;
      for (int64_t i = 0; i < N; ++i) {
        const int64_t qi = bh * N + i;
        std::vector<double> s(N, -INFINITY), pre(N, 0), p(N, 0), dp(N, 0);
        double m = -INFINITY;
        for (int64_t j = 0; j < N; ++j) {
          if (mask.data()[i * N + j] == 0) continue;
          const int64_t kj = bh * N + j;
          double score = 0;
          for (int64_t c = 0; c < D; ++c) {
            if (additive)
              pre[j] += x(aq, h, c, D) * x(q, qi, c, D) + x(ak, h, c, D) * x(k, kj, c, D);
            else
              score += x(q, qi, c, D) * x(k, kj, c, D);
          }
          score = additive ? (pre[j] > 0 ? pre[j] : slope * pre[j]) : scale * score;
          if (has_bias && entry(i, j) >= 0) score += bias.data()[h * T + entry(i, j)];
          s[j] = score;
          m = std::max(m, score);
        }
        double z = 0, pdp = 0;
        for (int64_t j = 0; j < N; ++j) z += std::isfinite(s[j]) ? std::exp(s[j] - m) : 0.0;
        for (int64_t j = 0; j < N; ++j) {
          if (!std::isfinite(s[j])) continue;
          const int64_t kj = bh * N + j;
          p[j] = std::exp(s[j] - m) / z;
          r.weights[qi * N + j] = p[j];
          for (int64_t c = 0; c < D; ++c) {
            r.out[qi * D + c] += p[j] * x(v, kj, c, D);
            r.dv[kj * D + c] += p[j] * x(dout, qi, c, D);
            dp[j] += x(dout, qi, c, D) * x(v, kj, c, D);
          }
          pdp += p[j] * dp[j];
        }
        for (int64_t j = 0; j < N; ++j) {
          if (!std::isfinite(s[j])) continue;
          const int64_t kj = bh * N + j;
          const double ds = p[j] * (dp[j] - pdp);
          if (has_bias && entry(i, j) >= 0) r.dbias[h * T + entry(i, j)] += ds;
          const double e = additive ? ds * (pre[j] > 0 ? 1.0 : slope) : ds * scale;
          for (int64_t c = 0; c < D; ++c) {
            if (additive) {
              r.dq[qi * D + c] += e * x(aq, h, c, D);
              r.dk[kj * D + c] += e * x(ak, h, c, D);
              r.da_q[h * D + c] += e * x(q, qi, c, D);
              r.da_k[h * D + c] += e * x(k, kj, c, D);
            } else {
              r.dq[qi * D + c] += e * x(k, kj, c, D);
              r.dk[kj * D + c] += e * x(q, qi, c, D);
            }
          }
        }
      }
    }
  return r;
}

// float32 dump vs float64 recomputation: max |difference| <= 2e-5 (1 + max |value|)
void check_close(const fs::path& dir, const char* file, const std::vector<double>& expected) {
  INFO(file);
  REQUIRE(fs::exists(dir / file));
  const Tensor t = io::load_npy((dir / file).string());
  REQUIRE(t.numel() == static_cast<int64_t>(expected.size()));
  double worst = 0, largest = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::fabs(t.data()[i] - expected[i]));
    largest = std::max(largest, std::fabs(expected[i]));
  }
  INFO("max |difference| " << worst << ", max |value| " << largest);
  CHECK(largest > 0);
  CHECK(worst <= 2e-5 * (1 + largest));
}

}  // namespace

TEST_CASE("receptive attention --dump: a dense float64 recomputation from the files gives out, weights and gradients") {
  test::TempDir tmp("attention_dump");
  const fs::path dir = tmp.path / "dump";
  struct Case {
    const char* policy;
    const char* score;
    bool bias;
  };
  const Case cases[] = {{"full", "dot", false},      {"causal", "dot", false},      {"window1d", "dot", false},
                        {"window2d", "dot", false},  {"graph", "dot", false},       {"window1d", "additive", false},
                        {"graph", "additive", false}, {"window2d", "dot", true},     {"window1d", "dot", true},
                        {"full", "additive", true},  {"window2d", "additive", true},
                        {"axial", "dot", true},      {"window2d | global", "dot", true}};
  for (const Case& cs : cases) {
    INFO(cs.policy << " " << cs.score << (cs.bias ? " with bias" : ""));
    fs::remove_all(dir);
    cli::AttentionArgs a;
    a.policy = cs.policy;
    a.score = cs.score;
    a.bias = cs.bias;
    a.tokens = 13;
    a.grid_h = 3;
    a.grid_w = 5;
    a.dim = 5;
    a.heads = 2;
    a.batch = 2;
    if (std::string(cs.policy) == "window1d") a.policy_keys.set("left", int64_t{2}), a.policy_keys.set("right", int64_t{1});
    a.seed = 3;
    a.dump = dir.string();
    REQUIRE(cli::attention_dump(a) == 0);
    const nlohmann::json meta = nlohmann::json::parse(test::read_all((dir / "meta.json").string()));
    const int64_t n = io::load_npy((dir / "q.npy").string()).dim(2);
    const bool on_grid = std::string(cs.policy).rfind("window2d", 0) == 0 || std::string(cs.policy) == "axial";
    CHECK(n == (on_grid ? 15 : 13));
    // the bias layout as meta.json states it: 1-D offsets clamped to the table, or 2-D offsets on the grid
    BiasEntry entry;
    if (cs.bias) {
      const int64_t T = io::load_npy((dir / "bias.npy").string()).dim(1);
      if (on_grid) {  // window2d: radii kernel - 1 = 2 (the default kernel 3); axial: grid side - 1
        const bool axial = std::string(cs.policy) == "axial";
        const int64_t rh = axial ? a.grid_h - 1 : 2, rw = axial ? a.grid_w - 1 : 2, side = 2 * rw + 1;
        REQUIRE(T == (2 * rh + 1) * side);
        entry = [=](int64_t i, int64_t j) {
          const int64_t dr = j / a.grid_w - i / a.grid_w, dc = j % a.grid_w - i % a.grid_w;
          return (std::clamp(dr, -rh, rh) + rh) * side + std::clamp(dc, -rw, rw) + rw;
        };
      } else {
        const int64_t R = (T - 1) / 2;
        REQUIRE(R == (std::string(cs.policy) == "window1d" ? 2 : n - 1));
        CHECK(meta["bias_radius"].get<int64_t>() == R);  // meta.json alone gives the table's size
        entry = [=](int64_t i, int64_t j) { return std::clamp(j - i, -R, R) + R; };
      }
    }
    const Dense64 r = recompute(dir, meta, entry);
    check_close(dir, "out.npy", r.out);
    check_close(dir, "weights.npy", r.weights);
    check_close(dir, "dq.npy", r.dq);
    check_close(dir, "dk.npy", r.dk);
    check_close(dir, "dv.npy", r.dv);
    if (std::string(cs.score) == "additive") {
      check_close(dir, "da_q.npy", r.da_q);
      check_close(dir, "da_k.npy", r.da_k);
    }
    if (cs.bias) check_close(dir, "dbias.npy", r.dbias);
    for (const char* f : {"dout.npy", "mask.npy", "meta.json"}) CHECK(fs::exists(dir / f));
    if (std::string(cs.policy) == "graph") {
      // the CSR is int64 ('<i8'), and its edges are the mask's allowed pairs (self-loops are added by the policy)
      const std::vector<int64_t> row_ptr = read_int64_npy(dir / "row_ptr.npy"), col = read_int64_npy(dir / "col_idx.npy");
      REQUIRE(row_ptr.size() == size_t(n + 1));
      CHECK(row_ptr.front() == 0);
      CHECK(row_ptr.back() == int64_t(col.size()));
      CHECK(col.size() > size_t(n));  // --degree 4: not an empty graph
      const Tensor mask = io::load_npy((dir / "mask.npy").string());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) CHECK(mask.data()[i * n + col[e]] == 1.0f);
    }
  }
}

TEST_CASE("receptive attention: flags that do not apply to the policy are errors, and compositions and rectangular kernels") {
  test::TempDir tmp("attention_dump_flags");
  cli::AttentionArgs a;
  a.dump = (tmp.path / "dump").string();
  a.policy = "graph";
  a.bias = true;
  CHECK_THROWS_WITH(cli::attention_dump(a), Catch::Contains("--bias") && Catch::Contains("--policy graph"));
  a.bias = false;
  a.policy_keys.set("kernel", int64_t{3});
  CHECK_THROWS_WITH(cli::attention_dump(a), "attention: --kernel does not apply to --policy graph (it takes --self-loops)");
  a.policy_keys = Params();
  a.policy = "full";
  a.given = {"grid_h"};
  CHECK_THROWS_WITH(cli::attention_dump(a), Catch::Contains("--grid-h applies to the grid kinds"));
  a.given = {"tokens"};
  a.policy = "axial";
  CHECK_THROWS_WITH(cli::attention_dump(a), Catch::Contains("--tokens does not apply to --policy axial"));
  a.given = {"degree"};
  a.policy = "window1d";
  CHECK_THROWS_WITH(cli::attention_dump(a), Catch::Contains("--degree applies to --policy graph"));
  a.given.clear();
  a.policy = "windw2d";
  CHECK_THROWS_WITH(cli::attention_dump(a), Catch::StartsWith("attention: --policy = 'windw2d': unknown policy kind "
                                                              "'windw2d' (did you mean 'window2d'?)"));
  // a rectangular kernel in a union with a global token, and an intersection
  a.policy = "window2d | global";
  a.grid_h = 4, a.grid_w = 6;
  a.policy_keys.set("kernel_h", int64_t{1});
  a.policy_keys.set("kernel_w", int64_t{5});
  REQUIRE(cli::attention_dump(a) == 0);
  nlohmann::json meta = nlohmann::json::parse(test::read_all((tmp.path / "dump" / "meta.json").string()));
  CHECK(meta["policy"] == "(window2d(grid=4x6, kernel=1x5, dilation=1x1, first=0) | global(first=0, count=1))");
  a.policy = "window1d & causal";
  a.policy_keys = Params();
  a.policy_keys.set("radius", int64_t{2});
  REQUIRE(cli::attention_dump(a) == 0);
  meta = nlohmann::json::parse(test::read_all((tmp.path / "dump" / "meta.json").string()));
  CHECK(meta["policy"] == "(window1d(left=2, right=2, causal=false) & causal)");
}
