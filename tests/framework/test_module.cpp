#include "framework/nn/module.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::nn;
using namespace rc::test;

namespace {

// Test modules with the shapes of real layers; values are random (never zero).
struct Lin : Module {
  Var weight, bias;
  Lin(int64_t in, int64_t out, uint64_t seed) {
    weight = register_parameter("weight", random_tensor({out, in}, seed));
    bias = register_parameter("bias", random_tensor({out}, seed + 1), /*no_weight_decay=*/true);
  }
};

struct Norm : Module {
  Norm(int64_t c) {
    register_parameter("scale", Tensor::ones({c}), true);
    register_buffer("running_mean", Tensor::full({c}, 0.5f));
    register_buffer("running_var", Tensor::ones({c}));
  }
};

struct Attn : Module {
  std::shared_ptr<Lin> wq, wk;
  Attn(int64_t d, uint64_t seed) {
    wq = register_module("wq", std::make_shared<Lin>(d, d, seed));
    wk = register_module("wk", std::make_shared<Lin>(d, d, seed + 10));
  }
};

struct Block : Module {
  Block(int64_t d, uint64_t seed) {
    register_module("attn", std::make_shared<Attn>(d, seed));
    register_module("norm", std::make_shared<Norm>(d));
  }
};

struct Net : Module {
  std::shared_ptr<ModuleList> blocks;
  Net(int64_t d, int depth, uint64_t seed = 1) {
    register_parameter("pos", random_tensor({3, d}, seed + 100));
    blocks = register_module("blocks", std::make_shared<ModuleList>());
    for (int i = 0; i < depth; ++i) blocks->push_back(std::make_shared<Block>(d, seed + 1000 * i));
    register_module("head", std::make_shared<Lin>(d, 2, seed + 7));
  }
};

std::vector<std::string> names_of(const std::vector<NamedParameter>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.name);
  return out;
}

}  // namespace

TEST_CASE("module: dotted names in registration order, no-weight-decay flags, parameter count") {
  Net net(4, 2);
  auto params = net.named_parameters();
  CHECK(names_of(params) == std::vector<std::string>{
                                "pos",
                                "blocks.0.attn.wq.weight", "blocks.0.attn.wq.bias", "blocks.0.attn.wk.weight",
                                "blocks.0.attn.wk.bias", "blocks.0.norm.scale",
                                "blocks.1.attn.wq.weight", "blocks.1.attn.wq.bias", "blocks.1.attn.wk.weight",
                                "blocks.1.attn.wk.bias", "blocks.1.norm.scale",
                                "head.weight", "head.bias"});
  CHECK_FALSE(params[1].no_weight_decay);
  CHECK(params[2].no_weight_decay);
  CHECK(params[5].no_weight_decay);
  for (const auto& p : params) CHECK(p.var.requires_grad());
  // pos 12 + per block (2 * (16 + 4) + 4) + head (8 + 2)
  CHECK(net.num_parameters() == 12 + 2 * 44 + 10);
  CHECK(net.parameters().size() == params.size());
  auto buffers = net.named_buffers();
  REQUIRE(buffers.size() == 4);
  CHECK(buffers[0].first == "blocks.0.norm.running_mean");
  CHECK(buffers[3].first == "blocks.1.norm.running_var");
}

TEST_CASE("module: zero_grad, train/eval propagate to every descendant") {
  Net net(3, 2);
  for (auto& p : net.parameters()) p.grad() = Tensor::ones(p.shape());
  net.zero_grad();
  for (auto& p : net.parameters()) CHECK_FALSE(p.grad().defined());
  CHECK(net.is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.blocks->is_training());
  CHECK_FALSE((*net.blocks)[1]->named_children()[1].second->is_training());
  net.train();
  CHECK((*net.blocks)[1]->named_children()[1].second->is_training());
}

