#pragma once
// Sparse (constant) × dense products with a gradient for the dense side: the message-passing step of a GCN
// (Â · H with a fixed normalised adjacency).
#include "framework/autograd/var.hpp"
#include "framework/ops/sparse.hpp"

namespace rc {

// a: CSR (M, K) constant, h: (K, D) -> (M, D).  y = A · h;  backward: dh = Aᵀ · dy (Aᵀ built once per call,
// or pass it when it is known, e.g. A symmetric: a_transposed = a).
Var spmm(const CsrMatrix& a, const Var& h, const CsrMatrix* a_transposed = nullptr);

}  // namespace rc

namespace rc {

// Dropout on the stored values of a constant sparse matrix (sparse input features): each value is kept with
// probability 1 − p and scaled by 1/(1 − p); the mask depends only on (seed, value index).
CsrMatrix dropout_values(const CsrMatrix& a, float p, uint64_t seed);

}  // namespace rc
