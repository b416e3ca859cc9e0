#pragma once
// Graphs that need no downloaded data: Zachary's karate club and a contextual stochastic block model.
#include <cstdint>

#include "datasets/graph/graph.hpp"

namespace rc::data {

// Zachary (1977): 34 members, 78 friendships, labels = the two factions after the split (0 = Mr. Hi,
// 1 = Officer). Features are one-hot node identities (34 × 34). Split: one labelled node per faction
// (the two leaders, 0 and 33) for training, the rest for test; no validation nodes.
GraphDataset karate_club();

struct CsbmOptions {
  int64_t nodes = 1000;
  int64_t classes = 2;
  double average_degree = 5.0;
  double homophily = 0.8;   // fraction of edges whose ends share a class
  int64_t features = 16;
  double snr = 1.0;         // ||class mean|| / noise std (noise std = 1 per feature)
  uint64_t seed = 0;
};

// Contextual SBM (Deshpande et al. 2018): labels uniform over classes; each undirected edge picks a random
// node and, with probability `homophily`, a partner of the same class, else of another class; features are
// class mean (random direction scaled so its norm is snr) plus standard normal noise. Split: 20 per class
// train, 500 val, rest test (capped by size).
GraphDataset csbm(const CsbmOptions& options);

}  // namespace rc::data
