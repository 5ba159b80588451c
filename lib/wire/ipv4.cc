#include "wire/ipv4.h"

#include <cassert>

#include "wire/checksum.h"

namespace tern {
namespace {

// RFC 791 §3.1 "Options": two formats. Case 1 is a single octet (End of
// Option List, No Operation); case 2 is type, length (counting type and length
// octets, so >= 2), data. End of Option List ends the list; what follows it
// is padding. Semantics of individual options (source route, record route,
// ...) are not checked: Tern neither forwards nor honours them.
bool ipv4_options_well_formed(std::span<const std::byte> opts) noexcept {
  std::size_t i = 0;
  while (i < opts.size()) {
    const std::uint8_t type = load_u8(&opts[i]);
    if (type == kIpOptEndOfList) return true;
    if (type == kIpOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= opts.size()) return false;  // no room for the length octet
    const std::size_t len = load_u8(&opts[i + 1]);
    if (len < 2 || len > opts.size() - i) return false;
    i += len;
  }
  return true;
}

}  // namespace

Parsed<Ipv4Header> Ipv4Header::parse(std::span<const std::byte> b) noexcept {
  if (b.size() < kIpv4MinHeaderLen) return ParseError::kTruncated;
  const std::byte* p = b.data();
  const std::uint8_t ver_ihl = load_u8(p);
  if ((ver_ihl >> 4) != 4) return ParseError::kBadVersion;
  const std::size_t header_len = static_cast<std::size_t>(ver_ihl & 0x0F) * 4;
  if (header_len < kIpv4MinHeaderLen || header_len > b.size()) return ParseError::kBadHeaderLength;
  const std::size_t total_len = load_be16(p + 2);
  if (total_len < header_len || total_len > b.size()) return ParseError::kBadTotalLength;
  if (!ipv4_options_well_formed(b.subspan(kIpv4MinHeaderLen, header_len - kIpv4MinHeaderLen))) {
    return ParseError::kBadOption;
  }
  return Ipv4Header{p, static_cast<std::uint8_t>(header_len), static_cast<std::uint16_t>(total_len)};
}

bool Ipv4Header::checksum_ok() const noexcept { return internet_checksum(header()) == 0; }

void write_ipv4(std::span<std::byte> out, const Ipv4Fields& f, bool fill_checksum) noexcept {
  assert(out.size() >= kIpv4MinHeaderLen);
  assert(f.payload_len <= 0xFFFF - kIpv4MinHeaderLen);
  std::byte* p = out.data();
  store_u8(p, 0x45);  // version 4, IHL 5
  store_u8(p + 1, f.tos);
  store_be16(p + 2, static_cast<std::uint16_t>(kIpv4MinHeaderLen + f.payload_len));
  store_be16(p + 4, f.id);
  store_be16(p + 6, f.dont_fragment ? 0x4000 : 0);
  store_u8(p + 8, f.ttl);
  store_u8(p + 9, f.protocol);
  store_be16(p + 10, 0);
  store_be32(p + 12, f.src);
  store_be32(p + 16, f.dst);
  if (fill_checksum) store_be16(p + 10, internet_checksum({p, kIpv4MinHeaderLen}));
}

}  // namespace tern
