#include <catch2/catch.hpp>

#include "datasets/graph/synthetic.hpp"

using namespace rc;
using namespace rc::data;

TEST_CASE("karate club: 34 nodes, 78 undirected edges, two factions of 17") {
  GraphDataset g = karate_club();
  CHECK(g.num_nodes() == 34);
  CHECK(g.num_edges() == 156);
  auto deg = degrees(g.graph);
  CHECK(deg[0] == 16);   // Mr. Hi
  CHECK(deg[33] == 17);  // the officer
  CHECK(deg[11] == 1);
  int hi = 0;
  for (int32_t l : g.labels) hi += l == 0;
  CHECK(hi == 17);
  CHECK(g.labels[0] == 0);
  CHECK(g.labels[33] == 1);
  CHECK(connected_components(g.graph) == 1);
  // node 11 knows only Mr. Hi (0); within two hops it reaches 0's 16 friends
  CHECK(k_hop_neighbourhood(g.graph, 11, 0) == std::vector<int64_t>{11});
  CHECK(k_hop_neighbourhood(g.graph, 11, 1) == std::vector<int64_t>{0, 11});
  CHECK(k_hop_neighbourhood(g.graph, 11, 2).size() == 17);
  CHECK(k_hop_neighbourhood(g.graph, 11, 10).size() == 34);
  CHECK_THROWS_WITH(k_hop_neighbourhood(g.graph, 34, 1), Catch::Contains("source 34"));
}

TEST_CASE("csbm: size, degree, homophily and signal follow the options") {
  CsbmOptions o;
  o.nodes = 2000;
  o.classes = 4;
  o.average_degree = 6;
  o.homophily = 0.7;
  o.features = 8;
  o.snr = 3;
  o.seed = 5;
  GraphDataset g = csbm(o);
  CHECK(g.num_nodes() == 2000);
  double avg = double(g.num_edges()) / g.num_nodes();
  CHECK(avg == Approx(6.0).epsilon(0.05));
  int64_t same = 0;
  for (auto [it, end] = boost::edges(g.graph); it != end; ++it)
    same += g.labels[boost::source(*it, g.graph)] == g.labels[boost::target(*it, g.graph)];
  CHECK(double(same) / g.num_edges() == Approx(0.7).epsilon(0.05));
  CHECK(g.split.train.size() == 80);
  CHECK(g.split.val.size() == 500);
  // same seed, same graph and features; other seed, other graph
  GraphDataset g2 = csbm(o);
  CHECK(g2.features.to_vector() == g.features.to_vector());
  o.seed = 6;
  CHECK(csbm(o).features.to_vector() != g.features.to_vector());
  o.homophily = 1.5;
  CHECK_THROWS_WITH(csbm(o), Catch::Contains("homophily 1.5"));
}
