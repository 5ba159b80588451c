#include "wire/ndp.h"

#include <gtest/gtest.h>

#include "test_bytes.h"

namespace tern {
namespace {

using testing::hex;

Ipv6Addr addr(std::string_view s) { return Ipv6Addr::from_string(s).value(); }

constexpr MacAddr kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr MacAddr kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
const Ipv6Addr kLlA = link_local_from_mac(kMacA);  // fe80::ff:fe00:1
const Ipv6Addr kLlB = link_local_from_mac(kMacB);
const Ipv6Addr kTarget = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2});

// Neighbour Solicitation fe80::ff:fe00:1 -> ff02::1:ff00:2 for 2001:db8::2
// with a Source Link-Layer Address option; the checksum computed
// independently (Python, RFC 1071 over the RFC 8200 §8.1 pseudo-header).
std::vector<std::byte> captured_ns() {
  return hex(
      "87 00 4c 5f 00 00 00 00 20 01 0d b8 00 00 00 00"
      "00 00 00 00 00 00 00 02 01 01 02 00 00 00 00 01");
}

TEST(NdMessage, SolicitationBuilderMatchesIndependentBytes) {
  std::array<std::byte, 32> out{};
  ASSERT_EQ(write_neighbor_solicit(out, kTarget, kMacA, kLlA, solicited_node(kTarget)), 32u);
  EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()), captured_ns());
  EXPECT_EQ(write_neighbor_solicit(std::span{out}.first(31), kTarget, kMacA, kLlA, solicited_node(kTarget)),
            0u);
  EXPECT_EQ(write_neighbor_solicit(std::span{out}.first(24), kTarget, std::nullopt, Ipv6Addr{},
                                   solicited_node(kTarget)),
            24u)
      << "a DAD probe carries no option";
}

TEST(NdMessage, ParsesSolicitation) {
  const auto msg = captured_ns();
  auto nd = NdMessage::parse(msg);
  ASSERT_TRUE(nd.ok());
  EXPECT_EQ(nd->type(), kIcmpv6NeighborSolicit);
  EXPECT_EQ(nd->code(), 0);
  EXPECT_EQ(nd->target(), kTarget);
  EXPECT_EQ(nd->source_lla(), kMacA);
  EXPECT_FALSE(nd->target_lla().has_value());
  EXPECT_TRUE(nd->has_option(kNdOptSourceLla));
  EXPECT_FALSE(nd->has_option(kNdOptMtu));
  EXPECT_EQ(nd->options().size(), 8u);
}

TEST(NdMessage, AdvertisementFlagsAndTarget) {
  for (int bits = 0; bits < 8; ++bits) {
    const NaFlags f{.router = (bits & 1) != 0, .solicited = (bits & 2) != 0, .override_ = (bits & 4) != 0};
    std::array<std::byte, 32> out{};
    ASSERT_EQ(write_neighbor_advert(out, kTarget, f, kMacB, kTarget, kLlA), 32u);
    auto nd = NdMessage::parse(out);
    ASSERT_TRUE(nd.ok());
    EXPECT_EQ(nd->type(), kIcmpv6NeighborAdvert);
    EXPECT_EQ(nd->router_flag(), f.router);
    EXPECT_EQ(nd->solicited_flag(), f.solicited);
    EXPECT_EQ(nd->override_flag(), f.override_);
    EXPECT_EQ(load_u8(out.data() + 4) & 0x1F, 0) << "reserved bits";
    EXPECT_EQ(load_be16(out.data() + 6), 0);
    EXPECT_EQ(nd->target(), kTarget);
    EXPECT_EQ(nd->target_lla(), kMacB);
    EXPECT_FALSE(nd->source_lla().has_value());
    EXPECT_TRUE(Icmpv6Header::parse(out)->checksum_ok(kTarget, kLlA));
  }
}

