#pragma once
// tern-perf --udp on Tern (perf_udp.h): the client and server as api::Apps on
// the zero-copy UDP API (tern/udp.h).
//
// Server: every worker opens the port for both families and counts the
// tests whose datagrams land on it (one flow's datagrams land on one worker:
// RSS or software steering hashes the addresses and ports).
// Client: worker 0 sends, one mbuf chain per datagram taken from the
// worker's pool (no heap allocation per datagram). Every worker opens the
// client's local port, so the server's report is taken whichever worker the
// NIC's hash hands it to (with RSS a reply is not steered back to worker 0).
#include <atomic>
#include <cstdint>
#include <optional>

#include "perf_options.h"
#include "perf_udp.h"
#include "start_file.h"
#include "tern/api.h"
#include "tern/udp.h"

namespace tern::perf {

// What the client workers share with each other and the control thread.
class TernUdpShared {
 public:
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // Worker 0, once: the run is over and `s` is its summary.
  void finish(const UdpSummary& s) noexcept {
    summary_ = s;
    finished_.store(true, std::memory_order_release);
  }
  // Only after finished().
  const UdpSummary& summary() const noexcept { return summary_; }
  // Any worker: the server answered the start.
  void set_started() noexcept { started_.store(true, std::memory_order_release); }
  bool started() const noexcept { return started_.load(std::memory_order_acquire); }
  // Any worker: the server's report arrived (the first one counts).
  void offer_report(const UdpReport& r) noexcept {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return;
    report_ = r;
    have_report_.store(true, std::memory_order_release);
  }
  std::optional<UdpReport> report() const noexcept {
    if (!have_report_.load(std::memory_order_acquire)) return std::nullopt;
    return report_;
  }

 private:
  std::atomic<bool> finished_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> claimed_{false};
  std::atomic<bool> have_report_{false};
  UdpReport report_;
  UdpSummary summary_;
};

class TernUdpClient final : public api::App, public api::UdpHandler {
 public:
  TernUdpClient(const Options& o, TernUdpShared& shared)
      : o_(o), shared_(shared), start_file_(o.start_file) {}
  void on_start(api::WorkerContext& w) override;
  void on_poll(api::WorkerContext& w) override;
  void on_datagram(api::UdpSocket& s, const api::Endpoint& from, Buffer data) override;

 private:
  bool send_one(api::WorkerContext& w, std::int64_t now_ns);
  // Sends `type` (start, end) every 100 ms; false once kEndTries went unanswered.
  bool ask(UdpType type, std::int64_t now_ns);
  void done(api::WorkerContext& w);

  const Options& o_;
  TernUdpShared& shared_;
  StartFile start_file_;  // --start-file: the first "start" waits for it
  api::UdpSocket* s_ = nullptr;
  bool sender_ = false;  // worker 0
  bool ended_ = false;   // sending time is over: sending ends, waiting for the report
  bool finished_ = false;
  std::int64_t start_ns_ = -1;
  std::int64_t next_ask_ns_ = 0;
  int tries_ = 0;
  UdpSummary sum_;
};

class TernUdpServer final : public api::App, public api::UdpHandler {
 public:
  explicit TernUdpServer(const Options& o) : o_(o), server_("tern", o.json) {}
  void on_start(api::WorkerContext& w) override;
  void on_datagram(api::UdpSocket& s, const api::Endpoint& from, Buffer data) override;
  bool open_failed() const noexcept { return open_failed_; }
  const UdpServerTotals& totals() const noexcept { return server_.totals(); }

 private:
  const Options& o_;
  api::WorkerContext* w_ = nullptr;
  bool open_failed_ = false;
  UdpServer server_;
};

// The client's local port: every client worker opens it (see above); from
// the test id, in the dynamic range (RFC 6335 §6).
inline std::uint16_t udp_client_port(std::uint32_t test) noexcept {
  return static_cast<std::uint16_t>(49152 + test % 16384);
}

}  // namespace tern::perf
