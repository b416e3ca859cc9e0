#include <cmath>
#include <cstdio>

#include "framework/core/parallel.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/optim/adamw.hpp"
#include "framework/optim/clip.hpp"
#include "framework/optim/optim_ref.hpp"
#include "framework/optim/sgd.hpp"
#include "support/files.hpp"
#include "support/gradcheck.hpp"

using namespace rc;
using namespace rc::optim;
using namespace rc::test;

namespace {
Var param(const Shape& shape, std::vector<float> values) { return Var(Tensor::from(shape, std::move(values)), true); }
void set_grad(Var& v, std::vector<float> g) { v.grad() = Tensor::from(v.shape(), std::move(g)); }
std::vector<float> values(const Var& v) { return v.value().to_vector(); }
}  // namespace

TEST_CASE("SGD: hand-computed momentum steps with weight decay") {
  // p = (1, -2), lr 0.1, momentum 0.9, weight decay 0.01
  // step 1, g = (0.5, 0.25): g' = g + 0.01 p = (0.51, 0.23); buf = g' = (0.51, 0.23); p = p - 0.1 buf = (0.949, -2.023)
  // step 2, g = (-1, 0.5):   g' = (-1 + 0.00949, 0.5 - 0.02023) = (-0.99051, 0.47977)
  //                          buf = 0.9 (0.51, 0.23) + g' = (-0.53151, 0.68677); p = (1.002151, -2.091677)
  Var p = param({2}, {1.0f, -2.0f});
  SGD opt({p}, {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f});
  set_grad(p, {0.5f, 0.25f});
  opt.step();
  CHECK(values(p)[0] == Approx(0.949).epsilon(1e-6));
  CHECK(values(p)[1] == Approx(-2.023).epsilon(1e-6));
  set_grad(p, {-1.0f, 0.5f});
  opt.step();
  CHECK(values(p)[0] == Approx(1.002151).epsilon(1e-6));
  CHECK(values(p)[1] == Approx(-2.091677).epsilon(1e-6));
}

TEST_CASE("SGD: hand-computed Nesterov steps") {
  // as above with nesterov: d = g' + 0.9 buf
  // step 1: g' = (0.51, 0.23) = buf; d = 1.9 g' = (0.969, 0.437); p = (0.9031, -2.0437)
  // step 2: g' = (-1 + 0.009031, 0.5 - 0.020437) = (-0.990969, 0.479563); buf = (0.459, 0.207) + g'
  //         = (-0.531969, 0.686563); d = g' + 0.9 buf = (-1.4697411, 1.0974697); p = (1.05007411, -2.15344697)
  Var p = param({2}, {1.0f, -2.0f});
  SGD opt({p}, {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f, .nesterov = true});
  set_grad(p, {0.5f, 0.25f});
  opt.step();
  CHECK(values(p)[0] == Approx(0.9031).epsilon(1e-6));
  CHECK(values(p)[1] == Approx(-2.0437).epsilon(1e-6));
  set_grad(p, {-1.0f, 0.5f});
  opt.step();
  CHECK(values(p)[0] == Approx(1.05007411).epsilon(1e-6));
  CHECK(values(p)[1] == Approx(-2.15344697).epsilon(1e-6));
}

TEST_CASE("AdamW: hand-computed steps with decoupled weight decay and bias correction") {
  // p = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.1
  // step 1, g = 0.5:  p = 1 * (1 - 0.01) = 0.99; m = 0.05, v = 0.00025; m_hat = 0.5, v_hat = 0.25
  //                   p = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.890000002
  // step 2, g = -0.25: p = 0.890000002 * 0.99 = 0.88110000198; m = 0.045 - 0.025 = 0.02
  //                   v = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225
  //                   m_hat = 0.02 / 0.19 = 0.10526316, v_hat = 0.00031225 / 0.001999 = 0.15620310
  //                   p = 0.88110000198 - 0.1 * 0.10526316 / 0.39522538 = 0.85446630
  // step 3, g = 0.125: m = 0.0305, v = 0.00032756275, m_hat = 0.11254613, v_hat = 0.10929684; p = 0.81187872
  Var p = param({1}, {1.0f});
  AdamW opt({p}, {.lr = 0.1f, .weight_decay = 0.1f});
  set_grad(p, {0.5f});
  opt.step();
  CHECK(values(p)[0] == Approx(0.890000002).epsilon(1e-6));
  set_grad(p, {-0.25f});
  opt.step();
  CHECK(values(p)[0] == Approx(0.8544662987).epsilon(1e-6));
  set_grad(p, {0.125f});
  opt.step();
  CHECK(values(p)[0] == Approx(0.8118787219).epsilon(1e-6));
}

