#include "models/cnn.hpp"

#include <fmt/format.h>

#include <optional>

#include "framework/nn/layers.hpp"
#include "framework/ops/activation.hpp"
#include "framework/ops/elementwise.hpp"
#include "framework/ops/pool.hpp"

namespace rc::models {

Schema cnn_schema() {
  Schema s;
  s.params = {
      {"channels", ParamType::IntList, std::vector<int64_t>{32, 64, 128}, "output channels of each stage", 1.0, {}, {}},
      {"blocks", ParamType::IntList, std::vector<int64_t>{2, 2, 1}, "conv blocks per stage (one number: every stage)",
       1.0, {}, {}},
      {"pool", ParamType::String, std::string("max"), "pooling (2×2) after every stage but the last", {}, {},
       {"max", "avg", "none"}},
      {"residual", ParamType::Bool, false, "residual basic blocks (two convs + skip; 1×1 conv when channels change)",
       {}, {}, {}},
      {"dropout", ParamType::Float, 0.0, "dropout before the linear head", 0.0, 0.95, {}},
      {"conv_algorithm", ParamType::String, std::string("auto"),
       "how the convolutions compute: auto = Winograd F(2x2,3x3) for the 3x3 convs with >= 8 input channels, "
       "GEMM for the rest; gemm = GEMM everywhere (per-tap / im2col; same function, other rounding)",
       {}, {}, {"auto", "gemm"}},
      {"norm", ParamType::String, std::string("batch"),
       "normalisation after each conv: batch = BatchNorm (convs without bias); none = no normalisation (convs with "
       "bias)",
       {}, {}, {"batch", "none"}},
      {"activation", ParamType::String, std::string("relu"), "activation after each conv (gelu: the exact erf form)",
       {}, {}, {"relu", "gelu"}},
  };
  return s;
}

std::string check_cnn(const Params& p, const ImageShape& shape) {
  const std::vector<int64_t> channels = p.get_int_list("channels"), blocks = p.get_int_list("blocks");
  if (channels.empty()) return "channels must list at least one stage";
  if (blocks.size() != 1 && blocks.size() != channels.size())
    return fmt::format("blocks lists {} stages but channels lists {} (set blocks to one number for every stage, "
                       "or to one per stage; its default is [2, 2, 1])", blocks.size(), channels.size());
  if (p.get_string("pool") != "none") {
    int64_t h = shape.height, w = shape.width;
    for (size_t s = 0; s + 1 < channels.size(); ++s, h /= 2, w /= 2)
      if (h < 2 || w < 2)
        return fmt::format("the image ({}x{}) is too small for {} poolings of 2x2 (stages {}); use fewer stages or "
                           "pool: none", shape.height, shape.width, channels.size() - 1, channels.size());
  }
  return "";
}

namespace {
// What follows each convolution: BatchNorm (or nothing, the convolution then having a bias) and the activation.
struct BlockStyle {
  bool batch_norm = true, gelu = false;
  ConvAlgorithm algorithm = ConvAlgorithm::Auto;
};

// A convolution and its BatchNorm (when the style has one), registered in the owning module through `reg`
// (the owner's register_module) under the owner's names for them.
class ConvNorm {
 public:
  template <class Register>
  ConvNorm(Register&& reg, const std::string& conv_name, const std::string& bn_name, int64_t in, int64_t out,
           int64_t kernel, Generator& gen, const BlockStyle& style)
      : style_(style) {
    conv_ = reg(conv_name, std::make_shared<nn::Conv2d>(in, out, kernel, gen, 1, kernel / 2, !style.batch_norm));
    conv_->set_algorithm(style.algorithm);
    if (style.batch_norm) bn_ = reg(bn_name, std::make_shared<nn::BatchNorm>(out));
  }
  Var forward(const Var& x) const {  // conv, then the norm
    Var y = conv_->forward(x);
    return bn_ ? bn_->forward(y) : y;
  }
  Var forward_act(const Var& x) const {  // conv, norm, activation (BN and ReLU fused where both are on)
    if (bn_ && !style_.gelu) return bn_->forward_relu(conv_->forward(x));
    return activate(forward(x), style_);
  }
  static Var activate(const Var& x, const BlockStyle& style) { return style.gelu ? gelu(x) : relu(x); }

