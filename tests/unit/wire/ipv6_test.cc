#include "wire/ipv6.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>

#include "test_bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

using testing::hex;

Ipv6Addr addr(std::string_view s) {
  auto a = Ipv6Addr::from_string(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(Ipv6Addr{});
}

// ---- address text ------------------------------------------------------------

TEST(Ipv6Addr, ParsesEveryRfc4291Form) {
  const Ipv6Addr full = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a});
  EXPECT_EQ(addr("2001:DB8:0:0:8:800:200C:417A"), full);
  EXPECT_EQ(addr("2001:0db8:0000:0000:0008:0800:200c:417a"), full);
  EXPECT_EQ(addr("2001:db8::8:800:200c:417a"), full);
  EXPECT_EQ(addr("::"), Ipv6Addr{});
  EXPECT_TRUE(addr("::1").is_loopback());
  EXPECT_EQ(addr("ff01::101"), Ipv6Addr::from_groups({0xff01, 0, 0, 0, 0, 0, 0, 0x101}));
  EXPECT_EQ(addr("1::"), Ipv6Addr::from_groups({1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(addr("1:2:3:4:5:6:7::"), Ipv6Addr::from_groups({1, 2, 3, 4, 5, 6, 7, 0}));
  EXPECT_EQ(addr("::2:3:4:5:6:7:8"), Ipv6Addr::from_groups({0, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(addr("::ffff:10.1.2.3"), Ipv6Addr::from_groups({0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203}));
  EXPECT_EQ(addr("0:0:0:0:0:0:13.1.68.3"), Ipv6Addr::from_groups({0, 0, 0, 0, 0, 0, 0x0d01, 0x4403}));
  EXPECT_EQ(addr("1:2:3:4:5:6:255.255.255.255"), Ipv6Addr::from_groups({1, 2, 3, 4, 5, 6, 0xffff, 0xffff}));
}

TEST(Ipv6Addr, RejectsMalformedText) {
  for (std::string_view s : {"",
                             ":",
                             ":::",
                             "1",
                             "1:2:3:4:5:6:7",
                             "1:2:3:4:5:6:7:8:9",
                             "1::2::3",
                             "12345::",
                             "g::",
                             "::g",
                             "1:2:3:4:5:6:7:8::",
                             "::1:2:3:4:5:6:7:8",
                             ":1::",
                             "1::2:",
                             "1:2:3:4:5:6:7:8:",
                             ":1:2:3:4:5:6:7:8",
                             "::1.2.3",
                             "::1.2.3.04",
                             "::256.1.1.1",
                             "::1.2.3.4.5",
                             "::1..2.3",
                             "1.2.3.4::",
                             "::1.2.3.4:5",
                             "1:2:3:4:5:6:7:1.2.3.4",
                             "fe80::1%eth0",
                             "[::1]",
                             " ::1",
                             "::1 ",
                             "1:-2::",
                             "::+1",
                             "0000:0000:0000:0000:0000:0000:0000:00000"}) {
    EXPECT_FALSE(Ipv6Addr::from_string(s).has_value()) << '"' << s << '"';
  }
}

TEST(Ipv6Addr, FormatsPerRfc5952) {
  // §4.2.1: "::" is as long as possible.
  EXPECT_EQ(addr("2001:db8:0:0:0:0:2:1").to_string(), "2001:db8::2:1");
  // §4.2.2: not for a single zero group.
  EXPECT_EQ(addr("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");
  // §4.2.3: the longest run; the first of equal runs.
  EXPECT_EQ(addr("2001:0:0:1:0:0:0:1").to_string(), "2001:0:0:1::1");
  EXPECT_EQ(addr("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  // §4.1 and §4.3: no leading zeros, lower case.
  EXPECT_EQ(addr("2001:0DB8:00AB:000C::0001").to_string(), "2001:db8:ab:c::1");
  EXPECT_EQ(Ipv6Addr{}.to_string(), "::");
  EXPECT_EQ(addr("::1").to_string(), "::1");
  EXPECT_EQ(addr("1::").to_string(), "1::");
  EXPECT_EQ(addr("1:0:0:0:0:0:0:0").to_string(), "1::");
  EXPECT_EQ(addr("0:0:1:0:0:0:0:0").to_string(), "0:0:1::");
  EXPECT_EQ(addr("ff02::1:ff00:2").to_string(), "ff02::1:ff00:2");
  // §5: IPv4-mapped addresses keep the dotted quad.
  EXPECT_EQ(addr("::ffff:a01:203").to_string(), "::ffff:10.1.2.3");
  EXPECT_EQ(addr("::ffff:0:0").to_string(), "::ffff:0.0.0.0");
  const auto longest =
      Ipv6Addr::from_groups({0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff});
  EXPECT_EQ(longest.to_string(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

// glibc's inet_ntop follows RFC 5952 too, except that it writes addresses in
// ::/96 (the deprecated IPv4-compatible form) with a dotted quad.
TEST(Ipv6Addr, AgreesWithInetPtonAndNtop) {
  std::mt19937_64 rng(5952);
  for (int round = 0; round < 20000; ++round) {
    std::array<std::uint16_t, 8> g{};
    for (auto& x : g) {
      const auto r = rng() % 8;
      x = r < 4 ? 0 : r < 6 ? static_cast<std::uint16_t>(rng() % 16) : static_cast<std::uint16_t>(rng());
    }
    if (rng() % 16 == 0) g = {0, 0, 0, 0, 0, 0xffff, g[6], g[7]};
    const Ipv6Addr a = Ipv6Addr::from_groups(g);
    char libc[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, a.b.data(), libc, sizeof libc), nullptr);
    const bool compat =
        g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0 && g[6] != 0;
    if (!compat) {
      ASSERT_EQ(a.to_string(), libc) << "round " << round;
    }
    ASSERT_EQ(Ipv6Addr::from_string(libc), a) << libc;
    ASSERT_EQ(Ipv6Addr::from_string(a.to_string()), a) << a.to_string();
    ASSERT_LE(a.to_string().size(), kIpv6AddrMaxText);
  }
}

TEST(Ipv6Addr, ParserAgreesWithInetPtonOnRandomText) {
  std::mt19937_64 rng(4291);
  static constexpr char kAlphabet[] = "0123456789abcdefABCDEF::::..g";
  int accepted = 0;
  for (int round = 0; round < 100000; ++round) {
    std::string s(1 + rng() % 20, ' ');
    for (char& c : s) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
    std::array<std::uint8_t, 16> libc{};
    const bool ok = inet_pton(AF_INET6, s.c_str(), libc.data()) == 1;
    const auto ours = Ipv6Addr::from_string(s);
    ASSERT_EQ(ours.has_value(), ok) << '"' << s << '"';
    if (ok) {
      ASSERT_EQ(ours->b, libc) << s;
      ++accepted;
    }
  }
  EXPECT_GT(accepted, 100) << "the random text must exercise the accepting paths too";
}

TEST(Ipv6Addr, Classes) {
  EXPECT_TRUE(Ipv6Addr{}.is_unspecified());
  EXPECT_TRUE(Ipv6Addr::all_nodes().is_multicast());
  EXPECT_EQ(Ipv6Addr::all_nodes(), addr("ff02::1"));
  EXPECT_EQ(Ipv6Addr::all_routers(), addr("ff02::2"));
  EXPECT_TRUE(addr("fe80::1").is_link_local());
  EXPECT_TRUE(addr("febf::1").is_link_local());
  EXPECT_FALSE(addr("fec0::1").is_link_local());
  EXPECT_FALSE(addr("2001:db8::1").is_link_local());
  EXPECT_TRUE(addr("ff02::1:ff00:1").is_solicited_node());
  EXPECT_FALSE(addr("ff02::1:fe00:1").is_solicited_node());
  EXPECT_FALSE(addr("ff05::1:ff00:1").is_solicited_node());
  EXPECT_TRUE(addr("::ffff:1.2.3.4").is_v4_mapped());
  EXPECT_FALSE(addr("::1.2.3.4").is_v4_mapped());
  EXPECT_LT(addr("2001:db8::1"), addr("2001:db8::2"));
}

TEST(Ipv6Addr, InPrefix) {
  const Ipv6Addr p = addr("2001:db8:abcd:1200::");
  EXPECT_TRUE(addr("2001:db8:abcd:12ff::1").in_prefix(p, 56));
  EXPECT_FALSE(addr("2001:db8:abcd:13ff::1").in_prefix(p, 56));
  EXPECT_TRUE(addr("2001:db8:abcd:1200::1").in_prefix(p, 64));
  EXPECT_TRUE(addr("2001:db8:abcd:120f::1").in_prefix(p, 60));
  EXPECT_FALSE(addr("2001:db8:abcd:1210::1").in_prefix(p, 60));
  EXPECT_TRUE(addr("ffff::").in_prefix(p, 0));
  EXPECT_TRUE(p.in_prefix(p, 128));
  EXPECT_FALSE(addr("2001:db8:abcd:1200::1").in_prefix(p, 128));
  EXPECT_FALSE(p.in_prefix(p, 129));
}

// ---- derived addresses -----------------------------------------------------------

TEST(Ipv6Addr, LinkLocalFromMacIsModifiedEui64) {
  // RFC 4291 appendix A: ff:fe in the middle, the universal/local bit flipped.
  EXPECT_EQ(link_local_from_mac(MacAddr{{0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5c}}).to_string(),
            "fe80::21b:21ff:fe3a:4f5c");
  EXPECT_EQ(link_local_from_mac(MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}}).to_string(),
            "fe80::ff:fe00:1");
  EXPECT_EQ(link_local_from_mac(MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}).to_string(),
            "fe80::fdff:ffff:feff:ffff");
  EXPECT_TRUE(link_local_from_mac(MacAddr{{0x52, 0x54, 0, 0x12, 0x34, 0x56}}).is_link_local());
}

TEST(Ipv6Addr, SolicitedNodeAndItsMac) {
  const Ipv6Addr a = addr("2001:db8::1:2345:6789");
  const Ipv6Addr s = solicited_node(a);
  EXPECT_EQ(s.to_string(), "ff02::1:ff45:6789");
  EXPECT_TRUE(s.is_solicited_node());
  EXPECT_EQ(solicited_node(addr("fe80::21b:21ff:fe3a:4f5c")), solicited_node(addr("2001:db8::3a:4f5c")))
      << "only the low 24 bits count";
  EXPECT_EQ(multicast_mac(s), (MacAddr{{0x33, 0x33, 0xff, 0x45, 0x67, 0x89}}));
  EXPECT_EQ(multicast_mac(Ipv6Addr::all_nodes()), (MacAddr{{0x33, 0x33, 0, 0, 0, 1}}));
  EXPECT_TRUE(multicast_mac(s).is_multicast());
}

// ---- header ------------------------------------------------------------------------

std::vector<std::byte> packet(std::uint8_t next_header, std::span<const std::byte> payload,
                              const Ipv6Addr& dst = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0,
                                                                           2})) {
  std::vector<std::byte> p(kIpv6HeaderLen + payload.size());
  write_ipv6(p, Ipv6Fields{.src = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}),
                           .dst = dst,
                           .next_header = next_header,
                           .payload_len = static_cast<std::uint16_t>(payload.size())});
  std::copy(payload.begin(), payload.end(), p.begin() + kIpv6HeaderLen);
  return p;
}

TEST(Ipv6Header, BuilderAndViewAgree) {
  std::vector<std::byte> p(kIpv6HeaderLen + 12);
  write_ipv6(p, Ipv6Fields{.src = addr("2001:db8::1"),
                           .dst = addr("ff02::1:ff00:2"),
                           .next_header = kIpProtoIcmpv6,
                           .hop_limit = 255,
                           .payload_len = 12,
                           .traffic_class = 0xb9,
                           .flow_label = 0xfedcb});
  EXPECT_EQ(std::vector<std::byte>(p.begin(), p.begin() + 8), hex("6b 9f ed cb 00 0c 3a ff"));
  auto ip = Ipv6Header::parse(p);
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->traffic_class(), 0xb9);
  EXPECT_EQ(ip->dscp(), 0xb9 >> 2);
  EXPECT_EQ(ip->ecn(), 1);
  EXPECT_EQ(ip->flow_label(), 0xfedcbu);
  EXPECT_EQ(ip->payload_length(), 12);
  EXPECT_EQ(ip->next_header(), kIpProtoIcmpv6);
  EXPECT_EQ(ip->hop_limit(), 255);
  EXPECT_EQ(ip->src(), addr("2001:db8::1"));
  EXPECT_EQ(ip->dst(), addr("ff02::1:ff00:2"));
  EXPECT_EQ(ip->payload().size(), 12u);
  EXPECT_EQ(ip->packet().size(), 52u);
  EXPECT_EQ(ip->payload().data(), p.data() + 40);
}

TEST(Ipv6Header, RejectsTruncatedWrongVersionAndShortPayload) {
  auto p = packet(kIpProtoTcp, testing::random_bytes(20, 1));
  for (std::size_t n = 0; n < kIpv6HeaderLen; ++n) {
    auto ip = Ipv6Header::parse(std::span{p}.first(n));
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.error(), ParseError::kTruncated) << n;
  }
  for (std::size_t n = kIpv6HeaderLen; n < p.size(); ++n) {
    auto ip = Ipv6Header::parse(std::span{p}.first(n));
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.error(), ParseError::kBadTotalLength) << n;
  }
  EXPECT_TRUE(Ipv6Header::parse(p).ok());
  auto v4 = p;
  v4[0] = std::byte{0x45};
  EXPECT_EQ(Ipv6Header::parse(v4).error(), ParseError::kBadVersion);
}

