#pragma once
// IPv6 (RFC 8200): the address type and its text form (RFC 4291 §2.2,
// RFC 5952), the addresses derived from a MAC (RFC 4291 §2.5.1, §2.7.1,
// RFC 2464 §7), the fixed header view and builder, a bounded walk of the
// extension-header chain (RFC 8200 §4) and the upper-layer pseudo-header sum
// (RFC 8200 §8.1). Nothing here allocates but Ipv6Addr::to_string().
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kIpv6HeaderLen = 40;
// RFC 8200 §5: every link carries at least 1280-octet packets.
inline constexpr std::size_t kIpv6MinMtu = 1280;
// Next Header values (IANA "Assigned Internet Protocol Numbers").
inline constexpr std::uint8_t kIpv6NextHopByHop = 0;
inline constexpr std::uint8_t kIpv6NextRouting = 43;
inline constexpr std::uint8_t kIpv6NextFragment = 44;
inline constexpr std::uint8_t kIpv6NextEsp = 50;
inline constexpr std::uint8_t kIpv6NextAuth = 51;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::uint8_t kIpv6NextNone = 59;
inline constexpr std::uint8_t kIpv6NextDestOpts = 60;
// Longest text form: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
inline constexpr std::size_t kIpv6AddrMaxText = 45;

// An IPv6 address: 16 octets in network order, a plain value (trivially
// copyable, comparable, hashable by its bytes). Kept as bytes rather than two
// uint64 so that loads and stores never depend on host byte order.
struct Ipv6Addr {
  std::array<std::uint8_t, 16> b{};

  constexpr auto operator<=>(const Ipv6Addr&) const noexcept = default;

  constexpr std::uint16_t group(std::size_t i) const noexcept {
    return static_cast<std::uint16_t>(b[2 * i] << 8 | b[2 * i + 1]);
  }
  constexpr bool is_unspecified() const noexcept { return *this == Ipv6Addr{}; }
  constexpr bool is_loopback() const noexcept {
    Ipv6Addr one{};
    one.b[15] = 1;
    return *this == one;
  }
  constexpr bool is_multicast() const noexcept { return b[0] == 0xFF; }
  // fe80::/10 (RFC 4291 §2.5.6).
  constexpr bool is_link_local() const noexcept { return b[0] == 0xFE && (b[1] & 0xC0) == 0x80; }
  // ff02::1:ff00:0/104 (RFC 4291 §2.7.1).
  constexpr bool is_solicited_node() const noexcept {
    return b[0] == 0xFF && b[1] == 0x02 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 &&
           b[7] == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 0x01 && b[12] == 0xFF;
  }
  // ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
  constexpr bool is_v4_mapped() const noexcept {
    for (std::size_t i = 0; i < 10; ++i)
      if (b[i] != 0) return false;
    return b[10] == 0xFF && b[11] == 0xFF;
  }
  // Whether the first `prefix_len` bits equal those of `prefix` (<= 128).
  constexpr bool in_prefix(const Ipv6Addr& prefix, unsigned prefix_len) const noexcept {
    if (prefix_len > 128) return false;
    std::size_t i = 0;
    for (; i < prefix_len / 8; ++i)
      if (b[i] != prefix.b[i]) return false;
    const unsigned rest = prefix_len % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (b[i] & mask) == (prefix.b[i] & mask);
  }

