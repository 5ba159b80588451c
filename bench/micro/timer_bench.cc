// Timer wheel costs per operation, on virtual time (no clock reads). The wheel
// is sized like a worker's: 1 ms ticks, 4096 slots; deadlines spread like TCP
// timers (delayed ACK to a few hundred ms RTO).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "base/timer_wheel.h"

namespace tern {
namespace {

constexpr Duration kTick = Duration::ms(1);
constexpr std::size_t kSlots = 4096;
constexpr Instant kStart = at_ms(0);

struct Timer : TimerNode {};

// Pre-drawn offsets so the RNG stays out of the measured loop.
std::vector<Duration> offsets(std::size_t n, std::int64_t max_us) {
  std::mt19937_64 rng{7};
  std::uniform_int_distribution<std::int64_t> d{1, max_us};
  std::vector<Duration> v(n);
  for (auto& o : v) o = Duration::us(d(rng));
  return v;
}

// Arm then cancel one timer, with `range(0)` others already armed.
void BM_ArmCancel(benchmark::State& state) {
  TimerWheel wheel{kTick, kSlots, kStart};
  const auto n = static_cast<std::size_t>(state.range(0));
  auto background = std::make_unique<Timer[]>(n);
  const auto offs = offsets(4096, 500'000);
  for (std::size_t i = 0; i < n; ++i) wheel.arm(background[i], kStart + offs[i % offs.size()]);
  Timer t;
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.arm(t, kStart + offs[i++ & 4095]);
    wheel.cancel(t);
    benchmark::ClobberMemory();
  }
  for (std::size_t j = 0; j < n; ++j) wheel.cancel(background[j]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ArmCancel)->Arg(0)->Arg(100'000);

// Arm a batch of timers, then advance tick by tick until all have fired:
// the full life of a timer that expires. Reported per timer.
void BM_ArmExpire(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto timers = std::make_unique<Timer[]>(n);
  const auto offs = offsets(n, 200'000);
  TimerWheel wheel{kTick, kSlots, kStart};
  Instant now = kStart;
  std::size_t fired = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) wheel.arm(timers[i], now + offs[i]);
    while (wheel.size() != 0) {
      now = now + kTick;
      fired += wheel.advance(now, [](TimerNode& node) { benchmark::DoNotOptimize(&node); });
    }
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ArmExpire)->Arg(10'000);

// The mix a TCP worker sees: a batch of timers is armed (retransmission,
// delayed ACK), most are cancelled before they are due (the ACK came), and
// the rest expire as time advances tick by tick. range(0) timers per cycle,
// one in range(1) left to expire. Reported per timer armed.
void BM_ArmCancelExpire(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keep_every = static_cast<std::size_t>(state.range(1));
  auto timers = std::make_unique<Timer[]>(n);
  const auto offs = offsets(n, 200'000);
  TimerWheel wheel{kTick, kSlots, kStart};
  Instant now = kStart;
  std::size_t fired = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) wheel.arm(timers[i], now + offs[i]);
    for (std::size_t i = 0; i < n; ++i) {
      if (i % keep_every != 0) wheel.cancel(timers[i]);
    }
    while (wheel.size() != 0) {
      now = now + kTick;
      fired += wheel.advance(now, [](TimerNode& node) { benchmark::DoNotOptimize(&node); });
    }
  }
  if (fired != static_cast<std::size_t>(state.iterations()) * ((n + keep_every - 1) / keep_every)) {
    state.SkipWithError("a cancelled timer fired, or a kept one did not");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ArmCancelExpire)->Args({10'000, 4});

// The TCP case: an ACK pushes an armed retransmission timer forward. Many
// connections, each re-armed a little later every time; time advances too,
// so the lazily re-filed nodes are paid for when their old slot comes up.
void BM_Rearm(benchmark::State& state) {
  constexpr std::size_t kConns = 10'000;
  constexpr Duration kRto = Duration::ms(200);
  auto timers = std::make_unique<Timer[]>(kConns);
  TimerWheel wheel{kTick, kSlots, kStart};
  Instant now = kStart;
  for (std::size_t i = 0; i < kConns; ++i) wheel.arm(timers[i], now + kRto);
  std::size_t i = 0, fired = 0;
  for (auto _ : state) {
    wheel.arm(timers[i], now + kRto);
    if (++i == kConns) {  // every connection got an ACK: 100 us pass
      i = 0;
      now = now + Duration::us(100);
      fired += wheel.advance(now, [](TimerNode&) {});
    }
  }
  if (fired != 0) state.SkipWithError("an RTO fired although every connection was ACKed");
  for (std::size_t j = 0; j < kConns; ++j) wheel.cancel(timers[j]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rearm);

// A worker calls advance every loop iteration; most calls find nothing.
// range(0) = nanoseconds of virtual time per call (sub-tick or one tick).
void BM_AdvanceEmpty(benchmark::State& state) {
  TimerWheel wheel{kTick, kSlots, kStart};
  const Duration step = Duration::ns(state.range(0));
  Instant now = kStart;
  for (auto _ : state) {
    now = now + step;
    benchmark::DoNotOptimize(wheel.advance(now, [](TimerNode&) {}));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdvanceEmpty)->Arg(1'000)->Arg(1'000'000);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