TEST(Ipv6Header, LinkPaddingIsNotPayload) {
  auto p = packet(kIpProtoUdp, hex("00 01 00 02 00 08 00 00"));
  p.resize(p.size() + 6);  // a 60-byte minimum frame would pad like this
  auto ip = Ipv6Header::parse(p);
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->payload().size(), 8u);
}

TEST(Ipv6PseudoHeader, MatchesIndependentChecksum) {
  // UDP 5353 -> 53, "abcd", 2001:db8::1 -> 2001:db8::2; 0xca7c from Python.
  auto udp = hex("14 e9 00 35 00 0c 00 00 61 62 63 64");
  const std::uint32_t ph = ipv6_pseudo_header_sum(addr("2001:db8::1"), addr("2001:db8::2"), 12, kIpProtoUdp);
  EXPECT_LE(ph, 0xFFFFu);
  EXPECT_EQ(checksum_finish(checksum_partial(udp, ph)), 0xca7c);
  store_be16(&udp[6], 0xca7c);
  EXPECT_EQ(checksum_finish(checksum_partial(udp, ph)), 0);
  ChecksumAccumulator acc{ph};
  acc.add(std::span{udp}.first(5));
  acc.add(std::span{udp}.subspan(5));
  EXPECT_EQ(acc.finish(), 0) << "composes with chunked sums";
  // The 32-bit length's high half counts (a jumbogram-sized length).
  EXPECT_NE(ipv6_pseudo_header_sum(Ipv6Addr{}, Ipv6Addr{}, 0x10000, 17),
            ipv6_pseudo_header_sum(Ipv6Addr{}, Ipv6Addr{}, 0, 17));
}

