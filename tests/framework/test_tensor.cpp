#include "framework/core/tensor.hpp"
#include "support/gradcheck.hpp"

using namespace rc;

TEST_CASE("tensor: shapes, strides and views") {
  Tensor t = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(t.numel() == 6);
  CHECK(t.strides() == Shape{3, 1});
  CHECK(t.is_contiguous());
  Tensor tt = t.transpose(0, 1);
  CHECK(tt.shape() == Shape{3, 2});
  CHECK_FALSE(tt.is_contiguous());
  CHECK(tt.at({2, 1}) == 6.0f);
  CHECK(tt.contiguous().to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  Tensor s = t.slice(1, 1, 3);
  CHECK(s.to_vector() == std::vector<float>{2, 3, 5, 6});
  s.at({0, 0}) = 20.0f;  // views share storage
  CHECK(t.at({0, 1}) == 20.0f);
  Tensor r = t.reshape({3, -1});
  CHECK(r.shape() == Shape{3, 2});
  Tensor p = Tensor::from({2, 3, 4}, std::vector<float>(24, 1.0f)).permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
}

TEST_CASE("tensor: Eigen maps and in-place math") {
  Tensor a = Tensor::from({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from({2, 2}, {0.5f, 0.5f, 0.5f, 0.5f});
  MatrixRM prod = a.matrix() * b.matrix();
  CHECK(prod(1, 0) == 3.5f);
  a.add_(b);
  CHECK(a.to_vector() == std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f});
  a.scale_(2.0f);
  CHECK(a.at({1, 1}) == 9.0f);
  Tensor c(Shape{2, 2});
  c.copy_(a.transpose(0, 1));
  CHECK(c.to_vector() == std::vector<float>{3, 7, 5, 9});
}

TEST_CASE("tensor: bad input gives errors that name the values") {
  Tensor t = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK_THROWS_WITH(t.reshape({4, 2}), Catch::Contains("(2, 3)") && Catch::Contains("(4, 2)"));
  CHECK_THROWS_WITH(t.at({2, 0}), Catch::Contains("index 2 out of range"));
  CHECK_THROWS_WITH(t.slice(1, 2, 5), Catch::Contains("[2, 5)"));
  CHECK_THROWS_WITH(Tensor::from({2, 2}, {1, 2, 3}), Catch::Contains("needs 4 values, got 3"));
  CHECK_THROWS_WITH(t.permute({0, 0}), Catch::Contains("not a permutation"));
}
