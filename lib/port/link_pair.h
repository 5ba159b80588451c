#pragma once
// Two ports joined back to back in one process: what one transmits on queue q
// the other receives on queue q. Tests, benchmarks and the simulator run whole
// stacks over it without a NIC. Frames move by pointer through rte_rings.
#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <utility>

#include "port/port.h"

struct rte_ring;

namespace tern {

class LinkPort final : public Port {
 public:
  ~LinkPort() override;
  std::uint16_t rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;
  std::uint16_t tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept override;
  // Frames sitting in this port's receive rings (not yet polled).
  unsigned pending_rx() const noexcept;
  // Offers checksum offload both ways, as a veth does within one host: a
  // frame sent with RTE_MBUF_F_TX_{IP,TCP}_CKSUM arrives with the checksum
  // marked good (RTE_MBUF_F_RX_*_CKSUM_GOOD) and the field left as the
  // sender wrote it; other frames arrive unmarked and are verified. Off by
  // default (tests and the simulator check every checksum). Call on both
  // ends before the workers are built.
  void offer_checksum_offload() noexcept;
  // Offers TCP segmentation offload (and checksum offload, which TSO
  // implies), as a veth does: a frame sent with RTE_MBUF_F_TX_TCP_SEG is
  // not cut into wire segments but handed to the receiver as the one chain
  // a receiving NIC's LRO (or rte_gro) would build from them, marked
  // RTE_MBUF_F_RX_LRO: the headers and the first segment's payload in the
  // first mbuf, then one mbuf per further segment (nb_segs = the wire
  // segments), both checksums good. A chain TCP built that way (its copying
  // mode) passes as it is; any other layout is copied into it from the
  // frame's pool. Call on both ends before the workers are built.
  void offer_tso() noexcept;

 private:
  friend std::pair<std::unique_ptr<LinkPort>, std::unique_ptr<LinkPort>> make_link_pair(std::uint16_t,
                                                                                        std::uint32_t,
                                                                                        std::uint16_t);
  LinkPort() = default;
  rte_ring* rx_[16] = {};
  rte_ring* tx_[16] = {};  // the peer's rx_ rings, not owned
  bool offload_ = false;
  bool tso_ = false;
};

// What LinkPort hands the receiver for a TSO frame (see offer_tso): `m`
// rebuilt in place as an LRO chain. When its layout is not already the
// receiver's and no mbufs can be had for the copy, the frame is left
// without the LRO mark (the receiver cannot take it whole and drops it,
// counted). Exposed for the tests.
void link_tso_to_lro(rte_mbuf*& m) noexcept;

// What LinkPort's "NIC" makes of a frame sent with checksum offload
// requests (offer_checksum_offload): each request becomes the matching
// "checksum good" flag for the receiver, the fields stay as the sender left
// them. Frames without a request pass unchanged. Also for benchmarks that
// hand frames from one stack to another without a port (bench/micro).
inline void link_checksum_offload_to_rx(rte_mbuf* m) noexcept {
  const std::uint64_t f = m->ol_flags;
  if ((f & RTE_MBUF_F_TX_OFFLOAD_MASK) == 0) return;
  std::uint64_t rx = 0;
  if (f & RTE_MBUF_F_TX_IP_CKSUM) rx |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
  if ((f & RTE_MBUF_F_TX_L4_MASK) != 0) rx |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  m->ol_flags = (f & ~RTE_MBUF_F_TX_OFFLOAD_MASK) | rx;
}

// queues: 1..16; ring_size: power of two. MACs are 02:00:00:00:00:01 and :02.
// Throws std::runtime_error when the rings cannot be created (start-up only).
std::pair<std::unique_ptr<LinkPort>, std::unique_ptr<LinkPort>> make_link_pair(std::uint16_t queues = 1,
                                                                               std::uint32_t ring_size = 1024,
                                                                               std::uint16_t mtu = 1500);

}  // namespace tern
