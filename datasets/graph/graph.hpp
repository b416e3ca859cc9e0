#pragma once
// A node-classification graph: Boost.Graph compressed-sparse-row adjacency (the storage form: directed storage of a
// usually symmetrised edge set; csr_arrays gives the framework's CSR adjacency), dense node features, labels, and train/val/test node lists.
#include <boost/graph/compressed_sparse_row_graph.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/csr.hpp"
#include "framework/core/tensor.hpp"

namespace rc::data {

using CsrGraph = boost::compressed_sparse_row_graph<boost::directedS, boost::no_property, boost::no_property,
                                                    boost::no_property, uint32_t, uint32_t>;

struct Split {
  std::vector<int64_t> train, val, test;  // node indices, each sorted
};

struct GraphDataset {
  std::string name;
  std::vector<std::string> node_ids;  // external ids (LINQS paper ids), index = node
  CsrGraph graph;                     // edge u -> v; symmetrised unless loaded with symmetrise = false
  Tensor features;                    // (N, F)
  std::vector<int32_t> labels;        // N
  std::vector<std::string> class_names;
  Split split;

  int64_t num_nodes() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_edges() const { return static_cast<int64_t>(boost::num_edges(graph)); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
};

// The storage graph as the framework's CSR adjacency (framework/core/csr.hpp: rows sorted), with (i, i) merged
// into every row when add_self_loops (merge_self_loops).
Csr csr_arrays(const CsrGraph& g, bool add_self_loops = false);

// Builds a CSR graph on n nodes from (u, v) pairs: sorts, drops duplicates, optionally drops self-loops and
// adds the reverse of every edge. Pairs must be in [0, n).
CsrGraph build_graph(int64_t n, std::vector<std::pair<uint32_t, uint32_t>> edges, bool symmetrise,
                     bool drop_self_loops);

// Each row of x divided by its sum (rows summing to zero stay zero), as GCN/GAT preprocess bag-of-words features.
void row_normalize(Tensor& x);

std::vector<int64_t> degrees(const CsrGraph& g);           // out-degree per node
// Nodes within `hops` edges of `source` (breadth-first search with Boost.Graph), sorted, source included.
std::vector<int64_t> k_hop_neighbourhood(const CsrGraph& g, int64_t source, int64_t hops);
int64_t connected_components(const CsrGraph& g, std::vector<int64_t>* component = nullptr);

}  // namespace rc::data
