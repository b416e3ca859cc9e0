#include "datasets/graph/split.hpp"

#include <algorithm>
#include <fstream>
#include <random>
#include <unordered_map>

#include "framework/core/error.hpp"

namespace rc::data {

Split read_split_file(const std::string& path, const std::vector<std::string>& node_ids) {
  std::ifstream in(path);
  RC_CHECK(in.good(), "{}: cannot open split file", path);
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < node_ids.size(); ++i) index.emplace(node_ids[i], static_cast<int64_t>(i));
  std::vector<int> where(node_ids.size(), 0);  // 0 = unassigned, else line number
  Split s;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    RC_CHECK(tab != std::string::npos, "{}:{}: expected `<node id><TAB><train|val|test>`, got '{}'", path, line_no,
             line);
    std::string id = line.substr(0, tab), part = line.substr(tab + 1);
    auto it = index.find(id);
    RC_CHECK(it != index.end(), "{}:{}: node id '{}' is not in the dataset", path, line_no, id);
    RC_CHECK(where[it->second] == 0, "{}:{}: node '{}' is already assigned on line {} (splits must not overlap)",
             path, line_no, id, where[it->second]);
    where[it->second] = static_cast<int>(line_no);
    if (part == "train")
      s.train.push_back(it->second);
    else if (part == "val")
      s.val.push_back(it->second);
    else if (part == "test")
      s.test.push_back(it->second);
    else
      fail("{}:{}: split '{}' is not one of train, val, test", path, line_no, part);
  }
  RC_CHECK(!s.train.empty(), "{}: the split names no training node", path);
  for (auto* v : {&s.train, &s.val, &s.test}) std::sort(v->begin(), v->end());
  return s;
}

Split random_split(const std::vector<int32_t>& labels, int64_t num_classes, int64_t per_class, int64_t num_val,
                   int64_t num_test, uint64_t seed) {
  RC_CHECK(per_class >= 1, "random_split: labels per class must be >= 1, got {}", per_class);
  const int64_t n = static_cast<int64_t>(labels.size());
  // one seeded permutation; taking the first k of each class in it makes splits nested in k
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  std::mt19937_64 gen(seed);
  std::shuffle(perm.begin(), perm.end(), gen);
  std::vector<int64_t> taken(num_classes, 0);
  std::vector<bool> used(n, false);
  Split s;
  for (int64_t i : perm)
    if (taken[labels[i]] < per_class) {
      ++taken[labels[i]];
      s.train.push_back(i);
      used[i] = true;
    }
  for (int64_t c = 0; c < num_classes; ++c)
    RC_CHECK(taken[c] == per_class, "random_split: class {} has only {} nodes, fewer than {} per class", c, taken[c],
             per_class);
  // val/test come from a second permutation (skipping training nodes)
  std::mt19937_64 gen2(seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<int64_t> rest(n);
  for (int64_t i = 0; i < n; ++i) rest[i] = i;
  std::shuffle(rest.begin(), rest.end(), gen2);
  for (int64_t i : rest) {
    if (used[i]) continue;
    if (static_cast<int64_t>(s.val.size()) < num_val)
      s.val.push_back(i);
    else if (static_cast<int64_t>(s.test.size()) < num_test)
      s.test.push_back(i);
  }
  RC_CHECK(static_cast<int64_t>(s.val.size()) == num_val && static_cast<int64_t>(s.test.size()) == num_test,
           "random_split: {} nodes cannot hold {} train + {} val + {} test", n, s.train.size(), num_val, num_test);
  for (auto* v : {&s.train, &s.val, &s.test}) std::sort(v->begin(), v->end());
  return s;
}

}  // namespace rc::data
