#pragma once
// What every model is: a Module with a forward. Image models map a batch of images to class logits; sequence
// models map a batch of sequences to class logits; graph models map a whole graph (features + adjacency) to
// per-node logits.
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/autograd/var.hpp"
#include "framework/core/csr.hpp"
#include "framework/nn/module.hpp"
#include "framework/ops/sparse.hpp"

namespace rc::models {

struct ImageShape {
  int64_t channels = 1, height = 28, width = 28, num_classes = 10;
};

// The receptive field of an attention model, per layer and head ([layer][head]), for diagnostics (metrics.jsonl):
// mean_distance = the attention-weighted mean offset E_A[‖Δ‖] (in grid cells) of the grid tokens' attention
// over grid keys, averaged over queries and images; width = the learned Gaussian width of a locality bias and
// gate = its gated share of positional attention (empty for models without them).
struct ReceptiveField {
  std::vector<std::vector<double>> mean_distance, width, gate;
  bool empty() const { return mean_distance.empty() && width.empty(); }
};

class ImageModel : public nn::Module {
 public:
  // images: (B, C, H, W) -> logits (B, num_classes)
  virtual Var forward(const Var& images) = 0;
  // Measured on `images` in evaluation mode (no autograd graph); empty for models without attention.
  virtual ReceptiveField receptive_field(const Tensor& images) {
    (void)images;
    return {};
  }
};

// A batch of sequences is (B, L, F): B sequences of L steps with F features per step (e.g. Fashion-MNIST rows:
// L = 28, F = 28). Every sequence of a dataset has the same length.
struct SequenceShape {
  int64_t length = 28, features = 28, num_classes = 10;
};

class SequenceModel : public nn::Module {
 public:
  // sequences: (B, L, F) -> logits (B, num_classes)
  virtual Var forward(const Var& sequences) = 0;
};

// A graph as the models see it: node features (dense, or sparse CSR when mostly zero), and the adjacency in the
// framework's CSR form (framework/core/csr.hpp) without self-loops (models merge them as they need).
struct GraphInput {
  int64_t num_nodes = 0, num_features = 0, num_classes = 0;
  Tensor dense_features;          // (N, F), or undefined when sparse_features is used
  const CsrMatrix* sparse_features = nullptr;
  Csr adjacency;  // num_nodes rows, sorted per row, no self-loops
};

class GraphModel : public nn::Module {
 public:
  // -> logits (N, num_classes)
  virtual Var forward(const GraphInput& graph) = 0;
};

}  // namespace rc::models
