#pragma once
// The Ethernet and IP headers of one flow's datagrams, built once by the IP
// layer (IpLayer::build_prefix) and copied in front of each segment by the
// transport (a TCP connection keeps one in its Tcb; issue 16, "Fast path":
// the per-connection header template). Per datagram only the IPv4 total
// length, ID and header checksum change (IpLayer::send_prefixed patches
// them), or the IPv6 payload length (Ipv6Layer::send_prefixed: no header
// checksum, flow label 0 as the full path sends); everything else here is
// fixed while its inputs are: the next hop's MAC (the ARP or neighbour
// entry), our address and MAC, the TTL or hop limit and the link MTU.
//
// A prefix is valid while `generation` equals `*generation_of` (ARP's
// counter, ArpTable::generation(), or the neighbour cache's,
// NeighborCache::generation(): bumped whenever an entry's MAC or state
// changes, and for IPv6 whenever a Router Advertisement may have changed
// the hop limit, MTU or routes) and `now < valid_until` (the ARP entry's
// freshness; for IPv6 the end of the neighbour's REACHABLE time, RFC 4861
// §7.3.3, so a prefixed send never needs the STALE -> DELAY step the full
// path takes, and of the route's lifetime: past it, the full path looks
// the hop up again, and asks ARP or ND if it went stale).
#include <array>
#include <cstddef>
#include <cstdint>

#include "base/instant.h"

namespace tern {

struct FramePrefix {
  static constexpr std::size_t kMaxLen = 14 + 40;  // Ethernet + the longer IP header (IPv6)
  std::array<std::byte, kMaxLen> bytes{};
  std::uint8_t len = 0;          // 0: none; else Ethernet + IP header bytes in use
  std::uint16_t max_l3_len = 0;  // the longest datagram it may carry (the link MTU)
  bool ipv6 = false;             // an IPv6 header follows the Ethernet one
  std::uint32_t generation = 0;
  const std::uint32_t* generation_of = nullptr;  // the counter `generation` was read from
  // Unfinished one's-complement sums (wire/checksum.h): the IPv4 header
  // with zero total length, ID and checksum (IPv6: unused), and the L4
  // pseudo header without its length (RFC 9293 §3.1, RFC 8200 §8.1).
  std::uint32_t l3_sum = 0;
  std::uint32_t l4_pseudo_sum = 0;
  Instant valid_until;
};

}  // namespace tern
