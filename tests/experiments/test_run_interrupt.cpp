// `receptive run` as a process: Ctrl-C (SIGINT) after the first finished run exits with 130 and says how to
// continue, leaves only complete rows and no temporary files, and the same command then trains the remaining
// runs without repeating a row; SIGTERM and SIGHUP stop it the same way (exit 143 and 129); a signal before the
// first row exits with the signal's code and no report error; the training thread blocks these signals (a
// thread of their own takes them, experiments/stop_signals.hpp) and other commands die by them as by default;
// a stopped sweep published with scripts/publish_results.sh --unfinished and rebuilt by
// scripts/restore_results.sh finishes as if never stopped. Every wait has a deadline; a child that overstays it
// is killed (SIGKILL).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "experiments/results.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// `receptive args...` as a child (tests/support/process.hpp: signals at their defaults, output to `log`).
pid_t spawn_receptive(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> all = {RECEPTIVE_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  const pid_t pid = rc::test::spawn_process(all, log);
  REQUIRE(pid > 0);
  return pid;
}
using rc::test::ChildGuard;
using rc::test::lines_of;
using rc::test::wait_for;

// results.csv: ends with a newline, every row has the header's number of fields, no run appears twice, and
// the table reader accepts it. Returns the rows' run ids.
std::vector<std::string> complete_rows(const fs::path& out) {
  const std::string text = rc::test::read_all((out / "results.csv").string());
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const auto lines = lines_of(out / "results.csv");
  const size_t fields = rc::exp::parse_csv_line(lines.at(0)).size();
  for (size_t i = 1; i < lines.size(); ++i) {
    INFO("results.csv line " << i + 1 << ": " << lines[i]);
    CHECK(rc::exp::parse_csv_line(lines[i]).size() == fields);
  }
  rc::exp::ResultsTable table(out);
  std::vector<std::string> runs;
  for (const auto& row : table.rows()) {
    CHECK(rc::exp::finished_ok(row.get("status")));
    runs.push_back(row.get("run"));
  }
  CHECK(std::set<std::string>(runs.begin(), runs.end()).size() == runs.size());
  return runs;
}

std::vector<std::string> temporaries(const fs::path& out) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.path().filename().string().find(".tmp") != std::string::npos) found.push_back(e.path().string());
  return found;
}

