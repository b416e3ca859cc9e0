#include "experiments/run_guard.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "experiments/config/yaml_params.hpp"
#include "framework/core/error.hpp"

namespace rc::exp {

namespace fs = std::filesystem;

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

OutDirLock::OutDirLock(const fs::path& dir) : path_(dir / ".lock") {
  fs::create_directories(dir);
  // The holder removes the file when it is done (no .lock stays behind), so a process that opened the file just
  // before may lock a file that no longer has the name: it then tries again with the current one.
  for (int attempt = 0; fd_ < 0; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    RC_CHECK(fd_ >= 0, "{}: cannot open the lock file ({})", path_.string(), std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      std::string pid;
      std::ifstream(path_) >> pid;
      ::close(fd_);
      fd_ = -1;
      fail("{}: another `receptive run`{} is writing to this folder; wait for it to finish or use another --out",
           dir.string(), pid.empty() ? "" : " (pid " + pid + ")");
    }
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev)
      break;
    ::close(fd_);  // removed by the previous holder after we opened it
    fd_ = -1;
    RC_CHECK(attempt < 100, "{}: the lock file keeps changing", path_.string());
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
}

OutDirLock::~OutDirLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding the lock (see the constructor)
  ::close(fd_);             // closing releases the flock
}

int remove_stale_temporaries(const fs::path& dir) {
  // Only the runner's own temporaries: DIR/{results.csv,summary.md}.tmp.<pid> and
  // DIR/runs/<run>/{config.yaml,metrics.jsonl,best,last,train_state.safetensors}.tmp[.<pid>], and a .tmp.<pid>
  // only when process <pid> is gone (a `receptive report` may be writing beside a run).
  auto stale = [](const fs::path& p, const std::set<std::string>& names) {
    const std::string f = p.filename().string();
    const size_t at = f.find(".tmp");
    if (at == std::string::npos || !names.count(f.substr(0, at))) return false;
    const std::string rest = f.substr(at + 4);  // "" or ".<pid>"
    if (rest.empty()) return true;
    if (rest[0] != '.' || rest.size() == 1 || rest.size() > 10) return false;
    for (size_t i = 1; i < rest.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(rest[i]))) return false;
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(1)));
    return !(::kill(pid, 0) == 0 || errno == EPERM);  // alive (ours or another user's): not stale
  };
  std::vector<fs::path> doomed;
  std::error_code ec;
  auto scan = [&](const fs::path& folder, const std::set<std::string>& names) {
    for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && stale(it->path(), names)) doomed.push_back(it->path());
  };
  scan(dir, {"results.csv", "summary.md"});
  if (fs::is_directory(dir / "runs", ec))
    for (auto it = fs::directory_iterator(dir / "runs", ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->is_directory(ec))
        scan(it->path(), {"config.yaml", "metrics.jsonl", "best.safetensors", "last.safetensors",
                          "train_state.safetensors"});
  int removed = 0;
  for (const auto& p : doomed) removed += fs::remove(p, ec) ? 1 : 0;
  return removed;
}

namespace {
// A value as text: a scalar's text, a list as "[a, b]" (configs saved before lists were written as YAML lists
// hold that text).
std::string text_of(const YAML::Node& v) {
  if (v.IsScalar()) return v.Scalar();
  if (!v.IsSequence()) return "";
  std::vector<std::string> items;
  for (const auto& e : v) items.push_back(text_of(e));
  return fmt::format("[{}]", fmt::join(items, ", "));
}

// key -> value of a flat YAML map (absent: empty map)
std::map<std::string, std::string> flat(const YAML::Node& n) {
  std::map<std::string, std::string> m;
  if (n && n.IsMap())
    for (const auto& kv : n) m[kv.first.IsScalar() ? kv.first.Scalar() : "?"] = text_of(kv.second);
  return m;
}
}  // namespace

bool is_budget_key(const std::string& key) {
  return key == "train.epochs" || key == "train.steps" || key == "train.patience";
}

std::vector<SettingChange> changed_settings(const Experiment& e, const ResultsTable& table, const fs::path& dir) {
  // settings that do not change what a run computes
  const std::set<std::string> ignored = {"dataset_resolved.root", "train_resolved.progress",
                                         "train_resolved.eval_batch_size", "train_resolved.state_every_seconds"};
  std::vector<SettingChange> changes;
  for (const auto& r : e.runs) {
    const fs::path run_dir = dir / "runs" / r.id, saved_path = run_dir / "config.yaml";
    std::error_code ec;
    if (!table.has_run(r.id) && !fs::exists(run_dir / "train_state.safetensors", ec)) continue;  // not started
    if (!fs::exists(saved_path, ec)) continue;  // rows from elsewhere (e.g. copied results) cannot be checked
    YAML::Node saved;
    try {
      saved = YAML::LoadFile(saved_path.string());
    } catch (const YAML::Exception& ex) {
      throw config::ConfigError(fmt::format("{}: cannot read the saved config ({})", saved_path.string(), ex.what()));
    }
    for (const char* section : {"model_resolved", "train_resolved", "dataset_resolved"}) {
      // Keys present on one side only come from a newer or older version of a schema (a parameter added with
      // its default); only settings both sides know are compared.
      const auto before = flat(saved[section]), now = flat(r.resolved[section]);
      for (const auto& [k, nv] : now) {
        const auto b = before.find(k);
        if (b == before.end() || ignored.count(std::string(section) + "." + k) || b->second == nv) continue;
        const std::string key = std::string(section).substr(0, std::string(section).find('_')) + "." + k;
        changes.push_back({r.id, key, b->second, nv, is_budget_key(key)});
      }
    }
  }
  return changes;
}

void check_resume_matches(const Experiment& e, const ResultsTable& table, const fs::path& dir,
                          const std::set<std::string>& rerun, bool extend) {
  std::vector<std::string> problems;
  std::set<std::string> runs;
  bool all_budget = true;
  size_t more = 0;
  for (const auto& c : changed_settings(e, table, dir)) {
    if (rerun.count(c.run) || (extend && c.budget)) continue;
    runs.insert(c.run);
    all_budget = all_budget && c.budget;
    if (problems.size() == 8) {
      ++more;
      continue;
    }
    problems.push_back(fmt::format("  run {}: {} was {} and is now {}", c.run, c.key, c.before, c.now));
  }
  if (problems.empty()) return;
  const std::string example = *runs.begin();
  throw config::ConfigError(fmt::format(
      "{}: runs there were trained with other settings than this config now gives:\n{}{}\nresults are never mixed: "
      "{}--rerun RUN (repeatable, or a glob such as --rerun '{}*') trains such runs afresh and replaces their rows, "
      "or write to another --out",
      (dir / "results.csv").string(), fmt::join(problems, "\n"),
      more ? fmt::format("\n  ... and {} more", more) : std::string(),
      all_budget ? "--extend continues them from their last state to the new training budget; " : "",
      example.substr(0, example.find("__") == std::string::npos ? example.size() : example.find("__") + 2)));
}

}  // namespace rc::exp
