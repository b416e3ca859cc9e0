#pragma once
// Recurrent sequence classifier (type `rnn`): an LSTM or GRU (nn::LSTM / nn::GRU: layers, bidirectional, dropout
// between layers) over the (B, L, F) sequence, then pooling and a linear head.
//   pooling last: the last layer's final state, h_n as PyTorch returns it: unidirectional, the state after step
//                 L - 1; bidirectional, [forward state after step L - 1 | backward state after step 0] (2H);
//   pooling mean: the last layer's outputs averaged over the L steps (D·H).
// Parameters: rnn.weight_ih_l{k}[_reverse], rnn.weight_hh_l{k}[_reverse], rnn.bias_ih_l{k}[_reverse],
// rnn.bias_hh_l{k}[_reverse] (PyTorch's names and layout, see framework/nn/recurrent.hpp), head.weight, head.bias.
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema rnn_schema();
std::string check_rnn(const Params& p, const SequenceShape& shape);
std::shared_ptr<SequenceModel> make_rnn(const Params& p, const SequenceShape& shape, uint64_t seed);

}  // namespace rc::models
