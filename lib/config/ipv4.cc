// Dotted-quad IPv4 text, strict: what inet_pton(AF_INET) accepts and nothing
// more, so an address in a config file means the same thing to Tern, to
// ip(8) and to every other tool reading the same file.
#include <charconv>

#include "config/config.h"

namespace tern {
namespace {

// One decimal part 0..max without sign, spaces or leading zeros.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) noexcept {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s.front() == '0') return std::nullopt;  // "01": octal to inet_aton
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(std::string_view s) noexcept {
  std::uint32_t addr = 0;
  for (int part = 0; part < 4; ++part) {
    const std::size_t dot = s.find('.');
    const bool last = part == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;  // too few or too many dots
    const auto octet = parse_decimal(s.substr(0, dot), 255);
    if (!octet) return std::nullopt;
    addr = addr << 8 | *octet;
    if (!last) s.remove_prefix(dot + 1);
  }
  return addr;
}

std::string format_ipv4(std::uint32_t a) {
  char buf[16];
  char* p = buf;
  char* const end = buf + sizeof buf;
  for (int shift = 24; shift >= 0; shift -= 8) {
    p = std::to_chars(p, end, (a >> shift) & 0xff).ptr;
    // 16 bytes always hold "255.255.255.255"; the test of end is for GCC
    // at -O3 (the release build), which otherwise warns of a write past
    // buf on to_chars' failure path (-Wstringop-overflow).
    if (shift != 0 && p != end) *p++ = '.';
  }
  return std::string(buf, p);
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view s) noexcept {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = parse_ipv4(s.substr(0, slash));
  const auto len = parse_decimal(s.substr(slash + 1), 32);
  if (!addr || !len) return std::nullopt;
  return Ipv4Prefix{.addr = *addr, .len = static_cast<std::uint8_t>(*len)};
}

std::string format_ipv4_prefix(Ipv4Prefix p) { return format_ipv4(p.addr) + '/' + std::to_string(p.len); }

}  // namespace tern
