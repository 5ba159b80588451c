#pragma once
// Which worker owns a frame. With software steering (PMDs without usable RSS:
// tap, af_packet, the in-process link) the receiving worker asks this and
// forwards frames it does not own. The hash is symmetric, so both directions
// of a flow have one owner, and cheap: a few loads and multiplies.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tern/ip_addr.h"

namespace tern {

inline constexpr std::uint16_t kAllWorkers = 0xFFFF;  // ARP: every worker learns

// Returns the owning worker in [0, workers), or kAllWorkers for ARP and
// IPv6 neighbour discovery (RFC 4861 types 133-136: every worker's cache learns).
// Frames too short or malformed to hash go to `self`, which then counts the drop.
std::uint16_t steer_frame(std::span<const std::byte> frame, std::uint16_t workers,
                          std::uint16_t self) noexcept;

// Whether `frame` is IPv6 neighbour discovery (ICMPv6 types 133-136 right
// after the fixed header): what steer_frame sends to every worker.
bool is_neighbor_discovery(std::span<const std::byte> frame) noexcept;

// The symmetric flow hash itself, for choosing local ports on active open
// (so a connection's replies hash to the connecting worker).
std::uint32_t symmetric_flow_hash(std::uint32_t a, std::uint32_t b, std::uint16_t pa, std::uint16_t pb,
                                  std::uint8_t proto) noexcept;

// A 16-byte address folded to the 32 bits the hash takes: an IPv4-mapped
// address (::ffff:a.b.c.d) gives a.b.c.d, so a tuple hashes alike whether its
// IPv4 addresses are held as 32-bit values or as IpAddr; any other address
// mixes its four words.
std::uint32_t fold_address(const std::uint8_t* network_order) noexcept;
inline std::uint32_t fold_address(const IpAddr& a) noexcept { return fold_address(a.bytes().data()); }
// Either family; equals the 32-bit form above for IPv4.
inline std::uint32_t symmetric_flow_hash(const IpAddr& a, const IpAddr& b, std::uint16_t pa, std::uint16_t pb,
                                         std::uint8_t proto) noexcept {
  return symmetric_flow_hash(fold_address(a), fold_address(b), pa, pb, proto);
}

}  // namespace tern
