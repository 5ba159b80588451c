#include "wire/udp.h"

#include <cassert>

#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {

Parsed<UdpHeader> UdpHeader::parse(std::span<const std::byte> b) noexcept {
  if (b.size() < kUdpHeaderLen) return ParseError::kTruncated;
  const std::size_t length = load_be16(b.data() + 4);
  if (length < kUdpHeaderLen || length > b.size()) return ParseError::kBadLength;
  return UdpHeader{b.data(), static_cast<std::uint16_t>(length)};
}

bool UdpHeader::checksum_ok(std::uint32_t src, std::uint32_t dst) const noexcept {
  if (checksum() == 0) return true;
  const std::uint32_t sum = checksum_partial(datagram(), pseudo_header_sum(src, dst, kIpProtoUdp, length_));
  return checksum_finish(sum) == 0;
}

void write_udp(std::span<std::byte> out, std::uint16_t sport, std::uint16_t dport,
               std::uint16_t payload_len) noexcept {
  assert(out.size() >= kUdpHeaderLen);
  assert(payload_len <= 0xFFFF - kUdpHeaderLen);
  std::byte* p = out.data();
  store_be16(p, sport);
  store_be16(p + 2, dport);
  store_be16(p + 4, static_cast<std::uint16_t>(kUdpHeaderLen + payload_len));
  store_be16(p + 6, 0);
}

void fill_udp_checksum(std::span<std::byte> datagram, std::uint32_t src, std::uint32_t dst) noexcept {
  assert(datagram.size() >= kUdpHeaderLen);
  const std::uint16_t length = load_be16(datagram.data() + 4);
  assert(length <= datagram.size());
  store_be16(datagram.data() + 6, 0);
  std::uint16_t c = checksum_finish(
      checksum_partial(datagram.first(length), pseudo_header_sum(src, dst, kIpProtoUdp, length)));
  if (c == 0) c = 0xFFFF;  // RFC 768: all zeros means "no checksum"; send all ones
  store_be16(datagram.data() + 6, c);
}

}  // namespace tern
