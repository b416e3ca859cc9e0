// The LSTM and GRU ops (framework/ops/rnn.hpp): the double reference against finite differences, the fast op
// against the reference (results and every gradient), bit-identity across thread counts, and bad arguments.
#include <cmath>
#include <sstream>

#include "framework/ops/rnn.hpp"
#include "framework/ops/rnn_ref.hpp"
#include "framework/ops/shape.hpp"
#include "support/gradcheck.hpp"
#include "support/thread_invariance.hpp"

using namespace rc;
using namespace rc::test;

namespace {
struct RnnCase {
  RnnCell cell;
  int64_t B, T, I, H;
  bool reverse = false, bias = true, state = true;  // state: pass h0 (and c0) instead of zeros
};

std::string describe(const RnnCase& c) {
  std::ostringstream s;
  s << (c.cell == RnnCell::lstm ? "lstm" : "gru") << " B=" << c.B << " T=" << c.T << " I=" << c.I << " H=" << c.H
    << (c.reverse ? " reverse" : "") << (c.bias ? " bias" : " no-bias") << (c.state ? " h0" : " zero-state");
  return s.str();
}

// x, w_ih, w_hh, b_ih, b_hh, h0 [, c0 for the LSTM]; weights in ±1/√H as PyTorch initialises them
std::vector<Tensor> make_inputs(const RnnCase& c, uint64_t seed) {
  const int64_t GH = rnn_gate_count(c.cell) * c.H;
  const float s = std::max(0.2f, 1.0f / std::sqrt(static_cast<float>(c.H)));
  std::vector<Tensor> in{random_tensor({c.B, c.T, c.I}, seed),      random_tensor({GH, c.I}, seed + 1, -s, s),
                         random_tensor({GH, c.H}, seed + 2, -s, s), random_tensor({GH}, seed + 3, -s, s),
                         random_tensor({GH}, seed + 4, -s, s),      random_tensor({c.B, c.H}, seed + 5)};
  if (c.cell == RnnCell::lstm) in.push_back(random_tensor({c.B, c.H}, seed + 6));
  return in;
}

// all results of the op as one flat Var: output, h_last [, c_last]
Var flat_results(const RnnOutput& r) {
  std::vector<Var> parts{reshape(r.output, {-1}), reshape(r.h_last, {-1})};
  if (r.c_last.defined()) parts.push_back(reshape(r.c_last, {-1}));
  return concat(parts, 0);
}

RnnOutput call_op(const RnnCase& c, const std::vector<Var>& v) {
  const Var none;
  const Var& b_ih = c.bias ? v[3] : none;
  const Var& b_hh = c.bias ? v[4] : none;
  const Var& h0 = c.state ? v[5] : none;
  if (c.cell == RnnCell::lstm) return lstm(v[0], v[1], v[2], b_ih, b_hh, h0, c.state ? v[6] : none, c.reverse);
  return gru(v[0], v[1], v[2], b_ih, b_hh, h0, c.reverse);
}

OpRun run_case(const RnnCase& c, const std::vector<Tensor>& inputs, const Tensor& dy) {
  return run_op([&](const std::vector<Var>& v) { return flat_results(call_op(c, v)); }, inputs, dy);
}

int64_t flat_size(const RnnCase& c) { return c.B * c.T * c.H + (c.cell == RnnCell::lstm ? 2 : 1) * c.B * c.H; }

RefD ref_flat(const ref::RnnResult<double>& r) {
  RefD out({static_cast<int64_t>(r.output.data.size() + r.h_last.data.size() + r.c_last.data.size())});
  size_t k = 0;
  for (const RefD* p : {&r.output, &r.h_last, &r.c_last})
    for (double v : p->data) out.data[k++] = v;
  return out;
}

// the reference on inputs laid out as make_inputs's (biases and state ignored when the case has none)
struct RefCall {
  RnnCase c;
  ref::RnnParams<double> params(const std::vector<RefD>& in) const {
    return {in[1], in[2], c.bias ? in[3] : RefD(), c.bias ? in[4] : RefD()};
  }
  RefD h0(const std::vector<RefD>& in) const { return c.state ? in[5] : RefD(); }
  RefD c0(const std::vector<RefD>& in) const { return c.state && c.cell == RnnCell::lstm ? in[6] : RefD(); }
  RefD forward(const std::vector<RefD>& in) const {
    return ref_flat(ref::rnn(c.cell, in[0], params(in), h0(in), c0(in), c.reverse));
  }
  // gradients of make_inputs's tensors from the gradient of the flat results
  std::vector<RefD> backward(const std::vector<RefD>& in, const RefD& dflat) const {
    const int64_t out = c.B * c.T * c.H, state = c.B * c.H;
    auto part = [&](int64_t from, const Shape& shape) {
      RefD p(shape);
      for (int64_t i = 0; i < p.numel(); ++i) p[i] = dflat[from + i];
      return p;
    };
    const bool lstm = c.cell == RnnCell::lstm;
    auto g = ref::rnn_backward(c.cell, in[0], params(in), h0(in), c0(in), c.reverse, part(0, {c.B, c.T, c.H}),
                               part(out, {c.B, c.H}), lstm ? part(out + state, {c.B, c.H}) : RefD());
    std::vector<RefD> grads{g.dx, g.dw_ih, g.dw_hh, g.db_ih, g.db_hh, g.dh0};
    if (lstm) grads.push_back(g.dc0);
    return grads;
  }
};

std::vector<RefD> to_refs(const std::vector<Tensor>& ts) {
  std::vector<RefD> r;
  for (const Tensor& t : ts) r.push_back(ref::to_ref<double>(t));
  return r;
}

void check_against_reference(const RnnCase& c, uint64_t seed) {
  CAPTURE(describe(c));
  const std::vector<Tensor> inputs = make_inputs(c, seed);
  const Tensor dy = random_tensor({flat_size(c)}, seed + 10);
  const OpRun r = run_case(c, inputs, dy);
  const RefCall call{c};
  const std::vector<RefD> in = to_refs(inputs);
  CHECK(rel_error(r.out, call.forward(in)) < 1e-5);
  const std::vector<RefD> g = call.backward(in, ref::to_ref<double>(dy));
  const char* names[] = {"x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"};
  for (size_t k = 0; k < g.size(); ++k) {
    const bool used = (k != 3 && k != 4) || c.bias;
    const bool state = k < 5 || c.state;
    CAPTURE(names[k]);
    if (used && state)
      UNSCOPED_INFO("first " << r.grads[k].to_vector()[0] << " vs " << g[k][0] << ", max abs diff "
                             << max_abs_diff(r.grads[k], g[k]));
    REQUIRE(r.grads[k].defined() == (used && state));
    // relative error, or absolute for a gradient that nearly cancels (one element, B = T = I = H = 1)
    if (used && state) CHECK((rel_error(r.grads[k], g[k]) < 1e-5 || max_abs_diff(r.grads[k], g[k]) < 1e-6));
  }
}
}  // namespace

