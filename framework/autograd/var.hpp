#pragma once
// Define-by-run reverse-mode autograd over coarse, fused ops.
//
// A Var is a handle to a Node: a value tensor, an accumulated gradient, and (for results of ops while grad
// mode is on and some input requires grad) a backward function plus the input Vars. backward(loss) visits
// nodes in reverse topological order; each backward function reads its node's grad and calls
// accumulate_grad on its inputs. Ops save only what backward needs, by capturing it in the closure.
// After a node's backward ran, its closure and inputs are released (no retain_graph).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.hpp"

namespace rc {

class Var;
using BackwardFn = std::function<void(const Tensor& grad_out)>;

struct Node {
  Tensor value;
  Tensor grad;  // undefined until something accumulates into it
  bool requires_grad = false;
  const char* op = "leaf";
  std::vector<std::shared_ptr<Node>> inputs;
  BackwardFn backward;
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const { return node_->value; }
  Tensor& value() { return node_->value; }
  const Tensor& grad() const { return node_->grad; }
  Tensor& grad() { return node_->grad; }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  void set_requires_grad(bool r) { node_->requires_grad = r; }
  const Shape& shape() const { return node_->value.shape(); }
  int64_t dim(int i) const { return node_->value.dim(i); }
  int ndim() const { return node_->value.ndim(); }
  const char* op() const { return node_->op; }
  void zero_grad() { node_->grad = Tensor(); }
  Var detach() const { return Var(node_->value, false); }

  const std::shared_ptr<Node>& node() const { return node_; }
  static Var from_node(std::shared_ptr<Node> n) {
    Var v;
    v.node_ = std::move(n);
    return v;
  }

 private:
  std::shared_ptr<Node> node_;
};

// Grad mode: off inside a NoGradGuard (evaluation); results then carry no graph.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Training mode switch read by dropout and batch norm through their arguments (modules keep their own flag).

// Makes the result of an op. If grad mode is on and any input requires grad, the node records the inputs
// and the backward function; otherwise the function is dropped and nothing is kept alive.
Var make_result(Tensor value, std::initializer_list<const Var*> inputs, const char* op, BackwardFn backward);
Var make_result(Tensor value, const std::vector<Var>& inputs, const char* op, BackwardFn backward);

// grad(v) += g when v requires grad (g must have v's shape; it is copied on first accumulation
// unless it is a fresh tensor that nobody else holds).
void accumulate_grad(const Var& v, const Tensor& g);

// grad(v) += a contribution that add_into adds in place to v's gradient buffer (zero-filled when this is the
// first accumulation), for ops whose gradient touches only part of v (slice): no full-size temporary.
// Does nothing when v does not require grad.
void accumulate_grad_in_place(const Var& v, const std::function<void(Tensor& grad)>& add_into);

// Runs backward from root. root must be a scalar unless a seed gradient of its shape is given.
void backward(const Var& root, Tensor seed = Tensor());

}  // namespace rc