TEST(NdMessage, RouterSolicitation) {
  std::array<std::byte, 16> out{};
  ASSERT_EQ(write_router_solicit(out, kMacA, kLlA, Ipv6Addr::all_routers()), 16u);
  auto nd = NdMessage::parse(out);
  ASSERT_TRUE(nd.ok());
  EXPECT_EQ(nd->type(), kIcmpv6RouterSolicit);
  EXPECT_EQ(nd->source_lla(), kMacA);
  EXPECT_EQ(write_router_solicit(out, std::nullopt, Ipv6Addr{}, Ipv6Addr::all_routers()), 8u);
  EXPECT_TRUE(Icmpv6Header::parse(std::span{out}.first(8))->checksum_ok(Ipv6Addr{}, Ipv6Addr::all_routers()));
}

TEST(NdMessage, RouterAdvertisementWithPrefixesAndMtu) {
  const NdPrefixInfo prefixes[] = {
      {.prefix_len = 64,
       .on_link = true,
       .autonomous = true,
       .valid_lifetime_s = 2592000,
       .preferred_lifetime_s = 604800,
       .prefix = addr("2001:db8:1::")},
      {.prefix_len = 48, .on_link = true, .valid_lifetime_s = 0xFFFFFFFF, .prefix = addr("2001:db8:2::")},
  };
  std::array<std::byte, 200> out{};
  const std::size_t n = write_router_advert(out,
                                            RouterAdvertFields{.cur_hop_limit = 64,
                                                               .managed = true,
                                                               .router_lifetime_s = 1800,
                                                               .reachable_time_ms = 30000,
                                                               .retrans_timer_ms = 1000,
                                                               .source_lla = kMacB,
                                                               .mtu = 9000,
                                                               .prefixes = prefixes},
                                            kLlB, Ipv6Addr::all_nodes());
  ASSERT_EQ(n, 16u + 8 + 8 + 2 * 32);
  auto nd = NdMessage::parse(std::span{out}.first(n));
  ASSERT_TRUE(nd.ok());
  EXPECT_EQ(nd->type(), kIcmpv6RouterAdvert);
  EXPECT_EQ(nd->cur_hop_limit(), 64);
  EXPECT_TRUE(nd->managed_flag());
  EXPECT_FALSE(nd->other_flag());
  EXPECT_EQ(nd->router_lifetime_s(), 1800);
  EXPECT_EQ(nd->reachable_time_ms(), 30000u);
  EXPECT_EQ(nd->retrans_timer_ms(), 1000u);
  EXPECT_EQ(nd->source_lla(), kMacB);
  EXPECT_EQ(nd->mtu(), 9000u);
  std::vector<NdPrefixInfo> seen;
  nd->for_each_prefix([&](const NdPrefixInfo& p) { seen.push_back(p); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].prefix, addr("2001:db8:1::"));
  EXPECT_EQ(seen[0].prefix_len, 64);
  EXPECT_TRUE(seen[0].on_link);
  EXPECT_TRUE(seen[0].autonomous);
  EXPECT_EQ(seen[0].valid_lifetime_s, 2592000u);
  EXPECT_EQ(seen[0].preferred_lifetime_s, 604800u);
  EXPECT_EQ(seen[1].prefix, addr("2001:db8:2::"));
  EXPECT_FALSE(seen[1].autonomous);
  EXPECT_EQ(seen[1].valid_lifetime_s, 0xFFFFFFFFu);
  EXPECT_TRUE(Icmpv6Header::parse(std::span{out}.first(n))->checksum_ok(kLlB, Ipv6Addr::all_nodes()));
  EXPECT_EQ(write_router_advert(std::span{out}.first(n - 1),
                                RouterAdvertFields{.source_lla = kMacB, .mtu = 1500, .prefixes = prefixes},
                                kLlB, Ipv6Addr::all_nodes()),
            0u);
}