TEST_CASE("Adam with L2 weight decay: hand-computed step") {
  // p = 1, lr 0.1, weight decay 0.1, g = 0.5: g' = 0.5 + 0.1 * 1 = 0.6; m_hat = 0.6, v_hat = 0.36
  // p = 1 - 0.1 * 0.6 / (0.6 + 1e-8) = 0.9 (no decoupled shrink)
  Var p = param({1}, {1.0f});
  AdamW opt({p}, {.lr = 0.1f, .weight_decay = 0.1f, .decoupled = false});
  set_grad(p, {0.5f});
  opt.step();
  CHECK(values(p)[0] == Approx(0.9).epsilon(1e-6));
}

TEST_CASE("optimizers: fast float steps match the double reference on random shapes") {
  for (Shape shape : {Shape{1}, Shape{7, 3}, Shape{5, 4, 3, 3}, Shape{40001}}) {
    for (int variant = 0; variant < 5; ++variant) {
      Tensor p0 = random_tensor(shape, 10 + variant);
      Var p(p0.clone(), true);
      RefD pr = ref::to_ref<double>(p0);
      const float lr = 0.05f, mom = 0.8f, damp = variant == 1 ? 0.3f : 0.0f, wd = 0.02f;
      const bool nesterov = variant == 2;
      std::unique_ptr<Optimizer> opt;
      ref::SGDRefState<double> sgd_state;
      ref::AdamWRefState<double> adam_state;
      if (variant < 3)
        opt = std::make_unique<SGD>(std::vector<Var>{p},
                                    SGDOptions{.lr = lr, .momentum = mom, .dampening = damp, .weight_decay = wd,
                                               .nesterov = nesterov});
      else
        opt = std::make_unique<AdamW>(std::vector<Var>{p},
                                      AdamWOptions{.lr = lr, .weight_decay = wd, .decoupled = variant == 3});
      for (int s = 0; s < 5; ++s) {
        Tensor g = random_tensor(shape, 100 + s);
        p.grad() = g.clone();
        opt->step();
        RefD gr = ref::to_ref<double>(g);
        if (variant < 3)
          ref::sgd_step<double>(pr, gr, sgd_state, lr, mom, damp, wd, nesterov);
        else
          ref::adamw_step<double>(pr, gr, adam_state, lr, 0.9, 0.999, 1e-8, wd, variant == 3);
      }
      INFO("variant " << variant << " shape " << shape_str(shape));
      CHECK(rel_error(p.value(), pr) < 1e-6);
    }
  }
}

