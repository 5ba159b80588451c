#pragma once
// tern-perf --udp: datagram throughput with loss and jitter, as iperf3 -u
// measures them, in the same tool as the TCP modes (and the same on Tern and
// on Linux sockets, so either stack drives or serves the other).
//
// Every datagram starts with a 32-byte header, big endian:
//   offset 0  u32 magic   0x54505531 ("TPU1")
//          4  u8  type    1 = data, 2 = end, 3 = report, 4 = start
//          5  u8  zero[3]
//          8  u32 test    the client's test id (random per run, never 0)
//         12  u32 zero
//         16  u64 seq     data: 0, 1, 2 ... in sending order;
//                         end: how many data datagrams the client sent;
//                         report: the type it answers (start or end)
//         24  u64 time    data: the sender's clock in ns when it was built
//                         (only differences matter: RFC 3550 §6.4.1);
//                         end: the client's sending time in ns
// The client first sends "start" every 100 ms (up to kEndTries times)
// until the server answers it with a report: the server is there, and
// ARP/neighbour discovery resolved both ways before the clock starts (what
// a stack parks unresolved is bounded: a burst would be dropped before it).
// A data datagram is `--length` bytes, zeros after the header. Once its
// time is up the client sends "end" every 100 ms (up to kEndTries times)
// until the server answers with one "report" (header, seq and time 0, then
// kReportFields u64s: UdpReport) for that test, sent back to the end's source.
// A server answers every end it receives (the report is idempotent: a lost
// report is made good by the next end).
//
// UdpReceiver is the accounting, with no I/O: both servers feed it what
// they receive, with the arrival time on their clock.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>

namespace tern::perf {

inline constexpr std::uint32_t kUdpMagic = 0x54505531;
inline constexpr std::size_t kUdpHeaderSize = 32;
inline constexpr std::size_t kReportFields = 8;
inline constexpr std::size_t kUdpReportSize = kUdpHeaderSize + kReportFields * 8;
// A datagram must hold the header; the largest is what IPv4 carries.
inline constexpr std::uint32_t kUdpMinLength = kUdpReportSize;
inline constexpr std::uint32_t kUdpMaxLength = 65507;
inline constexpr int kEndTries = 30;  // 100 ms apart: 3 s for a report
inline constexpr std::int64_t kEndRetryNs = 100'000'000;

// iperf3's UDP default is 1460 bytes; over IPv6 that would not fit a
// 1500-byte MTU (40 + 8 + 1460), so the default is what fits there: 1452.
inline constexpr std::uint32_t default_udp_length(bool v6) noexcept { return v6 ? 1452 : 1460; }

enum class UdpType : std::uint8_t { kData = 1, kEnd = 2, kReport = 3, kStart = 4 };

struct UdpHeader {
  UdpType type = UdpType::kData;
  std::uint32_t test = 0;
  std::uint64_t seq = 0;
  std::uint64_t time_ns = 0;
};

void encode_udp_header(const UdpHeader& h, std::span<std::byte, kUdpHeaderSize> out) noexcept;
// Empty for a wrong magic or type, nonzero reserved bytes, or fewer than kUdpHeaderSize bytes.
std::optional<UdpHeader> decode_udp_header(std::span<const std::byte> in) noexcept;

// What the server saw of one test, as the report carries it.
struct UdpReport {
  std::uint64_t received = 0;      // data datagrams, duplicates included
  std::uint64_t bytes = 0;         // their UDP payload bytes
  std::uint64_t lost = 0;          // sent (or the highest seq + 1) minus the distinct ones received
  std::uint64_t out_of_order = 0;  // arrived after a later one (and not a duplicate)
  std::uint64_t duplicates = 0;    // a seq seen before (within the last kUdpSeqWindow)
  std::uint64_t jitter_ns = 0;     // RFC 3550 §6.4.1 interarrival jitter
  std::uint64_t sent = 0;          // the client's count (its end datagram), 0 before it
  std::uint64_t duration_ns = 0;   // the server's first to last data datagram
};

// A report answering `answers` (kStart or kEnd).
void encode_udp_report(std::uint32_t test, UdpType answers, const UdpReport& r,
                       std::span<std::byte, kUdpReportSize> out) noexcept;
// Empty unless `in` is a report datagram (kUdpReportSize bytes or more)
// for `test` answering `answers`.
std::optional<UdpReport> decode_udp_report(std::span<const std::byte> in, std::uint32_t test,
                                           UdpType answers) noexcept;

// Duplicates are told from late arrivals over this many sequence numbers
// behind the highest (a fixed bitmap: no allocation per datagram).
inline constexpr std::uint64_t kUdpSeqWindow = 4096;

// One test's accounting on the receiving side.
class UdpReceiver {
 public:
  // A data datagram of `bytes` payload bytes with `seq` and the sender's
  // `send_ns`, arriving at `arrival_ns` (the receiver's clock).
  void on_data(std::uint64_t seq, std::uint64_t bytes, std::int64_t send_ns,
               std::int64_t arrival_ns) noexcept;
  // The client's end datagram: it sent `sent` data datagrams.
  void on_end(std::uint64_t sent) noexcept { sent_ = sent; }
  UdpReport report() const noexcept;
  bool has_data() const noexcept { return received_ > 0; }

