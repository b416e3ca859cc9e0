// `receptive attention`: runs the attention operator once on seeded random inputs for a chosen policy and
// shape, and dumps inputs, output and gradients as .npy so another tool can check them.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "experiments/cli/commands.hpp"
#include "experiments/results.hpp"
#include "framework/attention/attention.hpp"
#include "framework/attention/policy_params.hpp"
#include "framework/core/checked_size.hpp"
#include "framework/io/npy.hpp"

namespace rc::cli {

namespace {

// The command-line spelling of a policy key: kernel_h -> --kernel-h.
std::string flag_of(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return "--" + key;
}

// A seeded random graph with about `degree` out-neighbours per node (sorted, no duplicates).
void random_graph(const AttentionArgs& a, int64_t n, std::vector<int64_t>& row_ptr, std::vector<int64_t>& col_idx) {
  std::mt19937_64 gen(a.seed + 99);
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  row_ptr.assign(1, 0);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> nb;
    for (int64_t e = 0; e < a.degree; ++e) nb.push_back(pick(gen));
    std::sort(nb.begin(), nb.end());
    nb.erase(std::unique(nb.begin(), nb.end()), nb.end());
    col_idx.insert(col_idx.end(), nb.begin(), nb.end());
    row_ptr.push_back(static_cast<int64_t>(col_idx.size()));
  }
}

// Flags that do not apply to the chosen kinds are errors (not silently ignored), whatever their value.
void check_flags(const AttentionArgs& a, bool on_grid, bool graph) {
  const std::vector<std::string> keys = policy_keys_for(a.policy);
  std::vector<std::string> flags;
  for (const std::string& k : keys) flags.push_back(flag_of(k));
  for (const auto& [key, value] : a.policy_keys.values())
    RC_CHECK(key == "kind" || std::find(keys.begin(), keys.end(), key) != keys.end(),
             "attention: {} does not apply to --policy {} ({})", flag_of(key), a.policy,
             flags.empty() ? std::string("it takes no policy flags") : fmt::format("it takes {}", fmt::join(flags, ", ")));
  RC_CHECK(!on_grid || !a.given.count("tokens"),
           "attention: --tokens does not apply to --policy {}: its tokens are the --grid-h × --grid-w grid", a.policy);
  for (const char* g : {"grid_h", "grid_w"})
    RC_CHECK(on_grid || !a.given.count(g), "attention: {} applies to the grid kinds (window2d, axial), not to --policy {}",
             flag_of(g), a.policy);
  RC_CHECK(graph || !a.given.count("degree"), "attention: --degree applies to --policy graph, not to --policy {}",
           a.policy);
  RC_CHECK(!graph || !a.bias,
           "attention: --bias (a relative-position bias) needs token positions, and --policy {} has a graph, whose "
           "nodes have none",
           a.policy);
}

// N from the flags (the grid's cells for window2d and axial), after checking every size and value.
int64_t sequence_length(const AttentionArgs& a, bool on_grid, bool graph) {
  RC_CHECK(!on_grid || (a.grid_h >= 1 && a.grid_w >= 1), "attention: --grid-h {} and --grid-w {} must be >= 1",
           a.grid_h, a.grid_w);
  const auto grid = checked_mul(a.grid_h, a.grid_w);
  RC_CHECK(grid.has_value(), "attention: --grid-h {} × --grid-w {} tokens is too many", a.grid_h, a.grid_w);
  const int64_t n = on_grid ? *grid : a.tokens;
  RC_CHECK(n >= 1 && a.batch >= 1 && a.heads >= 1 && a.dim >= 1,
           "attention: batch {}, heads {}, tokens {}, dim {} must all be >= 1 (window2d, axial: --grid-h × --grid-w "
           "tokens)",
           a.batch, a.heads, n, a.dim);
  // q, k, v, out and their gradients are each (B, H, N, D): refuse sizes that cannot be allocated up front
  constexpr int64_t kMaxElements = int64_t{1} << 28;
  RC_CHECK(checked_numel(std::vector<int64_t>{a.batch, a.heads, n, a.dim}, 1, kMaxElements).has_value(),
           "attention: batch {} × heads {} × tokens {} × dim {} is over the limit of {} elements per tensor", a.batch,
           a.heads, n, a.dim, kMaxElements);
  // NaN or Inf would silently fall back to the default or turn every dump into NaN
  RC_CHECK(std::isfinite(a.scale) && a.scale >= 0,
           "attention: --scale {} must be a finite number > 0 (or 0 for the default 1/sqrt(D))", a.scale);
  RC_CHECK(!graph || (a.degree >= 0 && a.degree <= n), "attention: --degree {} must be in [0, tokens = {}]", a.degree,
           n);
  return n;
}

// The .npy files: inputs, output, gradients, tables, weights, the mask (N <= 4096) and the graph's CSR.
void save_arrays(const std::string& dir, const std::vector<Var>& qkvo, const Tensor& dout, const AttentionOptions& o,
                 const AttentionWeights* weights, const Policy& policy, int64_t n, const std::vector<int64_t>& row_ptr,
                 const std::vector<int64_t>& col_idx) {
  namespace fs = std::filesystem;
  const Var &q = qkvo[0], &k = qkvo[1], &v = qkvo[2], &out = qkvo[3];
  fs::create_directories(dir);
  auto save = [&](const char* name, const Tensor& t) { io::save_npy((fs::path(dir) / name).string(), t); };
  save("q.npy", q.value());
  save("k.npy", k.value());
  save("v.npy", v.value());
  save("out.npy", out.value());
  save("dout.npy", dout);
  save("dq.npy", q.grad());
  save("dk.npy", k.grad());
  save("dv.npy", v.grad());
  if (o.rel_bias.defined()) {
    save("bias.npy", o.rel_bias.value());
    save("dbias.npy", o.rel_bias.grad());
  }
  if (o.a_q.defined()) {
    save("a_q.npy", o.a_q.value());
    save("a_k.npy", o.a_k.value());
    save("da_q.npy", o.a_q.grad());
    save("da_k.npy", o.a_k.grad());
  }
  if (weights) save("weights.npy", weights->dense);
  if (n <= 4096) {
    Tensor mask = Tensor::zeros({n, n});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) mask.data()[i * n + j] = policy.allowed(i, j) ? 1.0f : 0.0f;
    save("mask.npy", mask);
  }
  if (!row_ptr.empty()) {
    io::save_npy_int64((fs::path(dir) / "row_ptr.npy").string(), row_ptr);
    io::save_npy_int64((fs::path(dir) / "col_idx.npy").string(), col_idx);
  }
}

