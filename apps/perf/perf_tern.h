#pragma once
// tern-perf on Tern: the client and server as api::Apps, one per worker, on
// the public API only (tern/api.h). A benchmark harness can run them through
// its own AppSpec: make_app returns a TernPerfServer or a TernPerfClient per
// worker, done() is TernClientShared::finished(), and the report merges
// every worker's result (merge_client_results / merge_server_results).
//
// Latency is measured on WorkerContext::now(), the loop's clock read once
// per iteration: a sample starts when the request is handed to the stack
// and ends in the iteration whose received frames completed the response,
// so its resolution is one loop iteration (a few microseconds when busy
// polling), which is what the application itself can observe.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "perf_options.h"
#include "perf_protocol.h"
#include "perf_stats.h"
#include "tern/api.h"

namespace tern::perf {

// What the client workers publish to each other and to the control thread.
class TernClientShared {
 public:
  explicit TernClientShared(std::size_t workers) : workers_(workers), progress_(new Progress[workers]) {}
  std::size_t workers() const noexcept { return workers_; }
  bool finished() const noexcept { return done_workers_.load(std::memory_order_acquire) == workers_; }
  void worker_done() noexcept { done_workers_.fetch_add(1, std::memory_order_acq_rel); }
  void publish(std::size_t worker, std::uint64_t bytes, std::uint64_t transactions) noexcept {
    progress_[worker].bytes.store(bytes, std::memory_order_relaxed);
    progress_[worker].transactions.store(transactions, std::memory_order_relaxed);
  }
  std::uint64_t total_bytes() const noexcept;
  std::uint64_t total_transactions() const noexcept;

 private:
  struct alignas(64) Progress {
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> transactions{0};
  };
  std::size_t workers_;
  std::atomic<std::size_t> done_workers_{0};
  std::unique_ptr<Progress[]> progress_;
};

class TernPerfClient final : public api::App, public api::ConnectionHandler {
 public:
  TernPerfClient(const Options& o, TernClientShared& shared);

  void on_start(api::WorkerContext& w) override;
  void on_poll(api::WorkerContext& w) override;

  void on_connected(api::Connection& c) override;
  void on_data(api::Connection& c, api::Buffer data) override;
  void on_writable(api::Connection& c) override;
  void on_peer_closed(api::Connection& c) override;
  void on_closed(api::Connection& c, api::CloseReason why) override;

  // Read after the workers stopped.
  const Result& result() const noexcept { return result_; }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kRunning, kDraining, kAwaitFin, kDone };
  struct Conn {
    api::Connection* c = nullptr;
    Phase phase = Phase::kIdle;
    std::byte hello[kHelloSize] = {};
    std::size_t hello_sent = 0;
    std::uint64_t req_left = 0;   // request bytes still to send
    std::uint64_t resp_left = 0;  // response bytes still to come
    Instant t_connect;            // crr samples start here
    Instant t_request;            // rr samples start here
    Instant retry_at;             // crr: an idle slot connects again from here
    std::byte count[kCountSize] = {};
    std::size_t count_have = 0;
    std::uint64_t sent = 0;  // bulk: payload the stack took, to check the server's count against
  };

  void start(Instant now);
  void open(Conn& k);
  void pump(api::Connection& c, Conn& k);
  void transaction_done(api::Connection& c, Conn& k);
  void begin_end(Instant now);
  // The connection is over for this slot (the handle already closed or gone).
  void finish(Conn& k, bool ok);
  void report_interval(double t);
  static Conn& conn(api::Connection& c) noexcept { return *static_cast<Conn*>(c.user); }

  Options o_;
  TernClientShared& shared_;
  api::WorkerContext* w_ = nullptr;
  std::vector<Conn> conns_;
  std::size_t open_ = 0;           // slots not kDone
  std::vector<std::size_t> idle_;  // crr: slots waiting to connect again
  bool started_ = false;
  bool ending_ = false;
  bool finished_ = false;
  Instant start_, end_, next_check_, next_scan_;
  Instant next_interval_;
  std::unique_ptr<IntervalReporter> intervals_;  // worker 0 only
  Result result_;
};

class TernPerfServer final : public api::App, public api::AcceptHandler, public api::ConnectionHandler {
 public:
  explicit TernPerfServer(const Options& o) : o_(o) {}

  void on_start(api::WorkerContext& w) override;
  api::ConnectionHandler* on_accept(api::Connection& c) override;
  void on_data(api::Connection& c, api::Buffer data) override;
  void on_writable(api::Connection& c) override;
  void on_peer_closed(api::Connection& c) override;
  void on_closed(api::Connection& c, api::CloseReason why) override;

  // Read after the workers stopped. Connections still open then are not in it.
  const Result& result() const noexcept { return result_; }
  Instant first_accept() const noexcept { return first_; }
  Instant last_close() const noexcept { return last_; }
  // Read by the control thread: a server that could not listen stops.
  bool listen_failed() const noexcept { return listen_failed_.load(); }

 private:
  void flush(api::Connection& c, ServerSession& s);
  void end(ServerSession& s, bool ok);

  Options o_;
  api::WorkerContext* w_ = nullptr;
  std::vector<std::unique_ptr<ServerSession>> all_;
  std::vector<ServerSession*> free_;
  std::atomic<bool> listen_failed_{false};
  Instant first_ = Instant::max(), last_;
  Result result_;
};

// Sums the workers' results into one (latency histograms merged).
Result merge_client_results(const std::vector<const TernPerfClient*>& clients, const Options& o);
Result merge_server_results(const std::vector<const TernPerfServer*>& servers);

}  // namespace tern::perf
