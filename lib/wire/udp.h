#pragma once
// UDP header (RFC 768).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kUdpHeaderLen = 8;

class UdpHeader {
 public:
  // `b` is the IPv4 payload. kTruncated below 8 bytes; kBadLength unless
  // 8 <= length field <= b.size(). Bytes past the length field are ignored.
  static Parsed<UdpHeader> parse(std::span<const std::byte> b) noexcept;

  std::uint16_t src_port() const noexcept { return load_be16(p_); }
  std::uint16_t dst_port() const noexcept { return load_be16(p_ + 2); }
  std::uint16_t length() const noexcept { return length_; }
  std::uint16_t checksum() const noexcept { return load_be16(p_ + 6); }
  std::span<const std::byte> datagram() const noexcept { return {p_, length_}; }
  std::span<const std::byte> payload() const noexcept {
    return {p_ + kUdpHeaderLen, length_ - kUdpHeaderLen};
  }

  // RFC 768: a zero checksum means the sender computed none, which is
  // accepted. Otherwise verified over pseudo header + datagram.
  // Addresses in host order.
  bool checksum_ok(std::uint32_t src, std::uint32_t dst) const noexcept;

 private:
  UdpHeader(const std::byte* p, std::uint16_t length) noexcept : p_(p), length_(length) {}
  const std::byte* p_;
  std::uint16_t length_;
};

// Writes the 8-byte header with length 8 + payload_len and checksum 0 ("none"
// per RFC 768). Call fill_udp_checksum() once the payload is in place to
// send a checksum, or leave it 0 for NIC offload after storing the folded
// pseudo-header sum. Precondition: out.size() >= 8, payload_len <= 65527.
void write_udp(std::span<std::byte> out, std::uint16_t sport, std::uint16_t dport,
               std::uint16_t payload_len) noexcept;

// Computes the checksum of a contiguous datagram (header + payload, its
// length field already set) and stores it. A computed 0 is sent as 0xFFFF
// (RFC 768). Addresses in host order.
void fill_udp_checksum(std::span<std::byte> datagram, std::uint32_t src, std::uint32_t dst) noexcept;

}  // namespace tern
