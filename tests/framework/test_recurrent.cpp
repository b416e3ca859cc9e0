// nn::LSTM and nn::GRU (framework/nn/recurrent.hpp): PyTorch's parameter names, shapes, order and initial
// range; outputs pinned to torch.nn.LSTM / torch.nn.GRU's; two bidirectional layers against the double reference
// layers composed by hand (gradients of the input and of every parameter), that composition against finite
// differences; gradients pinned to PyTorch's; bad arguments.
#include <cmath>

#include "framework/nn/recurrent.hpp"
#include "framework/ops/rnn_ref.hpp"
#include "framework/ops/shape.hpp"
#include "support/gradcheck.hpp"
#include "support/thread_invariance.hpp"

using namespace rc;
using namespace rc::test;

namespace {
// the values the PyTorch script used for x and for parameter i (in named order): 0.5 sin(0.37 k + offset)
Tensor pattern(const Shape& shape, double offset) {
  Tensor t = Tensor::empty(shape);
  for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = static_cast<float>(0.5 * std::sin(0.37 * k + offset));
  return t;
}

void set_parameters(const nn::Recurrent& m, const std::vector<Tensor>& values) {
  const auto params = m.named_parameters();
  REQUIRE(params.size() == values.size());
  for (size_t i = 0; i < params.size(); ++i) Var(params[i].var).value().copy_(values[i]);
}

Var flat(const nn::RecurrentOutput& r) {
  std::vector<Var> parts{reshape(r.output, {-1}), reshape(r.h_n, {-1})};
  if (r.c_n.defined()) parts.push_back(reshape(r.c_n, {-1}));
  return concat(parts, 0);
}

// The module's computation in double from the reference layers: inputs are x, then the parameters in named order.
struct StackRef {
  RnnCell cell;
  int64_t layers, D, H;
  int64_t per() const { return 4; }  // w_ih, w_hh, b_ih, b_hh
  ref::RnnParams<double> params(const std::vector<RefD>& in, int64_t k) const {
    const size_t b = static_cast<size_t>(1 + k * per());
    return {in[b], in[b + 1], in[b + 2], in[b + 3]};
  }
  // (B, T, H) per direction -> (B, T, D·H)
  RefD join(const std::vector<RefD>& outs) const {
    const int64_t B = outs[0].dim(0), T = outs[0].dim(1);
    RefD y({B, T, D * H});
    for (int64_t bt = 0; bt < B * T; ++bt)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < H; ++j) y[bt * D * H + d * H + j] = outs[d][bt * H + j];
    return y;
  }
  // the input of every layer, the last layer's output, and the per-(layer, direction) results
  std::vector<RefD> run(const std::vector<RefD>& in, std::vector<ref::RnnResult<double>>& results) const {
    std::vector<RefD> inputs{in[0]};
    for (int64_t l = 0; l < layers; ++l) {
      std::vector<RefD> outs;
      for (int64_t d = 0; d < D; ++d) {
        results.push_back(ref::rnn(cell, inputs.back(), params(in, l * D + d), RefD(), RefD(), d == 1));
        outs.push_back(results.back().output);
      }
      inputs.push_back(join(outs));
    }
    return inputs;
  }
  RefD forward(const std::vector<RefD>& in) const {
    std::vector<ref::RnnResult<double>> res;
    const RefD out = run(in, res).back();
    std::vector<double> v = out.data;
    for (const auto& r : res) v.insert(v.end(), r.h_last.data.begin(), r.h_last.data.end());
    for (const auto& r : res) v.insert(v.end(), r.c_last.data.begin(), r.c_last.data.end());
    return RefD({static_cast<int64_t>(v.size())}, v);
  }
  std::vector<RefD> backward(const std::vector<RefD>& in, const RefD& dflat) const;
};