  static constexpr Ipv6Addr load(const std::byte* p) noexcept {
    Ipv6Addr a;
    for (std::size_t i = 0; i < 16; ++i) a.b[i] = std::to_integer<std::uint8_t>(p[i]);
    return a;
  }
  constexpr void store(std::byte* p) const noexcept {
    for (std::size_t i = 0; i < 16; ++i) p[i] = static_cast<std::byte>(b[i]);
  }
  static constexpr Ipv6Addr from_groups(std::array<std::uint16_t, 8> g) noexcept {
    Ipv6Addr a;
    for (std::size_t i = 0; i < 8; ++i) {
      a.b[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
      a.b[2 * i + 1] = static_cast<std::uint8_t>(g[i]);
    }
    return a;
  }
  // ff02::1 and ff02::2 (RFC 4291 §2.7.1).
  static constexpr Ipv6Addr all_nodes() noexcept { return from_groups({0xFF02, 0, 0, 0, 0, 0, 0, 1}); }
  static constexpr Ipv6Addr all_routers() noexcept { return from_groups({0xFF02, 0, 0, 0, 0, 0, 0, 2}); }

  // RFC 5952 text: lower case, no leading zeros in a group, the longest run
  // of two or more zero groups (the first of equal runs) as "::", and
  // ::ffff:a.b.c.d for IPv4-mapped addresses (§5). Writes at most
  // kIpv6AddrMaxText characters, no terminator; returns how many.
  std::size_t format(std::span<char, kIpv6AddrMaxText> out) const noexcept;
  std::string to_string() const;
  // RFC 4291 §2.2: eight groups of 1-4 hex digits (either case), at most one
  // "::" standing for one or more zero groups, and optionally a dotted-quad
  // IPv4 address as the last 32 bits (decimal, no leading zeros). No zone
  // ("%eth0") and no surrounding brackets or whitespace.
  static std::optional<Ipv6Addr> from_string(std::string_view s) noexcept;
};

// fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291
// §2.5.1 and appendix A: ff:fe inserted in the middle, universal/local bit
// inverted).
constexpr Ipv6Addr link_local_from_mac(const MacAddr& mac) noexcept {
  Ipv6Addr a;
  a.b[0] = 0xFE;
  a.b[1] = 0x80;
  a.b[8] = static_cast<std::uint8_t>(mac.b[0] ^ 0x02);
  a.b[9] = mac.b[1];
  a.b[10] = mac.b[2];
  a.b[11] = 0xFF;
  a.b[12] = 0xFE;
  a.b[13] = mac.b[3];
  a.b[14] = mac.b[4];
  a.b[15] = mac.b[5];
  return a;
}

// ff02::1:ffXX:XXXX with the low 24 bits of `a` (RFC 4291 §2.7.1).
constexpr Ipv6Addr solicited_node(const Ipv6Addr& a) noexcept {
  Ipv6Addr s = Ipv6Addr::from_groups({0xFF02, 0, 0, 0, 0, 1, 0xFF00, 0});
  s.b[13] = a.b[13];
  s.b[14] = a.b[14];
  s.b[15] = a.b[15];
  return s;
}

// The Ethernet destination of an IPv6 multicast packet: 33:33 and the low 32
// bits of the group (RFC 2464 §7).
constexpr MacAddr multicast_mac(const Ipv6Addr& group) noexcept {
  return MacAddr{{0x33, 0x33, group.b[12], group.b[13], group.b[14], group.b[15]}};
}

// The pseudo-header sum for upper-layer checksums (RFC 8200 §8.1): source,
// destination (the final one, were a routing header followed), the 32-bit
// upper-layer length and the upper-layer Next Header value. Folded to
// <= 0xFFFF, so it composes with checksum.h's sums and ChecksumAccumulator.
std::uint32_t ipv6_pseudo_header_sum(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint32_t upper_len,
                                     std::uint8_t next_header) noexcept;

class Ipv6Header {
 public:
  // `b` starts at the IPv6 header (an Ethernet payload). Checks, in order:
  //  - at least 40 bytes                                       kTruncated
  //  - version 6                                               kBadVersion
  //  - 40 + payload length <= b.size()                         kBadTotalLength
  // Bytes past the payload (Ethernet padding) are not part of payload().
  // A payload length of 0 is taken literally: Tern does not accept
  // jumbograms (RFC 2675), whose Jumbo Payload option the walk refuses.
  static Parsed<Ipv6Header> parse(std::span<const std::byte> b) noexcept;

  std::uint8_t traffic_class() const noexcept {
    return static_cast<std::uint8_t>((load_be16(p_) >> 4) & 0xFF);
  }
  std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(traffic_class() >> 2); }
  std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(traffic_class() & 0x03); }
  std::uint32_t flow_label() const noexcept { return load_be32(p_) & 0xFFFFF; }
  std::uint16_t payload_length() const noexcept { return load_be16(p_ + 4); }
  std::uint8_t next_header() const noexcept { return load_u8(p_ + 6); }
  std::uint8_t hop_limit() const noexcept { return load_u8(p_ + 7); }
  Ipv6Addr src() const noexcept { return Ipv6Addr::load(p_ + 8); }
  Ipv6Addr dst() const noexcept { return Ipv6Addr::load(p_ + 24); }

  std::span<const std::byte> header() const noexcept { return {p_, kIpv6HeaderLen}; }
  // The header and payload: what ICMPv6 error pointers count from.
  std::span<const std::byte> packet() const noexcept { return {p_, kIpv6HeaderLen + payload_length()}; }
  // Extension headers and upper layer, without link-layer padding.
  std::span<const std::byte> payload() const noexcept { return {p_ + kIpv6HeaderLen, payload_length()}; }

 private:
  explicit Ipv6Header(const std::byte* p) noexcept : p_(p) {}
  const std::byte* p_;
};

struct Ipv6Fields {
  Ipv6Addr src, dst;
  std::uint8_t next_header;
  std::uint8_t hop_limit = 64;
  std::uint16_t payload_len;
  std::uint8_t traffic_class = 0;  // DSCP << 2 | ECN
  std::uint32_t flow_label = 0;    // low 20 bits
};

// Writes the 40-byte fixed header. Precondition: out.size() >= 40.
void write_ipv6(std::span<std::byte> out, const Ipv6Fields& f) noexcept;

// ---- extension-header walk (RFC 8200 §4) ----------------------------------

