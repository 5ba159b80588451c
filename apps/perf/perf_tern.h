#pragma once
// tern-perf on Tern: the client and server as api::Apps, one per worker, on
// the public API only (tern/api.h). A benchmark harness can run them through
// its own AppSpec: make_app returns a TernPerfServer or a TernPerfClient per
// worker, done() is TernClientShared::finished(), and the report merges
// every worker's result (merge_client_results / merge_server_results).
// The servers share a TestTable, for their per-test summaries.
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
#include "perf_test_table.h"
#include "start_file.h"
#include "tern/api.h"

namespace tern::perf {

// What the client workers publish to each other and to the control thread.
class TernClientShared {
 public:
  explicit TernClientShared(std::size_t workers) : workers_(workers), progress_(new Progress[workers]) {}
  std::size_t workers() const noexcept { return workers_; }
  // Every worker is done and the server was told the test ended: the run is over.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  void set_finished() noexcept { finished_.store(true, std::memory_order_release); }
  // A worker's connections are all done; `hellos`: how many of them sent their hello.
  void worker_done(std::uint64_t hellos) noexcept {
    hellos_.fetch_add(hellos, std::memory_order_relaxed);
    done_workers_.fetch_add(1, std::memory_order_acq_rel);
  }
  std::size_t done_workers() const noexcept { return done_workers_.load(std::memory_order_acquire); }
  std::uint64_t hellos() const noexcept { return hellos_.load(std::memory_order_relaxed); }
  // tx: bytes the stack took to send; rx: bytes received (--reverse, --bidir).
  void publish(std::size_t worker, std::uint64_t tx, std::uint64_t rx, std::uint64_t transactions) noexcept {
    progress_[worker].tx.store(tx, std::memory_order_relaxed);
    progress_[worker].rx.store(rx, std::memory_order_relaxed);
    progress_[worker].transactions.store(transactions, std::memory_order_relaxed);
  }
  // The worker's sending connections' figures (Connection::info()), refreshed every 100 ms.
  void publish_sender(std::size_t worker, const SenderFigures& s, std::uint64_t rtt_samples) noexcept {
    Progress& p = progress_[worker];
    p.retrans.store(s.retrans, std::memory_order_relaxed);
    p.cwnd.store(s.cwnd, std::memory_order_relaxed);
    p.rtt_sum.store(static_cast<std::uint64_t>(s.rtt_us) * rtt_samples, std::memory_order_relaxed);
    p.rtt_n.store(rtt_samples, std::memory_order_relaxed);
    p.ca_state.store(s.ca_state, std::memory_order_relaxed);
  }
  std::uint64_t total_tx() const noexcept;
  std::uint64_t total_rx() const noexcept;
  std::uint64_t total_transactions() const noexcept;
  SenderFigures total_sender() const noexcept;

 private:
  struct alignas(64) Progress {
    std::atomic<std::uint64_t> tx{0}, rx{0}, transactions{0};
    std::atomic<std::uint64_t> retrans{0}, cwnd{0}, rtt_sum{0}, rtt_n{0};
    std::atomic<std::uint8_t> ca_state{0};
  };
  std::size_t workers_;
  std::atomic<std::size_t> done_workers_{0};
  std::atomic<std::uint64_t> hellos_{0};
  std::atomic<bool> finished_{false};
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
  // Worker 0's interval lines (for --plot; the sending and the receiving
  // direction); empty on other workers.
  std::vector<IntervalPoint> interval_points() const;
  std::vector<IntervalPoint> rx_interval_points() const;

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kRunning, kDraining, kAwaitFin, kDone };
  struct Conn {
    api::Connection* c = nullptr;
    Phase phase = Phase::kIdle;
    bool reverse = false;  // bulk: the server sends on this one
    bool end = false;      // the test's end message (perf_protocol.h, mode 4)
    std::byte hello[kHelloSize] = {};
    std::size_t hello_sent = 0;
    std::uint64_t req_left = 0;   // request bytes still to send
    std::uint64_t resp_left = 0;  // response bytes still to come
    Instant t_connect;            // crr samples start here
    Instant t_request;            // rr samples start here
    Instant retry_at;             // crr: an idle slot connects again from here
    std::byte count[kCountSize] = {};
    std::size_t count_have = 0;
    std::uint64_t sent = 0;      // bulk: payload the stack took, to check the server's count against
    std::uint64_t quota = 0;     // -n: this connection's share (sent, or received with reverse); 0: --time
    std::uint64_t received = 0;  // bulk reverse: payload received
    std::uint32_t retrans = 0;   // the last total_retrans seen (Connection::info())
  };