TEST(NdMessage, UnknownAndMisSizedOptionsAreSkipped) {
  // NA, then an unknown option (type 200, 8 bytes), a Target LLA of length 2
  // (not Ethernet's), a well-sized one, and an MTU option of length 2.
  auto msg =
      hex("88 00 00 00 60 00 00 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02"
          "c8 01 00 00 00 00 00 00"
          "02 02 aa aa aa aa aa aa 00 00 00 00 00 00 00 00"
          "02 01 02 00 00 00 00 02"
          "05 02 00 00 00 00 05 dc 00 00 00 00 00 00 00 00");
  auto nd = NdMessage::parse(msg);
  ASSERT_TRUE(nd.ok());
  EXPECT_EQ(nd->target_lla(), kMacB);
  EXPECT_FALSE(nd->mtu().has_value());
  int count = 0;
  nd->for_each_option([&](std::uint8_t, std::span<const std::byte> o) {
    EXPECT_EQ(o.size() % 8, 0u);
    ++count;
  });
  EXPECT_EQ(count, 4);
}

TEST(NdMessage, ParseErrors) {
  EXPECT_EQ(NdMessage::parse({}).error(), ParseError::kTruncated);
  EXPECT_EQ(NdMessage::parse(hex("80 00 00 00 00 00 00 00")).error(), ParseError::kUnsupported) << "echo";
  EXPECT_EQ(NdMessage::parse(hex("89 00 00 00 00 00 00 00")).error(), ParseError::kUnsupported) << "redirect";
  const auto ns = captured_ns();
  for (std::size_t n = 1; n < kNdNeighborSolicitLen; ++n) {
    EXPECT_EQ(NdMessage::parse(std::span{ns}.first(n)).error(), ParseError::kTruncated) << n;
  }
  // Cut inside the option: its length runs past the message.
  for (std::size_t n = kNdNeighborSolicitLen + 1; n < ns.size(); ++n) {
    EXPECT_EQ(NdMessage::parse(std::span{ns}.first(n)).error(), ParseError::kBadOption) << n;
  }
  auto zero = ns;
  zero[25] = std::byte{0};  // RFC 4861 §4.6: length 0 is invalid
  EXPECT_EQ(NdMessage::parse(zero).error(), ParseError::kBadOption);
  auto past = ns;
  past[25] = std::byte{2};
  EXPECT_EQ(NdMessage::parse(past).error(), ParseError::kBadOption);
  EXPECT_EQ(NdMessage::parse(hex("85 00 00 00 00 00 00")).error(), ParseError::kTruncated) << "RS under 8";
  EXPECT_EQ(NdMessage::parse(hex("86 00 00 00 00 00 00 00 00 00 00 00 00 00 00")).error(),
            ParseError::kTruncated)
      << "RA under 16";
}

// ---- validity checks (RFC 4861 §6.1, §7.1) ----------------------------------------

struct NdPacket {
  std::vector<std::byte> bytes;
  Ipv6Header ip() const { return Ipv6Header::parse(bytes).value(); }
  std::span<const std::byte> msg() const { return std::span{bytes}.subspan(kIpv6HeaderLen); }
};

NdPacket nd_packet(std::span<const std::byte> msg, const Ipv6Addr& src, const Ipv6Addr& dst,
                   std::uint8_t hop_limit = kNdHopLimit, bool fix_checksum = true) {
  NdPacket p;
  p.bytes.resize(kIpv6HeaderLen + msg.size());
  write_ipv6(p.bytes, Ipv6Fields{.src = src,
                                 .dst = dst,
                                 .next_header = kIpProtoIcmpv6,
                                 .hop_limit = hop_limit,
                                 .payload_len = static_cast<std::uint16_t>(msg.size())});
  std::copy(msg.begin(), msg.end(), p.bytes.begin() + kIpv6HeaderLen);
  if (fix_checksum) fill_icmpv6_checksum(std::span{p.bytes}.subspan(kIpv6HeaderLen), src, dst);
  return p;
}

NdReject check(const NdPacket& p) { return validate_nd(p.ip(), p.msg()); }

std::vector<std::byte> ns(const Ipv6Addr& target, std::optional<MacAddr> lla) {
  std::vector<std::byte> m(32);
  m.resize(write_neighbor_solicit(m, target, lla, Ipv6Addr{}, Ipv6Addr{}));
  return m;
}

