// Cost of NewReno::on_ack, once per ACK that advances SND.UNA: slow start
// (byte counting, clamped at the window cap) and congestion avoidance; and
// of Cubic::on_ack in congestion avoidance (two points on the cubic curve,
// W_est, in integers), on a clock that moves 10 us per ACK.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "tcp/cc/cubic.h"
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

void BM_CubicOnAck_CongestionAvoidance(benchmark::State& state) {
  Cubic cc{NewRenoConfig{.mss = kMss}};
  cc.on_rto(Seq32{1}, Seq32{1 + 64 * kMss});  // ssthresh 44.8 MSS, cwnd 1 MSS
  Seq32 una{1};
  Instant now;
  auto sample = [&] {
    una += kMss;
    now = now + Duration::us(10);
    return AckSample{.ack = una,
                     .acked = kMss,
                     .snd_max = una + 64 * kMss,
                     .now = now,
                     .rtt = Duration::ms(10),
                     .srtt = Duration::ms(10)};
  };
  while (cc.in_slow_start()) cc.on_ack(sample());
  for (auto _ : state) {
    benchmark::DoNotOptimize(cc.on_ack(sample()));
    benchmark::DoNotOptimize(cc.cwnd());
  }
}

BENCHMARK(BM_NewRenoOnAck_SlowStart);
BENCHMARK(BM_NewRenoOnAck_CongestionAvoidance);
BENCHMARK(BM_CubicOnAck_CongestionAvoidance);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
