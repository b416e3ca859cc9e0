#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "datasets/graph/linqs.hpp"
#include "datasets/graph/split.hpp"
#include "support/files.hpp"
#include "support/test_data.hpp"

using namespace rc;
using namespace rc::data;
using rc::test::TempDir;
namespace fs = std::filesystem;

namespace {
const char* kContent =
    "p1\t1\t0\t1\tA\n"
    "p2\t0\t1\t0\tB\n"
    "p3\t1\t1\t1\tA\n"
    "x4\t0\t0\t1\tC\n";
}  // namespace

TEST_CASE("linqs: a small hand-written dataset loads as specified") {
  TempDir d("small");
  d.write("toy.content", kContent);
  // p2 cites p1 (stored `<cited> <citing>`), p3 cites p1 twice, a citation of an unknown paper, a self-citation
  d.write("toy.cites", "p1\tp2\np1\tp3\np1\tp3\nzz\tp1\np3\tp3\np2\tp1\n");
  LinqsReport r;
  GraphDataset g = load_linqs(d.path.string(), "toy", {}, &r);
  CHECK(g.num_nodes() == 4);
  CHECK(g.class_names == std::vector<std::string>{"A", "B", "C"});
  CHECK(g.labels == std::vector<int32_t>{0, 1, 0, 2});
  CHECK(g.features.to_vector() == std::vector<float>{1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1});
  CHECK(r.citations == 6);
  CHECK(r.unknown_citations == 1);
  CHECK(r.self_citations == 1);
  CHECK(r.duplicate_citations == 2);  // p1-p3 twice, p1-p2 in both directions
  // undirected edges {p1,p2}, {p1,p3} stored both ways
  CHECK(g.num_edges() == 4);
  rc::Csr c = csr_arrays(g.graph, true);
  CHECK(c.row_ptr == std::vector<int64_t>{0, 3, 5, 7, 8});
  CHECK(c.col_idx == std::vector<int64_t>{0, 1, 2, 0, 1, 0, 2, 3});
  CHECK(connected_components(g.graph) == 2);

  LinqsOptions o;
  o.row_normalize = true;
  GraphDataset gn = load_linqs(d.path.string(), "toy", o);
  CHECK(gn.features.at({2, 1}) == Approx(1.0 / 3));
}

TEST_CASE("linqs: malformed files are errors naming file and line") {
  TempDir d("bad");
  d.write("a.cites", "p1\tp2\n");
  d.write("a.content", "p1\t1\t0\tA\np2\t1\tA\n");
  CHECK_THROWS_WITH(load_linqs(d.path.string(), "a"), Catch::Contains("a.content:2") && Catch::Contains("1 feature"));
  d.write("a.content", "p1\t1\t0\tA\np2\t1\t2\tA\n");
  CHECK_THROWS_WITH(load_linqs(d.path.string(), "a"), Catch::Contains("a.content:2") && Catch::Contains("'2'"));
  d.write("a.content", "p1\t1\t0\tA\np1\t1\t1\tA\n");
  CHECK_THROWS_WITH(load_linqs(d.path.string(), "a"), Catch::Contains("appears twice"));
  d.write("a.content", "\n\n");
  CHECK_THROWS_WITH(load_linqs(d.path.string(), "a"), Catch::Contains("empty"));
  d.write("a.content", kContent);
  d.write("a.cites", "p1\tp2\tp3\n");
  CHECK_THROWS_WITH(load_linqs(d.path.string(), "a"), Catch::Contains("a.cites:1") && Catch::Contains("3 column"));
  CHECK_THROWS_WITH(load_linqs(d.path.string(), "nothing"), Catch::Contains("nothing.content: no such file"));
}

TEST_CASE("split files: unknown ids, overlaps and bad names are errors with the line") {
  TempDir d("split");
  std::vector<std::string> ids{"p1", "p2", "p3"};
  d.write("s", "# comment\np1\ttrain\np2\tval\np3\ttest\n");
  Split s = read_split_file((d.path / "s").string(), ids);
  CHECK(s.train == std::vector<int64_t>{0});
  CHECK(s.val == std::vector<int64_t>{1});
  CHECK(s.test == std::vector<int64_t>{2});
  d.write("s", "p1\ttrain\np9\tval\n");
  CHECK_THROWS_WITH(read_split_file((d.path / "s").string(), ids), Catch::Contains(":2") && Catch::Contains("'p9'"));
  d.write("s", "p1\ttrain\np1\ttest\n");
  CHECK_THROWS_WITH(read_split_file((d.path / "s").string(), ids), Catch::Contains("already assigned on line 1"));
  d.write("s", "p1\ttrain\np2\tholdout\n");
  CHECK_THROWS_WITH(read_split_file((d.path / "s").string(), ids), Catch::Contains("'holdout'"));
}