// Whether the main thread of process `pid`, the one that trains at --threads 1, blocks SIGINT, SIGTERM and SIGHUP
// (/proc/PID/task/PID/status): then a stop signal never runs a handler on it while it is inside a oneDNN kernel
// (stop_signals.hpp).
bool main_thread_blocks_stop_signals(pid_t pid) {
  const uint64_t stop_bits =
      (uint64_t{1} << (SIGINT - 1)) | (uint64_t{1} << (SIGTERM - 1)) | (uint64_t{1} << (SIGHUP - 1));
  for (const std::string& line : lines_of(fs::path("/proc") / std::to_string(pid) / "status"))
    if (line.rfind("SigBlk:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) & stop_bits) == stop_bits;
  return false;
}
}  // namespace

TEST_CASE("receptive run: Ctrl-C after the first run exits 130 cleanly, and the same command finishes the rest") {
  rc::test::TempDir dir("sigint");
  const fs::path out = dir.path / "out", config = dir.path / "interrupt.yaml";
  // three karate runs of 0.1-0.5 s each (an epoch takes 0.3-1 ms): long enough to be interrupted mid-sweep
  // (the signal follows the first row within ~10 ms), short enough for the test to take a second or two
  dir.write("interrupt.yaml", R"(name: interrupt
dataset: {name: karate}
train: {epochs: 400, lr: 0.01, progress: false}
models:
  gcn: {type: gcn, hidden: 8}
sweep: {seeds: [0, 1, 2]}
)");
  const std::vector<std::string> command = {"--threads", "1", "run", config.string(), "--out", out.string()};

  ChildGuard child{spawn_receptive(command, dir.path / "first.log")};
  // wait for the first complete row (header + 1 line), at most 20 s
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  size_t rows = 0;
  while (rows < 1) {
    std::error_code ec;
    if (fs::exists(out / "results.csv", ec)) {
      const auto lines = lines_of(out / "results.csv");
      rows = lines.empty() ? 0 : lines.size() - 1;
    }
    if (rows >= 1) break;
    int status = 0;
    if (waitpid(child.pid, &status, WNOHANG) == child.pid) {
      child.pid = -1;
      FAIL("receptive run ended before writing a row:\n" << rc::test::read_all((dir.path / "first.log").string()));
    }
    if (Clock::now() > deadline) FAIL("no row in results.csv after 20 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(kill(child.pid, SIGINT) == 0);
  const auto status = wait_for(child.pid, 15);
  child.pid = -1;
  const std::string log = rc::test::read_all((dir.path / "first.log").string());
  INFO("first run's output:\n" << log);
  REQUIRE(status.has_value());  // else it ignored Ctrl-C for 15 s and was killed
  REQUIRE(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 130);
  CHECK_THAT(log, Catch::Contains("interrupted") && Catch::Contains("same command"));

  const auto first_runs = complete_rows(out);
  CHECK(first_runs.size() >= 1);
  REQUIRE(first_runs.size() < 3);  // else the sweep had finished before the signal arrived
  CHECK(temporaries(out).empty());
  const auto first_lines = lines_of(out / "results.csv");

  // the same command again: only the remaining runs train; the rows already there stay as they were
  child.pid = spawn_receptive(command, dir.path / "second.log");
  const auto status2 = wait_for(child.pid, 30);
  child.pid = -1;
  INFO("second run's output:\n" << rc::test::read_all((dir.path / "second.log").string()));
  REQUIRE(status2.has_value());
  REQUIRE(WIFEXITED(*status2));
  CHECK(WEXITSTATUS(*status2) == 0);
  CHECK_THAT(rc::test::read_all((dir.path / "second.log").string()),
             Catch::Contains(std::to_string(first_runs.size()) + " already in"));
  const auto runs = complete_rows(out);
  CHECK(runs.size() == 3);
  const auto lines = lines_of(out / "results.csv");
  REQUIRE(lines.size() >= first_lines.size());
  CHECK(std::vector<std::string>(lines.begin(), lines.begin() + first_lines.size()) == first_lines);
  CHECK(temporaries(out).empty());
}

namespace {
// Waits (at most 20 s) until results.csv holds `rows` rows; false if the child ended first.
bool wait_for_rows(pid_t pid, const fs::path& out, size_t rows) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(out / "results.csv", ec)) {
      const auto lines = lines_of(out / "results.csv");
      if (!lines.empty() && lines.size() - 1 >= rows) return true;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Sends SIGINT to the child once `metrics` has `lines` lines (or after `seconds`, or when it has ended) and
// returns its wait status (nullopt if it did not end within 15 s of the signal; it is then killed).
std::optional<int> interrupt_after(ChildGuard& child, const fs::path& metrics, size_t lines, int seconds) {
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  std::error_code ec;
  while ((!fs::exists(metrics, ec) || lines_of(metrics).size() < lines) && Clock::now() < deadline &&
         waitpid(child.pid, nullptr, WNOHANG) == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(kill(child.pid, SIGINT) == 0);
  const auto status = wait_for(child.pid, 15);
  child.pid = -1;
  return status;
}

const char* kKarateSweep = R"(name: interrupt
dataset: {name: karate}
train: {epochs: 400, lr: 0.01, progress: false}
models:
  gcn: {type: gcn, hidden: 8}
sweep: {seeds: [0, 1, 2]}
)";
}  // namespace

TEST_CASE("receptive run: SIGTERM and SIGHUP stop a sweep like Ctrl-C, with rows intact and 128 + the signal") {
  const auto [sig, code, name] = GENERATE(std::tuple{SIGTERM, 143, "SIGTERM"}, std::tuple{SIGHUP, 129, "SIGHUP"});
  INFO("signal " << name);
  rc::test::TempDir dir(std::string("signal_") + name);
  const fs::path out = dir.path / "out", config = dir.path / "interrupt.yaml";
  dir.write("interrupt.yaml", kKarateSweep);
  const std::vector<std::string> command = {"--threads", "1", "run", config.string(), "--out", out.string()};
  ChildGuard child{spawn_receptive(command, dir.path / "first.log")};
  REQUIRE(wait_for_rows(child.pid, out, 1));
  REQUIRE(kill(child.pid, sig) == 0);
  const auto status = wait_for(child.pid, 15);
  child.pid = -1;
  const std::string log = rc::test::read_all((dir.path / "first.log").string());
  INFO("output:\n" << log);
  REQUIRE(status.has_value());
  REQUIRE(WIFEXITED(*status));  // a clean stop, not death by the signal
  CHECK(WEXITSTATUS(*status) == code);
  CHECK_THAT(log, Catch::Contains(std::string("interrupted by ") + name) && Catch::Contains("same command"));
  const auto runs = complete_rows(out);
  CHECK(runs.size() >= 1);
  CHECK(runs.size() < 3);
  CHECK(temporaries(out).empty());
}

TEST_CASE("receptive run: Ctrl-C before the first row exits 130 without a report error") {
  rc::test::TempDir dir("sigint_early");
  const fs::path out = dir.path / "out", config = dir.path / "slow.yaml";
  // one long run (many epochs): the signal arrives while it trains, before any row exists
  dir.write("slow.yaml", R"(name: slow
dataset: {name: karate}
train: {epochs: 200000, lr: 0.01, progress: false}
models:
  gcn: {type: gcn, hidden: 8}
)");
  ChildGuard child{spawn_receptive({"--threads", "1", "run", config.string(), "--out", out.string()},
                                   dir.path / "log")};
  // wait until training has started (the run folder's config.yaml is written just before)
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::error_code ec;
  while (!fs::exists(out / "runs" / "gcn__split__s0" / "metrics.jsonl", ec) && Clock::now() < deadline &&
         waitpid(child.pid, nullptr, WNOHANG) == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(main_thread_blocks_stop_signals(child.pid));
  REQUIRE(kill(child.pid, SIGINT) == 0);
  const auto status = wait_for(child.pid, 15);
  child.pid = -1;
  const std::string log = rc::test::read_all((dir.path / "log").string());
  INFO("output:\n" << log);
  REQUIRE(status.has_value());
  REQUIRE(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 130);
  CHECK_THAT(log, Catch::Contains("interrupted by SIGINT") && Catch::Contains("no run had finished"));
  CHECK_THAT(log, !Catch::Contains("does not exist") && !Catch::Contains("error"));
  CHECK_FALSE(fs::exists(out / "results.csv"));
  CHECK(temporaries(out).empty());
}

TEST_CASE("receptive info: SIGTERM ends it as the default action does (killed by the signal)") {
  rc::test::TempDir dir("sigterm_info");
  ChildGuard child{spawn_receptive({"--threads", "1", "info", "--probe-seconds", "30"}, dir.path / "log")};
  // main() blocks the signals first thing (libraries' constructors may have started threads before)
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!main_thread_blocks_stop_signals(child.pid) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK(main_thread_blocks_stop_signals(child.pid));
  REQUIRE(kill(child.pid, SIGTERM) == 0);
  const auto status = wait_for(child.pid, 15);
  child.pid = -1;
  INFO("output:\n" << rc::test::read_all((dir.path / "log").string()));
  REQUIRE(status.has_value());
  REQUIRE(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGTERM);
}

TEST_CASE("receptive run: a run stopped by Ctrl-C continues from its state and ends as an uninterrupted one") {
  rc::test::TempDir dir("sigint_continue");
  const fs::path parts = dir.path / "parts", whole = dir.path / "whole", config = dir.path / "gat.yaml";
  // one GAT run with dropout (its masks come from a per-forward counter) and early stopping
  dir.write("gat.yaml", R"(name: gat
dataset: {name: karate}
train: {epochs: 1500, lr: 0.005, optimizer: adam, weight_decay: 0.0005, schedule: cosine, warmup_epochs: 50,
        progress: false}
models:
  gat: {type: gat, hidden: 8, heads: 2, dropout: 0.5}
)");
  auto command = [&](const fs::path& out) {
    return std::vector<std::string>{"--threads", "1", "run", config.string(), "--out", out.string()};
  };
  const fs::path metrics = parts / "runs" / "gat__split__s0" / "metrics.jsonl";
  ChildGuard child{spawn_receptive(command(parts), dir.path / "first.log")};
  // stop it once it has trained some epochs
  const auto status = interrupt_after(child, metrics, 30, 30);
  const std::string log = rc::test::read_all((dir.path / "first.log").string());
  INFO("first output:\n" << log);
  REQUIRE(status.has_value());
  REQUIRE(WIFEXITED(*status));
  REQUIRE(WEXITSTATUS(*status) == 130);  // else the run had finished before the signal
  CHECK_THAT(log, Catch::Contains("interrupted at step") && Catch::Contains("continues it from there"));
  CHECK_THAT(log, !Catch::Contains("will restart"));
  CHECK(fs::exists(parts / "runs" / "gat__split__s0" / "train_state.safetensors"));
  const size_t logged = lines_of(metrics).size();
  CHECK(logged < 1500);

  for (const auto& [out, name] : {std::pair{parts, "second.log"}, std::pair{whole, "whole.log"}}) {
    child.pid = spawn_receptive(command(out), dir.path / name);
    const auto s = wait_for(child.pid, 120);
    child.pid = -1;
    INFO(rc::test::read_all((dir.path / name).string()));
    REQUIRE(s.has_value());
    REQUIRE(WIFEXITED(*s));
    CHECK(WEXITSTATUS(*s) == 0);
  }
  CHECK_THAT(rc::test::read_all((dir.path / "second.log").string()), Catch::Contains("continuing from step"));
  // the same row (time columns aside), checkpoints and metrics
  const rc::exp::ResultsTable a(parts), b(whole);
  REQUIRE(a.rows().size() == 1);
  REQUIRE(b.rows().size() == 1);
  for (const auto& column : b.columns()) {
    if (column == "train_seconds" || column == "items_per_second" || column == "eval_items_per_second") continue;
    INFO(column);
    CHECK(a.rows()[0].get(column) == b.rows()[0].get(column));
  }
  for (const char* f : {"best.safetensors", "last.safetensors"})
    CHECK(rc::test::read_all((parts / "runs" / "gat__split__s0" / f).string()) ==
          rc::test::read_all((whole / "runs" / "gat__split__s0" / f).string()));
  auto without_times = [](const fs::path& p) {
    std::vector<std::string> out;
    for (const auto& line : lines_of(p)) {
      nlohmann::json j = nlohmann::json::parse(line);
      for (const char* k : {"interval_seconds", "elapsed_seconds", "items_per_second", "eval_items_per_second"})
        j.erase(k);
      out.push_back(j.dump());
    }
    return out;
  };
  CHECK(without_times(metrics) == without_times(whole / "runs" / "gat__split__s0" / "metrics.jsonl"));
  CHECK(temporaries(parts).empty());
  CHECK_FALSE(fs::exists(parts / ".lock"));
}

TEST_CASE("publish_results.sh --unfinished and restore_results.sh carry a stopped sweep to a fresh clone") {
  // A sweep stopped part-way is published (finished rows, and the stopped run's training state), its results
  // folder is deleted (a fresh clone), restore_results.sh rebuilds it, and the same command finishes the sweep
  // with the rows an uninterrupted sweep gives.
  rc::test::TempDir dir("publish_restore");
  const fs::path repo = dir.path / "repo", whole = dir.path / "whole", config = dir.path / "gat.yaml";
  const fs::path parts = repo / "results" / "gat";
  fs::create_directories(repo / "scripts");
  for (const char* s : {"publish_results.sh", "restore_results.sh"})
    fs::copy_file(fs::path(RECEPTIVE_SOURCE_DIR) / "scripts" / s, repo / "scripts" / s);
  dir.write("gat.yaml", R"(name: gat
dataset: {name: karate}
train: {epochs: 1500, lr: 0.005, optimizer: adam, weight_decay: 0.0005, progress: false}
models:
  gat: {type: gat, hidden: 8, heads: 2, dropout: 0.5}
sweep: {seeds: [0, 1]}
)");
  auto command = [&](const fs::path& out) {
    return std::vector<std::string>{"--threads", "1", "run", config.string(), "--out", out.string()};
  };
  auto script = [&](const std::string& args, const char* log) {
    const std::string line = "cd '" + repo.string() + "' && bash " + args + " > '" + (dir.path / log).string() + "' 2>&1";
    const int rc = std::system(line.c_str());
    INFO(line << "\n" << rc::test::read_all((dir.path / log).string()));
    REQUIRE(rc == 0);
  };
  // stop the sweep once seed 0 has finished and seed 1 has trained some epochs
  const fs::path metrics = parts / "runs" / "gat__split__s1" / "metrics.jsonl";
  ChildGuard child{spawn_receptive(command(parts), dir.path / "first.log")};
  const auto status = interrupt_after(child, metrics, 30, 60);
  INFO("first output:\n" << rc::test::read_all((dir.path / "first.log").string()));
  REQUIRE(status.has_value());
  REQUIRE(WIFEXITED(*status));
  REQUIRE(WEXITSTATUS(*status) == 130);  // else the sweep had finished before the signal
  REQUIRE(complete_rows(parts) == std::vector<std::string>{"gat__split__s0"});

  script("scripts/publish_results.sh gat --unfinished", "publish.log");
  const fs::path published = repo / "docs" / "results" / "gat";
  CHECK(fs::exists(published / "gat__split__s0_metrics.jsonl"));
  CHECK(fs::exists(published / "unfinished" / "gat__split__s1" / "train_state.safetensors"));
  CHECK_FALSE(fs::exists(published / "unfinished" / "gat__split__s0"));
  CHECK_THAT(rc::test::read_all((dir.path / "publish.log").string()), Catch::Contains("gat__split__s1"));

  fs::remove_all(repo / "results");  // a fresh clone has only docs/results
  script("scripts/restore_results.sh gat", "restore.log");
  CHECK_THAT(rc::test::read_all((dir.path / "restore.log").string()),
             Catch::Contains("restored 1 finished runs") && Catch::Contains("gat__split__s1"));
  // a second restore would overwrite results: it refuses
  const std::string again = "cd '" + repo.string() + "' && bash scripts/restore_results.sh gat > /dev/null 2>&1";
  CHECK(std::system(again.c_str()) != 0);

  for (const auto& [out, name] : {std::pair{parts, "second.log"}, std::pair{whole, "whole.log"}}) {
    child.pid = spawn_receptive(command(out), dir.path / name);
    const auto s = wait_for(child.pid, 120);
    child.pid = -1;
    INFO(rc::test::read_all((dir.path / name).string()));
    REQUIRE(s.has_value());
    REQUIRE(WIFEXITED(*s));
    CHECK(WEXITSTATUS(*s) == 0);
  }
  const std::string second = rc::test::read_all((dir.path / "second.log").string());
  CHECK_THAT(second, Catch::Contains("1 already in") && Catch::Contains("continuing from step"));
  const rc::exp::ResultsTable a(parts), b(whole);
  REQUIRE(a.rows().size() == 2);
  REQUIRE(b.rows().size() == 2);
  for (size_t i = 0; i < 2; ++i)
    for (const auto& column : b.columns()) {
      if (column == "train_seconds" || column == "items_per_second" || column == "eval_items_per_second") continue;
      INFO(b.rows()[i].get("run") << " " << column);
      CHECK(a.rows()[i].get(column) == b.rows()[i].get(column));
    }
  // publishing again drops the unfinished copy of the run that has now finished
  script("scripts/publish_results.sh gat --unfinished", "publish2.log");
  CHECK_FALSE(fs::exists(published / "unfinished"));
  CHECK(fs::exists(published / "gat__split__s1_metrics.jsonl"));
}

TEST_CASE("receptive run --dry-run shows each run's training and validation items, --only and --set errors") {
  rc::test::TempDir dir("dry_run");
  const fs::path config = dir.path / "two.yaml";
  dir.write("two.yaml", R"(name: two
experiments:
  - name: club
    dataset: {name: karate}
    models:
      gcn: {type: gcn}
  - name: sbm
    dataset: {name: csbm, split: random, csbm: {nodes: 1600, classes: 3}}
    models:
      gcn: {type: gcn}
    sweep: {train_size: [5, 10]}
)");
  auto run = [&](std::vector<std::string> extra, const std::string& log) {
    std::vector<std::string> args = {"run", config.string(), "--out", (dir.path / "out").string(), "--dry-run"};
    args.insert(args.end(), extra.begin(), extra.end());
    ChildGuard child{spawn_receptive(args, dir.path / log)};
    const auto status = wait_for(child.pid, 60);
    child.pid = -1;
    REQUIRE(status.has_value());
    REQUIRE(WIFEXITED(*status));
    return std::pair{WEXITSTATUS(*status), rc::test::read_all((dir.path / log).string())};
  };
  const auto [code, log] = run({}, "dry.log");
  INFO(log);
  CHECK(code == 0);
  CHECK_THAT(log, Catch::Contains("train") && Catch::Contains("val"));
  // csbm with 5 labelled nodes per class: 15 training nodes; karate: 2
  bool sbm5 = false, club = false;
  for (const auto& line : lines_of(dir.path / "dry.log")) {
    std::istringstream in(line);
    std::string id, size;
    int64_t seed = -1, train = -1;
    in >> id >> size >> seed >> train;
    if (id == "sbm__gcn__5__s0") sbm5 = train == 15;
    if (id == "club__gcn__split__s0") club = train == 2;
  }
  CHECK(sbm5);
  CHECK(club);
  const auto [only_code, only_log] = run({"--only", "sbm"}, "only.log");
  CHECK(only_code == 0);
  CHECK_THAT(only_log, Catch::Contains("sbm__gcn__5__s0") && !Catch::Contains("club__gcn"));
  const auto [bad_code, bad_log] = run({"--only", "cora"}, "bad_only.log");
  CHECK(bad_code == 1);
  CHECK_THAT(bad_log, Catch::Contains("--only 'cora'") && Catch::Contains("club, sbm"));
  // a bad value from --set names the argument, not a line of the file
  const auto [set_code, set_log] = run({"--set", "train.epochs=-2"}, "set.log");
  CHECK(set_code == 1);
  CHECK_THAT(set_log, Catch::Contains("--set 'train.epochs=-2'") && !Catch::Contains("two.yaml:1:"));
  // and one from the file names its line
  dir.write("bad.yaml", "name: bad\ndataset: {name: karate}\ntrain:\n  lr: 0.01\n  epochs: -3\nmodels:\n  gcn: {type: gcn}\n");
  ChildGuard child{spawn_receptive({"run", (dir.path / "bad.yaml").string(), "--dry-run"}, dir.path / "bad.log")};
  REQUIRE(wait_for(child.pid, 30).has_value());
  child.pid = -1;
  CHECK_THAT(rc::test::read_all((dir.path / "bad.log").string()), Catch::Contains("bad.yaml:5: train.epochs"));
}
