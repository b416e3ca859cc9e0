#include "framework/ops/embedding.hpp"
#include "framework/ops/embedding_ref.hpp"
#include "support/gradcheck.hpp"
#include "support/threads.hpp"

using namespace rc;
using namespace rc::test;

namespace {
std::vector<int64_t> random_indices(int64_t n, int64_t V, uint64_t seed) {
  Generator gen(seed);
  std::uniform_int_distribution<int64_t> dist(0, V - 1);
  std::vector<int64_t> idx(n);
  for (auto& v : idx) v = dist(gen);
  return idx;
}
}  // namespace

TEST_CASE("embedding: hand-computed values and gradient with repeated indices") {
  // table rows [1, 2], [3, 4], [5, 6]; indices [2, 0, 2] -> [[5, 6], [1, 2], [5, 6]]
  // dy = [[1, 1], [2, 2], [3, 3]]: row 0 gets [2, 2], row 1 nothing, row 2 gets [1, 1] + [3, 3] = [4, 4]
  Tensor table = Tensor::from({3, 2}, {1, 2, 3, 4, 5, 6});
  auto r = run_op([](const std::vector<Var>& v) { return embedding(v[0], {2, 0, 2}); }, {table},
                  Tensor::from({3, 2}, {1, 1, 2, 2, 3, 3}));
  CHECK(r.out.shape() == Shape{3, 2});
  CHECK(r.out.to_vector() == std::vector<float>{5, 6, 1, 2, 5, 6});
  CHECK(r.grads[0].to_vector() == std::vector<float>{2, 2, 0, 0, 4, 4});
}

TEST_CASE("embedding: reference passes a finite-difference check in double") {
  RefD table = random_ref({6, 4}, 1);
  std::vector<int64_t> idx{5, 0, 3, 3, 5, 1, 5};
  CHECK(fd_check([&](const std::vector<RefD>& in) { return ref::embedding(in[0], idx, {7}); },
                 [&](const std::vector<RefD>& in, const RefD& dy) {
                   return std::vector<RefD>{ref::embedding_backward(in[0], idx, dy)};
                 },
                 {table}) < 1e-6);
}

TEST_CASE("embedding: fast op matches the reference on random shapes") {
  struct Case {
    int64_t V, D;
    Shape index_shape;
  };
  for (const Case& c : {Case{1, 1, {5}}, Case{7, 5, {3, 4}}, Case{13, 33, {2, 3, 5}}, Case{1000, 64, {128, 50}}}) {
    INFO("V " << c.V << " D " << c.D << " indices " << shape_str(c.index_shape));
    Tensor table = random_tensor({c.V, c.D}, 2);
    auto idx = random_indices(shape_numel(c.index_shape), c.V, 3);
    Shape out_shape = c.index_shape;
    out_shape.push_back(c.D);
    Tensor dy = random_tensor(out_shape, 4);
    auto r = run_op([&](const std::vector<Var>& v) { return embedding(v[0], idx, c.index_shape); }, {table}, dy);
    RefD tr = ref::to_ref<double>(table);
    CHECK(max_abs_diff(r.out, ref::embedding(tr, idx, c.index_shape)) == 0.0);
    CHECK(rel_error(r.grads[0], ref::embedding_backward(tr, idx, ref::to_ref<double>(dy))) < 1e-6);
  }
}

TEST_CASE("embedding: the table gradient does not depend on the thread count") {
  Tensor table = random_tensor({50, 64}, 5);
  auto idx = random_indices(20000, 50, 6);  // many repeats per row
  Tensor dy = random_tensor({20000, 64}, 7);
  auto run = [&] { return run_op([&](const std::vector<Var>& v) { return embedding(v[0], idx); }, {table}, dy); };
  auto [r1, r2] = at_one_and_two_threads(run);
  CHECK(r1.grads[0].to_vector() == r2.grads[0].to_vector());
}

TEST_CASE("embedding: bad input throws with the values") {
  Var table(Tensor::ones({10, 3}));
  CHECK_THROWS_WITH(embedding(table, {1, 2, 3, 12}),
                    Catch::Contains("indices[3] = 12") && Catch::Contains("V = 10"));
  CHECK_THROWS_WITH(embedding(table, {0, -1}, {1, 2}), Catch::Contains("indices[1] = -1") && Catch::Contains("(1, 2)"));
  CHECK_THROWS_WITH(embedding(table, {0, 1, 2}, {2, 2}), Catch::Contains("(2, 2)") && Catch::Contains("got 3"));
  CHECK_THROWS_WITH(embedding(Var(Tensor::ones({10})), {0}), Catch::Contains("embedding") && Catch::Contains("table"));
}
