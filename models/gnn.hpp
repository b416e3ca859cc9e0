#pragma once
// Graph models for transductive node classification, all on one CSR skeleton:
//   mlp                no neighbours (the baseline that tells how much the graph helps)
//   gcn                Kipf & Welling 2017: H' = Â H W, Â = D^-1/2 (A + I) D^-1/2 (fixed neighbour weights)
//   gat                Veličković et al. 2018: additive attention over the adjacency (learned weights)
//   graph_transformer  nn::TransformerBlock blocks (dot-product attention) over the adjacency, or over all nodes
//                      (policy: full)
#include <string>

#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema mlp_schema();
Schema gcn_schema();
Schema gat_schema();
Schema graph_transformer_schema();

std::shared_ptr<GraphModel> make_mlp(const Params& p, const GraphInput& g, uint64_t seed);
std::shared_ptr<GraphModel> make_gcn(const Params& p, const GraphInput& g, uint64_t seed);
std::shared_ptr<GraphModel> make_gat(const Params& p, const GraphInput& g, uint64_t seed);
std::string check_graph_transformer(const Params& p);  // "" or what is wrong (heads must divide hidden)
std::shared_ptr<GraphModel> make_graph_transformer(const Params& p, const GraphInput& g, uint64_t seed);

// Parameter names follow <module>.<param> as in the image models: layers.<l>.weight / .bias (mlp, gcn),
// layers.<l>.weight / .a_q / .a_k / .bias (gat), embed.*, blocks.<l>.*, norm.*, head.* (graph_transformer).
// current_parameter_name maps a name from a checkpoint written before this scheme (input.weight, fc1.bias,
// weight1, bias0, layer0.input.weight, layer1.a_q, ...) to the current one for a model of type `type`; any other
// name comes back unchanged.
std::string current_parameter_name(const std::string& type, const std::string& name);

// Â = D^-1/2 (A + I) D^-1/2 as a CSR matrix (symmetric when A is).
CsrMatrix gcn_normalized_adjacency(const GraphInput& g);

}  // namespace rc::models
