#include "framework/autograd/var.hpp"

#include <unordered_set>

namespace rc {

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

Var make_result(Tensor value, const std::vector<Var>& inputs, const char* op, BackwardFn backward) {
  auto n = std::make_shared<Node>();
  n->value = std::move(value);
  n->op = op;
  bool needs = false;
  if (g_grad_enabled)
    for (const Var& v : inputs) needs = needs || v.requires_grad();
  if (needs) {
    n->requires_grad = true;
    for (const Var& v : inputs)
      if (v.requires_grad()) n->inputs.push_back(v.node());
    n->backward = std::move(backward);
  }
  return Var::from_node(std::move(n));
}

Var make_result(Tensor value, std::initializer_list<const Var*> inputs, const char* op, BackwardFn backward) {
  std::vector<Var> v;
  v.reserve(inputs.size());
  for (const Var* p : inputs)
    if (p && p->defined()) v.push_back(*p);
  return make_result(std::move(value), v, op, std::move(backward));
}

void accumulate_grad(const Var& v, const Tensor& g) {
  if (!v.requires_grad() || !g.defined()) return;
  Node& n = *v.node();
  RC_CHECK(g.shape() == n.value.shape(), "autograd: gradient of shape {} for a '{}' value of shape {}",
           shape_str(g.shape()), n.op, shape_str(n.value.shape()));
  if (!n.grad.defined()) {
    // Adopt g without a copy when nobody else can change it: a contiguous tensor whose storage has no other
    // handle (op results; backward() drops each node's own grad once its backward has run). Anything
    // shared, such as one gradient handed to two inputs, is copied so that later accumulation into one
    // cannot leak into the other.
    const bool exclusive = g.is_contiguous() && g.storage_owners() == 1 && !g.same_storage(n.value);
    n.grad = exclusive ? g : g.clone();
  } else {
    n.grad.add_(g);
  }
}

void accumulate_grad_in_place(const Var& v, const std::function<void(Tensor& grad)>& add_into) {
  if (!v.requires_grad()) return;
  Node& n = *v.node();
  if (!n.grad.defined()) n.grad = Tensor::zeros(n.value.shape());
  add_into(n.grad);
}

void backward(const Var& root, Tensor seed) {
  RC_CHECK(root.defined(), "backward: root is undefined");
  RC_CHECK(root.requires_grad(), "backward: root ('{}') does not require grad", root.op());
  if (!seed.defined()) {
    RC_CHECK(root.value().numel() == 1, "backward: root of shape {} is not a scalar; pass a seed gradient",
             shape_str(root.shape()));
    seed = Tensor::full(root.shape(), 1.0f);
  }
  // iterative post-order DFS gives a topological order (inputs before outputs). `order` holds strong
  // references: releasing a node's closure and inputs below may drop the last other owner of an
  // intermediate node that is still to be visited.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root.node(), 0}};
  seen.insert(root.node().get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      std::shared_ptr<Node> child = node->inputs[next++];
      if (child->backward && seen.insert(child.get()).second) stack.push_back({std::move(child), 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  accumulate_grad(root, seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    std::shared_ptr<Node> n = std::move(*it);  // dropped at the end of this iteration
    if (!n->backward || !n->grad.defined()) continue;
    BackwardFn fn = std::move(n->backward);
    n->backward = nullptr;
    Tensor grad = std::move(n->grad);  // non-leaf gradients are not kept (as PyTorch without retain_grad)
    n->grad = Tensor();
    fn(grad);
    n->inputs.clear();  // release the graph as we go
  }
}

}  // namespace rc
