#include "framework/ops/matmul.hpp"

#include "framework/core/gemm.hpp"

namespace rc {

namespace {
// The last two dimensions of t as a BLAS operand: row-major (Op::N) or stored transposed (Op::T) with a
// leading dimension, plus the stride between batch items of a 3-D tensor. Other layouts are packed.
struct Operand {
  Tensor keep;  // owns the data (the input itself, or a packed copy)
  const float* data;
  Op op;
  int64_t ld, batch_stride;

  // the same matrix read as its transpose
  Operand transposed() const {
    Operand o = *this;
    o.op = op == Op::N ? Op::T : Op::N;
    return o;
  }
};

Operand operand(const Tensor& t) {
  const int nd = t.ndim();
  const int64_t rows = t.dim(-2), cols = t.dim(-1);
  const int64_t rs = t.strides()[nd - 2], cs = t.strides()[nd - 1];
  const int64_t bs = nd == 3 ? t.strides()[0] : 0;
  if (rows > 1 && cols > 1) {
    if (cs == 1 && rs >= cols) return {t, t.data(), Op::N, rs, bs};
    if (rs == 1 && cs >= rows) return {t, t.data(), Op::T, cs, bs};
  }
  Tensor c = t.contiguous();
  return {c, c.data(), Op::N, std::max<int64_t>(cols, 1), nd == 3 ? rows * cols : 0};
}

// C (batch, M, N) = op(A) · op(B) for operands whose batch stride may be 0 (one matrix for all items)
void product(int64_t batch, int64_t M, int64_t N, int64_t K, const Operand& a, const Operand& b, float* c) {
  if (batch == 1)
    gemm(a.op, b.op, M, N, K, 1.0f, a.data, a.ld, b.data, b.ld, 0.0f, c, N);
  else
    gemm_batched(batch, a.op, b.op, M, N, K, 1.0f, a.data, a.ld, a.batch_stride, b.data, b.ld, b.batch_stride, 0.0f,
                 c, N, M * N);
}
}  // namespace

Var matmul(const Var& a, const Var& b) {
  RC_CHECK(a.defined() && b.defined(), "matmul: a or b is undefined");
  const Tensor &av = a.value(), &bv = b.value();
  RC_CHECK((av.ndim() == 2 && bv.ndim() == 2) || (av.ndim() == 3 && bv.ndim() == 3),
           "matmul: expected a (M, K) and b (K, N), or a (B, M, K) and b (B, K, N); got a {} and b {}",
           shape_str(av.shape()), shape_str(bv.shape()));
  RC_CHECK(av.dim(-1) == bv.dim(-2), "matmul: a {} has K = {} but b {} has K = {}", shape_str(av.shape()), av.dim(-1),
           shape_str(bv.shape()), bv.dim(-2));
  const bool batched = av.ndim() == 3;
  RC_CHECK(!batched || av.dim(0) == bv.dim(0), "matmul: batch sizes differ: a {} and b {}", shape_str(av.shape()),
           shape_str(bv.shape()));
  const int64_t B = batched ? av.dim(0) : 1, M = av.dim(-2), K = av.dim(-1), N = bv.dim(-1);

  Tensor y = Tensor::empty(batched ? Shape{B, M, N} : Shape{M, N});
  product(B, M, N, K, operand(av), operand(bv), y.data());

  return make_result(y, {&a, &b}, "matmul", [a, b, B, M, N, K](const Tensor& dy_in) {
    // forward was y = a · b, so da = dy · bᵀ (M, K) and db = aᵀ · dy (K, N)
    const Operand dy = operand(dy_in);
    if (a.requires_grad()) {
      Tensor da = Tensor::empty(a.shape());
      product(B, M, K, N, dy, operand(b.value()).transposed(), da.data());
      accumulate_grad(a, da);
    }
    if (b.requires_grad()) {
      Tensor db = Tensor::empty(b.shape());
      product(B, K, N, M, operand(a.value()).transposed(), dy, db.data());
      accumulate_grad(b, db);
    }
  });
}

Var linear(const Var& x, const Var& w, const Var& b) {
  RC_CHECK(x.defined() && w.defined(), "linear: x or w is undefined");
  RC_CHECK(w.ndim() == 2, "linear: w must be (out, in), got shape {}", shape_str(w.shape()));
  RC_CHECK(x.ndim() >= 1 && x.dim(-1) == w.dim(1), "linear: x {} has {} features but w {} expects {}",
           shape_str(x.shape()), x.ndim() >= 1 ? x.dim(-1) : 0, shape_str(w.shape()), w.dim(1));
  const int64_t in = w.dim(1), out = w.dim(0), rows = x.value().numel() / std::max<int64_t>(in, 1);
  if (b.defined())
    RC_CHECK(b.ndim() == 1 && b.dim(0) == out, "linear: b must be ({}) for w {}, got shape {}", out,
             shape_str(w.shape()), shape_str(b.shape()));

  const Tensor x2 = x.value().contiguous();
  const Tensor bias = b.defined() ? b.value().contiguous() : Tensor();
  const Operand wt = operand(w.value()).transposed();
  Shape y_shape = x.shape();
  y_shape.back() = out;
  Tensor y = Tensor::empty(y_shape);
  gemm(Op::N, wt.op, rows, out, in, 1.0f, x2.data(), std::max<int64_t>(in, 1), wt.data, wt.ld, 0.0f, y.data(),
       std::max<int64_t>(out, 1), bias.defined() ? bias.data() : nullptr);

  const Tensor x_saved = w.requires_grad() ? x2 : Tensor();  // only dw needs x
  return make_result(y, {&x, &w, &b}, "linear", [x, w, b, x_saved, rows, in, out](const Tensor& dy_in) {
    // forward was y = x · wᵀ + b, so dx = dy · w (rows, in), dw = dyᵀ · x (out, in), db = Σ_rows dy
    const Tensor dy = dy_in.contiguous();
    const int64_t ld_in = std::max<int64_t>(in, 1), ld_out = std::max<int64_t>(out, 1);
    if (x.requires_grad()) {
      const Operand wo = operand(w.value());
      Tensor dx = Tensor::empty(x.shape());
      gemm(Op::N, wo.op, rows, in, out, 1.0f, dy.data(), ld_out, wo.data, wo.ld, 0.0f, dx.data(), ld_in);
      accumulate_grad(x, dx);
    }
    if (w.requires_grad()) {
      Tensor dw = Tensor::empty(w.shape());
      gemm(Op::T, Op::N, out, in, rows, 1.0f, dy.data(), ld_out, x_saved.data(), ld_in, 0.0f, dw.data(), ld_in);
      accumulate_grad(w, dw);
    }
    if (b.defined() && b.requires_grad()) {
      Tensor db = Tensor::empty({out});
      column_sums(rows, out, dy.data(), ld_out, db.data());
      accumulate_grad(b, db);
    }
  });
}

}  // namespace rc
