#include "experiments/run_guard.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
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

OutDirLock::OutDirLock(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path lock = dir / ".lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  RC_CHECK(fd_ >= 0, "{}: cannot open the lock file ({})", lock.string(), std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string pid;
    std::ifstream(lock) >> pid;
    ::close(fd_);
    fd_ = -1;
    fail("{}: another `receptive run`{} is writing to this folder; wait for it to finish or use another --out",
         dir.string(), pid.empty() ? "" : " (pid " + pid + ")");
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
}

OutDirLock::~OutDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

int remove_stale_temporaries(const fs::path& dir) {
  // Only the runner's own temporaries: DIR/{results.csv,summary.md}.tmp.<pid> and
  // DIR/runs/<run>/{config.yaml,metrics.jsonl,best.safetensors,last.safetensors}.tmp[.<pid>], and a .tmp.<pid>
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
      if (it->is_directory(ec)) scan(it->path(), {"config.yaml", "metrics.jsonl", "best.safetensors", "last.safetensors"});
  int removed = 0;
  for (const auto& p : doomed) removed += fs::remove(p, ec) ? 1 : 0;
  return removed;
}

namespace {
// key -> value of a flat YAML map (absent: empty map)
std::map<std::string, std::string> flat(const YAML::Node& n) {
  std::map<std::string, std::string> m;
  if (n && n.IsMap())
    for (const auto& kv : n) m[kv.first.IsScalar() ? kv.first.Scalar() : "?"] = kv.second.IsScalar() ? kv.second.Scalar() : "";
  return m;
}
}  // namespace

void check_resume_matches(const Experiment& e, const ResultsTable& table, const fs::path& dir) {
  // settings that do not change what a run computes
  const std::set<std::string> ignored = {"dataset_resolved.root", "train_resolved.progress",
                                         "train_resolved.eval_batch_size"};
  std::vector<std::string> problems;
  size_t more = 0;
  for (const auto& r : e.runs) {
    if (!table.has_run(r.id)) continue;
    const fs::path saved_path = dir / "runs" / r.id / "config.yaml";
    if (!fs::exists(saved_path)) continue;  // rows from elsewhere (e.g. copied results) cannot be checked
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
        if (b == before.end() || ignored.count(std::string(section) + "." + k)) continue;
        const std::string& bv = b->second;
        if (bv == nv) continue;
        if (problems.size() == 8) {
          ++more;
          continue;
        }
        problems.push_back(fmt::format("  run {}: {}.{} was {} and is now {}", r.id,
                                         std::string(section).substr(0, std::string(section).find('_')), k, bv, nv));
      }
    }
  }
  if (!problems.empty())
    throw config::ConfigError(fmt::format(
        "{}: finished runs there were trained with other settings than this config now gives:\n{}{}\nresume only "
        "continues the same experiment: write to another --out, or delete those rows from results.csv (and their "
        "runs/<run> folders) to retrain them",
        (dir / "results.csv").string(), fmt::join(problems, "\n"),
        more ? fmt::format("\n  ... and {} more", more) : std::string()));
}

}  // namespace rc::exp