 private:
  BlockStyle style_;
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::BatchNorm> bn_;
};

// A module whose ConvNorm members register themselves in it (register_module is protected).
class BlockModule : public nn::Module {
 protected:
  auto registrar() {
    return [this](const std::string& name, auto m) { return register_module(name, m); };
  }
};

// conv3×3 → BN → ReLU (or the style's norm and activation)
class ConvBlock : public BlockModule {
 public:
  ConvBlock(int64_t in, int64_t out, Generator& gen, const BlockStyle& style)
      : conv_(registrar(), "conv", "bn", in, out, 3, gen, style) {}
  Var forward(const Var& x) { return conv_.forward_act(x); }

 private:
  ConvNorm conv_;
};

// x → conv-BN-ReLU → conv-BN, plus x (or a 1×1 conv-BN of x), → ReLU (or the style's norm and activation)
class ResidualBlock : public BlockModule {
 public:
  ResidualBlock(int64_t in, int64_t out, Generator& gen, const BlockStyle& style)
      : style_(style),
        conv1_(registrar(), "conv1", "bn1", in, out, 3, gen, style),
        conv2_(registrar(), "conv2", "bn2", out, out, 3, gen, style) {
    if (in != out) skip_.emplace(registrar(), "skip_conv", "skip_bn", in, out, 1, gen, style);
  }
  Var forward(const Var& x) {
    Var h = conv2_.forward(conv1_.forward_act(x));
    Var skip = skip_ ? skip_->forward(x) : x;
    return ConvNorm::activate(add(h, skip), style_);
  }

 private:
  BlockStyle style_;
  ConvNorm conv1_, conv2_;
  std::optional<ConvNorm> skip_;
};

class Cnn : public ImageModel {
 public:
  Cnn(const Params& p, const ImageShape& shape, uint64_t seed) : gen_(seed) {
    const std::string bad = check_cnn(p, shape);
    RC_CHECK(bad.empty(), "cnn: {}", bad);
    std::vector<int64_t> channels = p.get_int_list("channels");
    std::vector<int64_t> blocks = p.get_int_list("blocks");
    if (blocks.size() == 1) blocks.assign(channels.size(), blocks[0]);
    pool_ = p.get_string("pool");
    residual_ = p.get_bool("residual");
    BlockStyle style;
    style.algorithm = p.get_string("conv_algorithm") == "gemm" ? ConvAlgorithm::Gemm : ConvAlgorithm::Auto;
    style.batch_norm = p.get_string("norm") == "batch";
    style.gelu = p.get_string("activation") == "gelu";
    int64_t in = shape.channels, h = shape.height, w = shape.width;
    auto stages = register_module("stages", std::make_shared<nn::ModuleList>());  // stages.<s>.<block>.conv...
    for (size_t s = 0; s < channels.size(); ++s) {
      auto stage = stages->push_back(std::make_shared<nn::ModuleList>());
      for (int64_t b = 0; b < blocks[s]; ++b) {
        if (residual_) {
          auto blk = stage->push_back(std::make_shared<ResidualBlock>(in, channels[s], gen_, style));
          layers_.push_back([blk](const Var& x) { return blk->forward(x); });
        } else {
          auto blk = stage->push_back(std::make_shared<ConvBlock>(in, channels[s], gen_, style));
          layers_.push_back([blk](const Var& x) { return blk->forward(x); });
        }
        in = channels[s];
      }
      if (s + 1 < channels.size() && pool_ != "none") {
        RC_CHECK(h >= 2 && w >= 2, "cnn: the image ({}×{}) is too small for pooling after stage {}", h, w, s);
        Pool2dOptions po;
        po.kernel = {2, 2};
        if (pool_ == "max")
          layers_.push_back([po](const Var& x) { return max_pool2d(x, po); });
        else
          layers_.push_back([po](const Var& x) { return avg_pool2d(x, po); });
        h /= 2;
        w /= 2;
      }
    }
    dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(float(p.get_float("dropout")), seed + 1));
    head_ = register_module("head", std::make_shared<nn::Linear>(in, shape.num_classes, gen_));
  }

  Var forward(const Var& images) override {
    Var x = images;
    for (auto& f : layers_) x = f(x);
    return head_->forward(dropout_->forward(global_avg_pool(x)));
  }

 private:
  Generator gen_;
  std::string pool_;
  bool residual_ = false;
  std::vector<std::function<Var(const Var&)>> layers_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> head_;
};
}  // namespace

std::shared_ptr<ImageModel> make_cnn(const Params& p, const ImageShape& shape, uint64_t seed) {
  return std::make_shared<Cnn>(p, shape, seed);
}

}  // namespace rc::models
