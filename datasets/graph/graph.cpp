#include "datasets/graph/graph.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/connected_components.hpp>

#include <algorithm>

#include "framework/core/error.hpp"

namespace rc::data {

CsrGraph build_graph(int64_t n, std::vector<std::pair<uint32_t, uint32_t>> edges, bool symmetrise,
                     bool drop_self_loops) {
  RC_CHECK(n > 0, "build_graph: a graph needs at least one node, got n = {}", n);
  for (const auto& [u, v] : edges)
    RC_CHECK(u < n && v < n, "build_graph: edge ({}, {}) is out of range for {} nodes", u, v, n);
  if (symmetrise) {
    size_t m = edges.size();
    for (size_t i = 0; i < m; ++i) edges.emplace_back(edges[i].second, edges[i].first);
  }
  if (drop_self_loops)
    edges.erase(std::remove_if(edges.begin(), edges.end(), [](auto& e) { return e.first == e.second; }), edges.end());
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  return CsrGraph(boost::edges_are_sorted, edges.begin(), edges.end(), static_cast<uint32_t>(n));
}

Csr csr_arrays(const CsrGraph& g, bool add_self_loops) {
  Csr c;
  c.n = static_cast<int64_t>(boost::num_vertices(g));
  c.row_ptr.assign(1, 0);
  c.col_idx.reserve(boost::num_edges(g));
  for (int64_t u = 0; u < c.n; ++u) {
    for (auto [it, end] = boost::adjacent_vertices(static_cast<uint32_t>(u), g); it != end; ++it)
      c.col_idx.push_back(static_cast<int64_t>(*it));
    c.row_ptr.push_back(c.edges());
  }
  return add_self_loops ? merge_self_loops(c.view()) : c;
}

void row_normalize(Tensor& x) {
  RC_CHECK(x.ndim() == 2 && x.is_contiguous(), "row_normalize: expected contiguous (N, F), got {}",
           shape_str(x.shape()));
  auto m = x.matrix();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    float s = m.row(r).sum();
    if (s != 0.0f) m.row(r) /= s;
  }
}

std::vector<int64_t> degrees(const CsrGraph& g) {
  std::vector<int64_t> d(boost::num_vertices(g));
  for (size_t u = 0; u < d.size(); ++u) d[u] = static_cast<int64_t>(boost::out_degree(static_cast<uint32_t>(u), g));
  return d;
}

namespace {
// Records BFS distances and stops expanding past `hops` by not discovering beyond it.
struct HopRecorder : boost::default_bfs_visitor {
  std::vector<int64_t>* dist;
  template <class Edge, class Graph>
  void tree_edge(Edge e, const Graph& g) const {
    (*dist)[boost::target(e, g)] = (*dist)[boost::source(e, g)] + 1;
  }
};
}  // namespace

std::vector<int64_t> k_hop_neighbourhood(const CsrGraph& g, int64_t source, int64_t hops) {
  const int64_t n = static_cast<int64_t>(boost::num_vertices(g));
  RC_CHECK(source >= 0 && source < n, "k_hop_neighbourhood: source {} is outside [0, {})", source, n);
  RC_CHECK(hops >= 0, "k_hop_neighbourhood: hops must be >= 0, got {}", hops);
  std::vector<int64_t> dist(n, -1);
  dist[source] = 0;
  HopRecorder rec;
  rec.dist = &dist;
  std::vector<boost::default_color_type> color(n, boost::white_color);
  boost::breadth_first_search(
      g, static_cast<uint32_t>(source),
      boost::visitor(rec).color_map(boost::make_iterator_property_map(color.begin(), boost::get(boost::vertex_index, g))));
  std::vector<int64_t> out;
  for (int64_t v = 0; v < n; ++v)
    if (dist[v] >= 0 && dist[v] <= hops) out.push_back(v);
  return out;
}

int64_t connected_components(const CsrGraph& g, std::vector<int64_t>* component) {
  // weak components of the (symmetrised) graph via an undirected adjacency-list copy
  boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS> ug(boost::num_vertices(g));
  for (auto [it, end] = boost::edges(g); it != end; ++it) {
    auto u = boost::source(*it, g), v = boost::target(*it, g);
    boost::add_edge(u, v, ug);  // duplicates do not change the components
  }
  std::vector<int> comp(boost::num_vertices(g));
  int k = boost::connected_components(ug, comp.data());
  if (component) component->assign(comp.begin(), comp.end());
  return k;
}

}  // namespace rc::data
