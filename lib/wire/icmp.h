#pragma once
// ICMP for IPv4 (RFC 792), plus the Path MTU "next-hop MTU" field of
// Destination Unreachable / Fragmentation Needed (RFC 1191 §4).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kIcmpHeaderLen = 8;
inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
// Codes of Destination Unreachable.
inline constexpr std::uint8_t kIcmpNetUnreachable = 0;
inline constexpr std::uint8_t kIcmpHostUnreachable = 1;
inline constexpr std::uint8_t kIcmpProtocolUnreachable = 2;
inline constexpr std::uint8_t kIcmpPortUnreachable = 3;
inline constexpr std::uint8_t kIcmpFragNeeded = 4;
// RFC 1812 §5.2.7.1 lists codes 0-15 (15: precedence cutoff in effect).
inline constexpr std::uint8_t kIcmpMaxUnreachableCode = 15;

class IcmpHeader {
 public:
  // `b` is the whole ICMP message (the IPv4 payload). kTruncated below 8
  // bytes. The checksum is not verified here: see checksum_ok().
  static Parsed<IcmpHeader> parse(std::span<const std::byte> b) noexcept;

  std::uint8_t type() const noexcept { return load_u8(msg_.data()); }
  std::uint8_t code() const noexcept { return load_u8(msg_.data() + 1); }
  std::uint16_t checksum() const noexcept { return load_be16(msg_.data() + 2); }
  // Echo and Echo Reply (RFC 792): identifier and sequence number.
  std::uint16_t echo_id() const noexcept { return load_be16(msg_.data() + 4); }
  std::uint16_t echo_seq() const noexcept { return load_be16(msg_.data() + 6); }
  // Fragmentation Needed: the low-order 16 bits of the second word (RFC 1191 §4).
  std::uint16_t next_hop_mtu() const noexcept { return load_be16(msg_.data() + 6); }

  // RFC 792: the checksum covers the whole ICMP message.
  bool checksum_ok() const noexcept;

  std::span<const std::byte> message() const noexcept { return msg_; }
  // After the 8-byte header: echo data, or the offending datagram's IP header
  // plus at least 64 bits of its data for error messages.
  std::span<const std::byte> body() const noexcept { return msg_.subspan(kIcmpHeaderLen); }

 private:
  explicit IcmpHeader(std::span<const std::byte> msg) noexcept : msg_(msg) {}
  std::span<const std::byte> msg_;
};

// Writes the Echo Reply for `request` (RFC 792: type 0, code 0, identifier,
// sequence number and data echoed). `out` must hold request.message().size()
// bytes; it may be the request's own bytes. The checksum is updated
// incrementally from the request's (RFC 1624), so the request's checksum
// must have been verified; an all-zero reply gets 0xFFFF, the form a
// recomputation yields.
void write_icmp_echo_reply(std::span<std::byte> out, const IcmpHeader& request) noexcept;

}  // namespace tern
