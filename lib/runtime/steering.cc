#include "runtime/steering.h"

#include <algorithm>

#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

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

std::uint16_t steer_frame(std::span<const std::byte> frame, std::uint16_t workers,
                          std::uint16_t self) noexcept {
  if (workers <= 1) return 0;
  if (frame.size() < kEthernetHeaderLen) return self;
  const std::uint16_t type = load_be16(frame.data() + 12);
  if (type == kEtherTypeArp) return kAllWorkers;
  if (type != kEtherTypeIpv4) return self;
  auto ip = Ipv4Header::parse(frame.subspan(kEthernetHeaderLen));
  if (!ip) return self;
  std::uint16_t sp = 0, dp = 0;
  const std::uint8_t proto = ip->protocol();
  // A Destination Unreachable about one of our TCP segments belongs to the
  // worker that owns the connection it quotes (RFC 792: IPv4 header, then at
  // least the ports), not to the pair (reporter, us).
  if (proto == kIpProtoIcmp && !ip->is_fragment()) {
    const auto msg = ip->payload();
    if (msg.size() >= kIcmpHeaderLen + kIpv4MinHeaderLen && load_u8(msg.data()) == kIcmpDestUnreachable) {
      const std::byte* q = msg.data() + kIcmpHeaderLen;
      const std::size_t ihl = static_cast<std::size_t>(load_u8(q) & 0x0F) * 4;
      if (ihl >= kIpv4MinHeaderLen && msg.size() >= kIcmpHeaderLen + ihl + 4 &&
          load_u8(q + 9) == kIpProtoTcp) {
        const std::uint32_t h = symmetric_flow_hash(load_be32(q + 12), load_be32(q + 16), load_be16(q + ihl),
                                                    load_be16(q + ihl + 2), kIpProtoTcp);
        return static_cast<std::uint16_t>(h % workers);
      }
    }
  }
  // Fragments carry no ports past the first one: steer them by addresses only,
  // so all pieces of a datagram meet on one worker's reassembly table.
  const bool ported = (proto == kIpProtoTcp || proto == kIpProtoUdp) && !ip->is_fragment();
  if (ported && ip->payload().size() >= 4) {
    sp = load_be16(ip->payload().data());
    dp = load_be16(ip->payload().data() + 2);
  }
  const std::uint32_t h = symmetric_flow_hash(ip->src(), ip->dst(), sp, dp, ported ? proto : 0);
  return static_cast<std::uint16_t>(h % workers);
}

}  // namespace tern
