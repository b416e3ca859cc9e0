#include "experiments/results.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "framework/core/error.hpp"

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
  fs::create_directories(path.parent_path().empty() ? fs::path(".") : path.parent_path());
  fs::path tmp = path;
  tmp += fmt::format(".tmp.{}", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  RC_CHECK(fd >= 0, "{}: cannot create ({})", tmp.string(), std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      fail("{}: write failed ({})", tmp.string(), std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, path);
}

void append_line(const fs::path& path, const std::string& line) {
  fs::create_directories(path.parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  RC_CHECK(fd >= 0, "{}: cannot open for appending ({})", path.string(), std::strerror(errno));
  std::string l = line + "\n";
  ssize_t n = ::write(fd, l.data(), l.size());
  ::fsync(fd);
  ::close(fd);
  RC_CHECK(n == static_cast<ssize_t>(l.size()), "{}: short write", path.string());
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