TEST_CASE("module: state_dict holds parameters then buffers, load_state_dict copies in place") {
  Net a(4, 2, 1), b(4, 2, 99);
  NamedTensors sd = a.state_dict();
  CHECK(sd.size() == 13 + 4);
  CHECK(sd.front().first == "pos");
  CHECK(sd[12].first == "head.bias");
  CHECK(sd.back().first == "blocks.1.norm.running_var");
  a.blocks->named_children()[0].second->named_children()[1].second->buffer("running_mean").fill_(0.25f);
  Var b_head_weight = b.named_parameters()[11].var;  // handles held elsewhere (an optimizer) stay valid
  LoadReport report = b.load_state_dict(a.state_dict());
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  NamedTensors sb = b.state_dict();
  for (size_t i = 0; i < sd.size(); ++i) {
    INFO(sd[i].first);
    CHECK(sb[i].second.to_vector() == sd[i].second.to_vector());
  }
  CHECK(b_head_weight.value().to_vector() == a.named_parameters()[11].var.value().to_vector());
  CHECK(find_tensor(sb, "blocks.0.norm.running_mean")->to_vector() == std::vector<float>(4, 0.25f));
}

TEST_CASE("module: load_state_dict errors name the key and both shapes, and list missing/unexpected keys") {
  Net a(4, 1), wide(5, 1);
  CHECK_THROWS_WITH(a.load_state_dict(wide.state_dict()),
                    Catch::Contains("'pos': expected shape (3, 4), got (3, 5)") &&
                        Catch::Contains("'blocks.0.attn.wq.weight': expected shape (4, 4), got (5, 5)"));
  NamedTensors sd = a.state_dict();
  std::vector<float> before = sd[0].second.to_vector();
  NamedTensors partial(sd.begin() + 2, sd.end());
  partial.emplace_back("extra.weight", Tensor::ones({2}));
  CHECK_THROWS_WITH(a.load_state_dict(partial),
                    Catch::Contains("missing keys: [pos, blocks.0.attn.wq.weight]") &&
                        Catch::Contains("unexpected keys: [extra.weight]"));
  // non-strict: reports instead of throwing, and loads what matches
  partial[0].second = Tensor::full(partial[0].second.shape(), 3.0f);
  LoadReport r = a.load_state_dict(partial, /*strict=*/false);
  CHECK(r.missing == std::vector<std::string>{"pos", "blocks.0.attn.wq.weight"});
  CHECK(r.unexpected == std::vector<std::string>{"extra.weight"});
  CHECK(a.state_dict()[2].second.to_vector() == std::vector<float>(4, 3.0f));
  CHECK(a.state_dict()[0].second.to_vector() == before);
  // a failed load changes nothing
  Net c(4, 1, 5);
  NamedTensors bad = c.state_dict();
  bad.back().second = Tensor::ones({7});
  std::vector<float> pos_before = a.state_dict()[0].second.to_vector();
  CHECK_THROWS(a.load_state_dict(bad));
  CHECK(a.state_dict()[0].second.to_vector() == pos_before);
}

TEST_CASE("module: tied parameters are listed once, bad registrations and lookups are errors") {
  struct Tied : Module {
    Tied() {
      Var w = register_parameter("w", random_tensor({2, 2}, 3));
      register_parameter("w_again", w);
    }
  } tied;
  CHECK(tied.named_parameters().size() == 1);
  CHECK(tied.num_parameters() == 4);
  CHECK(tied.state_dict().size() == 2);

  struct Bad : Module {
    void dup() {
      register_parameter("x", Tensor::ones({1}));
      register_buffer("x", Tensor::ones({1}));
    }
    void dotted() { register_parameter("a.b", Tensor::ones({1})); }
    void null_child() { register_module("c", std::shared_ptr<Module>()); }
  } bad;
  CHECK_THROWS_WITH(bad.dup(), Catch::Contains("cannot register buffer 'x'"));
  CHECK_THROWS_WITH(bad.dotted(), Catch::Contains("'a.b' must be non-empty and contain no '.'"));
  CHECK_THROWS_WITH(bad.null_child(), Catch::Contains("child module 'c' is null"));
  CHECK_THROWS_WITH(bad.param("y"), Catch::Contains("no parameter 'y' (parameters: [x])"));
  CHECK_THROWS_WITH(bad.buffer("y"), Catch::Contains("no buffer 'y'"));
}
