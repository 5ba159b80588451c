// [[port]] address6 / gateway6 and the [nd] table: defaults, every key
// landing in its field, and a clear message for each kind of bad value.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace tern {
namespace {

std::string port_doc(std::string_view port_lines, std::string_view after = "") {
  std::string out =
      "[[port]]\nname = \"tap0\"\ndevice = \"net_tap0,iface=tern0\"\naddress = \"10.77.0.2/24\"\n";
  out += port_lines;
  out += '\n';
  out += after;
  return out;
}

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "tern.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

Ipv6Addr v6(std::string_view s) {
  auto a = Ipv6Addr::from_string(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(Ipv6Addr{});
}

TEST(Ipv6Prefix, ParsesAndFormats) {
  const auto p = parse_ipv6_prefix("2001:DB8:1::2/64");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->addr, v6("2001:db8:1::2"));
  EXPECT_EQ(p->len, 64);
  EXPECT_EQ(format_ipv6_prefix(*p), "2001:db8:1::2/64");
  EXPECT_EQ(parse_ipv6_prefix("::/0")->len, 0);
  EXPECT_EQ(parse_ipv6_prefix("::1/128")->len, 128);
  for (std::string_view bad :
       {"2001:db8::1", "2001:db8::1/", "2001:db8::1/129", "2001:db8::1/064", "2001:db8::1/6a",
        "2001:db8::1 /64", "2001:db8:::1/64", "/64", "10.0.0.1/24", "2001:db8::1/-1", "2001:db8::1/64/1"})
    EXPECT_FALSE(parse_ipv6_prefix(bad)) << bad;
}

TEST(ConfigIpv6, DefaultsAreNoAddressesAndLinuxNd) {
  const Config c = parse_config(port_doc(""));
  EXPECT_TRUE(c.ports[0].address6.empty());
  EXPECT_FALSE(c.ports[0].gateway6);
  const NdConfig d;
  EXPECT_EQ(c.nd.base_reachable_time, Duration::s(30));
  EXPECT_EQ(c.nd.retrans_timer, Duration::ms(1000));
  EXPECT_EQ(c.nd.delay_first_probe, Duration::s(5));
  EXPECT_EQ(c.nd.multicast_solicit, 3);
  EXPECT_EQ(c.nd.unicast_solicit, 3);
  EXPECT_EQ(c.nd.max_pending, d.max_pending);
  EXPECT_EQ(c.nd.max_pending_per_neighbor, 16u);
  EXPECT_EQ(c.nd.cache_size, 1024u);
  EXPECT_EQ(c.nd.dad_transmits, 1);
  EXPECT_EQ(c.nd.router_solicitations, 3);
}

TEST(ConfigIpv6, EveryKeyLandsInItsField) {
  const Config c = parse_config(port_doc(R"(address6 = ["2001:db8:1::2/64", "2001:db8:2::7/56", "fd00::1/127"]
gateway6 = "fe80::1")",
                                         R"([nd]
reachable_time_ms = 15000
retrans_ms = 250
delay_first_probe_s = 2
multicast_solicit = 5
unicast_solicit = 4
pending_packets = 128
pending_per_neighbor = 7
cache_entries = 4096
dad_transmits = 0
router_solicitations = 10
)"));
  const PortConfig& p = c.ports[0];
  ASSERT_EQ(p.address6.size(), 3u);
  EXPECT_EQ(p.address6[0], (Ipv6Prefix{v6("2001:db8:1::2"), 64}));
  EXPECT_EQ(p.address6[1], (Ipv6Prefix{v6("2001:db8:2::7"), 56}));
  EXPECT_EQ(p.address6[2], (Ipv6Prefix{v6("fd00::1"), 127}));
  EXPECT_EQ(p.gateway6, v6("fe80::1"));
  EXPECT_EQ(c.nd.base_reachable_time, Duration::ms(15000));
  EXPECT_EQ(c.nd.retrans_timer, Duration::ms(250));
  EXPECT_EQ(c.nd.delay_first_probe, Duration::s(2));
  EXPECT_EQ(c.nd.multicast_solicit, 5);
  EXPECT_EQ(c.nd.unicast_solicit, 4);
  EXPECT_EQ(c.nd.max_pending, 128u);
  EXPECT_EQ(c.nd.max_pending_per_neighbor, 7u);
  EXPECT_EQ(c.nd.cache_size, 4096u);
  EXPECT_EQ(c.nd.dad_transmits, 0);
  EXPECT_EQ(c.nd.router_solicitations, 10);
}

TEST(ConfigIpv6, GatewayInsideAPrefixIsOnLink) {
  const Config c = parse_config(port_doc("address6 = [\"2001:db8:1::2/64\"]\ngateway6 = \"2001:db8:1::1\""));
  EXPECT_EQ(c.ports[0].gateway6, v6("2001:db8:1::1"));
}

struct Bad {
  std::string text;
  std::string expect;  // substring of the message
};

TEST(ConfigIpv6, BadValuesSayWhatIsAllowed) {
  const std::vector<Bad> cases = {
      {port_doc("address6 = \"2001:db8::2/64\""),
       "tern.toml:5:12: port[0].address6 = \"2001:db8::2/64\": must be an array of \"address/len\" strings"},
      {port_doc("address6 = [\"2001:db8::2\"]"),
       "port[0].address6[0] = \"2001:db8::2\": must be \"address/len\": an IPv6 address (RFC 4291 text) and "
       "a "
       "prefix length 1..128"},
      {port_doc("address6 = [64]"), "port[0].address6[0] = 64: must be \"address/len\""},
      {port_doc("address6 = [\"2001:db8::2/0\"]"), "port[0].address6[0] = \"2001:db8::2/0\": must be"},
      {port_doc("address6 = [\"2001:db8::2/129\"]"), "port[0].address6[0] = \"2001:db8::2/129\": must be"},
      {port_doc("address6 = [\"10.0.0.1/24\"]"), "port[0].address6[0] = \"10.0.0.1/24\": must be"},
      {port_doc("address6 = [\"::/64\"]"), "must be a global unicast address: :: is the unspecified address"},
      {port_doc("address6 = [\"::1/128\"]"), "must be a global unicast address: ::1 is loopback"},
      {port_doc("address6 = [\"ff02::1/64\"]"), "ff00::/8 is multicast"},
      {port_doc("address6 = [\"::ffff:10.0.0.1/96\"]"), "::ffff:0:0/96 is IPv4-mapped"},
      {port_doc("address6 = [\"fe80::5/64\"]"),
       "fe80::/10 is link-local: Tern derives the port's link-local"},
      {port_doc("address6 = [\"2001:db8:1::/64\"]"),
       "2001:db8:1:: is the Subnet-Router anycast address of 2001:db8:1::/64"},
      {port_doc("address6 = [\"2001:db8:1::2/64\", \"2001:db8:1:0::2/48\"]"),
       "port[0].address6[1] = \"2001:db8:1:0::2/48\": must not repeat port[0].address6[0] (2001:db8:1::2)"},
      {port_doc("address6 = [\"2001:db8::1/64\", \"2001:db8::2/64\", \"2001:db8::3/64\", \"2001:db8::4/64\", "
                "\"2001:db8::5/64\", \"2001:db8::6/64\", \"2001:db8::7/64\", \"2001:db8::8/64\", "
                "\"2001:db8::9/64\"]"),
       "must list at most 8 addresses; found 9"},
      {port_doc("gateway6 = \"fe80::1/64\""), "port[0].gateway6 = \"fe80::1/64\": must be an IPv6 address"},
      {port_doc("gateway6 = \"10.77.0.1\""), "port[0].gateway6 = \"10.77.0.1\": must be an IPv6 address"},
      {port_doc("gateway6 = \"ff02::2\""), "port[0].gateway6 = \"ff02::2\": must be a unicast address"},
      {port_doc("gateway6 = \"2001:db8:1::1\""),
       "port[0].gateway6 = \"2001:db8:1::1\": must be on the link: link-local (fe80::/10) or inside an "
       "address6 prefix (there is none)"},
      {port_doc(
           "address6 = [\"2001:db8:1::2/64\", \"2001:db8:2:0:ff00::2/72\"]\ngateway6 = \"2001:db8:3::1\""),
       "must be on the link: link-local (fe80::/10) or inside 2001:db8:1::/64, 2001:db8:2:0:ff00::/72"},
      {port_doc("address6 = [\"2001:db8:1::2/64\"]\ngateway6 = \"2001:db8:1::2\""),
       "port[0].gateway6 = \"2001:db8:1::2\": must differ from our own address 2001:db8:1::2"},
      {port_doc("", "[nd]\nretrans_ms = 5"), "nd.retrans_ms = 5: must be an integer in 10..60000"},
      {port_doc("", "[nd]\nreachable_time_ms = 999"),
       "nd.reachable_time_ms = 999: must be an integer in 1000.."},
      {port_doc("", "[nd]\nmulticast_solicit = 0"), "nd.multicast_solicit = 0: must be an integer in 1..20"},
      {port_doc("", "[nd]\nunicast_solicit = 21"), "nd.unicast_solicit = 21: must be an integer in 1..20"},
      {port_doc("", "[nd]\npending_per_neighbor = 0"),
       "nd.pending_per_neighbor = 0: must be an integer in 1..1024"},
      {port_doc("", "[nd]\ncache_entries = 8"), "nd.cache_entries = 8: must be an integer in 16..1048576"},
      {port_doc("", "[nd]\ndad_transmits = 11"), "nd.dad_transmits = 11: must be an integer in 0..10"},
      {port_doc("", "[nd]\nrouter_solicitations = -1"),
       "nd.router_solicitations = -1: must be an integer in 0..10"},
      {port_doc("", "[nd]\nretries = 3"),
       "unknown key nd.retries; retries belongs in [arp] (known in [nd]: reachable_time_ms"},
      {port_doc("address_6 = []"), "unknown key port[0].address_6; did you mean port[0].address6?"},
  };
  for (const Bad& c : cases) {
    const std::string msg = error_of(c.text);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.text << "\n -> " << msg;
  }
}

// docs/config.md's [nd] table lists exactly the keys the parser knows.
TEST(ConfigIpv6, NdTableMatchesTheDocs) {
  std::ifstream f(std::string(TERN_DOCS_DIR) + "/config.md");
  ASSERT_TRUE(f);
  std::set<std::string> documented;
  bool in_table = false;
  for (std::string line; std::getline(f, line);) {
    if (line.starts_with("## ")) in_table = line.starts_with("## `[nd]`");
    if (in_table && line.starts_with("| `")) documented.insert(line.substr(3, line.find('`', 3) - 3));
  }
  const std::set<std::string> known = {"reachable_time_ms",    "retrans_ms",      "delay_first_probe_s",
                                       "multicast_solicit",    "unicast_solicit", "pending_packets",
                                       "pending_per_neighbor", "cache_entries",   "dad_transmits",
                                       "router_solicitations"};
  EXPECT_EQ(documented, known);
  const std::string msg = error_of(port_doc("", "[nd]\nzzzzzzzz = 1"));
  for (const std::string& k : known) EXPECT_NE(msg.find(k), std::string::npos) << k << ": " << msg;
}

}  // namespace
}  // namespace tern