// ---- extension-header walk ---------------------------------------------------------

// An options header (Hop-by-Hop or Destination Options) of 8 * (len + 1)
// bytes: next header, length, then `opts` padded with Pad1 bytes.
std::vector<std::byte> opts_header(std::uint8_t next, std::vector<std::byte> opts) {
  const std::size_t total = (2 + opts.size() + 7) / 8 * 8;
  std::vector<std::byte> h(total, std::byte{0});
  h[0] = std::byte{next};
  h[1] = static_cast<std::byte>(total / 8 - 1);
  std::copy(opts.begin(), opts.end(), h.begin() + 2);
  return h;
}

const auto kTcp = hex("00 50 1f 90 00 00 00 01 00 00 00 00 50 02 ff ff 00 00 00 00");

Ipv6ExtWalk walk(const std::vector<std::byte>& p) {
  auto ip = Ipv6Header::parse(p);
  EXPECT_TRUE(ip.ok());
  return walk_ipv6_extensions(*ip);
}

TEST(Ipv6ExtWalk, NoExtensionHeaders) {
  const auto w = walk(packet(kIpProtoTcp, kTcp));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_protocol, kIpProtoTcp);
  EXPECT_EQ(w.upper_offset, 40);
  EXPECT_EQ(w.next_header_pointer, 6);
  EXPECT_EQ(w.ext_headers, 0);
  EXPECT_FALSE(w.has_fragment);
}

