// The built-in model types.
#include "models/cnn.hpp"
#include "models/gnn.hpp"
#include "models/patch_attention.hpp"
#include "models/registry.hpp"
#include "models/sequence_cnn.hpp"
#include "models/sequence_rnn.hpp"
#include "models/sequence_transformer.hpp"

namespace rc::models {

void register_builtin_models() {
  static const bool done = [] {
    register_model({"cnn", "CNN baseline: conv3x3-BN-ReLU stages (or residual blocks), pooling, GAP, linear head",
                    Domain::Image, cnn_schema(), check_cnn, make_cnn, nullptr, nullptr, nullptr,
                    nullptr});
    register_model({"patch_attention",
                    "ViT-style patch attention; any policy over the patch grid; position none|sinusoidal|learned|relative|locality|gated_locality",
                    Domain::Image, patch_attention_schema(), check_patch_attention, make_patch_attention, nullptr,
                    nullptr, nullptr, nullptr});
    register_model({"mlp", "MLP on node features (no neighbours)", Domain::Graph, mlp_schema(), nullptr, nullptr,
                    make_mlp, nullptr, nullptr, nullptr});
    register_model({"gcn", "GCN (Kipf & Welling 2017): fixed symmetric-normalised neighbour weights", Domain::Graph,
                    gcn_schema(), nullptr, nullptr, make_gcn, nullptr, nullptr, nullptr});
    register_model({"gat", "GAT (Velickovic et al. 2018): additive attention over the adjacency", Domain::Graph,
                    gat_schema(), nullptr, nullptr, make_gat, nullptr, nullptr, nullptr});
    register_model({"graph_transformer",
                    "dot-product attention blocks over the adjacency (policy: graph) or all nodes (policy: full)",
                    Domain::Graph, graph_transformer_schema(), nullptr, nullptr, make_graph_transformer,
                    check_graph_transformer, nullptr, nullptr});
    register_model({"rnn", "LSTM or GRU over the steps (layers, bidirectional), last state or mean, linear head",
                    Domain::Sequence, rnn_schema(), nullptr, nullptr, nullptr, nullptr, check_rnn, make_rnn});
    register_model({"conv1d",
                    "1-D CNN baseline: stacked convolutions over time (dilation 1 or g^i, BN-ReLU, optional residual, "
                    "causal), mean or last pooling; receptive field 1 + (kernel-1) * sum of dilations",
                    Domain::Sequence, conv1d_schema(), nullptr, nullptr, nullptr, nullptr, check_conv1d,
                    make_conv1d});
    register_model({"sequence_transformer",
                    "Transformer over the steps; policy full|causal|window1d (dilation)|compositions; position "
                    "none|sinusoidal|learned|relative; pooling mean|last|cls",
                    Domain::Sequence, sequence_transformer_schema(), nullptr, nullptr, nullptr, nullptr,
                    check_sequence_transformer, make_sequence_transformer});
    return true;
  }();
  (void)done;
}

}  // namespace rc::models