TEST_CASE("rnn: the reference passes a finite-difference check in double (LSTM and GRU, both directions)") {
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru})
    for (bool reverse : {false, true}) {
      const RnnCase c{cell, 2, 4, 3, 3, reverse};
      CAPTURE(describe(c));
      const RefCall call{c};
      const double err = fd_check([&](const std::vector<RefD>& in) { return call.forward(in); },
                                  [&](const std::vector<RefD>& in, const RefD& dy) { return call.backward(in, dy); },
                                  to_refs(make_inputs(c, 7)));
      CHECK(err < 1e-6);
    }
}

TEST_CASE("rnn: the fast op matches the reference on odd shapes, with and without biases and initial state") {
  const std::vector<std::array<int64_t, 4>> shapes = {
      {1, 1, 1, 1},     // the smallest
      {2, 1, 3, 5},     // T = 1: no recurrence
      {3, 7, 5, 4},     // odd sizes
      {5, 4, 1, 9},     // I = 1 (pixel sequences)
      {1, 13, 2, 3},    // B = 1, a longer sequence
      {37, 5, 3, 6},    // B = 37: two tasks of 19 and 18 rows
      {50, 3, 4, 17},   // three tasks, H not a multiple of the vector width
      {2, 120, 3, 10},  // a long sequence
  };
  uint64_t seed = 100;
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru})
    for (const auto& [B, T, I, H] : shapes)
      for (int variant = 0; variant < 4; ++variant) {
        check_against_reference(RnnCase{cell, B, T, I, H, variant % 2 == 1, variant != 2, variant != 3}, seed);
        seed += 20;
      }
}

TEST_CASE("rnn: results and gradients are bit-identical with 1 and 2 threads") {
  CHECK(num_chunks(40, rnn_rows_per_task(40)) == 2);  // the case below runs as two tasks
  CHECK(num_chunks(130, rnn_rows_per_task(130)) == 8);
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru})
    for (bool reverse : {false, true}) {
      const RnnCase c{cell, 40, 9, 5, 24, reverse};
      CAPTURE(describe(c));
      const std::vector<Tensor> inputs = make_inputs(c, 11);
      const Tensor dy = random_tensor({flat_size(c)}, 12);
      check_same_with_1_and_2_threads([&] { return flatten(run_case(c, inputs, dy)); });
    }
}

