#pragma once
// Receive-side coalescing of in-order TCP/IPv6 segments within one RX burst:
// the IPv6 half of RxCoalescer (rx_coalesce.h), written here because DPDK
// 22.11's rte_gro merges TCP over IPv4 only (rte_gro.h has no TCP/IPv6
// type; docs/architecture.md "Fast path (issue 16)").
//
// The contract is the IPv4 one. Nothing is held between bursts. Only
// candidates (candidate()) are offered: one-segment frames whose Next Header
// is TCP itself (no extension header, whose contents a merge would have to
// compare or drop), not ECN-CE, a TCP segment with data and only ACK set,
// and the TCP checksum known good (the port's RX flags, or verified here: a
// bad segment merged into a good one would pass unseen). Two segments merge
// when they are equivalent but for their data and window: the same version /
// traffic class / flow label word and hop limit, the same addresses and
// ports, the second's sequence number where the first's data ends, the same
// ACK number and byte-identical TCP options (so the same TSval and TSecr),
// and the merged TCP header + data within IPv6's 16-bit Payload Length (no
// jumbograms, RFC 2675). The merged frame keeps the first segment's headers
// with Payload Length made the sum and the window the last segment's, is
// marked RTE_MBUF_F_RX_LRO (nb_segs = the wire segments) with its checksums
// good, and its later mbufs hold their segment's data only.
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "base/counters.h"

namespace tern {

class RxCoalescer6 {
 public:
  static constexpr std::uint16_t kMaxRun = 512;

  // Whether `m` may be merged; on yes, sets its l2/l3/l4 lengths and packet
  // type and marks a checksum verified here as good.
  static bool candidate(rte_mbuf* m) noexcept;

  // Merges the candidates run[0..n) (wire order, at most kMaxRun) and
  // writes what results to out[0..returned): per flow, in the wire's order.
  // Counts the wire segments folded into others (GroMerged).
  std::uint16_t merge(rte_mbuf* const* run, std::uint16_t n, rte_mbuf** out, Counters& counters) noexcept;

 private:
  // The frame being grown for one flow: its first mbuf is out[slot].
  struct Open {
    std::uint16_t slot;
    rte_mbuf* last;          // the chain's last mbuf, where the next segment goes
    std::uint32_t next_seq;  // the sequence number a following segment must have
  };
  // The frames still open, one per flow seen in this run.
  std::array<Open, kMaxRun> open_{};
};

}  // namespace tern