TEST_CASE("random splits: k per class, disjoint, seeded and nested") {
  std::vector<int32_t> labels;
  for (int i = 0; i < 300; ++i) labels.push_back(i % 3);
  Split a = random_split(labels, 3, 5, 50, 100, 7), b = random_split(labels, 3, 5, 50, 100, 7);
  Split big = random_split(labels, 3, 10, 50, 100, 7);
  CHECK(a.train == b.train);
  CHECK(a.train.size() == 15);
  CHECK(a.val.size() == 50);
  CHECK(a.test.size() == 100);
  for (int64_t t : a.train) {
    CHECK(std::find(big.train.begin(), big.train.end(), t) != big.train.end());
    CHECK(std::find(a.val.begin(), a.val.end(), t) == a.val.end());
    CHECK(std::find(a.test.begin(), a.test.end(), t) == a.test.end());
  }
  CHECK(random_split(labels, 3, 5, 50, 100, 8).train != a.train);
  CHECK_THROWS_WITH(random_split(labels, 3, 101, 0, 0, 1), Catch::Contains("fewer than 101"));
}

TEST_CASE("linqs: Cora and CiteSeer load with the published counts") {
  for (std::string name : {"cora", "citeseer"}) {
    std::string dir = test::linqs_dir(name);
    if (dir.empty()) {
      WARN("SKIPPED: " << name << " not found under " << test::shared_data_dir());
      continue;
    }
    LinqsReport r;
    GraphDataset g = load_linqs(dir, name, {}, &r);
    INFO(name << ": " << g.num_nodes() << " nodes, " << g.num_edges() << " directed edges, unknown citations "
              << r.unknown_citations << ", duplicates " << r.duplicate_citations << ", self " << r.self_citations);
    if (name == "cora") {
      CHECK(g.num_nodes() == 2708);
      CHECK(g.features.dim(1) == 1433);
      CHECK(g.num_classes() == 7);
      CHECK(r.citations == 5429);
      CHECK(r.unknown_citations == 0);
      CHECK(g.num_edges() == 10556);  // 5278 undirected edges; + 2708 self-loops = 13264 as GAT uses
      CHECK(g.split.train.size() == 140);
      CHECK(g.split.val.size() == 500);
      CHECK(g.split.test.size() == 1000);
    } else {
      CHECK(g.num_nodes() == 3312);
      CHECK(g.features.dim(1) == 3703);
      CHECK(g.num_classes() == 6);
      CHECK(r.citations == 4732);
      CHECK(r.unknown_citations > 0);
      CHECK(g.split.train.size() == 120);
      CHECK(g.split.test.size() == 1000);
    }
    // every split node is labelled and every train class is present
    std::vector<int> seen(g.num_classes(), 0);
    for (int64_t t : g.split.train) ++seen[g.labels[t]];
    for (int c : seen) CHECK(c == 20);
  }
}

TEST_CASE("linqs: the default lookup finds the Cora and CiteSeer shipped in datasets/data, gzip-compressed") {
  // no config root and no $RECEPTIVE_DATA: the last place tried is the source tree's datasets/data/<name>
  const char* saved = std::getenv("RECEPTIVE_DATA");
  const std::string keep = saved ? saved : "";
  ::unsetenv("RECEPTIVE_DATA");
  data::LinqsReport report;
  const data::GraphDataset cora = data::load_linqs_named("cora", "", {}, &report);
  CHECK(cora.num_nodes() == 2708);
  CHECK(cora.features.dim(1) == 1433);
  CHECK(cora.num_classes() == 7);
  CHECK(cora.split.train.size() == 140);
  CHECK(cora.split.val.size() == 500);
  CHECK(cora.split.test.size() == 1000);
  const data::GraphDataset citeseer = data::load_linqs_named("citeseer", "", {});
  CHECK(citeseer.num_nodes() == 3312);
  CHECK(citeseer.num_classes() == 6);
  CHECK(citeseer.split.train.size() == 120);
  if (!keep.empty()) ::setenv("RECEPTIVE_DATA", keep.c_str(), 1);
}
