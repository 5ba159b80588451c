// Cost of NewReno::on_ack, once per ACK that advances SND.UNA: slow start
// (byte counting, clamped at the window cap) and congestion avoidance.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "tcp/cc/newreno.h"

namespace tern {
namespace {

constexpr std::uint32_t kMss = 1460;

void run(benchmark::State& state, NewReno cc) {
  Seq32 una{1};
  for (auto _ : state) {
    una += kMss;
    benchmark::DoNotOptimize(
        cc.on_ack(AckSample{.ack = una, .acked = kMss, .snd_max = una + 64 * kMss, .now = {}}));
    benchmark::DoNotOptimize(cc.cwnd());
  }
}

void BM_NewRenoOnAck_SlowStart(benchmark::State& state) { run(state, NewReno{NewRenoConfig{.mss = kMss}}); }

void BM_NewRenoOnAck_CongestionAvoidance(benchmark::State& state) {
  NewReno cc{NewRenoConfig{.mss = kMss}};
  cc.on_rto(Seq32{1}, Seq32{1 + 64 * kMss});  // ssthresh 32 MSS, cwnd 1 MSS
  for (Seq32 una{1}; cc.in_slow_start();) {
    una += kMss;
    cc.on_ack(AckSample{.ack = una, .acked = kMss, .snd_max = una + 64 * kMss, .now = {}});
  }
  run(state, cc);
}

BENCHMARK(BM_NewRenoOnAck_SlowStart);
BENCHMARK(BM_NewRenoOnAck_CongestionAvoidance);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
