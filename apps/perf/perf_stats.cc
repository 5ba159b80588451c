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

void print_summary(std::FILE* out, const Result& r, bool json) {
  const double d = r.duration_s > 0 ? r.duration_s : 0;
  const double gbps = d > 0 ? static_cast<double>(r.bytes) * 8 / d / 1e9 : 0;
  const double tps = d > 0 ? static_cast<double>(r.transactions) / d : 0;
  const double cps = d > 0 ? static_cast<double>(r.connects) / d : 0;
  const double p50 = static_cast<double>(r.latency.quantile(0.50)) / 1e3;
  const double p99 = static_cast<double>(r.latency.quantile(0.99)) / 1e3;
  const double p999 = static_cast<double>(r.latency.quantile(0.999)) / 1e3;
  std::fprintf(out, "- - - - - - - - - - - - - - - - - - - - - - - - -\n");
  if (r.role == "server")
    std::fprintf(
        out, "tern-perf server (%s stack): %llu connections accepted, %.2f s from the first to the last\n",
        r.stack.c_str(), static_cast<unsigned long long>(r.connections), d);
  else
    std::fprintf(out, "tern-perf %s client (%s stack): %llu connections, %.2f s\n", r.mode.c_str(),
                 r.stack.c_str(), static_cast<unsigned long long>(r.connections), d);
  if (r.mode == "bulk" || r.role == "server") {
    std::fprintf(out, "  %llu bytes (%.3f GBytes) %s, %.3f Gbits/sec\n",
                 static_cast<unsigned long long>(r.bytes), static_cast<double>(r.bytes) / (1 << 30),
                 r.role == "server" ? "received" : "at the receiver", gbps);
    if (r.role == "client")
      std::fprintf(out, "  %llu bytes sent\n", static_cast<unsigned long long>(r.sent_bytes));
  }
  if (r.mode == "rr" || r.mode == "crr" || (r.role == "server" && r.transactions > 0))
    std::fprintf(out, "  %llu transactions, %.1f transactions/sec\n",
                 static_cast<unsigned long long>(r.transactions), tps);
  if (r.latency.count() > 0)
    std::fprintf(out, "  latency (us): p50 %.1f  p99 %.1f  p99.9 %.1f  (%llu samples)\n", p50, p99, p999,
                 static_cast<unsigned long long>(r.latency.count()));
  if (r.mode == "crr") std::fprintf(out, "  %.1f connections/sec\n", cps);
  std::fprintf(out, "  errors %llu\n", static_cast<unsigned long long>(r.errors));
  if (json)
    std::fprintf(out,
                 "{\"mode\": \"%s\", \"stack\": \"%s\", \"role\": \"%s\", \"connections\": %llu, "
                 "\"duration_s\": %.3f, \"gbps\": %.4f, \"bytes\": %llu, \"sent_bytes\": %llu, "
                 "\"transactions\": %llu, \"transactions_per_s\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
                 "\"p999_us\": %.2f, \"connections_per_s\": %.1f, \"errors\": %llu}\n",
                 r.mode.c_str(), r.stack.c_str(), r.role.c_str(),
                 static_cast<unsigned long long>(r.connections), d, gbps,
                 static_cast<unsigned long long>(r.bytes), static_cast<unsigned long long>(r.sent_bytes),
                 static_cast<unsigned long long>(r.transactions), tps, p50, p99, p999, cps,
                 static_cast<unsigned long long>(r.errors));
  std::fflush(out);
}

void IntervalReporter::report(double t, std::uint64_t bytes, std::uint64_t transactions,
                              std::string_view extra) {
  const double dt = t - last_t_;
  if (dt < 0.01) return;  // the end fell on an interval boundary
  const std::uint64_t db = bytes - last_bytes_;
  const std::uint64_t dtx = transactions - last_tx_;
  if (bulk_)
    std::fprintf(out_, "[%6.2f-%6.2f s]  %8.3f MBytes  %7.3f Gbits/sec%.*s\n", last_t_, t,
                 static_cast<double>(db) / (1 << 20), static_cast<double>(db) * 8 / dt / 1e9,
                 static_cast<int>(extra.size()), extra.data());
  else
    std::fprintf(out_, "[%6.2f-%6.2f s]  %10llu transactions  %10.1f /sec%.*s\n", last_t_, t,
                 static_cast<unsigned long long>(dtx), static_cast<double>(dtx) / dt,
                 static_cast<int>(extra.size()), extra.data());
  std::fflush(out_);
  last_t_ = t;
  last_bytes_ = bytes;
  last_tx_ = transactions;
}

}  // namespace tern::perf
