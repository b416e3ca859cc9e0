#include "models/cnn.hpp"

#include <fmt/format.h>

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
// conv3×3 → BN → ReLU
class ConvBlock : public nn::Module {
 public:
  ConvBlock(int64_t in, int64_t out, Generator& gen, ConvAlgorithm algorithm) {
    conv_ = register_module("conv", std::make_shared<nn::Conv2d>(in, out, 3, gen, 1, 1, false));
    conv_->set_algorithm(algorithm);
    bn_ = register_module("bn", std::make_shared<nn::BatchNorm>(out));
  }
  Var forward(const Var& x) { return bn_->forward_relu(conv_->forward(x)); }

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::BatchNorm> bn_;
};

// x → conv-BN-ReLU → conv-BN, plus x (or a 1×1 conv-BN of x), → ReLU
class ResidualBlock : public nn::Module {
 public:
  ResidualBlock(int64_t in, int64_t out, Generator& gen, ConvAlgorithm algorithm) {
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(in, out, 3, gen, 1, 1, false));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm>(out));
    conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(out, out, 3, gen, 1, 1, false));
    conv1_->set_algorithm(algorithm);
    conv2_->set_algorithm(algorithm);
    bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm>(out));
    if (in != out) {
      skip_conv_ = register_module("skip_conv", std::make_shared<nn::Conv2d>(in, out, 1, gen, 1, 0, false));
      skip_bn_ = register_module("skip_bn", std::make_shared<nn::BatchNorm>(out));
    }
  }
  Var forward(const Var& x) {
    Var h = bn1_->forward_relu(conv1_->forward(x));
    h = bn2_->forward(conv2_->forward(h));
    Var skip = skip_conv_ ? skip_bn_->forward(skip_conv_->forward(x)) : x;
    return relu(add(h, skip));
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, skip_conv_;
  std::shared_ptr<nn::BatchNorm> bn1_, bn2_, skip_bn_;
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
    const ConvAlgorithm algorithm = p.get_string("conv_algorithm") == "gemm" ? ConvAlgorithm::Gemm : ConvAlgorithm::Auto;
    int64_t in = shape.channels, h = shape.height, w = shape.width;
    auto stages = register_module("stages", std::make_shared<nn::ModuleList>());  // stages.<s>.<block>.conv...
    for (size_t s = 0; s < channels.size(); ++s) {
      auto stage = stages->push_back(std::make_shared<nn::ModuleList>());
      for (int64_t b = 0; b < blocks[s]; ++b) {
        if (residual_) {
          auto blk = stage->push_back(std::make_shared<ResidualBlock>(in, channels[s], gen_, algorithm));
          layers_.push_back([blk](const Var& x) { return blk->forward(x); });
        } else {
          auto blk = stage->push_back(std::make_shared<ConvBlock>(in, channels[s], gen_, algorithm));
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