  void start(Instant now);
  void open(Conn& k);
  void pump(api::Connection& c, Conn& k);
  api::SendResult send_zerocopy(api::Connection& c, const Conn& k, std::size_t want);
  void transaction_done(api::Connection& c, Conn& k);
  void begin_end(Instant now);
  // The connection is over for this slot (the handle already closed or gone).
  void finish(Conn& k, bool ok);
  void fail(Conn& k, Failure f, const std::string& detail = {});
  // Why a connection attempt that never completed failed: ARP, route, or the SYN unanswered.
  Failure connect_failure() const noexcept;
  void all_done(Instant now);
  void end_message_done();
  void refresh_sender() noexcept;
  void report_interval(double t);
  static Conn& conn(api::Connection& c) noexcept { return *static_cast<Conn*>(c.user); }

  Options o_;
  TernClientShared& shared_;
  StartFile start_file_;  // --start-file
  api::WorkerContext* w_ = nullptr;
  // --zerocopy: the zeros every bulk send reads, registered once per worker
  // (a static array: nothing to free or keep unchanged by hand).
  std::unique_ptr<api::SendRegion> region_;
  std::vector<Conn> conns_;
  std::size_t open_ = 0;           // slots not kDone
  std::vector<std::size_t> idle_;  // crr: slots waiting to connect again
  std::size_t forward_ = 0;        // conns_[0, forward_) send, the rest receive (bulk)
  std::uint64_t slot_base_ = 0;    // this worker's first slot number of all workers' (-n shares)
  std::uint64_t hellos_ = 0;       // connections that sent their hello
  bool started_ = false;
  bool ending_ = false;
  bool local_done_ = false;  // this worker's connections are all done
  bool finished_ = false;    // and (worker 0) the end message went
  Conn end_;                 // worker 0: the end message's connection
  Instant end_deadline_;
  std::uint64_t failures_seen_ = 0;  // bit per Failure: the first of each kind is reported as it happens
  Instant start_, end_at_, next_scan_, next_sender_;
  Instant next_interval_;
  std::unique_ptr<IntervalReporter> intervals_;     // worker 0 only: the sending direction (or rr/crr)
  std::unique_ptr<IntervalReporter> rx_intervals_;  // worker 0 only, --reverse / --bidir: the receiving one
  Result result_;
};

class TernPerfServer final : public api::App, public api::AcceptHandler, public api::ConnectionHandler {
 public:
  TernPerfServer(const Options& o, TestTable& tests) : o_(o), tests_(tests) {}

  void on_start(api::WorkerContext& w) override;
  void on_poll(api::WorkerContext& w) override;
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
  struct Session {
    ServerSession s;
    Instant accepted;
  };
  void flush(api::Connection& c, Session& s);
  void end(Session& s, bool ok);

  Options o_;
  TestTable& tests_;
  api::WorkerContext* w_ = nullptr;
  std::vector<std::unique_ptr<Session>> all_;
  std::vector<Session*> free_;
  std::vector<TestTable::Pending> pending_;  // end messages this worker received
  std::atomic<bool> listen_failed_{false};
  Instant first_ = Instant::max(), last_;
  Result result_;
};

// Sums the workers' results into one (latency histograms merged).
Result merge_client_results(const std::vector<const TernPerfClient*>& clients, const Options& o);
Result merge_server_results(const std::vector<const TernPerfServer*>& servers);

}  // namespace tern::perf
