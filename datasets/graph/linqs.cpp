#include "datasets/graph/linqs.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <string_view>
#include <unordered_map>

#include "datasets/graph/split.hpp"
#include "datasets/image/idx.hpp"
#include "datasets/locate.hpp"
#include "framework/core/error.hpp"

namespace rc::data {

namespace fs = std::filesystem;

namespace {
// Calls f(line_number, fields) for each non-empty line, fields split on tabs (or runs of spaces when the line
// has no tab).
template <class F>
void for_each_line(const std::vector<uint8_t>& bytes, F&& f) {
  std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string_view> fields;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    fields.clear();
    const bool tabs = line.find('\t') != std::string_view::npos;
    size_t s = 0;
    while (s <= line.size()) {
      size_t e = tabs ? line.find('\t', s) : line.find(' ', s);
      if (e == std::string_view::npos) e = line.size();
      if (tabs || e > s) fields.push_back(line.substr(s, e - s));
      s = e + 1;
    }
    f(line_no, fields);
  }
}
}  // namespace

GraphDataset load_linqs(const std::string& dir, const std::string& name, const LinqsOptions& options,
                        LinqsReport* report) {
  fs::path content_path = find_maybe_gz(dir, name + ".content");
  fs::path cites_path = find_maybe_gz(dir, name + ".cites");
  RC_CHECK(!content_path.empty(), "{}/{}.content: no such file (nor .gz)", dir, name);
  RC_CHECK(!cites_path.empty(), "{}/{}.cites: no such file (nor .gz)", dir, name);
  const std::string cfile = content_path.string();

  GraphDataset g;
  g.name = name;
  std::unordered_map<std::string, int64_t> index;
  std::unordered_map<std::string, int32_t> class_index;
  std::vector<std::vector<uint32_t>> nonzero;  // feature columns per node
  int64_t num_features = -1;
  for_each_line(read_maybe_gz(content_path), [&](int64_t line, const std::vector<std::string_view>& f) {
    RC_CHECK(f.size() >= 3, "{}:{}: expected `<paper id> <features...> <class>`, got {} column(s)", cfile, line,
             f.size());
    const int64_t nf = static_cast<int64_t>(f.size()) - 2;
    if (num_features < 0) num_features = nf;
    RC_CHECK(nf == num_features, "{}:{}: {} feature columns, but earlier lines have {}", cfile, line, nf,
             num_features);
    std::string id(f.front());
    RC_CHECK(index.emplace(id, g.num_nodes()).second, "{}:{}: paper id '{}' appears twice", cfile, line, id);
    std::vector<uint32_t> cols;
    for (int64_t j = 0; j < nf; ++j) {
      std::string_view v = f[j + 1];
      RC_CHECK(v == "0" || v == "1", "{}:{}: feature {} is '{}', expected 0 or 1", cfile, line, j + 1, v);
      if (v == "1") cols.push_back(static_cast<uint32_t>(j));
    }
    nonzero.push_back(std::move(cols));
    std::string cls(f.back());
    auto [it, added] = class_index.emplace(cls, static_cast<int32_t>(g.class_names.size()));
    if (added) g.class_names.push_back(cls);
    g.labels.push_back(it->second);
    g.node_ids.push_back(std::move(id));
  });
  RC_CHECK(g.num_nodes() > 0, "{}: no papers (empty file)", cfile);

  g.features = Tensor(Shape{g.num_nodes(), num_features});
  for (int64_t i = 0; i < g.num_nodes(); ++i)
    for (uint32_t c : nonzero[i]) g.features.data()[i * num_features + c] = 1.0f;
  if (options.row_normalize) row_normalize(g.features);

  LinqsReport r;
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  const std::string efile = cites_path.string();
  for_each_line(read_maybe_gz(cites_path), [&](int64_t line, const std::vector<std::string_view>& f) {
    RC_CHECK(f.size() == 2, "{}:{}: expected `<cited id> <citing id>`, got {} column(s)", efile, line, f.size());
    ++r.citations;
    auto a = index.find(std::string(f[0])), b = index.find(std::string(f[1]));
    if (a == index.end() || b == index.end()) {
      ++r.unknown_citations;
      return;
    }
    if (a->second == b->second) {
      ++r.self_citations;
      return;
    }
    // citing -> cited; symmetrised below unless asked not to
    edges.emplace_back(static_cast<uint32_t>(b->second), static_cast<uint32_t>(a->second));
  });
  {
    auto und = edges;
    for (auto& e : und)
      if (e.first > e.second) std::swap(e.first, e.second);
    std::sort(und.begin(), und.end());
    r.duplicate_citations = static_cast<int64_t>(und.size() - (std::unique(und.begin(), und.end()) - und.begin()));
  }
  g.graph = build_graph(g.num_nodes(), std::move(edges), options.symmetrise, true);

  std::string split = options.split_file;
  if (split.empty()) {
    fs::path p = fs::path(dir) / (name + ".planetoid.split");
    if (fs::exists(p)) split = p.string();
  }
  if (!split.empty() && split != "none") g.split = read_split_file(split, g.node_ids);
  if (report) *report = r;
  return g;
}

GraphDataset load_linqs_named(const std::string& name, const std::string& root, const LinqsOptions& options,
                              LinqsReport* report) {
  // last in the lookup: the copy shipped in the source tree this binary was built from (datasets/data/<name>)
  fs::path dir = locate_dataset(name, root, {name + ".content", name + ".cites"},
                                fs::path(RECEPTIVE_SOURCE_DIR) / "datasets" / "data" / name);
  return load_linqs(dir.string(), name, options, report);
}

}  // namespace rc::data
