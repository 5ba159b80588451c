#pragma once
// ICMPv6 (RFC 4443): the message view, echo and error builders, and the
// rules for when an error may be sent (§2.4(e)). Neighbour discovery
// messages, also ICMPv6, are in wire/ndp.h.
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kIcmpv6HeaderLen = 8;  // type, code, checksum, 4 type-specific bytes
// Error messages (type < 128).
inline constexpr std::uint8_t kIcmpv6DestUnreachable = 1;
inline constexpr std::uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr std::uint8_t kIcmpv6TimeExceeded = 3;
inline constexpr std::uint8_t kIcmpv6ParamProblem = 4;
// Informational messages.
inline constexpr std::uint8_t kIcmpv6EchoRequest = 128;
inline constexpr std::uint8_t kIcmpv6EchoReply = 129;
inline constexpr std::uint8_t kIcmpv6RouterSolicit = 133;
inline constexpr std::uint8_t kIcmpv6RouterAdvert = 134;
inline constexpr std::uint8_t kIcmpv6NeighborSolicit = 135;
inline constexpr std::uint8_t kIcmpv6NeighborAdvert = 136;
inline constexpr std::uint8_t kIcmpv6Redirect = 137;
// Destination Unreachable codes (RFC 4443 §3.1).
inline constexpr std::uint8_t kIcmpv6NoRoute = 0;
inline constexpr std::uint8_t kIcmpv6AdminProhibited = 1;
inline constexpr std::uint8_t kIcmpv6BeyondScope = 2;
inline constexpr std::uint8_t kIcmpv6AddressUnreachable = 3;
inline constexpr std::uint8_t kIcmpv6PortUnreachable = 4;
// Time Exceeded codes (§3.3).
inline constexpr std::uint8_t kIcmpv6HopLimitExceeded = 0;
inline constexpr std::uint8_t kIcmpv6ReassemblyTimeExceeded = 1;
// Parameter Problem codes are kIcmpv6Param* in wire/ipv6.h.

// RFC 4443 §2.4(c): an error quotes as much of the invoking packet as fits
// without the error exceeding the minimum IPv6 MTU: 1280 - 40 - 8.
inline constexpr std::size_t kIcmpv6MaxQuote = kIpv6MinMtu - kIpv6HeaderLen - kIcmpv6HeaderLen;

class Icmpv6Header {
 public:
  // `b` is the whole ICMPv6 message (the upper-layer part of the IPv6
  // packet). kTruncated below 8 bytes: every message RFC 4443 and RFC 4861
  // define has at least 4 type-specific bytes. The checksum is not verified
  // here (it needs the pseudo-header): see checksum_ok().
  static Parsed<Icmpv6Header> parse(std::span<const std::byte> b) noexcept;

  std::uint8_t type() const noexcept { return load_u8(msg_.data()); }
  std::uint8_t code() const noexcept { return load_u8(msg_.data() + 1); }
  std::uint16_t checksum() const noexcept { return load_be16(msg_.data() + 2); }
  bool is_error() const noexcept { return type() < 128; }
  // Echo Request / Reply (§4.1, §4.2).
  std::uint16_t echo_id() const noexcept { return load_be16(msg_.data() + 4); }
  std::uint16_t echo_seq() const noexcept { return load_be16(msg_.data() + 6); }
  // Packet Too Big (§3.2): the next-hop link's MTU.
  std::uint32_t mtu() const noexcept { return load_be32(msg_.data() + 4); }
  // Parameter Problem (§3.4): offset in the invoking packet of the error.
  std::uint32_t pointer() const noexcept { return load_be32(msg_.data() + 4); }

  // RFC 4443 §2.3: over the pseudo-header (RFC 8200 §8.1, Next Header 58)
  // and the whole message.
  bool checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;

  std::span<const std::byte> message() const noexcept { return msg_; }
  // After the 8 bytes: echo data, the invoking packet of an error, or an ND
  // message's remaining fixed fields and options.
  std::span<const std::byte> body() const noexcept { return msg_.subspan(kIcmpv6HeaderLen); }

 private:
  explicit Icmpv6Header(std::span<const std::byte> msg) noexcept : msg_(msg) {}
  std::span<const std::byte> msg_;
};

// Computes and stores the checksum of a complete message in place.
void fill_icmpv6_checksum(std::span<std::byte> msg, const Ipv6Addr& src, const Ipv6Addr& dst) noexcept;

// Writes an Echo Request or Reply (`type`) carrying `data` and its checksum.
// `data` may lie inside `out` (it is moved, not copied). Returns the message
// length, or 0 if `out` is shorter than 8 + data.size().
std::size_t write_icmpv6_echo(std::span<std::byte> out, std::uint8_t type, std::uint16_t id,
                              std::uint16_t seq, std::span<const std::byte> data, const Ipv6Addr& src,
                              const Ipv6Addr& dst) noexcept;

// The Echo Reply for `request` (§4.2: identifier, sequence number and data
// echoed), from `src` (the address the request was sent to, or a unicast
// one if it went to a multicast group, §4.2) to `dst`. `out` may be the
// request's own bytes. The checksum is computed afresh: the pseudo-header
// may differ from the request's. Returns the length, 0 if `out` is short.
std::size_t write_icmpv6_echo_reply(std::span<std::byte> out, const Icmpv6Header& request,
                                    const Ipv6Addr& src, const Ipv6Addr& dst) noexcept;

// An error message (type < 128) and its 32-bit parameter: the MTU for
// Packet Too Big, the pointer for Parameter Problem, 0 (unused) otherwise.
struct Icmpv6Error {
  std::uint8_t type;
  std::uint8_t code;
  std::uint32_t param = 0;
};

// Writes the error quoting the start of `invoking` (the IPv6 packet that
// caused it, from its header), at most kIcmpv6MaxQuote bytes and what fits
// in `out`, so that with a 40-byte IPv6 header the error never exceeds 1280
// bytes (§2.4(c)). Returns the message length, 0 if `out` is under 8 bytes.
std::size_t write_icmpv6_error(std::span<std::byte> out, const Icmpv6Error& e,
                               std::span<const std::byte> invoking, const Ipv6Addr& src,
                               const Ipv6Addr& dst) noexcept;

// What RFC 4443 §2.4(e) needs to know about the invoking packet.
struct Icmpv6Invoking {
  Ipv6Addr src, dst;
  bool link_multicast = false;   // arrived to a link-layer multicast or broadcast address
  bool is_icmpv6_error = false;  // its upper layer is an ICMPv6 error message
  bool is_redirect = false;      // its upper layer is an ICMPv6 Redirect
};

// RFC 4443 §2.4(e): no error in answer to an error or a Redirect; none to a
// packet whose source does not name one node (unspecified or multicast);
// none to a packet sent to an IPv6 or link multicast address, except Packet
// Too Big and Parameter Problem code 2 (the option walk already dropped
// options whose action bits forbid it). Rate limiting (§2.4(f)) is the
// sender's job.
bool icmpv6_error_allowed(const Icmpv6Error& e, const Icmpv6Invoking& invoking) noexcept;

// The IPv6 header quoted in an error message: checked for length and
// version only, because an error quotes a truncated packet whose payload
// length says more than is there. `rest` is what is quoted after the fixed
// header (the next header's start, e.g. a TCP segment's ports and sequence).
struct QuotedIpv6 {
  Ipv6Addr src, dst;
  std::uint8_t next_header;
  std::span<const std::byte> rest;
};
Parsed<QuotedIpv6> parse_quoted_ipv6(std::span<const std::byte> body) noexcept;

}  // namespace tern
