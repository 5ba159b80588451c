#pragma once
// ARP for IPv4 over Ethernet (RFC 826). Only that one combination of hardware
// and protocol types exists on Tern's links; anything else is kUnsupported.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kArpLen = 28;
inline constexpr std::uint16_t kArpHtypeEthernet = 1;

enum class ArpOp : std::uint16_t { kRequest = 1, kReply = 2 };

class ArpPacket {
 public:
  // kTruncated below 28 bytes; kUnsupported unless htype 1 (Ethernet), ptype
  // 0x0800, hlen 6, plen 4. The opcode is not checked: callers count unknown
  // opcodes under their own drop reason. Trailing Ethernet padding is ignored.
  static Parsed<ArpPacket> parse(std::span<const std::byte> b) noexcept;

  std::uint16_t op() const noexcept { return load_be16(p_ + 6); }
  MacAddr sender_mac() const noexcept { return MacAddr::load(p_ + 8); }
  std::uint32_t sender_ip() const noexcept { return load_be32(p_ + 14); }  // host order
  MacAddr target_mac() const noexcept { return MacAddr::load(p_ + 18); }
  std::uint32_t target_ip() const noexcept { return load_be32(p_ + 24); }  // host order
  std::span<const std::byte> bytes() const noexcept { return {p_, kArpLen}; }

 private:
  explicit ArpPacket(const std::byte* p) noexcept : p_(p) {}
  const std::byte* p_;
};

// Writes a 28-byte Ethernet/IPv4 ARP packet. Addresses in host order.
// Precondition: out.size() >= kArpLen.
void write_arp(std::span<std::byte> out, ArpOp op, const MacAddr& sha, std::uint32_t spa, const MacAddr& tha,
               std::uint32_t tpa) noexcept;

}  // namespace tern