std::vector<RefD> StackRef::backward(const std::vector<RefD>& in, const RefD& dflat) const {
  std::vector<ref::RnnResult<double>> res;
  const std::vector<RefD> inputs = run(in, res);
  const int64_t B = in[0].dim(0), T = in[0].dim(1), LD = layers * D, state = B * H;
  const int64_t out = B * T * D * H;
  const bool lstm = cell == RnnCell::lstm;
  auto part = [&](int64_t from, int64_t n, const Shape& shape) {
    RefD p(shape);
    for (int64_t i = 0; i < n; ++i) p[i] = dflat[from + i];
    return p;
  };
  std::vector<RefD> grads(in.size());
  RefD d_in = part(0, out, {B, T, D * H});
  for (int64_t l = layers - 1; l >= 0; --l) {
    RefD d_below(inputs[l].shape);
    for (int64_t d = 0; d < D; ++d) {
      const int64_t k = l * D + d;
      RefD dy({B, T, H});
      for (int64_t bt = 0; bt < B * T; ++bt)
        for (int64_t j = 0; j < H; ++j) dy[bt * H + j] = d_in[bt * D * H + d * H + j];
      const RefD dh = part(out + k * state, state, {B, H});
      const RefD dc = lstm ? part(out + (LD + k) * state, state, {B, H}) : RefD();
      auto g = ref::rnn_backward(cell, inputs[l], params(in, k), RefD(), RefD(), d == 1, dy, dh, dc);
      const size_t b = static_cast<size_t>(1 + k * per());
      grads[b] = g.dw_ih, grads[b + 1] = g.dw_hh, grads[b + 2] = g.db_ih, grads[b + 3] = g.db_hh;
      for (int64_t i = 0; i < d_below.numel(); ++i) d_below[i] += g.dx[i];
    }
    d_in = d_below;
  }
  grads[0] = d_in;
  return grads;
}
}  // namespace

