#include "experiments/results.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "framework/core/error.hpp"
#include "framework/io/file_util.hpp"

namespace rc::exp {

namespace fs = std::filesystem;

const std::vector<std::string>& required_columns() {
  static const std::vector<std::string> c{"model",     "dataset",           "train_size",    "seed",  "epochs",
                                          "test_accuracy", "best_val_accuracy", "train_seconds", "params"};
  return c;
}

std::string ResultRow::get(const std::string& column) const {
  auto it = values.find(column);
  return it == values.end() ? "" : it->second;
}

bool finished_ok(const std::string& status) {
  return status.empty() || status == "ok" || status.rfind("ok: ", 0) == 0;
}

std::string file_safe(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) c = '_';
  return out;
}

std::string row_part(const ResultRow& row) {
  // run ids are file_safe (experiment.cpp), so a model name appears in them with its other characters as '_'
  const std::string run = row.get("run"),
                    tail = "__" + file_safe(row.get("model")) + "__" + row.get("size_spec") + "__s" + row.get("seed");
  if (run.size() <= tail.size() || run.compare(run.size() - tail.size(), tail.size(), tail) != 0) return "";
  return run.substr(0, run.size() - tail.size());
}

std::vector<std::string> dataset_labels(const ResultsTable& table) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> parts;  // (dataset, model) -> parts
  for (const auto& r : table.rows()) parts[{r.get("dataset"), r.get("model")}].insert(row_part(r));
  std::set<std::string> split;  // datasets with a model in more than one part
  for (const auto& [key, p] : parts)
    if (p.size() > 1) split.insert(key.first);
  std::vector<std::string> labels;
  for (const auto& r : table.rows()) {
    const std::string dataset = r.get("dataset"), part = row_part(r);
    labels.push_back(split.count(dataset) && !part.empty() ? part + ": " + dataset : dataset);
  }
  return labels;
}

double ResultsTable::number(const ResultRow& row, const std::string& column) const {
  const std::string v = row.get(column);
  const std::string where = row.line > 0 ? fmt::format("{}:{}", path().string(), row.line) : path().string();
  double out = 0;
  size_t pos = 0;
  bool ok = !v.empty();
  try {
    if (ok) out = std::stod(v, &pos);
  } catch (const std::exception&) {
    ok = false;
  }
  RC_CHECK(ok && pos == v.size() && std::isfinite(out), "{}: column '{}' is '{}', expected a finite number", where,
           column, v);
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

void write_file_atomic(const fs::path& path, const std::string& text) {
  io::write_bytes_atomic(path.string(), "write", text);
}

void append_line(const fs::path& path, const std::string& line) {
  std::error_code ec;
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
  RC_CHECK(!ec, "{}: cannot create the folder: {}", path.parent_path().string(), ec.message());
  io::append_bytes(path.string(), "append", line + "\n");
}

ResultsTable::ResultsTable(fs::path dir, std::vector<std::string> extra_columns) : dir_(std::move(dir)) {
  columns_ = required_columns();
  for (auto& c : extra_columns)
    if (std::find(columns_.begin(), columns_.end(), c) == columns_.end()) columns_.push_back(c);
  std::ifstream in(path());
  if (!in.good()) return;
  std::string line;
  std::vector<std::string> header;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto fields = parse_csv_line(line);
    if (header.empty()) {
      header = fields;
      for (const auto& c : required_columns())
        RC_CHECK(std::find(header.begin(), header.end(), c) != header.end(),
                 "{}:1: header lacks the column '{}' (is this a receptive results file?)", path().string(), c);
      for (const auto& c : header)
        if (std::find(columns_.begin(), columns_.end(), c) == columns_.end()) columns_.push_back(c);
      continue;
    }
    RC_CHECK(fields.size() == header.size(), "{}:{}: {} fields, the header has {}", path().string(), line_no,
             fields.size(), header.size());
    ResultRow r;
    r.line = line_no;
    for (size_t i = 0; i < header.size(); ++i) r.values[header[i]] = fields[i];
    rows_.push_back(std::move(r));
  }
}

bool ResultsTable::has_run(const std::string& run_id) const {
  return std::any_of(rows_.begin(), rows_.end(), [&](const ResultRow& r) { return r.get("run") == run_id; });
}

void ResultsTable::append(const ResultRow& row) {
  for (const auto& [k, v] : row.values)
    if (std::find(columns_.begin(), columns_.end(), k) == columns_.end()) columns_.push_back(k);
  rows_.push_back(row);
  write_all();
}

void ResultsTable::put(const ResultRow& row) {
  const std::string id = row.get("run");
  const auto it = std::find_if(rows_.begin(), rows_.end(), [&](const ResultRow& r) { return r.get("run") == id; });
  if (id.empty() || it == rows_.end()) return append(row);
  for (const auto& [k, v] : row.values)
    if (std::find(columns_.begin(), columns_.end(), k) == columns_.end()) columns_.push_back(k);
  ResultRow replaced = row;
  replaced.line = it->line;
  *it = replaced;
  rows_.erase(std::remove_if(std::next(it), rows_.end(), [&](const ResultRow& r) { return r.get("run") == id; }),
              rows_.end());
  write_all();
}

void ResultsTable::write_all() const {
  std::ostringstream out;
  for (size_t i = 0; i < columns_.size(); ++i) out << (i ? "," : "") << csv_field(columns_[i]);
  out << "\n";
  for (const auto& r : rows_) {
    for (size_t i = 0; i < columns_.size(); ++i) out << (i ? "," : "") << csv_field(r.get(columns_[i]));
    out << "\n";
  }
  write_file_atomic(path(), out.str());
}

}  // namespace rc::exp
