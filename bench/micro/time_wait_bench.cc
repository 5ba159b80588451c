// TIME_WAIT table costs on the packet path: a lookup for every segment that
// misses the connection table (hit: a segment for a TIME_WAIT tuple; miss: a
// SYN for a fresh one), and insert + expire at the rate connections close.
// Virtual time; tuples vary so nothing is hoisted out of the loop.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "tcp/time_wait.h"

namespace tern {
namespace {

constexpr std::uint32_t kEntries = 100'000;
constexpr Duration kTwoMsl = Duration::s(60);

FourTuple nth(std::uint32_t i) {
  return FourTuple::v4(0x0a000001, 0x0a100000 + i / 50'000, 443,
                       static_cast<std::uint16_t>(1024 + i % 50'000));
}

void fill(TimeWaitTable& tw) {
  for (std::uint32_t i = 0; i < kEntries; ++i) {
    TimeWaitRecord r;
    r.tuple = nth(i);
    r.rcv_nxt = Seq32{i};
    tw.insert(r, Instant::from_ns(i));
  }
}

void BM_FindHit(benchmark::State& state) {
  TimeWaitTable tw{kEntries, kTwoMsl, 0x1234};
  fill(tw);
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tw.find(nth(i)));
    i = (i + 7919) % kEntries;
  }
}
BENCHMARK(BM_FindHit);

void BM_FindMiss(benchmark::State& state) {
  TimeWaitTable tw{kEntries, kTwoMsl, 0x1234};
  fill(tw);
  std::uint32_t i = 0;
  for (auto _ : state) {
    FourTuple t = nth(i);
    t.lport = 80;  // never inserted
    benchmark::DoNotOptimize(tw.find(t));
    i = (i + 7919) % kEntries;
  }
}
BENCHMARK(BM_FindMiss);

// Steady state at 100k entries: each iteration expires the oldest record and
// inserts a new one, as a server closing connections at a constant rate does.
void BM_InsertExpire(benchmark::State& state) {
  TimeWaitTable tw{kEntries, kTwoMsl, 0x1234};
  fill(tw);
  std::uint32_t i = kEntries;
  std::int64_t now = kTwoMsl.count_ns() + kEntries;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tw.expire(Instant::from_ns(now - kTwoMsl.count_ns())));
    TimeWaitRecord r;
    r.tuple = nth(i % (2 * kEntries));
    tw.insert(r, Instant::from_ns(now));
    ++i;
    ++now;
  }
  state.counters["size"] = static_cast<double>(tw.size());
}
BENCHMARK(BM_InsertExpire);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