TEST_CASE("recurrent: parameter names, shapes, order and initial range are PyTorch's") {
  Generator gen(1);
  nn::LSTM lstm(5, 6, gen, {2, true});
  const std::vector<std::string> names = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  const std::vector<Shape> shapes = {{24, 5},  {24, 6}, {24}, {24}, {24, 5},  {24, 6}, {24}, {24},
                                     {24, 12}, {24, 6}, {24}, {24}, {24, 12}, {24, 6}, {24}, {24}};
  const auto params = lstm.named_parameters();
  REQUIRE(params.size() == names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    CHECK(params[i].name == names[i]);
    CHECK(params[i].var.shape() == shapes[i]);
    CHECK(params[i].no_weight_decay == (params[i].var.ndim() == 1));
  }
  CHECK(lstm.num_parameters() == 2 * (24 * 5 + 24 * 6 + 48) + 2 * (24 * 12 + 24 * 6 + 48));  // as torch counts
  // U(−1/√H, 1/√H), H = 6: inside the bound and spread over it
  float lo = 1, hi = -1;
  for (const Var& p : lstm.parameters())
    for (float v : p.value().to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  const float bound = 1.0f / std::sqrt(6.0f);
  CHECK((lo >= -bound && hi <= bound && lo < -0.9f * bound && hi > 0.9f * bound));
  nn::GRU gru(3, 4, gen, {1, false, false});
  const auto gp = gru.named_parameters();
  REQUIRE(gp.size() == 2);
  CHECK((gp[0].name == "weight_ih_l0" && gp[0].var.shape() == Shape{12, 3}));
  CHECK((gp[1].name == "weight_hh_l0" && gp[1].var.shape() == Shape{12, 4}));
}

TEST_CASE("recurrent: two bidirectional layers give torch.nn.LSTM's and torch.nn.GRU's outputs") {
  // values from PyTorch 1.13 in float64 (bench/torch_rnn_reference.py), parameters and input set by pattern();
  // x (2, 3, 2), H = 3
  Generator gen(2);
  nn::LSTM lstm(2, 3, gen, {2, true});
  nn::GRU gru(2, 3, gen, {2, true});
  std::vector<Tensor> values;
  for (const auto& p : lstm.named_parameters()) values.push_back(pattern(p.var.shape(), 1.0 + values.size()));
  set_parameters(lstm, values);
  values.clear();
  for (const auto& p : gru.named_parameters()) values.push_back(pattern(p.var.shape(), 1.0 + values.size()));
  set_parameters(gru, values);
  const Var x(pattern({2, 3, 2}, 0.1));
  auto close = [](const Var& v, const std::vector<double>& want) { return rel_error(v.value().to_vector(), want); };
  const nn::RecurrentOutput l = lstm.forward(x);
  CHECK(close(l.output, {0.218985446, 0.106654195, 0.126822393, -0.232684592, -0.131243166, -0.0967603304,
                         0.303716167, 0.162884634, 0.189319621, -0.219986721, -0.136279342, -0.0924155679,
                         0.30709828,  0.212169885, 0.221687926, -0.165828046, -0.12090668,  -0.0914477916,
                         0.201635023, 0.119565911, 0.127270209, -0.241688289, -0.152456606, -0.0837098136,
                         0.265296135, 0.187573023, 0.194666578, -0.229247121, -0.155024062, -0.0783330711,
                         0.26549456,  0.231875908, 0.236334643, -0.168959889, -0.131315397, -0.0854914123}) < 1e-6);
  CHECK(close(l.h_n, {-0.31895908,  -0.0548328099, 0.166695066,   -0.103161683, -0.0502629854, 0.0190831017,
                      -0.168090834, -0.288038107,  -0.279004003,  -0.112740733, -0.220305626,  -0.262775333,
                      0.30709828,   0.212169885,   0.221687926,   0.26549456,   0.231875908,   0.236334643,
                      -0.232684592, -0.131243166,  -0.0967603304, -0.241688289, -0.152456606,  -0.0837098136}) < 1e-6);
  CHECK(close(l.c_n, {-0.465053157, -0.0745385244, 0.247571288,  -0.194215604, -0.0840061972, 0.0282514629,
                      -0.573150737, -1.06359732,   -1.04305191,  -0.427218932, -0.7957043,    -0.872491491,
                      0.42683563,   0.357924662,   0.497638216,  0.370997218,  0.386709491,   0.536115403,
                      -0.48492451,  -0.208308972,  -0.189700683, -0.505762339, -0.248303134,  -0.158585897}) < 1e-6);
  const nn::RecurrentOutput g = gru.forward(x);
  CHECK(close(g.output, {0.286193664, 0.105204808, 0.174011549, -0.775659359, -0.018713088, -0.391857021,
                         0.420343971, 0.176711991, 0.278940394, -0.70614973,  -0.131200806, -0.302281465,
                         0.461139083, 0.255452807, 0.330177462, -0.539849712, -0.183328356, -0.237440082,
                         0.291020676, 0.148194011, 0.166472154, -0.777407394, -0.103869485, -0.300649611,
                         0.416935591, 0.23433035,  0.242589932, -0.73063399,  -0.161553349, -0.204178962,
                         0.464257254, 0.302408543, 0.27785943,  -0.570770117, -0.17133317,  -0.201660593}) < 1e-6);
  CHECK(close(g.h_n, {-0.645631329, -0.195705519, 0.368505423,  -0.340250041, -0.256417085, -0.129029487,
                      -0.171635467, -0.411908144, -0.577947799, -0.127065904, -0.317633082, -0.48102513,
                      0.461139083,  0.255452807,  0.330177462,  0.464257254,  0.302408543,  0.27785943,
                      -0.775659359, -0.018713088, -0.391857021, -0.777407394, -0.103869485, -0.300649611}) < 1e-6);
  CHECK_FALSE(g.c_n.defined());
}

TEST_CASE("recurrent: two bidirectional layers give torch's gradients") {
  // bench/torch_rnn_reference.py: loss Σ pattern(output, 0.7) ⊙ output; the gradient of x, and per parameter
  // (named order) Σ pattern(p, 0.3) ⊙ grad(p)
  struct Want {
    RnnCell cell;
    std::vector<double> dx, weighted;
  };
  const std::vector<Want> wants = {
      {RnnCell::lstm,
       {0.00159222626, 0.00287790259, -0.000320568659, 0.00413751318, -0.000363294218, -0.00111160393, 0.00191073617,
        0.0028521565, 0.000858994568, 0.00555085051, -0.00236777175, -0.00365304975},
       {0.00061272257, -0.00373574585, -0.000637995061, -0.000637995061, 0.0147489726, 0.00864209088, -0.00957504837,
        -0.00957504837, 0.00114702244, -0.0557195018, -0.10137269, -0.10137269, 0.0429512042, -0.0188361311,
        0.0037640571, 0.0037640571}},
      {RnnCell::gru,
       {-0.00282030484, -0.0101290835, -0.00582669384, 0.011691332, 0.00823182142, -0.00771000339, -0.00221236682,
        -0.000423557602, 0.00697215236, 0.019694678, 0.00264228807, -0.0138128999},
       {-0.0171669613, 0.00387201765, -0.00770249764, -0.000361639595, 0.00533596875, -0.000409407794, -0.00283711421,
        -0.00296823884, 0.0806052067, -0.100464997, -0.0889804842, -0.0381840846, 0.074002613, -0.0172140017,
        0.053600046, 0.0253870252}}};
  for (const Want& want : wants) {
    CAPTURE(want.cell == RnnCell::lstm ? "lstm" : "gru");
    Generator gen(2);
    nn::Recurrent m(want.cell, 2, 3, gen, {2, true});
    std::vector<Tensor> values;
    for (const auto& p : m.named_parameters()) values.push_back(pattern(p.var.shape(), 1.0 + values.size()));
    set_parameters(m, values);
    Var x(pattern({2, 3, 2}, 0.1), true);
    const Var y = m.forward(x).output;
    backward(y, pattern(y.shape(), 0.7));
    CHECK(rel_error(x.grad().to_vector(), want.dx) < 1e-5);
    std::vector<double> weighted;
    for (const auto& p : m.named_parameters()) {
      const std::vector<float> g = p.var.grad().to_vector(), w = pattern(p.var.shape(), 0.3).to_vector();
      double sum = 0;
      for (size_t i = 0; i < g.size(); ++i) sum += static_cast<double>(w[i]) * g[i];
      weighted.push_back(sum);
    }
    CHECK(rel_error(weighted, want.weighted) < 1e-5);
  }
}

TEST_CASE("recurrent: two bidirectional layers, gradients of the input and every parameter against the reference") {
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru}) {
    CAPTURE(cell == RnnCell::lstm ? "lstm" : "gru");
    const int64_t B = 3, T = 4, I = 3, H = 5;
    Generator gen(3);
    nn::Recurrent m(cell, I, H, gen, {2, true});
    const StackRef stack{cell, 2, 2, H};
    // the composition itself against finite differences (double), on a smaller copy
    {
      nn::Recurrent small(cell, 2, 2, gen, {2, true});
      const StackRef s{cell, 2, 2, 2};
      std::vector<RefD> in{random_ref({2, 3, 2}, 4)};
      for (const Var& p : small.parameters()) in.push_back(ref::to_ref<double>(p.value()));
      const double err = fd_check([&](const std::vector<RefD>& v) { return s.forward(v); },
                                  [&](const std::vector<RefD>& v, const RefD& dy) { return s.backward(v, dy); }, in);
      CHECK(err < 1e-6);
    }
    Var x(random_tensor({B, T, I}, 5), true);
    const nn::RecurrentOutput r = m.forward(x);
    const Var y = flat(r);
    const Tensor dy = random_tensor(y.shape(), 6);
    backward(y, dy);
    std::vector<RefD> in{ref::to_ref<double>(x.value())};
    for (const Var& p : m.parameters()) in.push_back(ref::to_ref<double>(p.value()));
    CHECK(rel_error(y.value(), stack.forward(in)) < 1e-5);
    const std::vector<RefD> g = stack.backward(in, ref::to_ref<double>(dy));
    CHECK(rel_error(x.grad(), g[0]) < 1e-5);
    const auto params = m.named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      CAPTURE(params[i].name);
      CHECK(rel_error(params[i].var.grad(), g[i + 1]) < 1e-5);
    }
  }
}

