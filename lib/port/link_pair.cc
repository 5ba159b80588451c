#include "port/link_pair.h"

#include <rte_ring.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace tern {
namespace {

rte_ring* make_ring(std::uint32_t size) {
  // Ring names are global to the EAL; a process-wide sequence keeps them unique.
  static std::atomic<unsigned> seq{0};
  std::string name = "tern_link_" + std::to_string(seq.fetch_add(1));
  rte_ring* r = rte_ring_create(name.c_str(), size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (r == nullptr) throw std::runtime_error("link pair: cannot create ring " + name);
  return r;
}

}  // namespace

LinkPort::~LinkPort() {
  for (rte_ring* r : rx_) {
    if (r == nullptr) continue;
    rte_mbuf* m = nullptr;
    while (rte_ring_sc_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_ring_free(r);
  }
}

std::uint16_t LinkPort::rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  return static_cast<std::uint16_t>(
      rte_ring_sc_dequeue_burst(rx_[queue], reinterpret_cast<void**>(pkts), n, nullptr));
}

void LinkPort::offer_checksum_offload() noexcept {
  offload_ = true;
  info_.rx_ip_checksum_offload = info_.rx_l4_checksum_offload = true;
  info_.tx_ip_checksum_offload = info_.tx_l4_checksum_offload = true;
}

std::uint16_t LinkPort::tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  if (offload_) {
    // The "NIC" of a link in one process: what the sender left to it is
    // good by construction; the receiver learns so from the RX flags.
    for (std::uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      const std::uint64_t f = m->ol_flags;
      if ((f & RTE_MBUF_F_TX_OFFLOAD_MASK) == 0) continue;
      std::uint64_t rx = 0;
      if (f & RTE_MBUF_F_TX_IP_CKSUM) rx |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
      if ((f & RTE_MBUF_F_TX_L4_MASK) != 0) rx |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
      m->ol_flags = (f & ~RTE_MBUF_F_TX_OFFLOAD_MASK) | rx;
    }
  }
  return static_cast<std::uint16_t>(
      rte_ring_sp_enqueue_burst(tx_[queue], reinterpret_cast<void* const*>(pkts), n, nullptr));
}

unsigned LinkPort::pending_rx() const noexcept {
  unsigned total = 0;
  for (rte_ring* r : rx_)
    if (r != nullptr) total += rte_ring_count(r);
  return total;
}

std::pair<std::unique_ptr<LinkPort>, std::unique_ptr<LinkPort>> make_link_pair(std::uint16_t queues,
                                                                               std::uint32_t ring_size,
                                                                               std::uint16_t mtu) {
  if (queues == 0 || queues > 16) throw std::runtime_error("link pair: queues must be 1..16");
  std::unique_ptr<LinkPort> a{new LinkPort}, b{new LinkPort};
  for (std::uint16_t q = 0; q < queues; ++q) {
    a->rx_[q] = make_ring(ring_size);
    b->rx_[q] = make_ring(ring_size);
    a->tx_[q] = b->rx_[q];
    b->tx_[q] = a->rx_[q];
  }
  int i = 1;
  for (LinkPort* p : {a.get(), b.get()}) {
    p->info_.name = "link" + std::to_string(i);
    p->info_.mac = MacAddr{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(i)}};
    p->info_.mtu = mtu;
    p->info_.queues = queues;
    // Software steering: like tap and af_packet, the link does not hash flows.
    p->info_.steering = Steering::kSoftware;
    ++i;
  }
  return {std::move(a), std::move(b)};
}

}  // namespace tern
