#pragma once
// A TSO frame cut into wire frames in software, as a NIC with TCP
// segmentation offload would cut it: for a link that offers no TSO but
// stands for one that does (the simulator's link), or a port without it.
// DPDK's rte_gso does the cutting (each wire frame a copy of the headers in
// a direct mbuf plus an indirect mbuf over its part of the payload; IP IDs
// counting up, sequence numbers advanced, PSH and FIN on the last frame
// only); rte_gso leaves the checksums to the NIC, so each frame's IPv4
// header checksum and TCP checksum are computed here. DPDK 22.11's rte_gso
// cuts no TCP/IPv6, so an IPv6 frame (RTE_MBUF_F_TX_IPV6) is cut here by
// copying: each wire frame the headers, its payload length and sequence
// number, and its part of the payload in one direct mbuf (the simulator's
// link, where a copy costs nothing that is measured).
#include <rte_ethdev.h>  // RTE_ETH_TX_OFFLOAD_TCP_TSO, which rte_gso_ctx::gso_types takes
#include <rte_gso.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace tern {

class SoftwareTso {
 public:
  // Headers are copied into mbufs of `direct`, payloads attached as
  // indirect mbufs of `indirect` (which may be the same pktmbuf pool).
  SoftwareTso(rte_mempool* direct, rte_mempool* indirect) noexcept;

  // Cuts `m`, a TCP/IPv4 or TCP/IPv6 frame with RTE_MBUF_F_TX_TCP_SEG, l2/l3/l4_len and
  // tso_segsz set as TCP sets them (tcp_output.cc), into out[0..returned),
  // checksums complete and offload requests cleared. `m` is consumed in
  // every case: on failure (no mbufs, more wire frames than n) it is freed
  // and 0 returned, a frame lost as a NIC out of descriptors would lose it.
  std::uint16_t segment(rte_mbuf* m, rte_mbuf** out, std::uint16_t n) noexcept;

 private:
  std::uint16_t segment_ipv6(rte_mbuf* m, rte_mbuf** out, std::uint16_t n) noexcept;
  rte_gso_ctx ctx_{};
};

}  // namespace tern
