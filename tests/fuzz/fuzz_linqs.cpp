// LINQS datasets (<name>.content, <name>.cites) and a planetoid split file through load_linqs, then a random
// split and the CSR arrays a model takes. Input: content, "\n--cites--\n", cites, "\n--split--\n", split.
#include "datasets/graph/linqs.hpp"
#include "datasets/graph/split.hpp"
#include "framework/core/error.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = rc::fuzz::split_input(data, size, "\n--cites--\n");
  std::string_view content = parts[0], cites, split;
  if (parts.size() > 1) {
    auto rest = rc::fuzz::split_input(reinterpret_cast<const uint8_t*>(parts[1].data()), parts[1].size(), "\n--split--\n");
    cites = rest[0];
    if (rest.size() > 1) split = rest[1];
  }
  const auto dir = rc::fuzz::scratch() / "linqs";
  rc::fuzz::write_file(dir / "toy.content", content);
  rc::fuzz::write_file(dir / "toy.cites", cites);
  rc::fuzz::write_file(dir / "toy.planetoid.split", split);
  try {
    rc::data::LinqsOptions o;
    o.row_normalize = true;
    rc::data::GraphDataset g = rc::data::load_linqs(dir.string(), "toy", o);
    (void)rc::data::csr_arrays(g.graph, true);
    (void)rc::data::random_split(g.labels, g.num_classes(), 1, 1, 1, 0);
  } catch (const rc::Error&) {
  }
  return 0;
}
