#include "port/impaired_port.h"

#include <stdexcept>

namespace tern {

ImpairedPort::ImpairedPort(std::unique_ptr<Port> inner, const ImpairmentConfig& cfg,
                           std::vector<rte_mempool*> pools)
    : inner_(std::move(inner)), cfg_(cfg), pools_(std::move(pools)) {
  info_ = inner_->info();
  info_.holds_tx = true;
  if (info_.queues > kMaxQueues) throw std::runtime_error("impairment: at most 16 queues");
  for (std::size_t q = 0; q < dirs_.size(); ++q) dirs_[q].rng = (cfg.seed + 1) * 0x9E3779B97F4A7C15ull + q;
}

ImpairedPort::~ImpairedPort() {
  for (Direction& d : dirs_) {
    rte_pktmbuf_free(d.held_rx);
    rte_pktmbuf_free(d.held_tx);
  }
}

double ImpairedPort::uniform(Direction& d) noexcept {
  // xorshift64*: seeded, reproducible, no allocation, no lock.
  d.rng ^= d.rng >> 12;
  d.rng ^= d.rng << 25;
  d.rng ^= d.rng >> 27;
  return static_cast<double>((d.rng * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

std::uint16_t ImpairedPort::impair(Direction& d, rte_mbuf*& held, rte_mbuf** pkts, std::uint16_t n,
                                   std::uint16_t cap, rte_mempool* pool) noexcept {
  // Work on a copy of the pointers so output can grow (duplicates) in place.
  std::array<rte_mbuf*, 512> in{};
  const std::uint16_t count = std::min<std::uint16_t>(n, static_cast<std::uint16_t>(in.size()));
  for (std::uint16_t i = 0; i < count; ++i) in[i] = pkts[i];
  std::uint16_t out = 0;
  auto emit = [&](rte_mbuf* m) {
    if (out < cap)
      pkts[out++] = m;
    else
      rte_pktmbuf_free(m);  // no room: behaves as one more loss
  };
  for (std::uint16_t i = 0; i < count; ++i) {
    rte_mbuf* m = in[i];
    if (uniform(d) < cfg_.loss) {
      ++d.counts.dropped;
      rte_pktmbuf_free(m);
      continue;
    }
    if (uniform(d) < cfg_.duplicate) {
      if (rte_mbuf* c = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX)) {
        ++d.counts.duplicated;
        emit(c);
      }
    }
    if (held == nullptr && uniform(d) < cfg_.reorder) {
      ++d.counts.reordered;
      held = m;  // overtaken by the next frame
      continue;
    }
    emit(m);
    if (held != nullptr) {
      emit(held);
      held = nullptr;
    }
  }
  return out;
}

std::uint16_t ImpairedPort::rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  Direction& d = dirs_[queue];
  // Each frame may come out twice, plus one frame held from before: ask the
  // inner port for few enough that everything fits in the caller's array.
  const auto want = static_cast<std::uint16_t>(n > 2 ? (n - 1) / 2 : 1);
  std::uint16_t got = inner_->rx_burst(queue, pkts, want);
  if (got == 0 && d.held_rx != nullptr) {  // nothing to overtake it: release the held frame
    pkts[0] = d.held_rx;
    d.held_rx = nullptr;
    return 1;
  }
  return impair(d, d.held_rx, pkts, got, n, pools_[queue]);
}

std::uint16_t ImpairedPort::tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  Direction& d = dirs_[queue];
  // What the inner port refused last time goes first; until it has gone,
  // nothing new is taken (the worker keeps its frames and retries).
  if (!d.backlog.flush(*inner_, queue)) return 0;
  // Every frame handed to us counts as taken: impairment owns what it drops.
  std::array<rte_mbuf*, 512> buf{};
  const std::uint16_t count = std::min<std::uint16_t>(n, 256);
  for (std::uint16_t i = 0; i < count; ++i) buf[i] = pkts[i];
  std::uint16_t m =
      impair(d, d.held_tx, buf.data(), count, static_cast<std::uint16_t>(buf.size()), pools_[queue]);
  if (m == 0 && d.held_tx != nullptr) {
    buf[0] = d.held_tx;
    d.held_tx = nullptr;
    m = 1;
  }
  const std::uint16_t sent = inner_->tx_burst(queue, buf.data(), m);
  // The NIC's ring is full: keep the rest (at most 512: 256 frames, each at
  // most duplicated) for the next call.
  d.backlog.keep(buf.data() + sent, static_cast<std::uint16_t>(m - sent));
  return count;
}

}  // namespace tern
