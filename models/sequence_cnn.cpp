#include "models/sequence_cnn.hpp"

#include <fmt/format.h>

#include <charconv>
#include <functional>

#include "framework/core/error.hpp"
#include "framework/nn/init.hpp"
#include "framework/nn/layers.hpp"
#include "framework/ops/activation.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/pool.hpp"
#include "framework/ops/shape.hpp"

namespace rc::models {

namespace {
constexpr int64_t kMaxDilation = int64_t{1} << 24;
}

Schema conv1d_schema() {
  Schema s;
  s.params = {
      {"channels", ParamType::Int, int64_t{64}, "width: output channels of every convolution", 1.0, {}, {}},
      {"layers", ParamType::Int, int64_t{4}, "stacked convolutions", 1.0, {}, {}},
      {"kernel", ParamType::Int, int64_t{3}, "kernel length in steps (odd unless causal)", 1.0, {}, {}},
      {"dilation", ParamType::String, std::string("1"),
       "1, or a growth factor g (layer i dilates by g^i), or exponential (g = 2); receptive field = 1 + (kernel - "
       "1) * sum of the dilations",
       {}, {}, {}},
      {"causal", ParamType::Bool, false, "pad on the left only: step t sees steps <= t (any kernel length)", {}, {},
       {}},
      {"residual", ParamType::Bool, false, "relu(BN(conv(x)) + x) in every layer whose width does not change", {},
       {}, {}},
      {"pooling", ParamType::String, std::string("mean"), "over time: mean of every step, or the last step", {}, {},
       {"mean", "last"}},
      {"dropout", ParamType::Float, 0.0, "dropout before the linear head", 0.0, 0.95, {}},
  };
  return s;
}

std::vector<int64_t> conv1d_dilations(const Params& p) {
  const std::string d = p.get_string("dilation");
  int64_t g = 0;
  if (d == "exponential") {
    g = 2;
  } else {
    const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), g);
    RC_CHECK(ec == std::errc() && end == d.data() + d.size() && g >= 1,
             "dilation = '{}': expected 1, a growth factor g >= 2 (layer i dilates by g^i) or 'exponential'", d);
  }
  std::vector<int64_t> out;
  int64_t di = 1;
  for (int64_t i = 0; i < p.get_int("layers"); ++i, di *= g) {
    RC_CHECK(di <= kMaxDilation, "dilation = '{}': layer {} would dilate by {}^{} > {} steps; use fewer layers or a "
             "smaller growth factor", d, i, g, i, kMaxDilation);
    out.push_back(di);
  }
  return out;
}

int64_t conv1d_receptive_field(const Params& p) {
  int64_t rf = 1;
  for (int64_t d : conv1d_dilations(p)) rf += (p.get_int("kernel") - 1) * d;
  return rf;
}

std::string check_conv1d(const Params& p, const SequenceShape& shape) {
  if (shape.length < 1 || shape.features < 1)
    return fmt::format("the sequences must have at least one step of one feature, got L = {}, F = {}", shape.length,
                       shape.features);
  const int64_t k = p.get_int("kernel");
  if (k % 2 == 0 && !p.get_bool("causal"))
    return fmt::format("kernel {} is even: a centred convolution needs an odd kernel (or set causal: true, which "
                       "pads on the left only)", k);
  try {
    conv1d_dilations(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

namespace {

// A convolution over time as conv2d on (B, C, 1, L) with a 1 × k kernel, no bias; output length L (centred, or
// causal: padded by d(k − 1) on both sides and the first L outputs kept). Weight (O, C, 1, k): kaiming_normal
// (fan_out, relu) as nn::Conv2d.
class TimeConv : public nn::Module {
 public:
  TimeConv(int64_t in, int64_t out, int64_t kernel, int64_t dilation, bool causal, Generator& gen) : causal_(causal) {
    Tensor w = Tensor::empty({out, in, 1, kernel});
    nn::init::kaiming_normal_(w, gen, 0.0f, nn::init::FanMode::fan_out, nn::init::Nonlinearity::relu);
    weight_ = register_parameter("weight", w);
    const int64_t span = dilation * (kernel - 1);
    options_.padding = {0, causal ? span : span / 2};
    options_.dilation = {1, dilation};
  }
  Var forward(const Var& x) const {
    Var y = conv2d(x, weight_, Var(), options_);
    return causal_ ? slice(y, 3, 0, x.dim(3)) : y;
  }

 private:
  Var weight_;
  Conv2dOptions options_;
  bool causal_;
};

// conv → BN → ReLU, with the input added before the ReLU when residual
class TimeConvBlock : public nn::Module {
 public:
  TimeConvBlock(int64_t in, int64_t out, int64_t kernel, int64_t dilation, bool causal, bool residual, Generator& gen)
      : residual_(residual && in == out) {
    conv_ = register_module("conv", std::make_shared<TimeConv>(in, out, kernel, dilation, causal, gen));
    bn_ = register_module("bn", std::make_shared<nn::BatchNorm>(out));
  }
  Var forward(const Var& x) {
    return residual_ ? relu(add(bn_->forward(conv_->forward(x)), x)) : bn_->forward_relu(conv_->forward(x));
  }

 private:
  bool residual_;
  std::shared_ptr<TimeConv> conv_;
  std::shared_ptr<nn::BatchNorm> bn_;
};

class Conv1dClassifier : public SequenceModel {
 public:
  Conv1dClassifier(const Params& p, const SequenceShape& shape, uint64_t seed) : gen_(seed) {
    const std::string bad = check_conv1d(p, shape);
    RC_CHECK(bad.empty(), "conv1d: {}", bad);
    features_ = shape.features;
    last_ = p.get_string("pooling") == "last";
    const int64_t width = p.get_int("channels");
    auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
    int64_t in = features_;
    for (int64_t d : conv1d_dilations(p)) {
      blocks_.push_back(layers->push_back(std::make_shared<TimeConvBlock>(
          in, width, p.get_int("kernel"), d, p.get_bool("causal"), p.get_bool("residual"), gen_)));
      in = width;
    }
    dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(float(p.get_float("dropout")), seed + 1));
    head_ = register_module("head", std::make_shared<nn::Linear>(width, shape.num_classes, gen_));
  }

  Var forward(const Var& sequences) override {
    RC_CHECK(sequences.ndim() == 3 && sequences.dim(2) == features_,
             "conv1d: sequences must be (B, L, F = {}), got shape {}", features_, shape_str(sequences.shape()));
    const int64_t b = sequences.dim(0), l = sequences.dim(1);
    Var x = reshape(transpose(sequences, 1, 2), {b, features_, 1, l});  // (B, F, 1, L)
    for (auto& blk : blocks_) x = blk->forward(x);
    const int64_t c = x.dim(1);
    Var pooled = last_ ? reshape(slice(x, 3, l - 1, l), {b, c}) : global_avg_pool(x);
    return head_->forward(dropout_->forward(pooled));
  }

 private:
  Generator gen_;
  int64_t features_ = 0;
  bool last_ = false;
  std::vector<std::shared_ptr<TimeConvBlock>> blocks_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> head_;
};

}  // namespace

std::shared_ptr<SequenceModel> make_conv1d(const Params& p, const SequenceShape& shape, uint64_t seed) {
  return std::make_shared<Conv1dClassifier>(p, shape, seed);
}

}  // namespace rc::models