 private:
  bool seen(std::uint64_t seq) const noexcept {
    return (window_[(seq / 64) % kWords] >> (seq % 64) & 1) != 0;
  }
  void mark(std::uint64_t seq) noexcept { window_[(seq / 64) % kWords] |= std::uint64_t{1} << (seq % 64); }

  static constexpr std::size_t kWords = kUdpSeqWindow / 64;
  std::array<std::uint64_t, kWords> window_{};  // bits of seqs in (next_ - kUdpSeqWindow, next_)
  std::uint64_t next_ = 0;                      // the highest seq seen + 1
  std::uint64_t received_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t sent_ = 0;
  double jitter_ns_ = 0;
  std::int64_t last_transit_ = 0;
  std::int64_t first_arrival_ = 0;
  std::int64_t last_arrival_ = 0;
};

// The client's schedule: how many datagrams of `length` bytes may have
// gone out `elapsed_ns` after the start at `bitrate` bits/s (UDP payload
// bits, as iperf3 counts -b); bitrate 0: no limit.
std::uint64_t udp_allowed(std::uint64_t bitrate, std::uint32_t length, std::int64_t elapsed_ns) noexcept;

// --bitrate: "100M", "1G", "500000" (K, M, G: powers of 1000, as iperf3 reads -b), 0 for no limit.
std::uint64_t parse_bitrate(const std::string& flag, const std::string& value);

// Per-server totals, for the summary at exit.
struct UdpServerTotals {
  std::uint64_t datagrams = 0;  // tern-perf data datagrams
  std::uint64_t bytes = 0;
  std::uint64_t tests = 0;    // ended (their summary printed)
  std::uint64_t ignored = 0;  // not tern-perf's, or a report
};

// A server's side, with no I/O: the tests it counts (a handful at once,
// the least recently used replaced) and what it owes. Both servers feed it
// every datagram with its arrival time; `stack` names them in summaries.
class UdpServer {
 public:
  UdpServer(const char* stack, bool json) noexcept : stack_(stack), json_(json) {}
  // `in`: the datagram (at least its first kUdpHeaderSize bytes), `bytes`
  // its length. True when a report is owed to the sender: written to
  // `report` (a start or an end; an end also prints the test's summary the
  // first time).
  bool on_datagram(std::span<const std::byte> in, std::uint64_t bytes, std::int64_t arrival_ns,
                   std::span<std::byte, kUdpReportSize> report) noexcept;
  const UdpServerTotals& totals() const noexcept { return totals_; }

 private:
  struct Test {
    std::uint32_t test = 0;
    bool ended = false;
    std::uint64_t last_use = 0;
    UdpReceiver rx;
  };
  Test& find(std::uint32_t test) noexcept;

  const char* stack_;
  bool json_;
  std::array<Test, 8> tests_{};
  std::uint64_t clock_ = 0;
  UdpServerTotals totals_;
};

// The summary both sides print: the server per test (report), the client
// with its own sent figures and the server's report (nullopt: none came).
struct UdpSummary {
  const char* role = "client";
  const char* stack = "tern";
  std::uint32_t test = 0;
  std::uint32_t length = 0;
  std::uint64_t bitrate = 0;      // client: the target, 0: unlimited
  std::uint64_t sent = 0;         // client: datagrams sent
  std::uint64_t send_errors = 0;  // client: sends the stack refused (retried)
  double duration_s = 0;          // client: sending time
  std::optional<UdpReport> report;
};
void print_udp_summary(std::FILE* out, const UdpSummary& s, bool json);

}  // namespace tern::perf