// Bounds on what one packet may make the walk do (RFC 8504 §5.3 asks hosts
// for such limits; Linux's defaults: 8 options per header, 7 padding bytes).
inline constexpr std::size_t kIpv6MaxExtHeaders = 8;
inline constexpr std::size_t kIpv6MaxOptionsPerHeader = 8;
inline constexpr std::size_t kIpv6MaxPadding = 7;

// ICMPv6 Parameter Problem codes (RFC 4443 §3.4), here because the walk
// chooses them.
inline constexpr std::uint8_t kIcmpv6ParamErroneousField = 0;
inline constexpr std::uint8_t kIcmpv6ParamUnknownNextHeader = 1;
inline constexpr std::uint8_t kIcmpv6ParamUnknownOption = 2;
// RFC 7112 §5: the first fragment lacks part of the IPv6 header chain.
inline constexpr std::uint8_t kIcmpv6ParamIncompleteChain = 3;

inline constexpr std::size_t kIpv6FragmentHeaderLen = 8;

enum class Ipv6ExtVerdict : std::uint8_t {
  kUpperLayer,    // deliver: upper_protocol at upper_offset (also 59, No Next Header)
  kFragment,      // a real fragment: hand to reassembly (fragment fields set)
  kParamProblem,  // discard and send Parameter Problem (code, pointer)
  kDiscard,       // discard silently (reason says why)
};

enum class Ipv6ExtReason : std::uint8_t {
  kNone,
  kTruncated,          // a header runs past the payload
  kTooManyHeaders,     // more than kIpv6MaxExtHeaders
  kHopByHopNotFirst,   // Next Header 0 after the first header (§4, ParamProblem code 1)
  kBadOptionLength,    // an option runs past its header
  kTooManyOptions,     // more than kIpv6MaxOptionsPerHeader non-padding options
  kTooMuchPadding,     // more than kIpv6MaxPadding consecutive padding bytes
  kUnknownOption,      // action bits 01 (discard) or 10/11 (ParamProblem code 2)
  kRoutingHeader,      // Segments Left != 0: Tern routes nothing (RFC 5095 for type 0)
  kBadFragmentLength,  // M set and length not a multiple of 8 (§4.5, code 0)
  kFragmentTooLong,    // offset + length > 65535 (§4.5, code 0)
};

std::string_view ipv6_ext_reason_name(Ipv6ExtReason r) noexcept;

struct Ipv6ExtWalk {
  Ipv6ExtVerdict verdict = Ipv6ExtVerdict::kDiscard;
  Ipv6ExtReason reason = Ipv6ExtReason::kNone;
  // kUpperLayer: the protocol, where its header starts and where the Next
  // Header octet naming it is (for Parameter Problem code 1 when the caller
  // speaks no such protocol). Offsets count from the IPv6 header's start.
  // kFragment: upper_protocol is the fragment header's Next Header and
  // upper_offset the start of the fragmentable part.
  std::uint8_t upper_protocol = 0;
  std::uint16_t upper_offset = 0;
  std::uint16_t next_header_pointer = 0;
  // kParamProblem: the ICMPv6 code and pointer (RFC 4443 §3.4).
  std::uint8_t icmp_code = 0;
  std::uint32_t icmp_pointer = 0;
  // Fragment header, if one was met (an atomic fragment, RFC 8200 §4.5 and
  // RFC 6946, is walked through as if absent but still reported here).
  bool has_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // bytes
  std::uint32_t fragment_id = 0;
  std::uint8_t ext_headers = 0;  // extension headers walked, at most kIpv6MaxExtHeaders
};

// Walks the headers after the fixed header. Hop-by-Hop (only first) and
// Destination Options are processed option by option (Pad1/PadN skipped,
// unknown options by their action bits, RFC 8200 §4.2: 11 with a multicast
// destination discards silently); a Routing header with Segments Left 0 is
// skipped, any other refused; a Fragment header ends the walk unless it is
// an atomic fragment. Anything else is the upper layer. Never reads outside
// ip.packet().
Ipv6ExtWalk walk_ipv6_extensions(const Ipv6Header& ip) noexcept;

// RFC 8200 §4.5 and RFC 7112 §5: whether a first fragment (offset 0) holds
// the whole header chain, up to and including the upper-layer header. The
// fragmentable part starts at `offset` of `packet` (the IPv6 packet from its
// fixed header) with header `next`. Extension headers are skipped by their
// length fields; the upper-layer header must be there whole as far as Linux
// asks (TCP 20 bytes, UDP 8, ICMPv6 8, anything else 1). ESP hides what
// follows it: its first 8 bytes do. More than kIpv6MaxExtHeaders headers:
// false.
bool ipv6_first_fragment_has_chain(std::span<const std::byte> packet, std::uint8_t next,
                                   std::size_t offset) noexcept;

}  // namespace tern
