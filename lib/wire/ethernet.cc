#include "wire/ethernet.h"

#include <cassert>

#include "wire/bytes.h"

namespace tern {

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (std::size_t i = 0; i < 6; ++i) {
    s[i * 3] = kHex[b[i] >> 4];
    s[i * 3 + 1] = kHex[b[i] & 0x0F];
  }
  return s;
}

std::optional<MacAddr> MacAddr::from_string(std::string_view s) noexcept {
  if (s.size() != 17) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  MacAddr m;
  for (std::size_t i = 0; i < 6; ++i) {
    const int hi = nibble(s[i * 3]);
    const int lo = nibble(s[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-') return std::nullopt;
    if (i > 0 && s[i * 3 - 1] != s[2]) return std::nullopt;  // one separator style
    m.b[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return m;
}

Parsed<EthernetHeader> EthernetHeader::parse(std::span<const std::byte> frame) noexcept {
  if (frame.size() < kEthernetHeaderLen) return ParseError::kTruncated;
  return EthernetHeader{frame};
}

}  // namespace tern