TEST_CASE("optimizers: parameters without a gradient are skipped, groups scale lr and override weight decay") {
  Var a = param({2}, {1.0f, 2.0f}), b = param({2}, {3.0f, 4.0f}), c = param({1}, {5.0f});
  ParamGroup g1{{a, b}, {"a", "b"}, 1.0f, std::nullopt};
  ParamGroup g2{{c}, {"c"}, 0.5f, 0.0f};
  SGD opt({g1, g2}, {.lr = 0.1f, .weight_decay = 0.5f});
  set_grad(a, {1.0f, 1.0f});
  set_grad(c, {2.0f});
  opt.step();
  // a: g' = 1 + 0.5 a = (1.5, 2); a = (1 - 0.15, 2 - 0.2); b untouched; c: lr 0.05, no decay: 5 - 0.1
  CHECK(values(a)[0] == Approx(0.85f));
  CHECK(values(a)[1] == Approx(1.8f));
  CHECK(values(b) == std::vector<float>{3.0f, 4.0f});
  CHECK(values(c)[0] == Approx(4.9f));
  NamedTensors st = opt.state_dict();
  CHECK(find_tensor(st, "a.step") != nullptr);
  CHECK(find_tensor(st, "b.step") == nullptr);  // never stepped, so no state
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("optimizers: weight_decay_groups follow the module's no-weight-decay flags") {
  std::vector<nn::NamedParameter> named = {{"fc.weight", param({1}, {1.0f}), false},
                                           {"fc.bias", param({1}, {1.0f}), true}};
  auto groups = weight_decay_groups(named);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].names == std::vector<std::string>{"fc.weight"});
  CHECK_FALSE(groups[0].weight_decay.has_value());
  CHECK(groups[1].names == std::vector<std::string>{"fc.bias"});
  CHECK(groups[1].weight_decay == 0.0f);
  AdamW opt(groups, {.lr = 0.1f, .weight_decay = 0.5f});
  // zero gradients: only the decayed parameter moves, by the factor 1 - 0.1 * 0.5
  set_grad(named[0].var, {0.0f});
  set_grad(named[1].var, {0.0f});
  opt.step();
  CHECK(values(named[0].var)[0] == Approx(0.95f));
  CHECK(values(named[1].var)[0] == 1.0f);
}

TEST_CASE("optimizers: state saved to a file and restored resumes bit-identically") {
  const std::string path = tmp_path("state.safetensors");
  for (int kind = 0; kind < 2; ++kind) {
    auto make = [&](std::vector<Var> ps) -> std::unique_ptr<Optimizer> {
      ParamGroup g{.params = ps, .names = {"w", "b"}};
      if (kind == 0) return std::make_unique<SGD>(std::vector<ParamGroup>{g}, SGDOptions{.lr = 0.1f, .momentum = 0.9f});
      return std::make_unique<AdamW>(std::vector<ParamGroup>{g}, AdamWOptions{.lr = 0.01f});
    };
    auto grads_at = [](int s) { return std::pair(random_tensor({3, 4}, 50 + s), random_tensor({4}, 80 + s)); };
    Var w(random_tensor({3, 4}, 1), true), b(random_tensor({4}, 2), true);
    auto opt = make({w, b});
    for (int s = 0; s < 3; ++s) {
      auto [gw, gb] = grads_at(s);
      w.grad() = gw, b.grad() = gb;
      opt->step();
    }
    NamedTensors saved = opt->state_dict();
    saved.emplace_back("param.w", w.value().clone());
    saved.emplace_back("param.b", b.value().clone());
    io::save_safetensors(path, saved);
    for (int s = 3; s < 6; ++s) {
      auto [gw, gb] = grads_at(s);
      w.grad() = gw, b.grad() = gb;
      opt->step();
    }
    // resume in fresh objects
    io::SafetensorsFile file = io::load_safetensors(path);
    Var w2(find_tensor(file.tensors, "param.w")->clone(), true), b2(find_tensor(file.tensors, "param.b")->clone(), true);
    NamedTensors state;
    for (auto& [k, t] : file.tensors)
      if (k.rfind("param.", 0) != 0) state.emplace_back(k, t);
    auto opt2 = make({w2, b2});
    opt2->load_state_dict(state);
    for (int s = 3; s < 6; ++s) {
      auto [gw, gb] = grads_at(s);
      w2.grad() = gw, b2.grad() = gb;
      opt2->step();
    }
    INFO("kind " << kind);
    CHECK(w2.value().to_vector() == w.value().to_vector());
    CHECK(b2.value().to_vector() == b.value().to_vector());
  }
  std::remove(path.c_str());
}

