#include "perf_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tern::perf {
namespace {

constexpr int kSubBits = 6;  // 64 buckets per power of two
constexpr std::uint64_t kSub = 1u << kSubBits;
constexpr std::size_t kLinear = 2 * kSub;  // values below 128 get a bucket each
constexpr std::size_t kBuckets = kLinear + (64 - kSubBits - 1) * kSub;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

std::size_t LatencyHistogram::bucket_of(std::uint64_t ns) noexcept {
  if (ns < kLinear) return static_cast<std::size_t>(ns);
  const int e = 63 - std::countl_zero(ns);         // >= kSubBits + 1
  const std::uint64_t top = ns >> (e - kSubBits);  // in [kSub, 2 kSub)
  return kLinear + static_cast<std::size_t>(e - kSubBits - 1) * kSub + static_cast<std::size_t>(top - kSub);
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t b) noexcept {
  if (b < kLinear) return b;
  const std::size_t i = b - kLinear;
  const int e = static_cast<int>(i / kSub) + kSubBits + 1;
  const std::uint64_t top = kSub + i % kSub;
  return top << (e - kSubBits);
}

std::uint64_t LatencyHistogram::bucket_high(std::size_t b) noexcept {
  if (b < kLinear) return b;
  const std::size_t i = b - kLinear;
  const int e = static_cast<int>(i / kSub) + kSubBits + 1;
  return bucket_low(b) + ((std::uint64_t{1} << (e - kSubBits)) - 1);
}

void LatencyHistogram::record(std::uint64_t ns) noexcept {
  ++buckets_[bucket_of(ns)];
  ++count_;
}

void LatencyHistogram::merge(const LatencyHistogram& o) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
}

std::uint64_t LatencyHistogram::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * count_)));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen >= rank) return bucket_low(b) + (bucket_high(b) - bucket_low(b)) / 2;
  }
  return bucket_high(kBuckets - 1);
}

const char* ca_state_name(std::uint8_t s) noexcept {
  static constexpr const char* kNames[] = {"open", "disorder", "cwr", "recovery", "loss"};
  return s < 5 ? kNames[s] : "?";
}

std::string_view failure_name(Failure f) noexcept {
  switch (f) {
    case Failure::kConnect:
      return "connect";
    case Failure::kRefused:
      return "refused";
    case Failure::kReset:
      return "reset";
    case Failure::kTimedOut:
      return "timed_out";
    case Failure::kUnreachable:
      return "unreachable";
    case Failure::kAborted:
      return "aborted";
    case Failure::kConnectTimeout:
      return "connect_timeout";
    case Failure::kArpUnanswered:
      return "arp_unanswered";
    case Failure::kNoRoute:
      return "no_route";
    case Failure::kNotConnected:
      return "not_connected";
    case Failure::kDrainTimeout:
      return "drain_timeout";
    case Failure::kProtocol:
      return "protocol";
    case Failure::kCountMismatch:
      return "count_mismatch";
    case Failure::kClosedEarly:
      return "closed_early";
  }
  return "?";
}

std::string_view failure_text(Failure f) noexcept {
  switch (f) {
    case Failure::kConnect:
      return "connect() failed on this side (no ephemeral port, no memory, no socket)";
    case Failure::kRefused:
      return "connection refused: nothing listens on that port (is the server running, on that port?)";
    case Failure::kReset:
      return "reset by the server";
    case Failure::kTimedOut:
      return "timed out: the stack gave up retransmitting";
    case Failure::kUnreachable:
      return "host unreachable (ICMP, or on Linux an unanswered ARP)";
    case Failure::kAborted:
      return "aborted by the stack";
    case Failure::kConnectTimeout:
      return "no answer to the SYN within 5 s (a firewall, or the server's host is down)";
    case Failure::kArpUnanswered:
      return "no answer to ARP for the next hop: no host with that address on the link, or it is down";
    case Failure::kNoRoute:
      return "no route: the address is off the link and no gateway is configured";
    case Failure::kNotConnected:
      return "still connecting when the time was up";
    case Failure::kDrainTimeout:
      return "did not finish within 5 s after the time was up";
    case Failure::kProtocol:
      return "the server sent bytes the protocol does not allow (not a tern-perf server?)";
    case Failure::kCountMismatch:
      return "the server counted other than the bytes sent";
    case Failure::kClosedEarly:
      return "the server closed the connection before the test was over";
  }
  return "?";
}

void Result::add(const Result& o) noexcept {
  bytes += o.bytes;
  tx_bytes += o.tx_bytes;
  rx_bytes += o.rx_bytes;
  sent_bytes += o.sent_bytes;
  transactions += o.transactions;
  connects += o.connects;
  errors += o.errors;
  for (std::size_t i = 0; i < kFailureKinds; ++i) failures[i] += o.failures[i];
  latency.merge(o.latency);
}

namespace {
// A test id as the server's per-test summary prints it (the JSON has it in decimal).
std::string hex_id(std::uint32_t id) {
  char b[12];
  std::snprintf(b, sizeof b, "%08x", id);
  return b;
}
}  // namespace

