#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "experiments/cli/commands.hpp"
#include "framework/io/npy.hpp"

using namespace rc;
namespace fs = std::filesystem;

// What another tool would do with the dump: softmax(q kᵀ / √D + bias, masked) v, densely, in double.
TEST_CASE("receptive attention --dump: the files reproduce the output with a dense masked softmax") {
  fs::path dir = fs::temp_directory_path() / ("receptive_dump_" + std::to_string(::getpid()));
  for (const char* policy : {"full", "causal", "window1d", "window2d", "graph"}) {
    INFO(policy);
    fs::remove_all(dir);
    cli::AttentionArgs a;
    a.policy = policy;
    a.tokens = 13;
    a.grid_h = 3;
    a.grid_w = 5;
    a.dim = 5;
    a.heads = 2;
    a.batch = 2;
    a.left = 2;
    a.right = 1;
    a.seed = 3;
    auto load = [&](const char* f) { return io::load_npy((dir / f).string()); };
    a.dump = dir.string();
    REQUIRE(cli::attention_dump(a) == 0);
    Tensor q = load("q.npy"), k = load("k.npy"), v = load("v.npy"), out = load("out.npy"), mask = load("mask.npy");
    const int64_t b = q.dim(0), h = q.dim(1), n = q.dim(2), d = q.dim(3);
    CHECK(n == (std::string(policy) == "window2d" ? 15 : 13));
    double worst = 0;
    for (int64_t bh = 0; bh < b * h; ++bh)
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> s(n, -INFINITY);
        double m = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
          if (mask.data()[i * n + j] == 0) continue;
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += double(q.data()[(bh * n + i) * d + c]) * k.data()[(bh * n + j) * d + c];
          s[j] = dot / std::sqrt(double(d));
          m = std::max(m, s[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < n; ++j) z += std::isfinite(s[j]) ? std::exp(s[j] - m) : 0.0;
        for (int64_t c = 0; c < d; ++c) {
          double o = 0;
          for (int64_t j = 0; j < n; ++j)
            if (std::isfinite(s[j])) o += std::exp(s[j] - m) / z * v.data()[(bh * n + j) * d + c];
          worst = std::max(worst, std::fabs(o - out.data()[(bh * n + i) * d + c]));
        }
      }
    CHECK(worst < 1e-5);
    for (const char* f : {"dq.npy", "dk.npy", "dv.npy", "dout.npy", "weights.npy", "meta.json"}) CHECK(fs::exists(dir / f));
  }
  fs::remove_all(dir);
}