TEST(Ipv6ExtWalk, HopByHopWithPaddingAndRouterAlert) {
  // PadN(2), Router Alert (type 5, action 00: a host skips it), Pad1.
  const auto hbh = opts_header(kIpProtoTcp, hex("01 00 05 02 00 00"));
  const auto w = walk(packet(kIpv6NextHopByHop, testing::concat({hbh, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_protocol, kIpProtoTcp);
  EXPECT_EQ(w.upper_offset, 48);
  EXPECT_EQ(w.next_header_pointer, 40);
  EXPECT_EQ(w.ext_headers, 1);
}

TEST(Ipv6ExtWalk, HopByHopAfterTheFirstHeaderIsUnknownNextHeader) {
  const auto dst = opts_header(kIpv6NextHopByHop, {});
  const auto hbh = opts_header(kIpProtoTcp, {});
  const auto w = walk(packet(kIpv6NextDestOpts, testing::concat({dst, hbh, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kParamProblem);
  EXPECT_EQ(w.reason, Ipv6ExtReason::kHopByHopNotFirst);
  EXPECT_EQ(w.icmp_code, kIcmpv6ParamUnknownNextHeader);
  EXPECT_EQ(w.icmp_pointer, 40u) << "the Next Header octet of the Destination Options header";
}

TEST(Ipv6ExtWalk, UnknownOptionFollowsItsActionBits) {
  const Ipv6Addr multicast = Ipv6Addr::all_nodes();
  // Options at offset 42 (after next header and length), each 4 bytes.
  struct Case {
    std::uint8_t type;
    bool multicast;
    Ipv6ExtVerdict verdict;
  } cases[] = {
      {0x1e, false, Ipv6ExtVerdict::kUpperLayer},    // 00: skip
      {0x1e, true, Ipv6ExtVerdict::kUpperLayer},     // 00: skip
      {0x5e, false, Ipv6ExtVerdict::kDiscard},       // 01: discard
      {0x9e, false, Ipv6ExtVerdict::kParamProblem},  // 10: ICMP even to multicast
      {0x9e, true, Ipv6ExtVerdict::kParamProblem},
      {0xde, false, Ipv6ExtVerdict::kParamProblem},  // 11: ICMP unless multicast
      {0xde, true, Ipv6ExtVerdict::kDiscard},
      {0xc2, false, Ipv6ExtVerdict::kParamProblem},  // Jumbo Payload: not supported
  };
  for (const Case& c : cases) {
    const auto dopt = opts_header(kIpProtoTcp, {std::byte{c.type}, std::byte{2}, std::byte{0}, std::byte{0}});
    const auto p = c.multicast ? packet(kIpv6NextDestOpts, testing::concat({dopt, kTcp}), multicast)
                               : packet(kIpv6NextDestOpts, testing::concat({dopt, kTcp}));
    const auto w = walk(p);
    EXPECT_EQ(w.verdict, c.verdict) << int{c.type} << " multicast " << c.multicast;
    if (w.verdict == Ipv6ExtVerdict::kParamProblem) {
      EXPECT_EQ(w.icmp_code, kIcmpv6ParamUnknownOption);
      EXPECT_EQ(w.icmp_pointer, 42u) << "points at the option type";
    }
    if (w.verdict != Ipv6ExtVerdict::kUpperLayer) {
      EXPECT_EQ(w.reason, Ipv6ExtReason::kUnknownOption);
    }
  }
}

TEST(Ipv6ExtWalk, MalformedOptionsAreDiscarded) {
  // An option whose length runs past the header.
  auto bad = opts_header(kIpProtoTcp, hex("1e 05 00 00"));
  EXPECT_EQ(walk(packet(kIpv6NextHopByHop, testing::concat({bad, kTcp}))).reason,
            Ipv6ExtReason::kBadOptionLength);
  // A type octet in the last byte, no room for its length.
  auto cut = opts_header(kIpProtoTcp, hex("01 03 00 00 00 1e"));
  EXPECT_EQ(walk(packet(kIpv6NextHopByHop, testing::concat({cut, kTcp}))).reason,
            Ipv6ExtReason::kBadOptionLength);
  // Eight bytes of padding in a row (RFC 8504 §5.3: at most 7).
  auto pad = opts_header(kIpProtoTcp, hex("01 06 00 00 00 00 00 00 00 00 00 00 00 00"));
  const auto w = walk(packet(kIpv6NextHopByHop, testing::concat({pad, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kDiscard);
  EXPECT_EQ(w.reason, Ipv6ExtReason::kTooMuchPadding);
  // Nine skippable options.
  std::vector<std::byte> many;
  for (int i = 0; i < 9; ++i) many.insert(many.end(), {std::byte{0x1e}, std::byte{0}});
  const auto too_many = opts_header(kIpProtoTcp, many);
  EXPECT_EQ(walk(packet(kIpv6NextDestOpts, testing::concat({too_many, kTcp}))).reason,
            Ipv6ExtReason::kTooManyOptions);
  many.resize(16);  // eight are fine
  EXPECT_EQ(walk(packet(kIpv6NextDestOpts, testing::concat({opts_header(kIpProtoTcp, many), kTcp}))).verdict,
            Ipv6ExtVerdict::kUpperLayer);
}

TEST(Ipv6ExtWalk, RoutingHeader) {
  // Type 0 (RH0), Segments Left 0: ignored (RFC 8200 §4.4).
  auto rh = hex("06 02 00 00 00 00 00 00  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 09");
  auto w = walk(packet(kIpv6NextRouting, testing::concat({rh, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_offset, 64);
  // Segments Left 1: RH0 refused (RFC 5095), Parameter Problem at the type.
  rh[3] = std::byte{1};
  w = walk(packet(kIpv6NextRouting, testing::concat({rh, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kParamProblem);
  EXPECT_EQ(w.reason, Ipv6ExtReason::kRoutingHeader);
  EXPECT_EQ(w.icmp_code, kIcmpv6ParamErroneousField);
  EXPECT_EQ(w.icmp_pointer, 42u);
  // Segment Routing (type 4) with segments left: refused alike.
  rh[2] = std::byte{4};
  EXPECT_EQ(walk(packet(kIpv6NextRouting, testing::concat({rh, kTcp}))).verdict,
            Ipv6ExtVerdict::kParamProblem);
  // A routing header whose length runs past the packet.
  auto long_rh = hex("06 04 00 00 00 00 00 00");
  EXPECT_EQ(walk(packet(kIpv6NextRouting, testing::concat({long_rh, kTcp}))).reason,
            Ipv6ExtReason::kTruncated);
}

TEST(Ipv6ExtWalk, FirstFragmentGoesToReassembly) {
  const auto frag = hex("11 00 00 01 de ad be ef");  // UDP, offset 0, M
  const auto data = testing::random_bytes(64, 7);
  const auto w = walk(packet(kIpv6NextFragment, testing::concat({frag, data})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kFragment);
  EXPECT_TRUE(w.has_fragment);
  EXPECT_TRUE(w.more_fragments);
  EXPECT_EQ(w.fragment_offset, 0);
  EXPECT_EQ(w.fragment_id, 0xdeadbeefu);
  EXPECT_EQ(w.upper_protocol, kIpProtoUdp);
  EXPECT_EQ(w.upper_offset, 48);
  EXPECT_EQ(w.next_header_pointer, 40);
}

TEST(Ipv6ExtWalk, LastFragment) {
  const auto frag = hex("06 00 05 a8 00 00 00 07");  // TCP, offset 1448 (181 * 8), no M
  const auto w = walk(packet(kIpv6NextFragment, testing::concat({frag, testing::random_bytes(13, 1)})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kFragment);
  EXPECT_FALSE(w.more_fragments);
  EXPECT_EQ(w.fragment_offset, 1448);
  EXPECT_EQ(w.fragment_id, 7u);
}

TEST(Ipv6ExtWalk, AtomicFragmentIsAWholePacket) {
  const auto frag = hex("06 00 00 00 00 00 00 2a");  // offset 0, no M (RFC 6946)
  const auto w = walk(packet(kIpv6NextFragment, testing::concat({frag, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_protocol, kIpProtoTcp);
  EXPECT_EQ(w.upper_offset, 48);
  EXPECT_TRUE(w.has_fragment);
  EXPECT_EQ(w.fragment_id, 42u);
}

TEST(Ipv6ExtWalk, FragmentChecksOfRfc8200Section45) {
  // M set, 13 bytes of data: not a multiple of 8, pointer to Payload Length.
  const auto frag = hex("11 00 00 01 00 00 00 01");
  auto w = walk(packet(kIpv6NextFragment, testing::concat({frag, testing::random_bytes(13, 2)})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kParamProblem);
  EXPECT_EQ(w.reason, Ipv6ExtReason::kBadFragmentLength);
  EXPECT_EQ(w.icmp_code, kIcmpv6ParamErroneousField);
  EXPECT_EQ(w.icmp_pointer, 4u);
  // Offset 65528 + 16 bytes: would reassemble past 65535, pointer to the offset.
  const auto far = hex("11 00 ff f9 00 00 00 01");
  w = walk(packet(kIpv6NextFragment, testing::concat({far, testing::random_bytes(16, 3)})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kParamProblem);
  EXPECT_EQ(w.reason, Ipv6ExtReason::kFragmentTooLong);
  EXPECT_EQ(w.icmp_pointer, 42u);
  // Offset 65528 + 7 bytes (last fragment) ends at 65535: accepted.
  const auto edge = hex("11 00 ff f8 00 00 00 01");
  EXPECT_EQ(walk(packet(kIpv6NextFragment, testing::concat({edge, testing::random_bytes(7, 4)}))).verdict,
            Ipv6ExtVerdict::kFragment);
  // The same with an 8-byte Hop-by-Hop header before it: 8 bytes too long.
  const auto hbh = opts_header(kIpv6NextFragment, {});
  EXPECT_EQ(walk(packet(kIpv6NextHopByHop, testing::concat({hbh, edge, testing::random_bytes(7, 4)}))).reason,
            Ipv6ExtReason::kFragmentTooLong);
}

TEST(Ipv6ExtWalk, LongChainReportsOffsetsFromTheFixedHeader) {
  const auto hbh = opts_header(kIpv6NextDestOpts, hex("01 02 00 00"));
  const auto dst1 = opts_header(kIpv6NextRouting, {});
  const auto rh = hex("2c 00 00 00 00 00 00 00");    // -> Fragment, Segments Left 0
  const auto frag = hex("3c 00 00 00 00 00 00 01");  // atomic -> Destination Options
  const auto dst2 = opts_header(kIpProtoUdp, hex("1e 0a 00 00 00 00 00 00 00 00 00 00"));
  const auto udp = hex("14 e9 00 35 00 08 00 00");
  const auto w = walk(packet(kIpv6NextHopByHop, testing::concat({hbh, dst1, rh, frag, dst2, udp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_protocol, kIpProtoUdp);
  EXPECT_EQ(w.upper_offset, 40 + 8 + 8 + 8 + 8 + 16);
  EXPECT_EQ(w.next_header_pointer, 40 + 8 + 8 + 8 + 8);
  EXPECT_EQ(w.ext_headers, 5);
}

TEST(Ipv6ExtWalk, TooManyHeaders) {
  std::vector<std::byte> chain;
  for (std::size_t i = 0; i < kIpv6MaxExtHeaders; ++i) {
    const auto h = opts_header(i + 1 == kIpv6MaxExtHeaders ? kIpProtoTcp : kIpv6NextDestOpts, {});
    chain.insert(chain.end(), h.begin(), h.end());
  }
  EXPECT_EQ(walk(packet(kIpv6NextDestOpts, testing::concat({chain, kTcp}))).verdict,
            Ipv6ExtVerdict::kUpperLayer);
  chain[chain.size() - 8] = std::byte{kIpv6NextDestOpts};
  const auto more = opts_header(kIpProtoTcp, {});
  const auto w = walk(packet(kIpv6NextDestOpts, testing::concat({chain, more, kTcp})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kDiscard);
  EXPECT_EQ(w.reason, Ipv6ExtReason::kTooManyHeaders);
  EXPECT_EQ(w.ext_headers, kIpv6MaxExtHeaders);  // the count stays within its bound
}

TEST(Ipv6ExtWalk, NoNextHeaderAndUnknownProtocolsReachTheCaller) {
  auto w = walk(packet(kIpv6NextNone, hex("00 00 00 00")));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_protocol, kIpv6NextNone);
  // ESP, or anything Tern does not speak: the caller answers Parameter
  // Problem code 1 at next_header_pointer.
  const auto dopt = opts_header(kIpv6NextEsp, {});
  w = walk(packet(kIpv6NextDestOpts, testing::concat({dopt, testing::random_bytes(16, 5)})));
  EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kUpperLayer);
  EXPECT_EQ(w.upper_protocol, kIpv6NextEsp);
  EXPECT_EQ(w.next_header_pointer, 40);
  EXPECT_EQ(w.upper_offset, 48);
}

TEST(Ipv6ExtWalk, TruncatedAtEveryLength) {
  const auto hbh = opts_header(kIpv6NextRouting, hex("01 02 00 00 1e 04 00 00 00 00"));
  const auto rh = hex("2c 00 00 00 00 00 00 00");
  const auto frag = hex("06 00 00 00 00 00 00 01");
  const auto whole = testing::concat({hbh, rh, frag});
  EXPECT_EQ(walk(packet(kIpv6NextHopByHop, testing::concat({whole, kTcp}))).verdict,
            Ipv6ExtVerdict::kUpperLayer);
  for (std::size_t n = 0; n < whole.size(); ++n) {
    // Copied so that ASan sees any read past the shortened payload.
    const std::vector<std::byte> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    const auto w = walk(packet(kIpv6NextHopByHop, cut));
    EXPECT_EQ(w.verdict, Ipv6ExtVerdict::kDiscard) << n;
    EXPECT_EQ(w.reason, Ipv6ExtReason::kTruncated) << n;
  }
}

TEST(Ipv6ExtWalk, ReasonNames) {
  EXPECT_EQ(ipv6_ext_reason_name(Ipv6ExtReason::kRoutingHeader), "routing_header");
  EXPECT_EQ(ipv6_ext_reason_name(Ipv6ExtReason::kFragmentTooLong), "fragment_too_long");
}

// RFC 7112 §5: the first fragment holds every header up to and with the
// upper-layer header; offsets count from the fixed header as the walk's.
TEST(Ipv6FirstFragment, HoldsTheWholeChainOrNot) {
  const auto frag = hex("3c 00 00 01 00 00 00 01");  // next: Destination Options
  const auto dst = opts_header(kIpProtoUdp, {});     // 8 bytes, then UDP
  const auto p = [&](std::size_t upper_bytes) {
    return packet(kIpv6NextFragment, testing::concat({frag, dst, testing::random_bytes(upper_bytes, 5)}));
  };
  // UDP needs its 8-byte header after the 8-byte options header at 48.
  EXPECT_TRUE(ipv6_first_fragment_has_chain(p(8), kIpv6NextDestOpts, 48));
  EXPECT_FALSE(ipv6_first_fragment_has_chain(p(7), kIpv6NextDestOpts, 48));
  EXPECT_FALSE(ipv6_first_fragment_has_chain(p(0), kIpv6NextDestOpts, 48));
  const auto tcp = [&](std::size_t n) {
    return packet(kIpv6NextFragment, testing::concat({frag, testing::random_bytes(n, 6)}));
  };
  EXPECT_TRUE(ipv6_first_fragment_has_chain(tcp(20), kIpProtoTcp, 48));
  EXPECT_FALSE(ipv6_first_fragment_has_chain(tcp(19), kIpProtoTcp, 48));
  EXPECT_TRUE(ipv6_first_fragment_has_chain(tcp(8), kIpProtoIcmpv6, 48));
  EXPECT_FALSE(ipv6_first_fragment_has_chain(tcp(7), kIpProtoIcmpv6, 48));
  EXPECT_TRUE(ipv6_first_fragment_has_chain(tcp(0), kIpv6NextNone, 48));
  // An options header whose length runs past the fragment.
  const auto long_dst = hex("11 02 01 02 00 00 00 00");  // says 24 bytes, 8 there
  EXPECT_FALSE(ipv6_first_fragment_has_chain(packet(kIpv6NextFragment, testing::concat({frag, long_dst})),
                                             kIpv6NextDestOpts, 48));
  // Nine chained options headers: past the walk's bound.
  std::vector<std::byte> chain(frag.begin(), frag.end());
  for (int i = 0; i < 9; ++i) {
    const auto h = opts_header(kIpv6NextDestOpts, {});
    chain.insert(chain.end(), h.begin(), h.end());
  }
  chain.resize(chain.size() + 8);
  EXPECT_FALSE(ipv6_first_fragment_has_chain(packet(kIpv6NextFragment, chain), kIpv6NextDestOpts, 48));
}

}  // namespace
}  // namespace tern