TEST_CASE("optimizers: bad options and bad state give errors naming the values") {
  Var p = param({2}, {1.0f, 2.0f});
  CHECK_THROWS_WITH(SGD({p}, {.lr = 0.1f, .nesterov = true}), Catch::Contains("nesterov needs momentum > 0"));
  CHECK_THROWS_WITH(SGD({p}, {.lr = -1.0f}), Catch::Contains("lr must be finite and >= 0, got -1"));
  CHECK_THROWS_WITH(AdamW({p}, {.beta1 = 1.0f}), Catch::Contains("beta1 must be in [0, 1), got 1"));
  CHECK_THROWS_WITH(AdamW({p, p}, {}), Catch::Contains("appears more than once"));
  Var frozen(Tensor::from({1}, {1.0f}), false);
  CHECK_THROWS_WITH(AdamW({frozen}, {}), Catch::Contains("does not require grad"));

  AdamW opt(std::vector<ParamGroup>{{.params = {p}, .names = {"p"}}}, {});
  CHECK_THROWS_WITH(opt.load_state_dict({{"p.step", Tensor::scalar(2.0f)}, {"p.exp_avg", Tensor::zeros({3})}}),
                    Catch::Contains("'p.exp_avg': expected shape (2), got (3)"));
  CHECK_THROWS_WITH(opt.load_state_dict({{"q.step", Tensor::scalar(2.0f)}}), Catch::Contains("unexpected keys: [q.step]"));
  CHECK_THROWS_WITH(opt.load_state_dict({{"p.step", Tensor::scalar(1.5f)}}), Catch::Contains("not a positive integer"));
}

TEST_CASE("clip_grad_norm: hand-computed total norm and scaling (PyTorch semantics)") {
  // grads (3, 4) and (12): total = sqrt(9 + 16 + 144) = 13; max_norm 6.5 -> coef = 6.5 / (13 + 1e-6) ~ 0.5
  Var a = param({2}, {0.0f, 0.0f}), b = param({1}, {0.0f}), none = param({1}, {0.0f});
  set_grad(a, {3.0f, 4.0f});
  set_grad(b, {12.0f});
  float total = clip_grad_norm({a, b, none}, 6.5f);
  CHECK(total == Approx(13.0f));
  CHECK(a.grad().to_vector()[0] == Approx(1.5f));
  CHECK(a.grad().to_vector()[1] == Approx(2.0f));
  CHECK(b.grad().to_vector()[0] == Approx(6.0f));
  // under the limit: unchanged, and the norm is still returned
  CHECK(clip_grad_norm({a, b}, 100.0f) == Approx(6.5f).epsilon(1e-5));
  CHECK(b.grad().to_vector()[0] == Approx(6.0f));
  // inf norm: max |g| = 6 -> scale by 3 / 6
  CHECK(clip_grad_norm({a, b}, 3.0f, INFINITY) == Approx(6.0f));
  CHECK(b.grad().to_vector()[0] == Approx(3.0f));
  // p = 1: total = 0.75 + 1 + 3
  CHECK(clip_grad_norm({a, b}, 100.0f, 1.0f) == Approx(4.75f));
  CHECK_THROWS_WITH(clip_grad_norm({a}, -1.0f), Catch::Contains("max_norm must be >= 0, got -1"));
}

TEST_CASE("clip_grad_norm: matches a double computation on large gradients, independent of thread count") {
  Var a(random_tensor({300, 301}, 5), true), b(random_tensor({77}, 6), true);
  Tensor ga = random_tensor({300, 301}, 7), gb = random_tensor({77}, 8);
  double sq = 0;
  for (float v : ga.to_vector()) sq += double(v) * v;
  for (float v : gb.to_vector()) sq += double(v) * v;
  std::vector<float> totals;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    a.grad() = ga.clone(), b.grad() = gb.clone();
    totals.push_back(clip_grad_norm({a, b}, 1.0f));
  }
  set_num_threads(0);
  CHECK(totals[0] == totals[1]);
  CHECK(totals[0] == Approx(std::sqrt(sq)).epsilon(1e-6));
  double after = 0;
  for (float v : a.grad().to_vector()) after += double(v) * v;
  for (float v : b.grad().to_vector()) after += double(v) * v;
  CHECK(std::sqrt(after) == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("clip_grad_value: clamps every gradient element") {
  Var a = param({4}, {0.0f, 0.0f, 0.0f, 0.0f});
  set_grad(a, {-3.0f, -0.5f, 0.25f, 2.0f});
  clip_grad_value({a}, 1.0f);
  CHECK(a.grad().to_vector() == std::vector<float>{-1.0f, -0.5f, 0.25f, 1.0f});
  CHECK_THROWS_WITH(clip_grad_value({a}, -0.5f), Catch::Contains("clip_value must be >= 0, got -0.5"));
}