void print_summary(std::FILE* out, const Result& r, bool json, std::string_view json_type) {
  const double d = r.duration_s > 0 ? r.duration_s : 0;
  const double gbps = d > 0 ? static_cast<double>(r.bytes) * 8 / d / 1e9 : 0;
  const double tps = d > 0 ? static_cast<double>(r.transactions) / d : 0;
  const double cps = d > 0 ? static_cast<double>(r.connects) / d : 0;
  const double p50 = static_cast<double>(r.latency.quantile(0.50)) / 1e3;
  const double p99 = static_cast<double>(r.latency.quantile(0.99)) / 1e3;
  const double p999 = static_cast<double>(r.latency.quantile(0.999)) / 1e3;
  const bool server = r.role == "server";
  std::fprintf(out, "- - - - - - - - - - - - - - - - - - - - - - - - -\n");
  if (server && json_type == "test")
    std::fprintf(
        out,
        "tern-perf server (%s stack): test %08x, %s: %llu connections, %.2f s from the first to the last\n",
        r.stack.c_str(), r.test, r.mode.c_str(), static_cast<unsigned long long>(r.connections), d);
  else if (server)
    std::fprintf(out,
                 "tern-perf server (%s stack), all tests: %llu connections accepted, %.2f s from the first "
                 "to the last\n",
                 r.stack.c_str(), static_cast<unsigned long long>(r.connections), d);
  else
    std::fprintf(out, "tern-perf %s client (%s stack): %llu connections, %.2f s%s\n", r.mode.c_str(),
                 r.stack.c_str(), static_cast<unsigned long long>(r.connections), d,
                 r.test != 0 ? (", test " + hex_id(r.test)).c_str() : "");
  const auto rate = [d](std::uint64_t b) { return d > 0 ? static_cast<double>(b) * 8 / d / 1e9 : 0; };
  if (r.mode == "bulk" || server) {
    if (server) {
      if (r.tx_bytes > 0 || r.rx_bytes == 0)
        std::fprintf(out, "  %llu bytes (%.3f GBytes) received, %.3f Gbits/sec\n",
                     static_cast<unsigned long long>(r.tx_bytes), static_cast<double>(r.tx_bytes) / (1 << 30),
                     rate(r.tx_bytes));
      if (r.rx_bytes > 0)
        std::fprintf(out, "  %llu bytes (%.3f GBytes) sent (--reverse clients), %.3f Gbits/sec\n",
                     static_cast<unsigned long long>(r.rx_bytes), static_cast<double>(r.rx_bytes) / (1 << 30),
                     rate(r.rx_bytes));
    } else {
      if (r.direction != "receive")
        std::fprintf(out, "  %llu bytes (%.3f GBytes) at the receiver, %.3f Gbits/sec (%llu bytes sent)\n",
                     static_cast<unsigned long long>(r.tx_bytes), static_cast<double>(r.tx_bytes) / (1 << 30),
                     rate(r.tx_bytes), static_cast<unsigned long long>(r.sent_bytes));
      if (r.direction != "send")
        std::fprintf(out, "  %llu bytes (%.3f GBytes) received from the server, %.3f Gbits/sec\n",
                     static_cast<unsigned long long>(r.rx_bytes), static_cast<double>(r.rx_bytes) / (1 << 30),
                     rate(r.rx_bytes));
    }
  }
  if (r.mode == "rr" || r.mode == "crr" || (server && r.transactions > 0))
    std::fprintf(out, "  %llu transactions, %.1f transactions/sec\n",
                 static_cast<unsigned long long>(r.transactions), tps);
  if (r.latency.count() > 0)
    std::fprintf(out, "  latency (us): p50 %.1f  p99 %.1f  p99.9 %.1f  (%llu samples)\n", p50, p99, p999,
                 static_cast<unsigned long long>(r.latency.count()));
  if (r.mode == "crr") std::fprintf(out, "  %.1f connections/sec\n", cps);
  std::fprintf(out, "  errors %llu\n", static_cast<unsigned long long>(r.errors));
  std::string reasons;  // JSON: {"refused": 2, ...}
  for (std::size_t i = 0; i < kFailureKinds; ++i) {
    if (r.failures[i] == 0) continue;
    const auto f = static_cast<Failure>(i);
    std::fprintf(out, "    %llu x %.*s\n", static_cast<unsigned long long>(r.failures[i]),
                 static_cast<int>(failure_text(f).size()), failure_text(f).data());
    reasons += (reasons.empty() ? "\"" : ", \"") + std::string(failure_name(f)) +
               "\": " + std::to_string(r.failures[i]);
  }
  if (json)
    std::fprintf(
        out,
        "{\"mode\": \"%s\", \"stack\": \"%s\", \"role\": \"%s\", \"connections\": %llu, "
        "\"duration_s\": %.3f, \"gbps\": %.4f, \"bytes\": %llu, \"sent_bytes\": %llu, "
        "\"transactions\": %llu, \"transactions_per_s\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
        "\"p999_us\": %.2f, \"connections_per_s\": %.1f, \"errors\": %llu, \"type\": \"%.*s\", "
        "\"direction\": \"%s\", \"tx_bytes\": %llu, \"rx_bytes\": %llu, \"test\": %u, "
        "\"error_reasons\": {%s}}\n",
        r.mode.c_str(), r.stack.c_str(), r.role.c_str(), static_cast<unsigned long long>(r.connections), d,
        gbps, static_cast<unsigned long long>(r.bytes), static_cast<unsigned long long>(r.sent_bytes),
        static_cast<unsigned long long>(r.transactions), tps, p50, p99, p999, cps,
        static_cast<unsigned long long>(r.errors), static_cast<int>(json_type.size()), json_type.data(),
        server ? "-" : r.direction.c_str(), static_cast<unsigned long long>(r.tx_bytes),
        static_cast<unsigned long long>(r.rx_bytes), r.test, reasons.c_str());
  std::fflush(out);
}