// Entries per head of the bias table: 2-D offsets on the policy's grid, else 1-D offsets (window1d: its radius,
// else N - 1).
int64_t bias_entries(const Policy& policy, const Params& keys, const PolicyContext& ctx) {
  if (const std::optional<GridOffsets> g = policy.grid_offsets()) return (2 * g->radius_h + 1) * (2 * g->radius_w + 1);
  if (policy.kind() != "window1d") return 2 * (ctx.tokens - 1) + 1;
  const PolicyArgs args{keys, ctx, ""};
  const int64_t r = args.get_int("radius"), l = args.get_int("left"), rr = args.get_int("right");
  return 2 * std::max(l < 0 ? r : l, args.get_bool("causal") ? 0 : (rr < 0 ? r : rr)) + 1;
}

}  // namespace

int attention_dump(const AttentionArgs& a) {
  const std::vector<std::string> kinds = policy_kind_names(a.policy, "attention: --policy");
  const bool on_grid = policy_uses_grid(a.policy, "attention: --policy");
  const bool graph = std::find(kinds.begin(), kinds.end(), "graph") != kinds.end();
  check_flags(a, on_grid, graph);
  const int64_t n = sequence_length(a, on_grid, graph);
  std::vector<int64_t> row_ptr, col_idx;
  if (graph) random_graph(a, n, row_ptr, col_idx);
  const CsrView csr{n, row_ptr.data(), col_idx.data()};
  PolicyContext ctx;
  ctx.tokens = n;
  if (on_grid) ctx.grid_h = a.grid_h, ctx.grid_w = a.grid_w;
  ctx.graph = graph ? &csr : nullptr;
  ctx.grid_name = "grid (--grid-h × --grid-w)", ctx.owner = "receptive attention";
  Params keys = a.policy_keys;
  keys.set("kind", a.policy);
  Policy policy = policy_from_params(keys, ctx);
  policy.validate(n);
  const std::optional<GridOffsets> offsets = policy.grid_offsets();
  Generator gen(a.seed);
  const Shape shape{a.batch, a.heads, n, a.dim};
  Var q(randn(shape, gen), true), k(randn(shape, gen), true), v(randn(shape, gen), true);
  AttentionOptions o;
  o.score = a.score == "additive" ? ScoreKind::Additive : ScoreKind::Dot;
  if (a.scale > 0) o.scale = a.scale;
  o.check_finite = true;
  if (o.score == ScoreKind::Additive) {
    o.a_q = Var(randn({a.heads, a.dim}, gen), true);
    o.a_k = Var(randn({a.heads, a.dim}, gen), true);
  }
  if (a.bias) o.rel_bias = Var(randn({a.heads, bias_entries(policy, keys, ctx)}, gen, 0.0f, 0.5f), true);
  AttentionWeights weights;
  const bool dense_weights = n <= 1024;
  if (dense_weights)
    for (int64_t i = 0; i < n; ++i) weights.queries.push_back(i);
  Var out = attention(q, k, v, policy, o, dense_weights ? &weights : nullptr);
  Tensor dout = randn(shape, gen);
  backward(out, dout);

  save_arrays(a.dump, {q, k, v, out}, dout, o, dense_weights ? &weights : nullptr, policy, n, row_ptr, col_idx);
  // the 1-D table's radius R (T = 2R + 1), so that the index formula below can be used without reading bias.npy
  const nlohmann::json radius =
      a.bias && !offsets ? nlohmann::json((bias_entries(policy, keys, ctx) - 1) / 2) : nlohmann::json();
  nlohmann::json meta = {{"policy", policy.describe()},
                         {"shape", shape},
                         {"score", a.score},
                         {"scale", o.score == ScoreKind::Dot ? (a.scale > 0 ? a.scale : 1.0 / std::sqrt(double(a.dim)))
                                                             : 0.0},
                         {"leaky_slope", o.leaky_slope},
                         {"bias", a.bias},
                         {"bias_index",
                          offsets ? fmt::format("bias[h, e] with e = (dr + {0}) * {2} + (dc + {1}), (dr, dc) = (row, "
                                                "column) of key j minus those of query i on the {3}x{4} grid, in "
                                                "dilation steps, clamped to [-{0}, {0}] x [-{1}, {1}]",
                                                offsets->radius_h, offsets->radius_w, 2 * offsets->radius_w + 1,
                                                offsets->grid_h, offsets->grid_w)
                                  : std::string("bias[h, e] with e = clamp(j - i, -R, R) + R, T = 2R + 1, R = bias_radius")},
                         {"bias_radius", radius},
                         {"bias_radius_h", a.bias && offsets ? nlohmann::json(offsets->radius_h) : nlohmann::json()},
                         {"bias_radius_w", a.bias && offsets ? nlohmann::json(offsets->radius_w) : nlohmann::json()},
                         {"seed", a.seed},
                         {"files",
                          "q, k, v, out, dout (the upstream gradient), dq, dk, dv: (B, H, N, D); mask: (N, N) 1 where "
                          "j is allowed for i; weights: (B, H, N, N) probabilities; bias/dbias: (H, T); a_q/a_k and "
                          "their gradients: (H, D); row_ptr/col_idx (graph): the CSR as int64 "
                          "(row i's neighbours are col_idx[row_ptr[i]:row_ptr[i+1]]); bias_radius: R of the 1-D table, "
                          "bias_radius_h/_w: the 2-D table's radii (null without --bias)"}};
  exp::write_file_atomic(std::filesystem::path(a.dump) / "meta.json", meta.dump(2) + "\n");
  fmt::print("{}: wrote q, k, v, out and gradients for {} ({}) to {}\n", "attention", policy.describe(),
             shape_str(shape), a.dump);
  return 0;
}

}  // namespace rc::cli