TEST_CASE("recurrent: initial states are (layers·directions, B, H), and bad arguments are named") {
  Generator gen(4);
  nn::LSTM lstm(3, 4, gen, {2, true});
  const Var x(random_tensor({2, 5, 3}, 1));
  const Var h0(random_tensor({4, 2, 4}, 2)), c0(random_tensor({4, 2, 4}, 3));
  const nn::RecurrentOutput with = lstm.forward(x, h0, c0), without = lstm.forward(x);
  CHECK(with.output.shape() == Shape{2, 5, 8});
  CHECK(with.h_n.shape() == Shape{4, 2, 4});
  CHECK(with.c_n.shape() == Shape{4, 2, 4});
  CHECK(with.output.value().to_vector() != without.output.value().to_vector());
  CHECK_THROWS_WITH(lstm.forward(Var(random_tensor({2, 5, 4}, 1))),
                    Catch::Contains("LSTM: x must be (B, T, input_size = 3), got shape (2, 5, 4)"));
  CHECK_THROWS_WITH(lstm.forward(x, Var(random_tensor({2, 2, 4}, 2))),
                    Catch::Contains("LSTM: h0 must be (layers·directions, B, H) = (4, 2, 4), got shape (2, 2, 4)"));
  nn::GRU gru(3, 4, gen);
  CHECK_THROWS_WITH(gru.forward(x, Var(), Var(random_tensor({1, 2, 4}, 3))),
                    Catch::Contains("GRU: c0 is given but a GRU has no cell state"));
  CHECK_THROWS_WITH(nn::GRU(3, 0, gen), Catch::Contains("GRU: input_size = 3, hidden_size = 0 and layers = 1"));
}

