#include "experiments/dist/dispatch.hpp"

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "framework/core/error.hpp"

namespace rc::exp::dist {
namespace {

// Message tags of the protocol (rank r ↔ rank 0).
constexpr int kAsk = 1;    // r → 0: "give me a run" (empty text)
constexpr int kRun = 2;    // 0 → r: a run index, or "" for none left
constexpr int kRow = 3;    // r → 0: {"index": i, "values": {column: value}}
constexpr int kLeave = 4;  // r → 0: r trains no more runs

class LocalDispatcher : public Dispatcher {
 public:
  LocalDispatcher(size_t count, RowWriter write) : count_(count), write_(std::move(write)) {}
  std::optional<size_t> next() override {
    if (next_ >= count_) return std::nullopt;
    return next_++;
  }
  void record(size_t index, const ResultRow& row) override { write_(index, row); }
  void finish() override {}

 private:
  size_t count_, next_ = 0;
  RowWriter write_;
};

std::string encode_row(size_t index, const ResultRow& row) {
  nlohmann::json j;
  j["index"] = index;
  j["values"] = row.values;
  return j.dump();
}

// Rank 0: its own runs come from the same counter as everyone else's; a server thread answers the other ranks.
class RootDispatcher : public Dispatcher {
 public:
  RootDispatcher(const World& w, size_t count, RowWriter write)
      : world_(w), count_(count), write_(std::move(write)), server_([this] { serve(); }) {}
  ~RootDispatcher() override {
    if (server_.joinable()) server_.join();
  }
  std::optional<size_t> next() override { return take(); }
  void record(size_t index, const ResultRow& row) override {
    std::lock_guard<std::mutex> lock(write_mutex_);
    write_(index, row);
  }
  void finish() override {
    if (server_.joinable()) server_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::optional<size_t> take() {
    std::lock_guard<std::mutex> lock(next_mutex_);
    if (next_ >= count_) return std::nullopt;
    return next_++;
  }
  void serve() {
    int remaining = world_.size() - 1;
    try {
      while (remaining > 0) {
        int from = 0, tag = 0;
        const std::string text = world_.receive(-1, -1, &from, &tag);
        if (tag == kAsk) {
          const auto i = take();
          world_.send(from, kRun, i ? std::to_string(*i) : std::string());
        } else if (tag == kRow) {
          const auto j = nlohmann::json::parse(text);
          ResultRow row;
          row.values = j.at("values").get<std::map<std::string, std::string>>();
          record(j.at("index").get<size_t>(), row);
        } else if (tag == kLeave) {
          --remaining;
        }
      }
    } catch (...) {
      // a row that cannot be written (disk full, ...) ends the job: the ranks must not keep training for nothing
      error_ = std::current_exception();
      try {
        std::rethrow_exception(error_);
      } catch (const std::exception& e) {
        fmt::print(stderr, "error: rank 0 could not record a run: {}\n", e.what());
      }
      world_.abort(1);
    }
  }

  const World& world_;
  size_t count_, next_ = 0;
  RowWriter write_;
  std::mutex next_mutex_, write_mutex_;
  std::exception_ptr error_;
  std::thread server_;  // last: started after every other member is ready
};

class WorkerDispatcher : public Dispatcher {
 public:
  explicit WorkerDispatcher(const World& w) : world_(w) {}
  ~WorkerDispatcher() override {
    if (!left_) leave();
  }
  std::optional<size_t> next() override {
    if (left_) return std::nullopt;
    world_.send(0, kAsk, "");
    const std::string text = world_.receive(0, kRun, nullptr, nullptr);
    if (text.empty()) return std::nullopt;
    return static_cast<size_t>(std::stoull(text));
  }
  void record(size_t index, const ResultRow& row) override { world_.send(0, kRow, encode_row(index, row)); }
  void finish() override {
    if (!left_) leave();
  }

 private:
  void leave() {
    left_ = true;
    world_.send(0, kLeave, "");
  }
  const World& world_;
  bool left_ = false;
};

}  // namespace

std::unique_ptr<Dispatcher> make_dispatcher(const World& world, size_t count, RowWriter write) {
  if (!world.distributed()) return std::make_unique<LocalDispatcher>(count, std::move(write));
  if (world.rank() == 0) return std::make_unique<RootDispatcher>(world, count, std::move(write));
  return std::make_unique<WorkerDispatcher>(world);
}

}  // namespace rc::exp::dist
