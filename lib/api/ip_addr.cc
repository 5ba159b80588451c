// tern::IpAddr and tern::Endpoint text forms, on the wire library's IPv6
// parser and formatter (lib/wire/ipv6.h) and the config's dotted quad.
#include "tern/ip_addr.h"

#include <algorithm>
#include <charconv>

#include "config/config.h"
#include "wire/ipv6.h"

namespace tern {

std::optional<IpAddr> IpAddr::parse(std::string_view text) noexcept {
  if (text.find(':') == std::string_view::npos) {
    const auto v4 = parse_ipv4(text);
    if (!v4) return std::nullopt;
    return IpAddr::v4(*v4);
  }
  const auto v6 = Ipv6Addr::from_string(text);
  if (!v6) return std::nullopt;
  return IpAddr::v6(v6->b);
}

std::size_t IpAddr::format(std::span<char, kMaxText> out) const noexcept {
  if (is_v4()) {
    char* p = out.data();
    char* const end = p + out.size();
    for (std::size_t i = 12; i < 16; ++i) {
      p = std::to_chars(p, end, b_[i]).ptr;
      // kMaxText always holds a dotted quad; the test of end is for GCC
      // with LTO (the release build), which otherwise warns of a write past
      // the buffer on to_chars' failure path (-Wstringop-overflow).
      if (i != 15 && p != end) *p++ = '.';
    }
    return static_cast<std::size_t>(p - out.data());
  }
  static_assert(kMaxText == kIpv6AddrMaxText);
  return Ipv6Addr{b_}.format(out);
}

std::string IpAddr::to_string() const {
  std::array<char, kMaxText> buf;
  return std::string(buf.data(), format(buf));
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) noexcept {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.starts_with('[')) {
    // RFC 3986 §3.2.2: an IPv6 literal in brackets; only IPv6 belongs there.
    if (!host.ends_with(']')) return std::nullopt;
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 address needs brackets before ":port"
  }
  const auto addr = IpAddr::parse(host);
  if (!addr || port_text.empty() || port_text.size() > 5) return std::nullopt;
  if (port_text.size() > 1 && port_text.front() == '0') return std::nullopt;
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  return Endpoint{*addr, static_cast<std::uint16_t>(port)};
}

std::size_t Endpoint::format(std::span<char, kMaxText> out) const noexcept {
  char* p = out.data();
  const bool brackets = addr.is_v6();
  if (brackets) *p++ = '[';
  p += addr.format(std::span<char, IpAddr::kMaxText>(p, IpAddr::kMaxText));
  if (brackets) *p++ = ']';
  *p++ = ':';
  p = std::to_chars(p, out.data() + out.size(), port).ptr;
  return static_cast<std::size_t>(p - out.data());
}

std::string Endpoint::to_string() const {
  std::array<char, kMaxText> buf;
  return std::string(buf.data(), format(buf));
}

}  // namespace tern