std::vector<std::byte> na(const Ipv6Addr& target, NaFlags f) {
  std::vector<std::byte> m(32);
  m.resize(write_neighbor_advert(m, target, f, kMacB, Ipv6Addr{}, Ipv6Addr{}));
  return m;
}

TEST(NdValidate, ValidMessagesPass) {
  EXPECT_EQ(check(nd_packet(ns(kTarget, kMacA), kLlA, solicited_node(kTarget))), NdReject::kValid);
  EXPECT_EQ(check(nd_packet(ns(kTarget, kMacA), kLlA, kTarget)), NdReject::kValid) << "unicast probe";
  EXPECT_EQ(check(nd_packet(ns(kTarget, std::nullopt), Ipv6Addr{}, solicited_node(kTarget))),
            NdReject::kValid)
      << "duplicate address detection";
  EXPECT_EQ(check(nd_packet(na(kTarget, {.solicited = true}), kTarget, kLlA)), NdReject::kValid);
  EXPECT_EQ(check(nd_packet(na(kTarget, {.override_ = true}), kTarget, Ipv6Addr::all_nodes())),
            NdReject::kValid)
      << "unsolicited advertisement";
  std::vector<std::byte> rs(16);
  rs.resize(write_router_solicit(rs, kMacA, Ipv6Addr{}, Ipv6Addr{}));
  EXPECT_EQ(check(nd_packet(rs, kLlA, Ipv6Addr::all_routers())), NdReject::kValid);
  std::vector<std::byte> ra(64);
  ra.resize(write_router_advert(ra, {.router_lifetime_s = 1800, .mtu = 1500}, Ipv6Addr{}, Ipv6Addr{}));
  EXPECT_EQ(check(nd_packet(ra, kLlB, Ipv6Addr::all_nodes())), NdReject::kValid);
}

TEST(NdValidate, HopLimitMustBe255) {
  for (std::uint8_t hl : {0, 1, 64, 254}) {
    EXPECT_EQ(check(nd_packet(ns(kTarget, kMacA), kLlA, solicited_node(kTarget), hl)), NdReject::kHopLimit);
  }
}

TEST(NdValidate, ChecksumCodeAndLength) {
  auto p = nd_packet(ns(kTarget, kMacA), kLlA, solicited_node(kTarget));
  p.bytes[kIpv6HeaderLen + 2] ^= std::byte{1};
  EXPECT_EQ(check(p), NdReject::kBadChecksum);
  // A checksum made for another destination fails here too.
  auto q = nd_packet(ns(kTarget, kMacA), kLlA, kTarget);
  Ipv6Addr other = solicited_node(kTarget);
  other.store(q.bytes.data() + 24);
  EXPECT_EQ(check(q), NdReject::kBadChecksum);

  auto coded = ns(kTarget, kMacA);
  coded[1] = std::byte{1};
  EXPECT_EQ(check(nd_packet(coded, kLlA, solicited_node(kTarget))), NdReject::kBadCode);

  const auto full = ns(kTarget, std::nullopt);
  EXPECT_EQ(check(nd_packet(std::span{full}.first(20), kLlA, solicited_node(kTarget))), NdReject::kTooShort);
  EXPECT_EQ(check(nd_packet(std::span{full}.first(4), kLlA, solicited_node(kTarget), kNdHopLimit, false)),
            NdReject::kTooShort);
  EXPECT_EQ(check(nd_packet(hex("86 00 00 00 40 00 07 08 00 00 00 00"), kLlB, Ipv6Addr::all_nodes())),
            NdReject::kTooShort)
      << "RA under 16 bytes";
}

