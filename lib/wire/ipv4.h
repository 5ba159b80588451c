#pragma once
// IPv4 header (RFC 791 §3.1).
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/bytes.h"
#include "wire/parsed.h"

namespace tern {

inline constexpr std::size_t kIpv4MinHeaderLen = 20;
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;

// Option types that RFC 791 §3.1 gives no length octet.
inline constexpr std::uint8_t kIpOptEndOfList = 0;
inline constexpr std::uint8_t kIpOptNop = 1;

class Ipv4Header {
 public:
  // `b` starts at the IPv4 header (an Ethernet payload). Checks, in order:
  //  - at least 20 bytes                                       kTruncated
  //  - version 4                                               kBadVersion
  //  - IHL >= 5 and the header fits in `b`                     kBadHeaderLength
  //  - header length <= total length <= b.size()               kBadTotalLength
  //  - options well formed (RFC 791 §3.1, see ipv4.cc)         kBadOption
  // Bytes past total length (Ethernet minimum-frame padding) are allowed and
  // are not part of payload(). The header checksum is NOT verified here,
  // because the NIC may already have done it: see checksum_ok().
  static Parsed<Ipv4Header> parse(std::span<const std::byte> b) noexcept;

  std::size_t header_len() const noexcept { return header_len_; }
  std::uint8_t tos() const noexcept { return load_u8(p_ + 1); }
  std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(tos() >> 2); }
  std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(tos() & 0x03); }
  std::uint16_t total_length() const noexcept { return total_len_; }
  std::uint16_t id() const noexcept { return load_be16(p_ + 4); }
  bool dont_fragment() const noexcept { return (load_u8(p_ + 6) & 0x40) != 0; }
  bool more_fragments() const noexcept { return (load_u8(p_ + 6) & 0x20) != 0; }
  // The fragment offset field counts 8-octet units (RFC 791 §3.1); at most 65528.
  std::uint16_t fragment_offset_bytes() const noexcept {
    return static_cast<std::uint16_t>((load_be16(p_ + 6) & 0x1FFF) * 8);
  }
  bool is_fragment() const noexcept { return (load_be16(p_ + 6) & 0x3FFF) != 0; }
  std::uint8_t ttl() const noexcept { return load_u8(p_ + 8); }
  std::uint8_t protocol() const noexcept { return load_u8(p_ + 9); }
  std::uint16_t checksum() const noexcept { return load_be16(p_ + 10); }
  std::uint32_t src() const noexcept { return load_be32(p_ + 12); }  // host order
  std::uint32_t dst() const noexcept { return load_be32(p_ + 16); }  // host order

  // Verifies the header checksum in software (RFC 791 §3.1, RFC 1071).
  bool checksum_ok() const noexcept;

  std::span<const std::byte> header() const noexcept { return {p_, header_len_}; }
  std::span<const std::byte> options() const noexcept {
    return {p_ + kIpv4MinHeaderLen, header_len_ - kIpv4MinHeaderLen};
  }
  // From the end of the header to total_length: no link-layer padding.
  std::span<const std::byte> payload() const noexcept {
    return {p_ + header_len_, static_cast<std::size_t>(total_len_ - header_len_)};
  }

 private:
  Ipv4Header(const std::byte* p, std::uint8_t header_len, std::uint16_t total_len) noexcept
      : p_(p), header_len_(header_len), total_len_(total_len) {}
  const std::byte* p_;
  std::uint8_t header_len_;
  std::uint16_t total_len_;
};

struct Ipv4Fields {
  std::uint32_t src, dst;  // host order
  std::uint8_t protocol;
  std::uint8_t ttl = 64;
  std::uint16_t id = 0;
  bool dont_fragment = true;
  std::uint16_t payload_len;  // at most 65535 - 20
  std::uint8_t tos = 0;       // DSCP << 2 | ECN
};

// Writes a 20-byte header without options. With fill_checksum false the
// checksum field is left 0 for NIC offload (DPDK's RTE_MBUF_F_TX_IP_CKSUM
// requires exactly that). Precondition: out.size() >= kIpv4MinHeaderLen.
void write_ipv4(std::span<std::byte> out, const Ipv4Fields& f, bool fill_checksum = true) noexcept;

}  // namespace tern
