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
    n.grad = g.contiguous();
    if (n.grad.same_storage(g) || n.grad.same_storage(n.value)) n.grad = g.clone();
  } else {
    n.grad.add_(g);
  }
}

void backward(const Var& root, Tensor seed) {
  RC_CHECK(root.defined(), "backward: root is undefined");
  RC_CHECK(root.requires_grad(), "backward: root ('{}') does not require grad", root.op());
  if (!seed.defined()) {
    RC_CHECK(root.value().numel() == 1, "backward: root of shape {} is not a scalar; pass a seed gradient",
             shape_str(root.shape()));
    seed = Tensor::full(root.shape(), 1.0f);
  }
  // iterative post-order DFS gives a topological order (inputs before outputs)
  // `order` owns its nodes: releasing each node's inputs as we go must not free a node still to be visited
  // (an intermediate result is often held only by the nodes that consumed it).
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
    Node* n = it->get();
    if (!n->backward || !n->grad.defined()) continue;
    BackwardFn fn = std::move(n->backward);
    n->backward = nullptr;
    fn(n->grad);
    n->inputs.clear();  // release the graph as we go
  }
}

}  // namespace rc