TEST(NdValidate, OptionLengths) {
  auto zero = ns(kTarget, kMacA);
  zero[25] = std::byte{0};
  EXPECT_EQ(check(nd_packet(zero, kLlA, solicited_node(kTarget))), NdReject::kBadOptionLength);
  auto past = ns(kTarget, kMacA);
  past[25] = std::byte{3};
  EXPECT_EQ(check(nd_packet(past, kLlA, solicited_node(kTarget))), NdReject::kBadOptionLength);
  auto stub = ns(kTarget, std::nullopt);
  stub.push_back(std::byte{1});  // a lone option type octet
  EXPECT_EQ(check(nd_packet(stub, kLlA, solicited_node(kTarget))), NdReject::kBadOptionLength);
}

TEST(NdValidate, TargetMustNotBeMulticast) {
  EXPECT_EQ(check(nd_packet(ns(Ipv6Addr::all_nodes(), kMacA), kLlA, solicited_node(Ipv6Addr::all_nodes()))),
            NdReject::kMulticastTarget);
  EXPECT_EQ(check(nd_packet(na(addr("ff02::1:ff00:2"), {.solicited = true}), kTarget, kLlA)),
            NdReject::kMulticastTarget);
}

TEST(NdValidate, SolicitationFromTheUnspecifiedAddress) {
  // §7.1.1: then the destination is a solicited-node address...
  EXPECT_EQ(check(nd_packet(ns(kTarget, std::nullopt), Ipv6Addr{}, kTarget)),
            NdReject::kUnspecifiedNotSolicitedNode);
  EXPECT_EQ(check(nd_packet(ns(kTarget, std::nullopt), Ipv6Addr{}, Ipv6Addr::all_nodes())),
            NdReject::kUnspecifiedNotSolicitedNode);
  // ...and there is no Source Link-Layer Address option.
  EXPECT_EQ(check(nd_packet(ns(kTarget, kMacA), Ipv6Addr{}, solicited_node(kTarget))),
            NdReject::kUnspecifiedWithSourceLla);
}

TEST(NdValidate, RouterSolicitationFromTheUnspecifiedAddress) {
  std::vector<std::byte> rs(16);
  rs.resize(write_router_solicit(rs, kMacA, Ipv6Addr{}, Ipv6Addr{}));
  EXPECT_EQ(check(nd_packet(rs, Ipv6Addr{}, Ipv6Addr::all_routers())), NdReject::kUnspecifiedWithSourceLla);
  rs.resize(8);
  EXPECT_EQ(check(nd_packet(rs, Ipv6Addr{}, Ipv6Addr::all_routers())), NdReject::kValid);
}

TEST(NdValidate, SolicitedAdvertisementToMulticast) {
  EXPECT_EQ(check(nd_packet(na(kTarget, {.solicited = true}), kTarget, Ipv6Addr::all_nodes())),
            NdReject::kSolicitedToMulticast);
}

TEST(NdValidate, RouterAdvertisementMustComeFromLinkLocal) {
  std::vector<std::byte> ra(16);
  ra.resize(write_router_advert(ra, {.router_lifetime_s = 1800}, Ipv6Addr{}, Ipv6Addr{}));
  EXPECT_EQ(check(nd_packet(ra, kTarget, Ipv6Addr::all_nodes())), NdReject::kRouterNotLinkLocal);
  EXPECT_EQ(check(nd_packet(ra, Ipv6Addr{}, Ipv6Addr::all_nodes())), NdReject::kRouterNotLinkLocal);
}

TEST(NdValidate, OtherMessagesAreNotNd) {
  std::vector<std::byte> echo(8);
  write_icmpv6_echo(echo, kIcmpv6EchoRequest, 1, 1, {}, kLlA, kLlB);
  EXPECT_EQ(check(nd_packet(echo, kLlA, kLlB)), NdReject::kNotNd);
  EXPECT_EQ(check(nd_packet({}, kLlA, kLlB, kNdHopLimit, false)), NdReject::kNotNd);
  EXPECT_EQ(nd_reject_name(NdReject::kSolicitedToMulticast), "solicited_to_multicast");
  EXPECT_EQ(nd_reject_name(NdReject::kValid), "valid");
}

}  // namespace
}  // namespace tern
