#pragma once
// Neighbour discovery messages (RFC 4861 §4): Router Solicitation and
// Advertisement, Neighbour Solicitation and Advertisement, their options
// (§4.6: link-layer addresses, prefix information, MTU), the receive-side
// validity checks (§6.1, §7.1) and builders. Redirect is not handled: a host
// may ignore it, and Tern does.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"
#include "wire/parsed.h"

namespace tern {

// §6.1, §7.1: ND messages are sent, and accepted only, with hop limit 255,
// which proves they did not cross a router.
inline constexpr std::uint8_t kNdHopLimit = 255;
// Whole-message minimum lengths (ICMPv6 header included).
inline constexpr std::size_t kNdRouterSolicitLen = 8;
inline constexpr std::size_t kNdRouterAdvertLen = 16;
inline constexpr std::size_t kNdNeighborSolicitLen = 24;
inline constexpr std::size_t kNdNeighborAdvertLen = 24;
// Option types (§4.6). Lengths count 8-octet units.
inline constexpr std::uint8_t kNdOptSourceLla = 1;
inline constexpr std::uint8_t kNdOptTargetLla = 2;
inline constexpr std::uint8_t kNdOptPrefixInfo = 3;
inline constexpr std::uint8_t kNdOptRedirected = 4;
inline constexpr std::uint8_t kNdOptMtu = 5;
inline constexpr std::size_t kNdOptLlaLen = 8;  // an Ethernet address (RFC 2464 §6)
inline constexpr std::size_t kNdOptPrefixInfoLen = 32;
inline constexpr std::size_t kNdOptMtuLen = 8;

// Prefix Information option (§4.6.2).
struct NdPrefixInfo {
  std::uint8_t prefix_len = 0;
  bool on_link = false;     // L
  bool autonomous = false;  // A (RFC 4862 address configuration)
  std::uint32_t valid_lifetime_s = 0;
  std::uint32_t preferred_lifetime_s = 0;  // 0xFFFFFFFF: infinity
  Ipv6Addr prefix;
};

// One of the four messages, with options checked for length (non-zero, not
// past the message) so that walking them is safe. Unknown options are
// skipped (§4.6), as are known ones whose length is wrong for Ethernet.
class NdMessage {
 public:
  // `msg` is the whole ICMPv6 message. kUnsupported for a type other than
  // 133-136, kTruncated below that type's fixed length, kBadOption for an
  // option of length 0 or running past the message.
  static Parsed<NdMessage> parse(std::span<const std::byte> msg) noexcept;

  std::uint8_t type() const noexcept { return load_u8(msg_.data()); }
  std::uint8_t code() const noexcept { return load_u8(msg_.data() + 1); }
  // Neighbour Solicitation / Advertisement (§4.3, §4.4).
  Ipv6Addr target() const noexcept { return Ipv6Addr::load(msg_.data() + 8); }
  bool router_flag() const noexcept { return (load_u8(msg_.data() + 4) & 0x80) != 0; }
  bool solicited_flag() const noexcept { return (load_u8(msg_.data() + 4) & 0x40) != 0; }
  bool override_flag() const noexcept { return (load_u8(msg_.data() + 4) & 0x20) != 0; }
  // Router Advertisement (§4.2).
  std::uint8_t cur_hop_limit() const noexcept { return load_u8(msg_.data() + 4); }
  bool managed_flag() const noexcept { return (load_u8(msg_.data() + 5) & 0x80) != 0; }
  bool other_flag() const noexcept { return (load_u8(msg_.data() + 5) & 0x40) != 0; }
  std::uint16_t router_lifetime_s() const noexcept { return load_be16(msg_.data() + 6); }
  std::uint32_t reachable_time_ms() const noexcept { return load_be32(msg_.data() + 8); }
  std::uint32_t retrans_timer_ms() const noexcept { return load_be32(msg_.data() + 12); }

  std::span<const std::byte> message() const noexcept { return msg_; }
  std::span<const std::byte> options() const noexcept { return msg_.subspan(fixed_len_); }

