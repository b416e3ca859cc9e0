#pragma once
// Results that are never lost. DIR/results.csv holds one row per finished run; a row is added by writing the
// whole file to a temporary in the same folder, fsync-ing it and renaming it over the old one, so a kill at
// any moment leaves either the old file or the new one, never half a row. DIR/runs/<run>/metrics.jsonl gets
// one JSON object per epoch, each appended with a single write.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace rc::exp {

// The columns every results.csv starts with (DESIGN.md); more may follow.
const std::vector<std::string>& required_columns();

struct ResultRow {
  std::map<std::string, std::string> values;  // column -> value
  int64_t line = 0;                           // line in results.csv when read from it (0: not read)
  std::string get(const std::string& column) const;
};

// Whether a row's status means the run finished: "ok", "ok: <note>" (e.g. "ok: no validation set"), or empty
// (results written before the column existed). Anything else ("stopped: ...") is a run that did not finish.
bool finished_ok(const std::string& status);

class ResultsTable {
 public:
  // Reads DIR/results.csv when it exists (errors name the file and line of a malformed row).
  explicit ResultsTable(std::filesystem::path dir, std::vector<std::string> extra_columns = {});

  const std::vector<ResultRow>& rows() const { return rows_; }
  bool has_run(const std::string& run_id) const;  // the `run` column
  void append(const ResultRow& row);              // atomic replace of results.csv
  // The row of the same run (the `run` column) replaced in place, or appended when there is none; atomic as append.
  // A retrained run (`receptive run --rerun`/`--extend`) keeps its place in the table.
  void put(const ResultRow& row);
  const std::vector<std::string>& columns() const { return columns_; }
  // The column's value as a number; an empty or non-numeric field is an error naming results.csv, the row's line,
  // the column and the value.
  double number(const ResultRow& row, const std::string& column) const;
  std::filesystem::path path() const { return dir_ / "results.csv"; }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> columns_;
  std::vector<ResultRow> rows_;
  void write_all() const;
};

// A name as part of a file or folder name (run ids, plot files): characters other than letters, digits, '-', '.'
// and '_' become '_' ("L64: marked-sum" -> "L64__marked-sum").
std::string file_safe(const std::string& name);

// The experiment of a multi-experiment config a row belongs to, read from its run id
// "[<part>__]<model>__<size>__s<seed>"; "" for a single-experiment config (or an id of another form).
std::string row_part(const ResultRow& row);
// One label per row of the table (aligned with rows()) under which summaries and plots group it with others: its
// dataset, or "<part>: <dataset>" when that dataset has a model in more than one part of the config (the parts
// of sequence_length.yaml share dataset and model names and differ in the sequence length, so their rows must
// not be averaged together; the parts of a data-efficiency sweep that train different models on one dataset
// still share one plot).
std::vector<std::string> dataset_labels(const ResultsTable& table);

// Writes `text` to `path` atomically (temporary + fsync + rename).
void write_file_atomic(const std::filesystem::path& path, const std::string& text);

// Appends one line (a newline is added) to `path` with a single write(2) and fsync.
void append_line(const std::filesystem::path& path, const std::string& line);

// CSV quoting of one field (quotes when it holds a comma, quote or newline).
std::string csv_field(const std::string& s);
std::vector<std::string> parse_csv_line(const std::string& line);

}  // namespace rc::exp
