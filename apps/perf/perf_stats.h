#pragma once
// tern-perf figures: a latency histogram (log-linear buckets, 64 per power
// of two, so a percentile is within 1.6% of the true value, HdrHistogram
// style), iperf3-style interval lines with the sender's Retr, Cwnd and RTT
// (and, with --json, one JSON object per interval), why connections failed,
// and the summary (human readable, and as one JSON object on the last line
// with --json).
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tern::perf {

class LatencyHistogram {
 public:
  LatencyHistogram();
  void record(std::uint64_t ns) noexcept;
  void merge(const LatencyHistogram& o) noexcept;
  std::uint64_t count() const noexcept { return count_; }
  // The value at quantile q in [0, 1] (a bucket's midpoint), in ns; 0 when empty.
  std::uint64_t quantile(double q) const noexcept;

  static std::size_t bucket_of(std::uint64_t ns) noexcept;
  static std::uint64_t bucket_low(std::size_t b) noexcept;
  static std::uint64_t bucket_high(std::size_t b) noexcept;  // inclusive

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
};

// Why a client connection failed: each kind is counted, named in the
// summary (and "error_reasons" in the JSON), and its first occurrence on a
// worker is reported as it happens, with the address.
enum class Failure : std::uint8_t {
  kConnect,         // connect() itself failed here (no ephemeral port, no memory, a socket error)
  kRefused,         // the server's host answered the SYN with a reset: nothing listens on the port
  kReset,           // the server reset an established connection
  kTimedOut,        // the stack gave up retransmitting
  kUnreachable,     // ICMP (or, on Linux, ARP) said the host cannot be reached
  kAborted,         // the stack aborted it
  kConnectTimeout,  // no handshake within kConnectTimeoutS (the SYN was never answered)
  kArpUnanswered,   // ... and the next hop never answered ARP: no such host on the link, or it is down
  kNoRoute,         // ... and the address is off the link with no gateway configured
  kNotConnected,    // the time was up before the connection was established
  kDrainTimeout,    // did not finish within kDrainTimeoutS after the time was up
  kProtocol,        // bytes the protocol does not allow at that point
  kCountMismatch,   // bulk: the server counted other than the bytes the stack took
  kClosedEarly,     // the server closed before the test was over
};
inline constexpr std::size_t kFailureKinds = 14;
std::string_view failure_name(Failure f) noexcept;  // "refused", "arp_unanswered", ...: the JSON keys
std::string_view failure_text(Failure f) noexcept;  // a sentence for people

// What a run measured, for the summary and the JSON line.
struct Result {
  std::string mode;                // bulk | rr | crr | server
  std::string stack;               // tern | kernel
  std::string role;                // client | server
  std::string direction = "send";  // bulk client: send | receive (--reverse) | bidir
  std::uint32_t test = 0;          // the test id (a server's per-test summary; a client's own)
  std::uint64_t connections = 0;   // client: --connections; server: accepted
  double duration_s = 0;
  std::uint64_t bytes = 0;       // bulk: payload at the receivers, both directions (client: the server's
                                 // count plus what it received; server: received plus sent)
  std::uint64_t tx_bytes = 0;    // bulk: client to server, at the server (the server's count)
  std::uint64_t rx_bytes = 0;    // bulk: server to client, at the client
  std::uint64_t sent_bytes = 0;  // bulk client: bytes the stack accepted from send()
  std::uint64_t transactions = 0;
  std::uint64_t connects = 0;  // crr: completed connect-request-response-close cycles
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kFailureKinds> failures{};  // client: errors by kind
  LatencyHistogram latency;

  void fail(Failure f) noexcept {
    ++errors;
    ++failures[static_cast<std::size_t>(f)];
  }
  // Sums o's counts into this one (not the strings or the duration).
  void add(const Result& o) noexcept;
};

// `json_type`: the JSON object's "type" ("summary": the run's last line; "test": a server's per-test one).
void print_summary(std::FILE* out, const Result& r, bool json, std::string_view json_type = "summary");

// The sender's side of the interval, from Connection::info() or TCP_INFO,
// summed over the open connections that send.
struct SenderFigures {
  bool valid = false;         // false: nothing sends from this side (a --reverse client, rr)
  std::uint64_t retrans = 0;  // segments retransmitted, cumulative
  std::uint64_t cwnd = 0;     // bytes, summed over the connections
  std::uint32_t rtt_us = 0;   // smoothed RTT, averaged over the connections
  std::uint8_t ca_state = 0;  // the worst loss-recovery state among them (0 open .. 4 loss, Linux's order)
};
// "open", "disorder", "cwr", "recovery", "loss" (tcp_ca_state's names); "?" beyond.
const char* ca_state_name(std::uint8_t s) noexcept;

// One interval as printed, kept for --plot.
struct IntervalPoint {
  double start = 0, end = 0;
  double gbps = 0;
  double transactions_per_s = 0;
  std::int64_t retr = -1;  // -1: not known from this side
  std::int64_t cwnd_kb = -1;
  std::int64_t rtt_us = -1;
  const char* state = nullptr;  // the worst recovery state at the end; null: not known
};

// "[  0.00-  1.00 s]  1130.500 MBytes   9.480 Gbits/sec     0   1024 KB    120 us  open" lines,
// the columns iperf3 prints (Retr: retransmitted segments in the interval;
// Cwnd and RTT at its end) and the worst recovery state, a header before
// the first; with json, a JSON object per interval after its line:
// {"type": "interval", "direction": ..., "start", "end", "bytes", "gbps",
// "transactions", "transactions_per_s", "retr", "cwnd_kb", "rtt_us",
// "ca_state"} (null where not known).
class IntervalReporter {
 public:
  // label: "" or, with --bidir, "TX" / "RX" (a prefix of each line).
  IntervalReporter(std::FILE* out, bool bulk, bool json = false, std::string_view direction = "send",
                   std::string_view label = {})
      : out_(out), bulk_(bulk), json_(json), direction_(direction), label_(label) {}
  // At elapsed time t (s since the start), with the cumulative bytes and
  // transactions so far: prints a line for the interval since the last one.
  void report(double t, std::uint64_t bytes, std::uint64_t transactions, const SenderFigures& s = {});
  const std::vector<IntervalPoint>& points() const noexcept { return points_; }

 private:
  std::FILE* out_;
  bool bulk_;
  bool json_;
  std::string direction_;
  std::string label_;
  bool header_ = false;
  double last_t_ = 0;
  std::uint64_t last_bytes_ = 0;
  std::uint64_t last_tx_ = 0;
  std::uint64_t last_retrans_ = 0;
  std::vector<IntervalPoint> points_;
};

}  // namespace tern::perf
