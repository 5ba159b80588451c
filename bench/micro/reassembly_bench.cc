// The out-of-order queue's cost per segment (ReassemblyQueue::insert +
// pop_in_order), mbuf allocation and free included since the queue frees what
// it delivers:
//  - InOrder: each segment arrives at rcv_nxt and is popped at once (the
//    worst case for an engine that routes in-order data through the queue);
//  - OneHole: 16 segments queued behind a hole, then the hole-filler, and all
//    17 popped. items = segments, so ns/segment = 1e9 / items_per_second.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <string>

#include "tcp/reassembly.h"

namespace tern {
namespace {

constexpr std::uint16_t kSegLen = 1448;

rte_mempool* make_pool() {
  static int n = 0;
  const std::string name = "reasmb" + std::to_string(n++);
  return rte_pktmbuf_pool_create(name.c_str(), 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
}

Mbuf segment(rte_mempool* pool) {
  Mbuf m = Mbuf::alloc(pool);
  if (m) (void)m.append(kSegLen);  // contents do not matter to the queue
  return m;
}

void BM_InOrder(benchmark::State& state) {
  rte_mempool* pool = make_pool();
  if (pool == nullptr) return state.SkipWithError("no pool");
  ReassemblyQueue q(1u << 20, 256);
  Seq32 rcv_nxt{0xFFFF0000u};  // wraps during the run
  std::uint64_t delivered = 0;
  for (auto _ : state) {
    q.insert(rcv_nxt, segment(pool), rcv_nxt);
    delivered += q.pop_in_order(rcv_nxt, [](Mbuf m) { benchmark::DoNotOptimize(m.get()); });
  }
  benchmark::DoNotOptimize(delivered);
  state.SetItemsProcessed(state.iterations());
  q.clear();
  rte_mempool_free(pool);
}
BENCHMARK(BM_InOrder);

void BM_OneHole(benchmark::State& state) {
  const auto queued = static_cast<std::uint32_t>(state.range(0));
  rte_mempool* pool = make_pool();
  if (pool == nullptr) return state.SkipWithError("no pool");
  ReassemblyQueue q(1u << 20, 256);
  Seq32 rcv_nxt{0xFFFF0000u};
  for (auto _ : state) {
    // Arrival order 1, 2, ..., 16, then 0: each insert appends behind the hole.
    for (std::uint32_t i = 1; i <= queued; ++i) q.insert(rcv_nxt + i * kSegLen, segment(pool), rcv_nxt);
    q.insert(rcv_nxt, segment(pool), rcv_nxt);
    q.pop_in_order(rcv_nxt, [](Mbuf m) { benchmark::DoNotOptimize(m.get()); });
  }
  state.SetItemsProcessed(state.iterations() * (queued + 1));
  q.clear();
  rte_mempool_free(pool);
}
BENCHMARK(BM_OneHole)->Arg(16);

// Reversed arrival (16, 15, ..., 1, then 0): every insert goes to the front
// of the array, the memmove-heavy case.
void BM_OneHoleReversed(benchmark::State& state) {
  const auto queued = static_cast<std::uint32_t>(state.range(0));
  rte_mempool* pool = make_pool();
  if (pool == nullptr) return state.SkipWithError("no pool");
  ReassemblyQueue q(1u << 20, 256);
  Seq32 rcv_nxt{0xFFFF0000u};
  for (auto _ : state) {
    for (std::uint32_t i = queued; i >= 1; --i) q.insert(rcv_nxt + i * kSegLen, segment(pool), rcv_nxt);
    q.insert(rcv_nxt, segment(pool), rcv_nxt);
    q.pop_in_order(rcv_nxt, [](Mbuf m) { benchmark::DoNotOptimize(m.get()); });
  }
  state.SetItemsProcessed(state.iterations() * (queued + 1));
  q.clear();
  rte_mempool_free(pool);
}
BENCHMARK(BM_OneHoleReversed)->Arg(16);

}  // namespace
}  // namespace tern
