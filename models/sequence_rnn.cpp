#include "models/sequence_rnn.hpp"

#include <fmt/format.h>

#include "framework/nn/layers.hpp"
#include "framework/nn/recurrent.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/shape.hpp"

namespace rc::models {

Schema rnn_schema() {
  Schema s;
  s.params = {
      {"cell", ParamType::String, std::string("gru"), "recurrent cell", {}, {}, {"lstm", "gru"}},
      {"hidden", ParamType::Int, int64_t{128}, "hidden state size H (per direction)", 1.0, {}, {}},
      {"layers", ParamType::Int, int64_t{1}, "stacked recurrent layers", 1.0, {}, {}},
      {"bidirectional", ParamType::Bool, false, "a second, reversed direction in every layer (outputs concatenated)",
       {}, {}, {}},
      {"dropout", ParamType::Float, 0.0, "dropout between recurrent layers (training only; needs layers >= 2)", 0.0,
       0.95, {}},
      {"pooling", ParamType::String, std::string("last"),
       "last: the final state h_n (bidirectional: forward after the last step | backward after the first); mean: "
       "the last layer's outputs averaged over the steps",
       {}, {}, {"last", "mean"}},
  };
  return s;
}

std::string check_rnn(const Params& p, const SequenceShape& shape) {
  if (shape.length < 1 || shape.features < 1)
    return fmt::format("the sequences must have at least one step of one feature, got L = {}, F = {}", shape.length,
                       shape.features);
  if (p.get_float("dropout") > 0.0 && p.get_int("layers") < 2)
    return fmt::format("dropout {} acts between recurrent layers, and layers = {} has none (set layers >= 2 or "
                       "dropout 0)",
                       p.get_float("dropout"), p.get_int("layers"));
  return "";
}

namespace {

class RnnClassifier : public SequenceModel {
 public:
  RnnClassifier(const Params& p, const SequenceShape& shape, uint64_t seed) : gen_(seed) {
    const std::string bad = check_rnn(p, shape);
    RC_CHECK(bad.empty(), "rnn: {}", bad);
    nn::RecurrentOptions o;
    o.layers = p.get_int("layers");
    o.bidirectional = p.get_bool("bidirectional");
    o.dropout = static_cast<float>(p.get_float("dropout"));
    o.seed = mix_seed(seed, 1);
    features_ = shape.features;
    hidden_ = p.get_int("hidden");
    mean_ = p.get_string("pooling") == "mean";
    const RnnCell cell = p.get_string("cell") == "lstm" ? RnnCell::lstm : RnnCell::gru;
    rnn_ = register_module("rnn", std::make_shared<nn::Recurrent>(cell, features_, hidden_, gen_, o));
    head_ = register_module("head",
                            std::make_shared<nn::Linear>(rnn_->directions() * hidden_, shape.num_classes, gen_));
  }

  Var forward(const Var& x) override {
    RC_CHECK(x.ndim() == 3 && x.dim(2) == features_, "rnn: sequences must be (B, L, F = {}), got shape {}", features_,
             shape_str(x.shape()));
    const nn::RecurrentOutput r = rnn_->forward(x);
    return head_->forward(mean_ ? mul_scalar(sum(r.output, 1), 1.0f / static_cast<float>(x.dim(1))) : last(r, x.dim(0)));
  }

 private:
  Generator gen_;
  int64_t features_ = 0, hidden_ = 0;
  bool mean_ = false;
  std::shared_ptr<nn::Recurrent> rnn_;
  std::shared_ptr<nn::Linear> head_;

  // The last layer's h_n entries (one per direction) side by side: (B, D·H).
  Var last(const nn::RecurrentOutput& r, int64_t b) const {
    const int64_t D = rnn_->directions(), first = (rnn_->layers() - 1) * D;
    return reshape(transpose(slice(r.h_n, 0, first, first + D), 0, 1), {b, D * hidden_});
  }
};

}  // namespace

std::shared_ptr<SequenceModel> make_rnn(const Params& p, const SequenceShape& shape, uint64_t seed) {
  return std::make_shared<RnnClassifier>(p, shape, seed);
}

}  // namespace rc::models