TEST_CASE("rnn: the results are views of one buffer, and a loss on the output alone gets the right gradient") {
  // only `output` feeds the loss: the gradient of w_hh equals the reference's with dh_last = dc_last = 0
  const RnnCase c{RnnCell::lstm, 3, 5, 2, 4};
  const std::vector<Tensor> inputs = make_inputs(c, 31);
  const Tensor dy = random_tensor({c.B, c.T, c.H}, 32);
  const OpRun r = run_op([&](const std::vector<Var>& v) { return call_op(c, v).output; }, inputs, dy);
  Tensor dflat = Tensor::zeros({flat_size(c)});
  std::copy(dy.data(), dy.data() + dy.numel(), dflat.data());
  const std::vector<RefD> g = RefCall{c}.backward(to_refs(inputs), ref::to_ref<double>(dflat));
  for (int k : {0, 1, 2, 5, 6}) CHECK(rel_error(r.grads[k], g[k]) < 1e-5);
  // only h_last: for the reverse GRU that is the state at t = 0, the same values as output[:, 0]
  const RnnCase rg{RnnCell::gru, 2, 4, 3, 5, true};
  std::vector<Var> v;
  for (const Tensor& t : make_inputs(rg, 33)) v.emplace_back(t, true);
  const RnnOutput out = call_op(rg, v);
  CHECK(slice(out.output, 1, 0, 1).value().to_vector() == out.h_last.value().to_vector());
}

TEST_CASE("rnn: without grad mode the op records nothing and gives the same values") {
  for (RnnCell cell : {RnnCell::lstm, RnnCell::gru}) {
    const RnnCase c{cell, 4, 6, 3, 9, true};
    std::vector<Var> v;
    for (const Tensor& t : make_inputs(c, 41)) v.emplace_back(t, true);
    const Var with = flat_results(call_op(c, v));
    NoGradGuard guard;
    const RnnOutput r = call_op(c, v);
    CHECK_FALSE(r.output.requires_grad());
    CHECK(flat_results(r).value().to_vector() == with.value().to_vector());
  }
}

TEST_CASE("rnn: bad arguments name the argument and the expected shape") {
  Var x(random_tensor({2, 3, 2}, 1)), w_ih(random_tensor({12, 2}, 2)), w_hh(random_tensor({12, 3}, 3));
  Var b(random_tensor({12}, 4)), h0(random_tensor({2, 3}, 5));
  CHECK_THROWS_WITH(lstm(Var(random_tensor({2, 3}, 1)), w_ih, w_hh, b, b),
                    Catch::Contains("lstm: x must be (B, T, I) with B, T, I >= 1, got shape (2, 3)"));
  CHECK_THROWS_WITH(lstm(Var(random_tensor({2, 0, 2}, 1)), w_ih, w_hh, b, b),
                    Catch::Contains("x must be (B, T, I) with B, T, I >= 1, got shape (2, 0, 2)"));
  CHECK_THROWS_WITH(lstm(x, w_ih, Var(random_tensor({12, 4}, 3)), b, b),
                    Catch::Contains("lstm: w_hh must be (4·H, H) with H >= 1, got shape (12, 4)"));
  CHECK_THROWS_WITH(gru(x, w_ih, w_hh, b, b), Catch::Contains("gru: w_hh must be (3·H, H)"));
  CHECK_THROWS_WITH(lstm(x, Var(random_tensor({12, 3}, 2)), w_hh, b, b),
                    Catch::Contains("lstm: w_ih must be (12, 2) for x (2, 3, 2) and w_hh (12, 3), got shape (12, 3)"));
  CHECK_THROWS_WITH(lstm(x, w_ih, w_hh, Var(random_tensor({3}, 4)), b),
                    Catch::Contains("lstm: b_ih must be (12) for w_hh (12, 3), got shape (3)"));
  CHECK_THROWS_WITH(lstm(x, w_ih, w_hh, b, Var(random_tensor({12, 1}, 4))),
                    Catch::Contains("b_hh must be (12) for w_hh (12, 3), got shape (12, 1)"));
  CHECK_THROWS_WITH(lstm(x, w_ih, w_hh, b, b, Var(random_tensor({3, 2}, 5))),
                    Catch::Contains("lstm: h0 must be (B, H) = (2, 3), got shape (3, 2)"));
  CHECK_THROWS_WITH(lstm(x, w_ih, w_hh, b, b, h0, Var(random_tensor({2, 4}, 6))),
                    Catch::Contains("lstm: c0 must be (B, H) = (2, 3), got shape (2, 4)"));
  CHECK_THROWS_WITH(lstm(x, Var(), w_hh, b, b), Catch::Contains("lstm: x, w_ih or w_hh is undefined"));
}
