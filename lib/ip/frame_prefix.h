#pragma once
// The Ethernet and IP headers of one flow's datagrams, built once by the IP
// layer (IpLayer::build_prefix) and copied in front of each segment by the
// transport (a TCP connection keeps one in its Tcb; issue 16, "Fast path":
// the per-connection header template). Per datagram only the IPv4 total
// length, ID and header checksum change (IpLayer::send_prefixed patches
// them); everything else here is fixed while its inputs are: the next hop's
// MAC (the ARP entry), our address and MAC, the TTL and the link MTU.
//
// A prefix is valid while `generation` equals the IP layer's
// (IpLayer::prefix_generation(): ARP bumps it whenever an entry's MAC or
// state changes) and `now < valid_until` (the ARP entry's freshness: past
// it, the full path looks the hop up again, and asks ARP if it went stale).
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
  std::uint32_t generation = 0;
  // Unfinished one's-complement sums (wire/checksum.h): the IPv4 header
  // with zero total length, ID and checksum, and the L4 pseudo header
  // without its length (RFC 9293 §3.1).
  std::uint32_t l3_sum = 0;
  std::uint32_t l4_pseudo_sum = 0;
  Instant valid_until;
};

}  // namespace tern
