// Connection table costs on the packet path: a lookup for every received
// segment, hit (an existing connection) at 1k / 100k / 1M connections, and
// miss (a SYN for a new tuple, or a stray segment); plus the TCB pool's
// acquire + release. Tuples vary with a stride so that lookups touch memory
// the way interleaved flows do.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "tcp/conn_table.h"

namespace tern {
namespace {

FourTuple nth(std::uint32_t i) {
  return FourTuple::v4(0x0a000001, 0x0a100000 + i / 50'000, 443,
                       static_cast<std::uint16_t>(1024 + i % 50'000));
}

struct Tcb {
  std::uint64_t words[32] = {};  // a TCB-sized object, so the pool spans real memory
};

struct Filled {
  explicit Filled(std::uint32_t n) : pool(n), table(n, 0x1234) {
    for (std::uint32_t i = 0; i < n; ++i) table.insert(nth(i), pool.acquire());
  }
  ObjectPool<Tcb> pool;
  ConnTable<Tcb> table;
};

void BM_FindHit(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Filled f{n};
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.find(nth(i)));
    i += 7919;
    if (i >= n) i -= n;
  }
}
BENCHMARK(BM_FindHit)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

void BM_FindMiss(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  Filled f{n};
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.find(nth(n + i)));  // never inserted
    i = (i + 7919) % 1'000'000;
  }
}
BENCHMARK(BM_FindMiss)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// A connection's life on the table at a steady 100k: acquire, insert, erase, release.
void BM_OpenClose(benchmark::State& state) {
  constexpr std::uint32_t kN = 100'000;
  Filled f{kN};
  std::uint32_t next = kN;
  std::uint32_t oldest = 0;
  for (auto _ : state) {
    Tcb* old = f.table.find(nth(oldest));
    f.table.erase(nth(oldest++));
    f.pool.release(old);
    f.table.insert(nth(next++), f.pool.acquire());
  }
}
BENCHMARK(BM_OpenClose);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
