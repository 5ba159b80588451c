#include "wire/tcp.h"

#include <cassert>
#include <cstring>

#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {

std::string TcpFlags::to_string() const {
  if (bits == 0) return "none";
  std::string s;
  if (syn()) s += 'S';
  if (fin()) s += 'F';
  if (rst()) s += 'R';
  if (psh()) s += 'P';
  if (urg()) s += 'U';
  if (ack()) s += '.';
  if (ece()) s += 'E';
  if (cwr()) s += 'W';
  return s;
}

bool TcpHeader::checksum_ok(std::uint32_t src, std::uint32_t dst) const noexcept {
  // The segment length is at most an IPv4 payload, so it fits 16 bits.
  const auto len = static_cast<std::uint16_t>(seg_.size());
  return checksum_finish(checksum_partial(seg_, pseudo_header_sum(src, dst, kIpProtoTcp, len))) == 0;
}

std::size_t write_tcp(std::span<std::byte> out, const TcpFields& f,
                      std::span<const std::byte> options) noexcept {
  const std::size_t header_len = kTcpMinHeaderLen + options.size();
  if (options.size() % 4 != 0 || header_len > kTcpMaxHeaderLen || out.size() < header_len) return 0;
  std::byte* p = out.data();
  write_tcp_fixed(p, f, header_len);
  if (!options.empty()) std::memcpy(p + kTcpMinHeaderLen, options.data(), options.size());
  return header_len;
}

void fill_tcp_checksum(std::span<std::byte> segment, std::uint32_t src, std::uint32_t dst) noexcept {
  assert(segment.size() >= kTcpMinHeaderLen && segment.size() <= 0xFFFF);
  store_be16(segment.data() + 16, 0);
  const auto len = static_cast<std::uint16_t>(segment.size());
  store_be16(segment.data() + 16,
             checksum_finish(checksum_partial(segment, pseudo_header_sum(src, dst, kIpProtoTcp, len))));
}

}  // namespace tern
