#include "datasets/graph/synthetic.hpp"

#include <cmath>
#include <random>

#include "datasets/graph/split.hpp"
#include "framework/core/error.hpp"

namespace rc::data {

GraphDataset karate_club() {
  // adjacency lists of the lower-numbered end, 0-indexed (78 edges)
  static const std::vector<std::vector<uint32_t>> adj = {
      {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 17, 19, 21, 31},  // 0
      {2, 3, 7, 13, 17, 19, 21, 30},                             // 1
      {3, 7, 8, 9, 13, 27, 28, 32},                              // 2
      {7, 12, 13}, {6, 10}, {6, 10, 16}, {16}, {},               // 3-7
      {30, 32, 33}, {33}, {}, {}, {}, {33},                      // 8-13
      {32, 33}, {32, 33}, {}, {}, {32, 33}, {33}, {32, 33}, {},  // 14-21
      {32, 33}, {25, 27, 29, 32, 33}, {25, 27, 31}, {31},        // 22-25
      {29, 33}, {33}, {31, 33}, {32, 33}, {32, 33}, {32, 33},    // 26-31
      {33}, {}};                                                 // 32-33
  static const std::vector<uint32_t> mr_hi = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21};
  GraphDataset g;
  g.name = "karate";
  const int64_t n = 34;
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  for (uint32_t u = 0; u < adj.size(); ++u)
    for (uint32_t v : adj[u]) edges.emplace_back(u, v);
  g.graph = build_graph(n, std::move(edges), true, true);
  g.labels.assign(n, 1);
  for (uint32_t u : mr_hi) g.labels[u] = 0;
  g.class_names = {"Mr. Hi", "Officer"};
  for (int64_t i = 0; i < n; ++i) g.node_ids.push_back(std::to_string(i));
  g.features = Tensor(Shape{n, n});
  for (int64_t i = 0; i < n; ++i) g.features.data()[i * n + i] = 1.0f;
  g.split.train = {0, 33};
  for (int64_t i = 1; i < 33; ++i) g.split.test.push_back(i);
  return g;
}

GraphDataset csbm(const CsbmOptions& o) {
  RC_CHECK(o.nodes >= 2 * o.classes, "csbm: nodes = {} is too small for {} classes", o.nodes, o.classes);
  RC_CHECK(o.classes >= 2, "csbm: classes must be >= 2, got {}", o.classes);
  RC_CHECK(o.average_degree > 0 && o.average_degree < o.nodes - 1, "csbm: average_degree {} must be in (0, {})",
           o.average_degree, o.nodes - 1);
  RC_CHECK(o.homophily >= 0 && o.homophily <= 1, "csbm: homophily {} must be in [0, 1]", o.homophily);
  RC_CHECK(o.features >= 1, "csbm: features must be >= 1, got {}", o.features);
  RC_CHECK(o.snr >= 0, "csbm: snr {} must be >= 0", o.snr);
  std::mt19937_64 gen(o.seed);
  GraphDataset g;
  g.name = "csbm";
  const int64_t n = o.nodes;
  g.labels.resize(n);
  std::vector<std::vector<uint32_t>> members(o.classes);
  for (int64_t i = 0; i < n; ++i) {
    g.labels[i] = static_cast<int32_t>(i % o.classes);  // balanced classes, order shuffled by the edges
    members[g.labels[i]].push_back(static_cast<uint32_t>(i));
    g.node_ids.push_back(std::to_string(i));
  }
  for (int64_t c = 0; c < o.classes; ++c) g.class_names.push_back("class" + std::to_string(c));

  std::uniform_int_distribution<int64_t> pick_node(0, n - 1);
  std::bernoulli_distribution same(o.homophily);
  const int64_t m = static_cast<int64_t>(std::llround(o.average_degree * n / 2.0));
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  edges.reserve(m);
  for (int64_t e = 0; e < m; ++e) {
    int64_t u = pick_node(gen);
    int32_t cu = g.labels[u], cv = cu;
    if (!same(gen)) {
      std::uniform_int_distribution<int32_t> other(0, static_cast<int32_t>(o.classes) - 2);
      cv = other(gen);
      if (cv >= cu) ++cv;
    }
    const auto& pool = members[cv];
    std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
    uint32_t v = pool[pick(gen)];
    if (v != u) edges.emplace_back(static_cast<uint32_t>(u), v);
  }
  g.graph = build_graph(n, std::move(edges), true, true);

  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> means(o.classes, std::vector<float>(o.features));
  for (auto& mu : means) {
    double norm = 0;
    for (float& x : mu) {
      x = normal(gen);
      norm += double(x) * x;
    }
    for (float& x : mu) x = static_cast<float>(x / std::sqrt(norm) * o.snr);
  }
  g.features = Tensor(Shape{n, o.features});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t f = 0; f < o.features; ++f) g.features.data()[i * o.features + f] = means[g.labels[i]][f] + normal(gen);

  const int64_t per_class = std::min<int64_t>(20, n / o.classes / 2);
  const int64_t rest = n - per_class * o.classes;
  const int64_t num_val = std::min<int64_t>(500, rest / 2);
  g.split = random_split(g.labels, o.classes, per_class, num_val, rest - num_val, o.seed + 1);
  return g;
}

}  // namespace rc::data
