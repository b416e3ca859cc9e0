#pragma once
// Sequence Transformer classifier (type `sequence_transformer`): a linear embedding of each step's F features to
// `dim`, an optional class token, positions (none | sinusoidal | learned | relative), `depth` pre-LayerNorm blocks
// (nn::TransformerBlock) whose attention follows a policy over the tokens, a final LayerNorm, pooling and a
// linear head.
//   policy: the policy vocabulary of policy_params.hpp (policy.kind full, causal, window1d with radius / left /
//     right / causal / dilation, global, and compositions such as `window1d | global`, `window1d & causal`);
//     kinds that need a grid (window2d, axial) or an adjacency (graph) are errors.
//   tokens: [class token] + the L steps; with a class token, local kinds (window1d) see it as a global token (it
//     sees and is seen by every step, as in patch_attention).
//   pooling mean: the average of the step tokens; last: the last step's token (under a causal policy the causal
//     reader, comparable to a unidirectional RNN's last state); cls: the class token, which must see every step
//     under the policy: policies where it cannot (causal: token 0 sees only itself) are an error naming the first
//     step it misses (use pooling last with causal policies, or name the class token in the policy:
//     `causal | global`, which lets every step see the class token and so is no longer causal).
//   position sinusoidal: Vaswani's 1-D table (sin on even channels, cos on odd), zero for the class token;
//     learned: a table (1, tokens, dim); relative: a learned bias per head and offset j − i in every block, with
//     radius max(left, right) under window1d (a dilated window counts offsets in steps of its dilation), else
//     tokens − 1 (full, causal).
// Sequences shorter than the configured length run too (learned positions use the first rows of the table).
// Parameters: embed.weight, embed.bias, cls_token, pos_embed, blocks.<i>.{ln1, attn.qkv, attn.out, attn.rel_bias,
// ln2, fc1, fc2}, norm.weight, norm.bias, head.weight, head.bias.
#include "framework/attention/policy.hpp"
#include "framework/core/params.hpp"
#include "models/model.hpp"

namespace rc::models {

Schema sequence_transformer_schema();
std::string check_sequence_transformer(const Params& p, const SequenceShape& shape);
std::shared_ptr<SequenceModel> make_sequence_transformer(const Params& p, const SequenceShape& shape, uint64_t seed);

// The attention policy over the model's tokens that the config describes (checked as above).
Policy sequence_transformer_policy(const Params& p, const SequenceShape& shape);

// The final-LayerNorm token features (B, tokens, dim) of a sequence_transformer in evaluation mode (class token
// first when there is one). Errors when `model` is not a sequence_transformer.
Tensor sequence_transformer_tokens(SequenceModel& model, const Tensor& sequences);

// Attention probabilities of every block for the given query tokens, in evaluation mode (for attention maps):
// result[layer] has shape (B, H, |queries|, tokens), class token first when there is one. Errors when `model` is
// not a sequence_transformer.
std::vector<Tensor> sequence_transformer_weights(SequenceModel& model, const Tensor& sequences,
                                                 const std::vector<int64_t>& queries);

}  // namespace rc::models
