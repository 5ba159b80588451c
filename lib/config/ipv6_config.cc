// IPv6 configuration: interface addresses with prefix lengths, the default
// router, and the neighbour-discovery table [nd]. docs/config.md documents
// every key.
#include "config/ipv6_config.h"

#include <string>

namespace tern {

std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view s) noexcept {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = Ipv6Addr::from_string(s.substr(0, slash));
  const std::string_view len = s.substr(slash + 1);
  if (!addr || len.empty() || len.size() > 3 || (len.size() > 1 && len.front() == '0')) return std::nullopt;
  unsigned v = 0;
  for (char c : len) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 128) return std::nullopt;
  return Ipv6Prefix{.addr = *addr, .len = static_cast<std::uint8_t>(v)};
}

std::string format_ipv6_prefix(const Ipv6Prefix& p) {
  return p.addr.to_string() + '/' + std::to_string(p.len);
}

namespace config_internal {
namespace {

constexpr std::string_view kAddress6Allowed =
    "must be an array of \"address/len\" strings: IPv6 addresses (RFC 4291 text) with prefix length 1..128, "
    "like [\"2001:db8:1::2/64\"]";

// Why `a` cannot be an interface's global unicast address, or "".
std::string address6_problem(const Ipv6Prefix& p) {
  const Ipv6Addr& a = p.addr;
  if (a.is_unspecified()) return ":: is the unspecified address (RFC 4291 2.5.2)";
  if (a.is_loopback()) return "::1 is loopback (RFC 4291 2.5.3)";
  if (a.is_multicast()) return "ff00::/8 is multicast (RFC 4291 2.7)";
  if (a.is_v4_mapped()) return "::ffff:0:0/96 is IPv4-mapped (RFC 4291 2.5.5.2), not an interface address";
  if (a.is_link_local())
    return "fe80::/10 is link-local: Tern derives the port's link-local address from its MAC (fe80::/64 with "
           "the modified EUI-64, RFC 4291 2.5.1); list global addresses only";
  // RFC 4291 §2.6.1: the address with an all-zero interface identifier is
  // the Subnet-Router anycast address (RFC 6164 exempts /127).
  if (p.len < 127) {
    Ipv6Addr subnet{};
    for (std::size_t i = 0; i < 16; ++i) {
      const unsigned bits = p.len >= (i + 1) * 8 ? 8 : p.len > i * 8 ? p.len - i * 8 : 0;
      subnet.b[i] = static_cast<std::uint8_t>(a.b[i] & (0xFF00 >> bits));
    }
    if (subnet == a)
      return a.to_string() + " is the Subnet-Router anycast address of " + format_ipv6_prefix(p) +
             " (RFC 4291 2.6.1): its interface identifier is all zeros";
  }
  return {};
}

}  // namespace

void read_port_ipv6(const Section& s, PortConfig& p) {
  if (const toml::array* list = s.array("address6", kAddress6Allowed)) {
    if (list->size() > kMaxIpv6Addresses) {
      s.fail("address6", *s.find("address6"),
             "must list at most " + std::to_string(kMaxIpv6Addresses) + " addresses; found " +
                 std::to_string(list->size()));
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      const toml::node& n = (*list)[i];
      const std::string path = s.key_path("address6") + '[' + std::to_string(i) + ']';
      const auto* text = n.as_string();
      const auto prefix = text ? parse_ipv6_prefix(text->get()) : std::nullopt;
      if (!prefix || prefix->len == 0) {
        s.doc().fail_value(path, n,
                           "must be \"address/len\": an IPv6 address (RFC 4291 text) and a prefix length "
                           "1..128, like \"2001:db8:1::2/64\"");
      }
      if (const std::string why = address6_problem(*prefix); !why.empty())
        s.doc().fail_value(path, n, "must be a global unicast address: " + why);
      for (std::size_t j = 0; j < p.address6.size(); ++j) {
        if (p.address6[j].addr == prefix->addr) {
          s.doc().fail_value(path, n,
                             "must not repeat " + s.key_path("address6") + '[' + std::to_string(j) + "] (" +
                                 prefix->addr.to_string() + ')');
        }
      }
      p.address6.push_back(*prefix);
    }
  }

  constexpr std::string_view kGatewayAllowed =
      "must be an IPv6 address: the router's link-local address (fe80::/10, what routers advertise) or an "
      "address inside the prefix of an address6 entry, like \"fe80::1\"";
  const auto text = s.string("gateway6", kGatewayAllowed);
  if (!text) return;
  const toml::node& n = *s.find("gateway6");
  const auto gw = Ipv6Addr::from_string(*text);
  if (!gw) s.fail("gateway6", n, kGatewayAllowed);
  if (gw->is_unspecified() || gw->is_loopback() || gw->is_multicast() || gw->is_v4_mapped())
    s.fail("gateway6", n, "must be a unicast address; " + std::string(kGatewayAllowed));
  bool on_link = gw->is_link_local();
  for (const Ipv6Prefix& a : p.address6) {
    if (a.addr == *gw) s.fail("gateway6", n, "must differ from our own address " + a.addr.to_string());
    on_link = on_link || gw->in_prefix(a.addr, a.len);
  }
  if (!on_link) {
    std::string prefixes;
    for (const Ipv6Prefix& a : p.address6) {
      Ipv6Prefix net = a;
      for (std::size_t i = 0; i < 16; ++i) {
        const unsigned bits = a.len >= (i + 1) * 8 ? 8 : a.len > i * 8 ? a.len - i * 8 : 0;
        net.addr.b[i] = static_cast<std::uint8_t>(a.addr.b[i] & (0xFF00 >> bits));
      }
      prefixes += (prefixes.empty() ? "" : ", ") + format_ipv6_prefix(net);
    }
    s.fail("gateway6", n,
           "must be on the link: link-local (fe80::/10) or inside " +
               (prefixes.empty() ? std::string("an address6 prefix (there is none)") : prefixes));
  }
  p.gateway6 = *gw;
}

NdConfig read_nd(const Section& s) {
  NdConfig nd;
  nd.base_reachable_time =
      Duration::ms(s.integer("reachable_time_ms", nd.base_reachable_time.count_ms(), 1000, 3'600'000));
  nd.retrans_timer = Duration::ms(s.integer("retrans_ms", nd.retrans_timer.count_ms(), 10, 60000));
  nd.delay_first_probe =
      Duration::s(s.integer("delay_first_probe_s", nd.delay_first_probe.count_ns() / 1'000'000'000, 1, 60));
  nd.multicast_solicit =
      static_cast<std::uint8_t>(s.integer("multicast_solicit", nd.multicast_solicit, 1, 20));
  nd.unicast_solicit = static_cast<std::uint8_t>(s.integer("unicast_solicit", nd.unicast_solicit, 1, 20));
  nd.max_pending = static_cast<std::uint32_t>(s.integer("pending_packets", nd.max_pending, 0, 65536));
  nd.max_pending_per_neighbor =
      static_cast<std::uint32_t>(s.integer("pending_per_neighbor", nd.max_pending_per_neighbor, 1, 1024));
  nd.cache_size = static_cast<std::uint32_t>(s.integer("cache_entries", nd.cache_size, 16, 1048576));
  nd.dad_transmits = static_cast<std::uint8_t>(s.integer("dad_transmits", nd.dad_transmits, 0, 10));
  nd.router_solicitations =
      static_cast<std::uint8_t>(s.integer("router_solicitations", nd.router_solicitations, 0, 10));
  return nd;
}

}  // namespace config_internal
}  // namespace tern
