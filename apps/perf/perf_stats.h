#pragma once
// tern-perf figures: a latency histogram (log-linear buckets, 64 per power
// of two, so a percentile is within 1.6% of the true value, HdrHistogram
// style), iperf3-style interval lines, and the final summary (human
// readable, and as one JSON object on the last line with --json).
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

// What a run measured, for the summary and the JSON line.
struct Result {
  std::string mode;               // bulk | rr | crr | server
  std::string stack;              // tern | kernel
  std::string role;               // client | server
  std::uint64_t connections = 0;  // client: --connections; server: accepted
  double duration_s = 0;
  std::uint64_t bytes = 0;       // bulk: payload the server counted (client), or received (server)
  std::uint64_t sent_bytes = 0;  // bulk client: bytes the stack accepted from send()
  std::uint64_t transactions = 0;
  std::uint64_t connects = 0;  // crr: completed connect-request-response-close cycles
  std::uint64_t errors = 0;
  LatencyHistogram latency;
};

void print_summary(std::FILE* out, const Result& r, bool json);

// "[  0.00-  1.00 s]  1.17 GBytes  10.05 Gbits/sec  ..." lines, as iperf3 prints them.
class IntervalReporter {
 public:
  IntervalReporter(std::FILE* out, bool bulk) : out_(out), bulk_(bulk) {}
  // At elapsed time t (s since the start), with the cumulative bytes and
  // transactions so far: prints a line for the interval since the last one,
  // ending with `extra` (a sender's figures, as iperf3 prints Retr and Cwnd).
  void report(double t, std::uint64_t bytes, std::uint64_t transactions, std::string_view extra = {});

 private:
  std::FILE* out_;
  bool bulk_;
  double last_t_ = 0;
  std::uint64_t last_bytes_ = 0;
  std::uint64_t last_tx_ = 0;
};

}  // namespace tern::perf
