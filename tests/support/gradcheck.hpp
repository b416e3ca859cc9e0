#pragma once
// Test support: random data (never zeros), finite-difference gradient checks in double precision on the
// reference implementations, and comparisons of fast float kernels against double references.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "framework/autograd/var.hpp"
#include "framework/core/random.hpp"
#include "framework/ref/ref_tensor.hpp"

namespace rc::test {

using ref::RefTensor;
using RefD = RefTensor<double>;

// Uniform in [lo, hi) with |x| >= 0.05 so that no test runs on (near) zeros.
inline Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Generator gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float x = dist(gen);
    while (std::fabs(x) < 0.05f && (lo < -0.05f || hi > 0.05f)) x = dist(gen);
    t.data()[i] = x;
  }
  return t;
}

inline RefD random_ref(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return ref::to_ref<double>(random_tensor(shape, seed, static_cast<float>(lo), static_cast<float>(hi)));
}

// Relative error ||a - b|| / (||a|| + ||b||) (0 when both are zero).
template <class A, class B>
double rel_error(const std::vector<A>& a, const std::vector<B>& b) {
  REQUIRE(a.size() == b.size());
  double num = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    num += (x - y) * (x - y);
    na += x * x;
    nb += y * y;
  }
  double den = std::sqrt(na) + std::sqrt(nb);
  return den == 0 ? 0.0 : std::sqrt(num) / den;
}

inline double rel_error(const Tensor& fast, const RefD& reference) {
  REQUIRE(fast.shape() == reference.shape);
  return rel_error(fast.to_vector(), reference.data);
}

inline double max_abs_diff(const Tensor& fast, const RefD& reference) {
  REQUIRE(fast.shape() == reference.shape);
  auto v = fast.to_vector();
  double m = 0;
  for (size_t i = 0; i < v.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(v[i]) - reference.data[i]));
  return m;
}

using RefForward = std::function<RefD(const std::vector<RefD>&)>;
using RefBackward = std::function<std::vector<RefD>(const std::vector<RefD>& inputs, const RefD& grad_out)>;

// Central differences on loss = sum(w * forward(inputs)) with random w, compared with backward(inputs, w).
// Returns the largest relative error over the inputs listed in `which` (all when empty).
inline double fd_check(const RefForward& forward, const RefBackward& backward, std::vector<RefD> inputs,
                       std::vector<int> which = {}, double eps = 1e-6, uint64_t seed = 1234) {
  RefD out = forward(inputs);
  RefD w = random_ref(out.shape, seed);
  auto loss = [&](const std::vector<RefD>& in) {
    RefD o = forward(in);
    double s = 0;
    for (int64_t i = 0; i < o.numel(); ++i) s += w[i] * o[i];
    return s;
  };
  std::vector<RefD> analytic = backward(inputs, w);
  if (which.empty())
    for (size_t i = 0; i < inputs.size(); ++i) which.push_back(static_cast<int>(i));
  double worst = 0;
  for (int k : which) {
    REQUIRE(analytic[k].shape == inputs[k].shape);
    std::vector<double> numeric(inputs[k].numel());
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      double orig = inputs[k][i];
      inputs[k][i] = orig + eps;
      double lp = loss(inputs);
      inputs[k][i] = orig - eps;
      double lm = loss(inputs);
      inputs[k][i] = orig;
      numeric[i] = (lp - lm) / (2 * eps);
    }
    double e = rel_error(analytic[k].data, numeric);
    UNSCOPED_INFO("fd_check: input " << k << " relative error " << e);
    worst = std::max(worst, e);
  }
  return worst;
}

// Runs a float autograd op: forward on leaves made from `inputs`, then backward with seed grad_out.
// Returns the output value and the gradient of each input.
struct OpRun {
  Tensor out;
  std::vector<Tensor> grads;
};
inline OpRun run_op(const std::function<Var(const std::vector<Var>&)>& op, const std::vector<Tensor>& inputs,
                    const Tensor& grad_out) {
  std::vector<Var> leaves;
  for (const Tensor& t : inputs) leaves.emplace_back(t.clone(), true);
  Var out = op(leaves);
  OpRun r;
  r.out = out.value().clone();
  backward(out, grad_out);
  for (const Var& l : leaves) r.grads.push_back(l.grad());
  return r;
}

}  // namespace rc::test
