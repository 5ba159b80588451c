#pragma once
// Receive-side coalescing of in-order TCP segments within one RX burst, over
// IPv4 with DPDK's rte_gro and over IPv6 with RxCoalescer6 (rx_coalesce6.h;
// rte_gro has no TCP/IPv6) (docs/fast_path.md "Receive-side coalescing with
// rte_gro"; the IPv6 one, a departure, in docs/architecture.md "Fast path"): the
// segments of a flow that follow each other in sequence become one chained
// frame, so IPv4 and TCP run once for them, as Linux's GRO hands its stack
// one skb. Nothing is held between bursts: each run of candidates is merged
// and flushed at once (no timers, no added latency).
//
// Only frames whose every header GRO ignores would be equivalent are offered
// (candidate()): a single-segment IPv4 frame with no IP options and no
// fragmentation, not ECN-CE, a TCP segment with data and only ACK set, and
// both checksums known good (the port's RX flags, or verified here in
// software: a bad segment merged into a good one would pass unseen). rte_gro
// itself merges only segments with the same addresses, ports and ACK number,
// byte-identical TCP options (so the same TSval and TSecr) and the same DF
// bit (consecutive IP IDs without it). The merged frame keeps the first
// segment's headers; the window is made the last segment's, the IPv4 header
// checksum is made valid again, and the frame is marked RTE_MBUF_F_RX_LRO
// (nb_segs = the wire segments merged) with both checksums good.
//
// Frames that are not candidates (of either family) break the run:
// everything before them is merged and handed on first, and so does an IPv4
// candidate that does not continue its connection's latest one in the run
// (rte_gro would merge it into an earlier frame, ahead of what came
// between), so the order within a flow is the wire's. Within a run, IPv4's frames are handed on before
// IPv6's; no flow has segments in both.
#include <rte_gro.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "base/counters.h"
#include "runtime/rx_coalesce6.h"

namespace tern {

class RxCoalescer {
 public:
  static constexpr std::uint16_t kMaxRun = 512;

  // `burst`: the most frames one call gets (at most kMaxRun). Allocates
  // rte_gro's table on `socket`; throws if it cannot.
  RxCoalescer(std::uint16_t burst, int socket);
  ~RxCoalescer();
  RxCoalescer(const RxCoalescer&) = delete;
  RxCoalescer& operator=(const RxCoalescer&) = delete;

  // Merges in place: frames[0..n) becomes frames[0..returned), in the same
  // order within each flow. Counts the wire segments folded into others
  // (GroMerged).
  std::uint16_t coalesce(rte_mbuf** frames, std::uint16_t n, Counters& counters) noexcept;

  // Whether `m`, a TCP/IPv4 frame, may be merged; on yes, sets its l2/l3/l4 lengths and packet
  // type for rte_gro and marks a checksum verified here as good. Exposed for
  // the tests.
  static bool candidate(rte_mbuf* m) noexcept;

 private:
  // Merges run_[0..run_n_) and run6_[0..run6_n_) into frames[out..) and
  // returns the new end.
  std::uint16_t flush_run(rte_mbuf** frames, std::uint16_t out, Counters& counters) noexcept;
  // The IPv4 part: run_[0..run_n_) through rte_gro.
  std::uint16_t flush_run4(rte_mbuf** frames, std::uint16_t out, Counters& counters) noexcept;
  std::uint16_t window_of(const rte_mbuf* last) const noexcept;
  // The IPv4 total length of the datagram m would end up in with the run's
  // candidates of its connection, or 0 if rte_gro could put m out of the
  // wire's order (rx_coalesce.cc): then the run goes first.
  std::uint32_t chain_len_with(const rte_mbuf* m) const noexcept;

  void* ctx_ = nullptr;
  std::uint16_t run_n_ = 0;
  std::array<rte_mbuf*, kMaxRun> run_{};
  std::array<std::uint16_t, kMaxRun> run_window_{};     // each candidate's TCP window field, wire order
  std::array<std::uint32_t, kMaxRun> run_chain_len_{};  // IPv4 total length of its chain up to it
  std::array<std::uint32_t, kMaxRun> run_next_seq_{};   // the sequence number that follows it
  std::uint16_t run6_n_ = 0;
  std::array<rte_mbuf*, kMaxRun> run6_{};  // the run's TCP/IPv6 candidates, wire order
  RxCoalescer6 gro6_;
};

}  // namespace tern