TEST_CASE("recurrent: dropout between layers in training mode only, reproducible from the seed") {
  Generator gen_a(5), gen_b(5), gen_c(5);
  nn::GRU a(3, 8, gen_a, {2, false, true, 0.5f, 77}), b(3, 8, gen_b, {2, false, true, 0.5f, 77});
  nn::GRU plain(3, 8, gen_c, {2});
  const Var x(random_tensor({4, 6, 3}, 1));
  const std::vector<float> a1 = a.forward(x).output.value().to_vector(), a2 = a.forward(x).output.value().to_vector();
  CHECK(a1 != a2);                                           // a fresh mask per call
  CHECK(a1 == b.forward(x).output.value().to_vector());      // the same seed, the same masks
  CHECK(a1 != plain.forward(x).output.value().to_vector());  // the same weights without dropout
  a.eval();
  CHECK(a.forward(x).output.value().to_vector() == plain.forward(x).output.value().to_vector());
  CHECK_THROWS_WITH(nn::LSTM(3, 4, gen_a, {2, false, true, 1.0f}),
                    Catch::Contains("LSTM: dropout = 1 must be in [0, 1)"));
}

TEST_CASE("recurrent: two bidirectional layers are bit-identical with 1 and 2 threads") {
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru}) {
    Generator gen(6);
    nn::Recurrent m(cell, 5, 12, gen, {2, true});
    const Tensor x = random_tensor({40, 7, 5}, 7);
    check_same_with_1_and_2_threads([&] {
      m.zero_grad();
      Var xv(x.clone(), true);
      const Var y = flat(m.forward(xv));
      backward(y, random_tensor(y.shape(), 8));
      std::vector<std::vector<float>> all{y.value().to_vector(), xv.grad().to_vector()};
      for (const Var& p : m.parameters()) all.push_back(p.grad().to_vector());
      return all;
    });
  }
}
