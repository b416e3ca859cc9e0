// Data-parallel pieces of the framework, checked in one process with a "mirror" group: K ranks that all hold the
// same shard, so an all-reduce is K× the local value. Under it, synchronised BatchNorm on a shard must equal plain
// BatchNorm on K copies of that shard stacked into one batch. (Real multi-process runs: tests/experiments/test_mpi.cpp.)
#include <catch2/catch.hpp>

#include "framework/core/collective.hpp"
#include "framework/ops/norm.hpp"
#include "framework/ops/shape.hpp"
#include "framework/optim/data_parallel.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::test;

namespace {
class MirrorGroup : public Collective {
 public:
  explicit MirrorGroup(int k) : k_(k) {}
  int rank() const override { return 0; }
  int size() const override { return k_; }
  void allreduce_sum(std::span<double> d) override {
    for (double& v : d) v *= k_;
  }
  void allreduce_sum(std::span<float> d) override {
    for (float& v : d) v *= static_cast<float>(k_);
  }

 private:
  int k_;
};

struct GroupScope {
  explicit GroupScope(Collective* g) { set_data_parallel_group(g); }
  ~GroupScope() { set_data_parallel_group(nullptr); }
};

Tensor stack_copies(const Tensor& t, int k) {
  std::vector<Var> parts;
  for (int i = 0; i < k; ++i) parts.emplace_back(t);
  return concat(parts, 0).value();
}

void check_close(const Tensor& a, const Tensor& b, int64_t n, double tol) {
  for (int64_t i = 0; i < n; ++i) REQUIRE(a.data()[i] == Approx(b.data()[i]).margin(tol));
}
}  // namespace

TEST_CASE("batch_norm synchronised over a group equals batch_norm over the whole batch") {
  for (bool relu : {false, true}) {
    for (Shape shape : {Shape{3, 4, 5, 2}, Shape{2, 3}, Shape{1, 2, 3, 3}}) {
      INFO("shape " << shape_str(shape) << " relu " << relu);
      const int K = 3;
      const int64_t C = shape[1];
      Tensor x = random_tensor(shape, 11), dy = random_tensor(shape, 12);
      Tensor g = random_tensor({C}, 13, 0.5f, 1.5f), b = random_tensor({C}, 14);
      Tensor rm_full = random_tensor({C}, 15), rv_full = random_tensor({C}, 16, 0.5f, 2.0f);
      Tensor rm_sync = rm_full.clone(), rv_sync = rv_full.clone();
      const Tensor xs = stack_copies(x, K), dys = stack_copies(dy, K);
      OpRun full = run_op([&](const std::vector<Var>& v) {
        return batch_norm(v[0], v[1], v[2], rm_full, rv_full, true, 0.1f, 1e-5f, relu);
      }, {xs, g, b}, dys);
      MirrorGroup group(K);
      GroupScope scope(&group);
      OpRun sync = run_op([&](const std::vector<Var>& v) {
        return batch_norm(v[0], v[1], v[2], rm_sync, rv_sync, true, 0.1f, 1e-5f, relu);
      }, {x, g, b}, dy);
      check_close(sync.out, full.out, x.numel(), 1e-5);       // the first shard of the stacked batch
      check_close(sync.grads[0], full.grads[0], x.numel(), 1e-5);
      for (int64_t c = 0; c < C; ++c) {                         // dγ, dβ: this rank's share, 1/K of the whole
        REQUIRE(sync.grads[1].data()[c] * K == Approx(full.grads[1].data()[c]).margin(1e-4));
        REQUIRE(sync.grads[2].data()[c] * K == Approx(full.grads[2].data()[c]).margin(1e-4));
      }
      check_close(rm_sync, rm_full, C, 1e-6);
      check_close(rv_sync, rv_full, C, 1e-5);
    }
  }
}

TEST_CASE("batch_norm: one value per channel on a rank is fine when the group holds more") {
  MirrorGroup group(2);
  GroupScope scope(&group);
  Tensor x = random_tensor({1, 3}, 21), g = random_tensor({3}, 22), b = random_tensor({3}, 23);
  Tensor rm, rv;
  Var y = batch_norm(Var(x), Var(g), Var(b), rm, rv, true);
  // two identical values per channel: x̂ = 0, so y = β
  for (int64_t c = 0; c < 3; ++c) CHECK(y.value().data()[c] == Approx(b.data()[c]).margin(1e-6));
}

TEST_CASE("allreduce_gradients: weighted sum over the group, and no change without a group") {
  Var p(random_tensor({2, 3}, 31), true), q(random_tensor({4}, 32), true), unused(random_tensor({2}, 33), true);
  p.grad() = random_tensor({2, 3}, 34);
  q.grad() = random_tensor({4}, 35);
  const Tensor gp = p.grad().clone(), gq = q.grad().clone();
  allreduce_gradients({p, q, unused}, 0.25);  // no group installed
  check_close(p.grad(), gp, 6, 0);
  CHECK_FALSE(unused.grad().defined());
  MirrorGroup group(4);
  GroupScope scope(&group);
  allreduce_gradients({p, q, unused}, 0.25);  // 4 ranks × 0.25 × g = g
  check_close(p.grad(), gp, 6, 1e-7);
  check_close(q.grad(), gq, 4, 1e-7);
  REQUIRE(unused.grad().defined());            // a parameter without a gradient joins with zeros
  CHECK(unused.grad().data()[0] == 0.0f);
  CHECK(unused.grad().data()[1] == 0.0f);
}