  // Calls fn(type, option) for each option, `option` being its whole bytes
  // (type and length octets included).
  template <class Fn>
  void for_each_option(Fn&& fn) const noexcept {
    const auto opts = options();
    for (std::size_t i = 0; i < opts.size();) {
      const std::size_t len = std::size_t{load_u8(&opts[i + 1])} * 8;  // checked by parse()
      fn(load_u8(&opts[i]), opts.subspan(i, len));
      i += len;
    }
  }
  bool has_option(std::uint8_t type) const noexcept;
  // The first Source / Target Link-Layer Address option of Ethernet size.
  std::optional<MacAddr> source_lla() const noexcept { return lla(kNdOptSourceLla); }
  std::optional<MacAddr> target_lla() const noexcept { return lla(kNdOptTargetLla); }
  // The first MTU option (§4.6.4).
  std::optional<std::uint32_t> mtu() const noexcept;
  // Calls fn(const NdPrefixInfo&) for each well-sized Prefix Information option.
  template <class Fn>
  void for_each_prefix(Fn&& fn) const noexcept {
    for_each_option([&](std::uint8_t type, std::span<const std::byte> o) {
      if (type == kNdOptPrefixInfo && o.size() == kNdOptPrefixInfoLen) fn(prefix_info(o));
    });
  }

 private:
  NdMessage(std::span<const std::byte> msg, std::uint8_t fixed_len) noexcept
      : msg_(msg), fixed_len_(fixed_len) {}
  std::optional<MacAddr> lla(std::uint8_t type) const noexcept;
  static NdPrefixInfo prefix_info(std::span<const std::byte> o) noexcept;
  std::span<const std::byte> msg_;
  std::uint8_t fixed_len_;
};

// Why a received ND message is not valid (RFC 4861 §6.1.1, §6.1.2, §7.1.1,
// §7.1.2); the caller drops it silently and counts the reason.
enum class NdReject : std::uint8_t {
  kValid,
  kNotNd,                        // not one of types 133-136
  kHopLimit,                     // IP hop limit is not 255
  kBadChecksum,                  // ICMPv6 checksum
  kBadCode,                      // ICMP code is not 0
  kTooShort,                     // ICMP length below the type's fixed part
  kBadOptionLength,              // an option of length 0 or past the message
  kMulticastTarget,              // NS/NA target is a multicast address
  kUnspecifiedWithSourceLla,     // RS/NS from :: carrying a source link-layer address
  kUnspecifiedNotSolicitedNode,  // NS from :: not sent to a solicited-node address
  kSolicitedToMulticast,         // NA to a multicast address with S set
  kRouterNotLinkLocal,           // RA from a source that is not link-local
};

std::string_view nd_reject_name(NdReject r) noexcept;

// `ip` is the packet's IPv6 header and `msg` its ICMPv6 message (the upper
// layer found by walk_ipv6_extensions). Checks in RFC 4861's order.
NdReject validate_nd(const Ipv6Header& ip, std::span<const std::byte> msg) noexcept;

// ---- builders --------------------------------------------------------------
// Each writes a whole ICMPv6 message with its checksum for the given IPv6
// source and destination (sent with hop limit kNdHopLimit), and returns its
// length, or 0 if `out` is too short.

// §4.3. `dst` is solicited_node(target) to resolve, the target itself to
// probe (§7.2.2); no source link-layer address from :: (DAD, RFC 4862 §5.4.2).
std::size_t write_neighbor_solicit(std::span<std::byte> out, const Ipv6Addr& target,
                                   std::optional<MacAddr> source_lla, const Ipv6Addr& src,
                                   const Ipv6Addr& dst) noexcept;

struct NaFlags {
  bool router = false;
  bool solicited = false;
  bool override_ = false;
};

// §4.4.
std::size_t write_neighbor_advert(std::span<std::byte> out, const Ipv6Addr& target, NaFlags flags,
                                  std::optional<MacAddr> target_lla, const Ipv6Addr& src,
                                  const Ipv6Addr& dst) noexcept;

// §4.1.
std::size_t write_router_solicit(std::span<std::byte> out, std::optional<MacAddr> source_lla,
                                 const Ipv6Addr& src, const Ipv6Addr& dst) noexcept;

struct RouterAdvertFields {
  std::uint8_t cur_hop_limit = 0;
  bool managed = false;
  bool other = false;
  std::uint16_t router_lifetime_s = 0;
  std::uint32_t reachable_time_ms = 0;
  std::uint32_t retrans_timer_ms = 0;
  std::optional<MacAddr> source_lla;
  std::optional<std::uint32_t> mtu;
  std::span<const NdPrefixInfo> prefixes;
};

// §4.2. Tern is a host and sends none; this serves tests and simulated routers.
std::size_t write_router_advert(std::span<std::byte> out, const RouterAdvertFields& f, const Ipv6Addr& src,
                                const Ipv6Addr& dst) noexcept;

}  // namespace tern