void IntervalReporter::report(double t, std::uint64_t bytes, std::uint64_t transactions,
                              const SenderFigures& s) {
  const double dt = t - last_t_;
  if (dt < 0.01) return;  // the end fell on an interval boundary
  const std::uint64_t db = bytes - last_bytes_;
  const std::uint64_t dtx = transactions - last_tx_;
  IntervalPoint p;
  p.start = last_t_;
  p.end = t;
  p.gbps = static_cast<double>(db) * 8 / dt / 1e9;
  p.transactions_per_s = static_cast<double>(dtx) / dt;
  if (s.valid) {
    p.retr = static_cast<std::int64_t>(s.retrans >= last_retrans_ ? s.retrans - last_retrans_ : 0);
    p.cwnd_kb = static_cast<std::int64_t>(s.cwnd / 1024);
    p.rtt_us = s.rtt_us;
    p.state = ca_state_name(s.ca_state);
    last_retrans_ = s.retrans;
  }
  const std::string prefix = label_.empty() ? std::string() : "[" + label_ + "] ";
  char retr[24] = "-", cwnd[32] = "-", rtt[32] = "-";
  if (p.retr >= 0) {
    std::snprintf(retr, sizeof retr, "%lld", static_cast<long long>(p.retr));
    std::snprintf(cwnd, sizeof cwnd, "%lld KB", static_cast<long long>(p.cwnd_kb));
    std::snprintf(rtt, sizeof rtt, "%lld us", static_cast<long long>(p.rtt_us));
  }
  if (!header_) {
    header_ = true;
    if (bulk_)
      std::fprintf(out_, "%s[ Interval     ]  %15s  %17s  %5s  %9s  %9s  %s\n", prefix.c_str(), "Transfer",
                   "Bitrate", "Retr", "Cwnd", "RTT", "State");
    else
      std::fprintf(out_, "%s[ Interval     ]  %23s  %15s  %5s  %9s  %9s  %s\n", prefix.c_str(),
                   "Transactions", "Rate", "Retr", "Cwnd", "RTT", "State");
  }
  const char* state = p.state != nullptr ? p.state : "-";
  if (bulk_)
    std::fprintf(out_, "%s[%6.2f-%6.2f s]  %8.3f MBytes  %7.3f Gbits/sec  %5s  %9s  %9s  %s\n",
                 prefix.c_str(), last_t_, t, static_cast<double>(db) / (1 << 20), p.gbps, retr, cwnd, rtt,
                 state);
  else
    std::fprintf(out_, "%s[%6.2f-%6.2f s]  %10llu transactions  %10.1f /sec  %5s  %9s  %9s  %s\n",
                 prefix.c_str(), last_t_, t, static_cast<unsigned long long>(dtx), p.transactions_per_s, retr,
                 cwnd, rtt, state);
  if (json_) {
    const auto num = [](std::int64_t v) { return v < 0 ? std::string("null") : std::to_string(v); };
    std::fprintf(
        out_,
        "{\"type\": \"interval\", \"direction\": \"%s\", \"start\": %.3f, \"end\": %.3f, \"bytes\": %llu, "
        "\"gbps\": %.4f, \"transactions\": %llu, \"transactions_per_s\": %.1f, \"retr\": %s, "
        "\"cwnd_kb\": %s, \"rtt_us\": %s, \"ca_state\": %s}\n",
        direction_.c_str(), last_t_, t, static_cast<unsigned long long>(db), p.gbps,
        static_cast<unsigned long long>(dtx), p.transactions_per_s, num(p.retr).c_str(),
        num(p.cwnd_kb).c_str(), num(p.rtt_us).c_str(),
        p.state != nullptr ? ("\"" + std::string(p.state) + "\"").c_str() : "null");
  }
  std::fflush(out_);
  points_.push_back(p);
  last_t_ = t;
  last_bytes_ = bytes;
  last_tx_ = transactions;
}

}  // namespace tern::perf
