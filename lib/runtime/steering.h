#pragma once
// Which worker owns a frame. With software steering (PMDs without usable RSS:
// tap, af_packet, the in-process link) the receiving worker asks this and
// forwards frames it does not own. The hash is symmetric, so both directions
// of a flow have one owner, and cheap: a few loads and multiplies.
#include <cstddef>
#include <cstdint>
#include <span>

namespace tern {

inline constexpr std::uint16_t kAllWorkers = 0xFFFF;  // ARP: every worker learns

// Returns the owning worker in [0, workers), or kAllWorkers for ARP.
// Frames too short or malformed to hash go to `self`, which then counts the drop.
std::uint16_t steer_frame(std::span<const std::byte> frame, std::uint16_t workers,
                          std::uint16_t self) noexcept;

// The symmetric flow hash itself, for choosing local ports on active open
// (so a connection's replies hash to the connecting worker).
std::uint32_t symmetric_flow_hash(std::uint32_t a, std::uint32_t b, std::uint16_t pa, std::uint16_t pb,
                                  std::uint8_t proto) noexcept;

}  // namespace tern
