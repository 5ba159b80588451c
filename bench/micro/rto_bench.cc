// Cost of the RFC 6298 estimator on the ACK path: one on_rtt_sample per
// RTT-measuring ACK (every ACK with timestamps) and one rto() per timer
// re-arm. Samples come from a precomputed jittered series so the compiler
// cannot fold the arithmetic.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>

#include "tcp/rto.h"

namespace tern {
namespace {

std::array<Duration, 1024> samples() {
  std::array<Duration, 1024> out{};
  std::mt19937_64 rng{6298};
  std::uniform_int_distribution<std::int64_t> ns{9'000'000, 11'000'000};  // 10 ms +- 1 ms
  for (auto& d : out) d = Duration::ns(ns(rng));
  return out;
}

void BM_RtoOnRttSample(benchmark::State& state) {
  const auto s = samples();
  RtoEstimator e{RtoConfig{}};
  std::size_t i = 0;
  for (auto _ : state) {
    e.on_rtt_sample(s[i++ & (s.size() - 1)]);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_RtoOnRttSample);

void BM_RtoOnRttSampleThenRto(benchmark::State& state) {
  const auto s = samples();
  RtoEstimator e{RtoConfig{}};
  std::size_t i = 0;
  for (auto _ : state) {
    e.on_rtt_sample(s[i++ & (s.size() - 1)]);
    benchmark::DoNotOptimize(e.rto());
  }
}
BENCHMARK(BM_RtoOnRttSampleThenRto);

void BM_RtoBackedOff(benchmark::State& state) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(Duration::ms(10));
  for (int i = 0; i < 6; ++i) e.on_timeout();
  for (auto _ : state) benchmark::DoNotOptimize(e.rto());
}
BENCHMARK(BM_RtoBackedOff);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
