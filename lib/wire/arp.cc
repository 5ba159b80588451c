#include "wire/arp.h"

#include <cassert>

namespace tern {

Parsed<ArpPacket> ArpPacket::parse(std::span<const std::byte> b) noexcept {
  if (b.size() < kArpLen) return ParseError::kTruncated;
  const std::byte* p = b.data();
  // RFC 826 "Packet Reception": check ar$hrd/ar$pro, and their lengths, so
  // the fixed offsets below are right.
  if (load_be16(p) != kArpHtypeEthernet || load_be16(p + 2) != kEtherTypeIpv4 || load_u8(p + 4) != 6 ||
      load_u8(p + 5) != 4) {
    return ParseError::kUnsupported;
  }
  return ArpPacket{p};
}

void write_arp(std::span<std::byte> out, ArpOp op, const MacAddr& sha, std::uint32_t spa, const MacAddr& tha,
               std::uint32_t tpa) noexcept {
  assert(out.size() >= kArpLen);
  std::byte* p = out.data();
  store_be16(p, kArpHtypeEthernet);
  store_be16(p + 2, kEtherTypeIpv4);
  store_u8(p + 4, 6);
  store_u8(p + 5, 4);
  store_be16(p + 6, static_cast<std::uint16_t>(op));
  sha.store(p + 8);
  store_be32(p + 14, spa);
  tha.store(p + 18);
  store_be32(p + 24, tpa);
}

}  // namespace tern
