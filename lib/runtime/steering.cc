#include "runtime/steering.h"

#include <algorithm>

#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

namespace tern {

std::uint32_t symmetric_flow_hash(std::uint32_t a, std::uint32_t b, std::uint16_t pa, std::uint16_t pb,
                                  std::uint8_t proto) noexcept {
  // Order each pair so (a,pa)->(b,pb) and (b,pb)->(a,pa) hash alike.
  const std::uint64_t lo = std::min(a, b), hi = std::max(a, b);
  const std::uint64_t plo = std::min(pa, pb), phi = std::max(pa, pb);
  std::uint64_t h = (lo << 32 | hi) * 0x9E3779B97F4A7C15ull;
  h ^= ((plo << 16 | phi) << 8 | proto) * 0xC2B2AE3D27D4EB4Full;
  h ^= h >> 29;
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

std::uint32_t fold_address(const std::uint8_t* a) noexcept {
  auto word = [a](std::size_t i) {
    return std::uint32_t{a[i]} << 24 | std::uint32_t{a[i + 1]} << 16 | std::uint32_t{a[i + 2]} << 8 |
           a[i + 3];
  };
  if (word(0) == 0 && word(4) == 0 && word(8) == 0xFFFF) return word(12);  // IPv4-mapped
  // Each word through its own odd multiplier: addresses that differ in any
  // word (a /64's interface identifiers, sequential prefixes) spread.
  const std::uint64_t h = word(0) * 0xFF51AFD7ED558CCDull ^ word(4) * 0xC4CEB9FE1A85EC53ull ^
                          word(8) * 0x9E3779B97F4A7C15ull ^ word(12) * 0xD6E8FEB86659FD93ull;
  return static_cast<std::uint32_t>(h ^ h >> 32);
}

namespace {

std::uint16_t owner_of(std::uint32_t hash, std::uint16_t workers) noexcept {
  return static_cast<std::uint16_t>(hash % workers);
}

// An IPv6 packet (no Ethernet header). Steered like IPv4: by the transport
// tuple, fragments by addresses only, errors by the quoted tuple; neighbour
// discovery to every worker, as ARP.
std::uint16_t steer_ipv6(std::span<const std::byte> packet, std::uint16_t workers,
                         std::uint16_t self) noexcept {
  // The fixed header alone is checked against the span when the upper
  // layer follows it: a frame GRO merged (runtime/rx_coalesce6.h) is a chain
  // whose Payload Length runs past the first segment this span holds, and
  // Ipv6Header::parse refuses that (as steer_frame reads IPv4's header).
  if (packet.size() < kIpv6HeaderLen || (load_u8(packet.data()) >> 4) != 6) return self;
  const std::uint32_t src = fold_address(reinterpret_cast<const std::uint8_t*>(packet.data() + 8));
  const std::uint32_t dst = fold_address(reinterpret_cast<const std::uint8_t*>(packet.data() + 24));
  std::uint8_t proto = load_u8(packet.data() + 6);
  std::span<const std::byte> upper = packet.subspan(
      kIpv6HeaderLen, std::min<std::size_t>(load_be16(packet.data() + 4), packet.size() - kIpv6HeaderLen));
  if (proto != kIpProtoTcp && proto != kIpProtoUdp && proto != kIpProtoIcmpv6) {
    const auto ip = Ipv6Header::parse(packet);
    if (!ip) return self;
    // Extension headers first (RFC 8200 §4): the walk finds the upper layer,
    // or a fragment, or a packet the owner of the addresses will refuse.
    const Ipv6ExtWalk walk = walk_ipv6_extensions(*ip);
    if (walk.verdict != Ipv6ExtVerdict::kUpperLayer)
      return owner_of(symmetric_flow_hash(src, dst, 0, 0, 0), workers);
    proto = walk.upper_protocol;
    upper = ip->packet().subspan(std::min<std::size_t>(walk.upper_offset, ip->packet().size()));
  }
  if ((proto == kIpProtoTcp || proto == kIpProtoUdp) && upper.size() >= 4)
    return owner_of(
        symmetric_flow_hash(src, dst, load_be16(upper.data()), load_be16(upper.data() + 2), proto), workers);
  if (proto == kIpProtoIcmpv6 && !upper.empty()) {
    const std::uint8_t type = load_u8(upper.data());
    if (type >= kIcmpv6RouterSolicit && type <= kIcmpv6NeighborAdvert) return kAllWorkers;
    // An error quoting one of our TCP or UDP packets (RFC 4443 §2.4(c)):
    // quoted fixed header, then (without extension headers) the ports.
    if (type >= kIcmpv6DestUnreachable && type <= kIcmpv6ParamProblem &&
        upper.size() >= kIcmpv6HeaderLen + kIpv6HeaderLen + 4) {
      const std::byte* q = upper.data() + kIcmpv6HeaderLen;
      const std::uint8_t qproto = load_u8(q + 6);
      if (qproto == kIpProtoTcp || qproto == kIpProtoUdp) {
        const std::byte* ports = q + kIpv6HeaderLen;
        const std::uint32_t qsrc = fold_address(reinterpret_cast<const std::uint8_t*>(q + 8));
        const std::uint32_t qdst = fold_address(reinterpret_cast<const std::uint8_t*>(q + 24));
        return owner_of(symmetric_flow_hash(qsrc, qdst, load_be16(ports), load_be16(ports + 2), qproto),
                        workers);
      }
    }
  }
  return owner_of(symmetric_flow_hash(src, dst, 0, 0, 0), workers);
}

}  // namespace

bool is_neighbor_discovery(std::span<const std::byte> frame) noexcept {
  constexpr std::size_t kType = kEthernetHeaderLen + kIpv6HeaderLen;
  if (frame.size() <= kType || load_be16(frame.data() + 12) != kEtherTypeIpv6) return false;
  if (load_u8(frame.data() + kEthernetHeaderLen + 6) != kIpProtoIcmpv6) return false;
  const std::uint8_t type = load_u8(frame.data() + kType);
  return type >= kIcmpv6RouterSolicit && type <= kIcmpv6NeighborAdvert;
}

std::uint16_t steer_frame(std::span<const std::byte> frame, std::uint16_t workers,
                          std::uint16_t self) noexcept {
  if (workers <= 1) return 0;
  if (frame.size() < kEthernetHeaderLen) return self;
  const std::uint16_t type = load_be16(frame.data() + 12);
  if (type == kEtherTypeArp) return kAllWorkers;
  if (type == kEtherTypeIpv6) return steer_ipv6(frame.subspan(kEthernetHeaderLen), workers, self);
  if (type != kEtherTypeIpv4) return self;
  // The header alone is read, not checked against the frame's length: a
  // frame GRO merged (runtime/rx_coalesce.h) is a chain whose total length
  // runs past the first segment this span holds, and Ipv4Header::parse
  // refuses that; such a frame stayed on the worker that polled it, which
  // need not own its connection (the peer's segments then met no socket).
  const std::span<const std::byte> l3 = frame.subspan(kEthernetHeaderLen);
  if (l3.size() < kIpv4MinHeaderLen || (load_u8(l3.data()) >> 4) != 4) return self;
  const std::size_t ihl = static_cast<std::size_t>(load_u8(l3.data()) & 0x0F) * 4;
  if (ihl < kIpv4MinHeaderLen || ihl > l3.size()) return self;
  const std::uint8_t proto = load_u8(l3.data() + 9);
  const bool is_fragment = (load_be16(l3.data() + 6) & 0x3FFF) != 0;
  const std::span<const std::byte> payload = l3.subspan(ihl);
  std::uint16_t sp = 0, dp = 0;
  // A Destination Unreachable about one of our TCP segments belongs to the
  // worker that owns the connection it quotes (RFC 792: IPv4 header, then at
  // least the ports), not to the pair (reporter, us).
  if (proto == kIpProtoIcmp && !is_fragment) {
    const auto msg = payload;
    if (msg.size() >= kIcmpHeaderLen + kIpv4MinHeaderLen && load_u8(msg.data()) == kIcmpDestUnreachable) {
      const std::byte* q = msg.data() + kIcmpHeaderLen;
      const std::size_t qihl = static_cast<std::size_t>(load_u8(q) & 0x0F) * 4;
      if (qihl >= kIpv4MinHeaderLen && msg.size() >= kIcmpHeaderLen + qihl + 4 &&
          load_u8(q + 9) == kIpProtoTcp) {
        const std::uint32_t h = symmetric_flow_hash(load_be32(q + 12), load_be32(q + 16), load_be16(q + qihl),
                                                    load_be16(q + qihl + 2), kIpProtoTcp);
        return static_cast<std::uint16_t>(h % workers);
      }
    }
  }
  // Fragments carry no ports past the first one: steer them by addresses only,
  // so all pieces of a datagram meet on one worker's reassembly table.
  const bool ported = (proto == kIpProtoTcp || proto == kIpProtoUdp) && !is_fragment;
  if (ported && payload.size() >= 4) {
    sp = load_be16(payload.data());
    dp = load_be16(payload.data() + 2);
  }
  const std::uint32_t h =
      symmetric_flow_hash(load_be32(l3.data() + 12), load_be32(l3.data() + 16), sp, dp, ported ? proto : 0);
  return static_cast<std::uint16_t>(h % workers);
}

}  // namespace tern
