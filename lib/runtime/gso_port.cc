#include "runtime/gso_port.h"

#include <stdexcept>

namespace tern {

GsoPort::GsoPort(std::unique_ptr<Port> inner, const std::vector<rte_mempool*>& pools)
    : inner_(std::move(inner)) {
  info_ = inner_->info();
  if (info_.queues > kMaxQueues || pools.size() < info_.queues)
    throw std::runtime_error("gso: at most 16 queues, one pool each");
  // TCP sends super-segments (runtime.cc: tso_max), this port cuts them.
  info_.tx_tso = true;
  info_.holds_tx = true;  // a refused remainder waits here for the next call
  for (std::uint16_t q = 0; q < info_.queues; ++q)
    queues_[q].tso = std::make_unique<SoftwareTso>(pools[q], pools[q]);
}

std::uint16_t GsoPort::tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  Queue& q = queues_[queue];
  if (!q.backlog.flush(*inner_, queue)) return 0;
  // Frames are taken while a whole super-segment's wire frames still fit:
  // everything taken is this port's to send or to keep.
  std::array<rte_mbuf*, 2 * kMaxWireFrames> out{};
  std::uint16_t m = 0, taken = 0;
  for (; taken < n; ++taken) {
    rte_mbuf* f = pkts[taken];
    if ((f->ol_flags & RTE_MBUF_F_TX_TCP_SEG) == 0) {
      if (m == out.size()) break;
      out[m++] = f;
      continue;
    }
    if (out.size() - m < kMaxWireFrames) break;
    const std::uint16_t k = q.tso->segment(f, out.data() + m, kMaxWireFrames);
    if (k == 0) {
      if (q.counters != nullptr) q.counters->drop(Drop::kGsoNoMbufs);  // segment() freed it
      continue;
    }
    if (q.counters != nullptr) {
      q.counters->inc(Counter::kGsoSegments);
      q.counters->inc(Counter::kGsoFrames, k);
    }
    m = static_cast<std::uint16_t>(m + k);
  }
  const std::uint16_t sent = inner_->tx_burst(queue, out.data(), m);
  q.backlog.keep(out.data() + sent, static_cast<std::uint16_t>(m - sent));
  return taken;
}

}  // namespace tern
