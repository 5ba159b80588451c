// IPv6 through the IP layer (issue 15): input checks and the extension-header
// walk's verdicts, each counted; ICMPv6 echo and rate-limited errors;
// neighbour discovery (NS answered with NA, resolution with parked packets,
// unresolved neighbours reported as Address Unreachable, router
// advertisements); source selection and next hops. Frames are built here
// with a naive checksum, independent of lib/wire's builders.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "ipv6_harness.h"

namespace tern::testkit {
namespace {

// ---- neighbour solicitation answered ------------------------------------------------

TEST_F(Ipv6Test, SolicitationForOurAddressGetsAdvertisementByteForByte) {
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0xFF, 0, 0, 0x01}}, kPeerG, v6("ff02::1:ff00:1"), 135, 0,
                    ns_body(kOurG, kPeerMac), 255),
        at_ms(0));
  const Bytes f = expect_sent();
  // Built by hand: what RFC 4861 §4.4 and §7.2.4 say the answer is.
  Bytes na = icmp6(136, 0, na_body(kOurG, kFlagS | kFlagO, kOurMac), kOurG, kPeerG);
  const Bytes want = frame6(kPeerMac, kOurMac, ipv6_packet(kOurG, kPeerG, kNhIcmp6, na, 255));
  EXPECT_EQ(f, want);
  EXPECT_EQ(count(Counter::kIcmp6InNeighborSolicits), 1u);
  EXPECT_EQ(count(Counter::kIcmp6OutNeighborAdvertisements), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  // The solicitation's source link-layer address was learned (STALE).
  EXPECT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(0)), NeighborState::kStale);
  expect_no_leaks();
}

TEST_F(Ipv6Test, SolicitationForLinkLocalFromLinkLocal) {
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurLl)), kPeerLl, solicited_node(kOurLl), 135, 0,
                    ns_body(kOurLl, kPeerMac), 255),
        at_ms(0));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.eth_dst, kPeerMac);
  EXPECT_EQ(s.src, kOurLl);
  EXPECT_EQ(s.dst, kPeerLl);
  EXPECT_EQ(s.hop, 255);
  EXPECT_EQ(s.type(), 136);
  EXPECT_TRUE(s.icmp_ok);
  EXPECT_EQ(get_addr(s.payload, 8), kOurLl);
}

TEST_F(Ipv6Test, DuplicateAddressProbeIsDefendedToAllNodes) {
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), Ipv6Addr{}, solicited_node(kOurG), 135, 0,
                    ns_body(kOurG, std::nullopt), 255),
        at_ms(0));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.eth_dst, (MacAddr{{0x33, 0x33, 0, 0, 0, 1}}));
  EXPECT_EQ(s.dst, Ipv6Addr::all_nodes());
  EXPECT_EQ(s.src, kOurG);
  EXPECT_EQ(s.type(), 136);
  EXPECT_EQ(get8(s.payload, 4), kFlagO) << "not solicited (S clear), override set";
  EXPECT_TRUE(s.icmp_ok);
}

TEST_F(Ipv6Test, SolicitationForAnotherAddressIsCountedNotAnswered) {
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), kPeerG, solicited_node(kOurG), 135, 0,
                    ns_body(v6("2001:db8:1::77:1"), kPeerMac), 255),
        at_ms(0));
  expect_nothing_sent();
  expect_only_drop(Drop::kNdNotForUs);
}

TEST_F(Ipv6Test, InvalidNdMessagesAreCountedByReason) {
  const auto sn = solicited_node(kOurG);
  const MacAddr sn_mac = multicast_mac(sn);
  recv6(icmp6_frame(sn_mac, kPeerG, sn, 135, 0, ns_body(kOurG, kPeerMac), 64), at_ms(0));
  EXPECT_EQ(drops(Drop::kNdBadHopLimit), 1u);
  recv6(icmp6_frame(sn_mac, kPeerG, sn, 135, 1, ns_body(kOurG, kPeerMac), 255), at_ms(0));
  EXPECT_EQ(drops(Drop::kNdBadCode), 1u);
  Bytes bad = icmp6_frame(sn_mac, kPeerG, sn, 135, 0, ns_body(kOurG, kPeerMac), 255);
  bad[14 + 40 + 2] ^= std::byte{1};
  recv6(bad, at_ms(0));
  EXPECT_EQ(drops(Drop::kIcmp6BadChecksum), 1u);
  EXPECT_EQ(count(Counter::kIcmp6InCsumErrors), 1u);
  recv6(icmp6_frame(sn_mac, kPeerG, sn, 135, 0, Bytes(8), 255), at_ms(0));
  EXPECT_EQ(drops(Drop::kNdMalformed), 1u);
  recv6(icmp6_frame(sn_mac, kPeerG, sn, 135, 0, ns_body(Ipv6Addr::all_nodes(), kPeerMac), 255), at_ms(0));
  EXPECT_EQ(drops(Drop::kNdMulticastTarget), 1u);
  recv6(icmp6_frame(sn_mac, Ipv6Addr{}, sn, 135, 0, ns_body(kOurG, kPeerMac), 255), at_ms(0));
  EXPECT_EQ(drops(Drop::kNdBadSource), 1u);
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerG, Ipv6Addr::all_nodes(), 136, 0,
                    na_body(kPeerG, kFlagS, kPeerMac), 255),
        at_ms(0));
  EXPECT_EQ(drops(Drop::kNdSolicitedToMulticast), 1u);
  // Hosts discard Router Solicitations (RFC 4861 §6.1.1).
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerLl, Ipv6Addr::all_nodes(), 133, 0, Bytes(4), 255),
        at_ms(0));
  EXPECT_EQ(drops(Drop::kNdRouterSolicit), 1u);
  EXPECT_EQ(counters_.total_drops(), 8u);
  expect_nothing_sent();
}

// Found by the stack fuzzer: an NS whose source link-layer address was a
// multicast MAC got an NA sent to that multicast MAC.
TEST_F(Ipv6Test, MulticastOrZeroLinkLayerAddressesAreRefused) {
  const MacAddr multicast{{0x01, 0xFF, 0xFF, 0, 0, 2}};
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), kPeerG, solicited_node(kOurG), 135, 0,
                    ns_body(kOurG, multicast), 255),
        at_ms(0));
  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kPeerG, kFlagS | kFlagO, MacAddr{}), 255),
        at_ms(0));
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), kPeerG, solicited_node(kOurG), 135, 0,
                    ns_body(kOurG, std::nullopt), 255, multicast),
        at_ms(0));
  expect_only_drop(Drop::kNdBadLinkAddress, 3);
  expect_nothing_sent();
  EXPECT_FALSE(ip6().v6().neighbors().state(kPeerG, at_ms(0)));
}

TEST_F(Ipv6Test, AdvertisementClaimingOurAddressIsCounted) {
  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kOurG, kFlagO, kPeerMac), 255), at_ms(0));
  expect_only_drop(Drop::kNdDuplicateAddress);
}

// ---- echo -------------------------------------------------------------------------------

TEST_F(Ipv6Test, EchoRequestGetsReplyWithSameIdSeqAndData) {
  peer_solicits(at_ms(0));
  const Bytes data = pattern(56, 9);
  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 128, 0, echo_body(0x1234, 7, data)), at_ms(1));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.eth_dst, kPeerMac);
  EXPECT_EQ(s.eth_src, kOurMac);
  EXPECT_EQ(s.eth_type, kTypeIpv6);
  EXPECT_EQ(s.version, 6);
  EXPECT_EQ(s.src, kOurG);
  EXPECT_EQ(s.dst, kPeerG);
  EXPECT_EQ(s.hop, 64);
  EXPECT_EQ(s.next_header, kNhIcmp6);
  EXPECT_EQ(s.type(), 129);
  EXPECT_EQ(s.code(), 0);
  EXPECT_TRUE(s.icmp_ok);
  EXPECT_EQ(get16(s.payload, 4), 0x1234);
  EXPECT_EQ(get16(s.payload, 6), 7);
  EXPECT_EQ(Bytes(s.payload.begin() + 8, s.payload.end()), data);
  EXPECT_EQ(count(Counter::kIcmp6InEchos), 1u);
  EXPECT_EQ(count(Counter::kIcmp6OutEchoReplies), 1u);
  EXPECT_EQ(count(Counter::kIp6InDelivers), 2u);  // the NS and the echo
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Ipv6Test, EchoToAllNodesIsAnsweredFromOurUnicastAddress) {
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerLl, Ipv6Addr::all_nodes(), 128, 0,
                    echo_body(1, 2, pattern(8))),
        at_ms(0));
  // The peer's link-local address is unresolved: our reply waits behind a solicitation.
  const Sent6 ns = parse6(expect_sent());
  EXPECT_EQ(ns.type(), 135);
  recv6(icmp6_frame(kOurMac, kPeerLl, kOurLl, 136, 0, na_body(kPeerLl, kFlagS | kFlagO, kPeerMac), 255),
        at_ms(1));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.type(), 129);
  EXPECT_EQ(s.src, kOurLl) << "link-local destination: link-local source";
  EXPECT_EQ(s.dst, kPeerLl);
  EXPECT_TRUE(s.icmp_ok);
}

// ---- resolution ----------------------------------------------------------------------------

TEST_F(Ipv6Test, ParkedPacketIsSentWhenTheAdvertisementArrives) {
  const Bytes payload = pattern(12, 3);
  EXPECT_TRUE(ip6().send_ipv6(l4(payload), kPeerG, kProtoUdp, at_ms(0), out_));
  const Sent6 ns = parse6(expect_sent());
  EXPECT_EQ(ns.eth_dst, (MacAddr{{0x33, 0x33, 0xFF, 0, 0, 0x02}}));
  EXPECT_EQ(ns.dst, v6("ff02::1:ff00:2"));
  EXPECT_EQ(ns.src, kOurG);
  EXPECT_EQ(ns.hop, 255);
  EXPECT_EQ(ns.type(), 135);
  EXPECT_TRUE(ns.icmp_ok);
  EXPECT_EQ(get_addr(ns.payload, 8), kPeerG);
  EXPECT_EQ(Bytes(ns.payload.begin() + 24, ns.payload.end()), lla_option(1, kOurMac));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kNdCacheMisses), 1u);

  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kPeerG, kFlagS | kFlagO, kPeerMac), 255),
        at_ms(5));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.eth_dst, kPeerMac);
  EXPECT_EQ(s.src, kOurG);
  EXPECT_EQ(s.dst, kPeerG);
  EXPECT_EQ(s.next_header, kProtoUdp);
  EXPECT_EQ(s.hop, 64);
  EXPECT_EQ(s.payload, payload);
  EXPECT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(5)), NeighborState::kReachable);
  EXPECT_EQ(count(Counter::kNdResolved), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Ipv6Test, UnansweredNeighbourIsReportedAddressUnreachable) {
  Bytes seg = pattern(20, 4);  // a TCP header's worth
  EXPECT_TRUE(ip6().send_ipv6(l4(seg), kPeerG, kProtoTcp, at_ms(0), out_));
  EXPECT_EQ(parse6(expect_sent()).type(), 135);
  timer(at_ms(999));
  expect_nothing_sent();
  timer(at_ms(1000));
  EXPECT_EQ(parse6(expect_sent()).type(), 135);
  timer(at_ms(2000));
  EXPECT_EQ(parse6(expect_sent()).type(), 135);
  EXPECT_TRUE(transport_.reports.empty());
  timer(at_ms(3000));
  expect_nothing_sent();
  ASSERT_EQ(transport_.reports.size(), 1u);
  const Icmpv6Report& r = transport_.reports[0];
  EXPECT_EQ(r.type, 1);
  EXPECT_EQ(r.code, 3);
  EXPECT_TRUE(r.local);
  EXPECT_EQ(r.src, kOurG);
  EXPECT_EQ(r.dst, kPeerG);
  EXPECT_EQ(r.protocol, kProtoTcp);
  EXPECT_EQ(transport_.quotes[0], seg);
  EXPECT_EQ(count(Counter::kNdExpired), 1u);
  EXPECT_EQ(count(Counter::kIcmp6OutDestUnreachs), 1u);
  expect_only_drop(Drop::kNdUnresolved);
  EXPECT_FALSE(ip6().v6().neighbors().state(kPeerG, at_ms(3000)));
  expect_no_leaks();
}

TEST_F(Ipv6Test, ConfirmKeepsANeighbourReachable) {
  peer_solicits(at_ms(0));
  ip6().confirm(kPeerG, at_ms(10));
  EXPECT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(10)), NeighborState::kReachable);
}

// ---- routing and source selection ------------------------------------------------------------

TEST_F(Ipv6Test, SourceSelectionAndNextHop) {
  settings_.v6.addrs = {Ipv6Prefix{kOurG, 64}, Ipv6Prefix{v6("2001:db8:2::1"), 48}};
  IpLayer& l = ip6();
  EXPECT_EQ(l.source_for(kPeerLl), kOurLl);
  EXPECT_EQ(l.source_for(v6("ff02::1:ff00:2")), kOurLl);
  EXPECT_EQ(l.source_for(kPeerG), kOurG);
  EXPECT_EQ(l.source_for(v6("2001:db8:2:5::9")), v6("2001:db8:2::1"));
  EXPECT_EQ(l.source_for(kRemote), kOurG) << "no prefix matches: the first address";
  EXPECT_EQ(l.v6().next_hop(kPeerG, at_ms(0)), kPeerG);
  EXPECT_EQ(l.v6().next_hop(kPeerLl, at_ms(0)), kPeerLl);
  EXPECT_FALSE(l.v6().next_hop(kRemote, at_ms(0)));
  EXPECT_FALSE(l.send_ipv6(l4(pattern(8)), kRemote, kProtoUdp, at_ms(0), out_));
  expect_only_drop(Drop::kIp6NoRoute);
  EXPECT_EQ(count(Counter::kIp6OutNoRoutes), 1u);
  expect_no_leaks();
}

// A connection accepted on our second address answers from it, though
// source selection picks the first for that peer (glue: send_ipv6 with src).
TEST_F(Ipv6Test, SendFromAGivenSourceKeepsIt) {
  const Ipv6Addr second = v6("2001:db8:2::1");
  settings_.v6.addrs = {Ipv6Prefix{kOurG, 64}, Ipv6Prefix{second, 48}};
  IpLayer& l = ip6();
  ASSERT_EQ(l.source_for(kPeerG), kOurG);
  peer_solicits(at_ms(0));  // the peer is resolved: the packet leaves at once
  EXPECT_TRUE(l.send_ipv6(l4(pattern(8)), second, kPeerG, kProtoUdp, at_ms(0), out_));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.src, second);
  EXPECT_EQ(s.dst, kPeerG);
  expect_no_leaks();
}

TEST_F(Ipv6Test, WithoutGlobalAddressesTheLinkLocalIsTheSource) {
  settings_.v6.addrs.clear();
  EXPECT_EQ(ip6().source_for(kRemote), kOurLl);
}

TEST_F(Ipv6Test, ConfiguredGatewayTakesOffLinkTraffic) {
  settings_.v6.gateway = kRouterLl;
  EXPECT_TRUE(ip6().send_ipv6(l4(pattern(8)), kRemote, kProtoUdp, at_ms(0), out_));
  const Sent6 ns = parse6(expect_sent());
  EXPECT_EQ(get_addr(ns.payload, 8), kRouterLl) << "the router is resolved, not the destination";
  EXPECT_EQ(ns.src, kOurLl);
}

TEST_F(Ipv6Test, RouterAdvertisementGivesDefaultRouterAndMtu) {
  Bytes ra(12);
  ra[0] = std::byte{32};  // cur hop limit
  put16(ra, 2, 1800);     // router lifetime
  append(ra, lla_option(1, kRouterMac));
  Bytes mtu(8);
  mtu[0] = std::byte{5};
  mtu[1] = std::byte{1};
  put32(mtu, 4, 1400);
  append(ra, mtu);
  const std::uint32_t generation_before = ip6().path_mtus().generation();
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kRouterLl, Ipv6Addr::all_nodes(), 134, 0, ra, 255,
                    kRouterMac),
        at_ms(0));
  EXPECT_EQ(count(Counter::kIcmp6InRouterAdvertisements), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  EXPECT_EQ(ip6().v6().default_router(at_ms(0)), kRouterLl);
  EXPECT_EQ(ip6().v6().mtu(), 1400);
  EXPECT_EQ(ip6().path_mtus().generation(), generation_before + 1)
      << "a lower link MTU is news for open connections (RFC 8201 §5.2)";
  // The router's MAC came with the RA: off-link traffic leaves at once.
  EXPECT_TRUE(ip6().send_ipv6(l4(pattern(8)), kRemote, kProtoUdp, at_ms(1), out_));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.eth_dst, kRouterMac);
  EXPECT_EQ(s.dst, kRemote);
  EXPECT_EQ(s.hop, 32);
  // Too big for the advertised MTU: refused (no IPv6 fragmentation yet).
  EXPECT_FALSE(ip6().send_ipv6(l4(pattern(1400 - 40 + 1)), kRemote, kProtoUdp, at_ms(1), out_));
  EXPECT_EQ(drops(Drop::kIp6TooBig), 1u);
  // The router's lifetime ends.
  EXPECT_FALSE(ip6().v6().default_router(at_ms(1'800'000)));
  expect_no_leaks();
}

// ---- input checks ---------------------------------------------------------------------------

TEST_F(Ipv6Test, TcpIsDeliveredWithOffsetsPastExtensionHeaders) {
  Bytes dest_opts(8);
  dest_opts[0] = std::byte{kProtoTcp};
  dest_opts[1] = std::byte{0};
  dest_opts[2] = std::byte{1};  // PadN
  dest_opts[3] = std::byte{4};
  Bytes payload = dest_opts;
  const Bytes seg = pattern(32, 5);
  append(payload, seg);
  Bytes f = frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, kOurG, 60, payload));
  f.resize(f.size() + 6);  // Ethernet padding is not part of the packet
  recv6(f, at_ms(0));
  ASSERT_EQ(transport_.deliveries.size(), 1u);
  const Ipv6Delivery& d = transport_.deliveries[0];
  EXPECT_EQ(d.src, kPeerG);
  EXPECT_EQ(d.dst, kOurG);
  EXPECT_EQ(d.protocol, kProtoTcp);
  EXPECT_EQ(d.l4_offset, 14 + 40 + 8);
  EXPECT_EQ(d.l4_len, 32);
  EXPECT_EQ(
      Bytes(transport_.frames[0].begin() + d.l4_offset, transport_.frames[0].begin() + d.l4_offset + 32),
      seg);
  EXPECT_EQ(count(Counter::kIp6InDelivers), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
}

TEST_F(Ipv6Test, WrongDestinationsAreDropped) {
  recv6(frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, v6("2001:db8:1::99"), kProtoTcp, pattern(20))),
        at_ms(0));
  expect_only_drop(Drop::kIp6NotForUs);
  EXPECT_EQ(count(Counter::kIp6InAddrErrors), 1u);
  // A group we did not join, on the all-nodes MAC.
  recv6(frame6(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerMac,
               ipv6_packet(kPeerG, Ipv6Addr::all_routers(), kNhIcmp6, pattern(8))),
        at_ms(0));
  EXPECT_EQ(drops(Drop::kIp6NotForUs), 2u);
  // Multicast MACs we do not listen to are refused before IPv6 looks.
  recv6(frame6(MacAddr{{0x33, 0x33, 0, 0, 0, 2}}, kPeerMac,
               ipv6_packet(kPeerG, Ipv6Addr::all_routers(), kNhIcmp6, pattern(8))),
        at_ms(0));
  recv6(frame6(MacAddr{{0x33, 0x33, 0xFF, 0, 0, 0x99}}, kPeerMac,
               ipv6_packet(kPeerG, v6("ff02::1:ff00:99"), kNhIcmp6, pattern(8))),
        at_ms(0));
  EXPECT_EQ(drops(Drop::kEthNotForUs), 2u);
  // TCP to all-nodes: transports get unicast only.
  recv6(frame6(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerMac,
               ipv6_packet(kPeerG, Ipv6Addr::all_nodes(), kProtoTcp, pattern(20))),
        at_ms(0));
  EXPECT_EQ(drops(Drop::kIp6NotForUs), 3u);
  EXPECT_TRUE(transport_.deliveries.empty());
  expect_nothing_sent();
}

TEST_F(Ipv6Test, BadHeadersAndAddressesAreCounted) {
  struct Case {
    Bytes frame;
    Drop drop;
    Counter mib;
  };
  Bytes v4 = frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, kOurG, kProtoTcp, pattern(20)));
  v4[14] = std::byte{0x40};
  Bytes long_payload = frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, kOurG, kProtoTcp, pattern(20)));
  put16(long_payload, 18, 21);
  const Case cases[] = {
      {v4, Drop::kIp6BadVersion, Counter::kIp6InHdrErrors},
      {long_payload, Drop::kIp6Truncated, Counter::kIp6InTruncatedPkts},
      {frame6(kOurMac, kPeerMac, Bytes(39)), Drop::kIp6Truncated, Counter::kIp6InTruncatedPkts},
      {frame6(kOurMac, kPeerMac, ipv6_packet(v6("::ffff:10.0.0.2"), kOurG, kProtoTcp, pattern(20))),
       Drop::kIp6V4Mapped, Counter::kIp6InHdrErrors},
      {frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, v6("::ffff:10.0.0.1"), kProtoTcp, pattern(20))),
       Drop::kIp6V4Mapped, Counter::kIp6InHdrErrors},
      {frame6(kOurMac, kPeerMac, ipv6_packet(v6("ff02::1"), kOurG, kProtoTcp, pattern(20))),
       Drop::kIp6BadSource, Counter::kIp6InHdrErrors},
      {frame6(kOurMac, kPeerMac, ipv6_packet(v6("::1"), kOurG, kProtoTcp, pattern(20))), Drop::kIp6BadSource,
       Counter::kIp6InHdrErrors},
      {frame6(kOurMac, kPeerMac, ipv6_packet(Ipv6Addr{}, kOurG, kProtoTcp, pattern(20))), Drop::kIp6BadSource,
       Counter::kIp6InHdrErrors},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(drop_name(c.drop));
    counters_ = Counters{};
    recv6(c.frame, at_ms(0));
    expect_only_drop(c.drop);
    EXPECT_EQ(count(c.mib), 1u) << counter_name(c.mib);
    EXPECT_EQ(count(Counter::kIp6InReceives), 1u);
    expect_nothing_sent();
  }
  EXPECT_TRUE(transport_.deliveries.empty());
}

// Each verdict of the extension-header walk: its drop reason, and the
// Parameter Problem it asks for (to a resolved peer, so it leaves at once).
TEST_F(Ipv6Test, ExtensionHeaderVerdictsAreCountedAndAnswered) {
  auto opts = [](std::uint8_t next, Bytes body) {  // a Destination Options or Hop-by-Hop header
    Bytes h{static_cast<std::byte>(next), static_cast<std::byte>((body.size() + 2) / 8 - 1)};
    append(h, body);
    return h;
  };
  auto pkt = [](std::uint8_t first, std::span<const std::byte> payload) {
    return frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, kOurG, first, payload));
  };
  struct Case {
    const char* what;
    Bytes frame;
    Drop drop;
    int icmp_code;  // -1: no Parameter Problem
    std::uint32_t pointer;
  };
  const Bytes pad4{std::byte{1}, std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
  Bytes hbh_late = opts(0, pad4);
  append(hbh_late, opts(kProtoTcp, pad4));
  Bytes too_many;
  for (int i = 0; i < 9; ++i) append(too_many, opts(i < 8 ? 60 : kProtoTcp, pad4));
  Bytes routing{std::byte{kProtoTcp}, std::byte{0}, std::byte{4}, std::byte{1}};  // type 4, segments left 1
  routing.resize(8);
  Bytes frag{std::byte{kProtoTcp}, std::byte{0}, std::byte{0}, std::byte{1}};  // offset 0, M set
  frag.resize(8);
  put32(frag, 4, 77);
  Bytes frag_payload = frag;
  append(frag_payload, pattern(16));
  Bytes bad_frag = frag;
  append(bad_frag, pattern(13));  // M set and not a multiple of 8
  auto unknown_option = [&](std::uint8_t type) {
    return opts(kProtoTcp, Bytes{static_cast<std::byte>(type), std::byte{4}, std::byte{0}, std::byte{0},
                                 std::byte{0}, std::byte{0}});
  };
  const Case cases[] = {
      {"hop-by-hop after another header", pkt(60, hbh_late), Drop::kIp6ExtHopByHop, 1, 40},
      {"truncated", pkt(60, Bytes{std::byte{kProtoTcp}, std::byte{3}, std::byte{1}, std::byte{0}}),
       Drop::kIp6ExtTruncated, -1, 0},
      {"too many", pkt(60, too_many), Drop::kIp6ExtTooMany, -1, 0},
      {"routing with segments left", pkt(43, routing), Drop::kIp6ExtRouting, 0, 42},
      {"unknown option, action 01", pkt(60, unknown_option(0x5E)), Drop::kIp6ExtUnknownOption, -1, 0},
      {"unknown option, action 10", pkt(60, unknown_option(0x9E)), Drop::kIp6ExtUnknownOption, 2, 42},
      // RFC 7112: TCP needs 20 bytes in the first fragment; 16 is short.
      {"first fragment without the whole chain", pkt(44, frag_payload), Drop::kIp6FragIncompleteChain, 3, 0},
      {"fragment not a multiple of 8", pkt(44, bad_frag), Drop::kIp6ExtBadFragment, 0, 4},
      {"unknown next header", pkt(253, pattern(8)), Drop::kIp6UnknownNextHeader, 1, 6},
      {"no next header", pkt(59, Bytes{}), Drop::kIp6NoNextHeader, -1, 0},
  };
  peer_solicits(at_ms(0));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    counters_ = Counters{};
    recv6(c.frame, at_ms(1));
    expect_only_drop(c.drop);
    if (c.icmp_code < 0) {
      expect_nothing_sent();
      continue;
    }
    const Sent6 s = parse6(expect_sent());
    EXPECT_EQ(s.dst, kPeerG);
    EXPECT_EQ(s.src, kOurG);
    EXPECT_EQ(s.type(), 4);
    EXPECT_EQ(s.code(), c.icmp_code);
    EXPECT_EQ(get32(s.payload, 4), c.pointer);
    EXPECT_TRUE(s.icmp_ok);
    // The invoking packet is quoted from its IPv6 header on.
    const Bytes invoking(c.frame.begin() + 14, c.frame.end());
    EXPECT_EQ(Bytes(s.payload.begin() + 8, s.payload.end()), invoking);
    EXPECT_EQ(count(Counter::kIcmp6OutParmProblems), 1u);
  }
  // An unknown option with action 00 is skipped.
  counters_ = Counters{};
  recv6(pkt(60, unknown_option(0x1E)), at_ms(2));
  EXPECT_EQ(transport_.deliveries.size(), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
}

TEST_F(Ipv6Test, ErrorsAreRateLimited) {
  peer_solicits(at_ms(0));
  const Bytes f = frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, kOurG, 253, pattern(8)));
  for (int i = 0; i < 60; ++i) recv6(f, at_ms(1));
  EXPECT_EQ(sent_count(), 50u) << "a burst of 50";
  EXPECT_EQ(count(Counter::kIcmpOutRateLimitGlobal), 10u);
  out_.clear();
  for (int i = 0; i < 20; ++i) recv6(f, at_ms(11));  // 10 ms later: 10 tokens
  EXPECT_EQ(sent_count(), 10u);
  EXPECT_EQ(count(Counter::kIcmpOutRateLimitGlobal), 20u);
  EXPECT_EQ(drops(Drop::kIp6UnknownNextHeader), 80u);
}

TEST_F(Ipv6Test, NoErrorAboutAMulticastPacketOrAnError) {
  peer_solicits(at_ms(0));
  // Unknown next header to all-nodes: Parameter Problem code 1 is not sent to multicast (RFC 4443 §2.4(e)).
  recv6(frame6(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerMac,
               ipv6_packet(kPeerG, Ipv6Addr::all_nodes(), 253, pattern(8))),
        at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(drops(Drop::kIp6UnknownNextHeader), 1u);
}

TEST_F(Ipv6Test, ErrorQuotingOurTcpSegmentReachesTheTransport) {
  // Packet Too Big (MTU 1280) quoting a TCP segment we sent to the peer.
  Bytes quoted = ipv6_packet(kOurG, kPeerG, kProtoTcp, pattern(20, 8));
  Bytes body(4);
  put32(body, 0, 1280);
  append(body, quoted);
  recv6(icmp6_frame(kOurMac, kRouterLl, kOurG, 2, 0, body), at_ms(0));
  ASSERT_EQ(transport_.reports.size(), 1u);
  const Icmpv6Report& r = transport_.reports[0];
  EXPECT_EQ(r.type, 2);
  EXPECT_EQ(r.param, 1280u);
  EXPECT_FALSE(r.local);
  EXPECT_EQ(r.src, kOurG);
  EXPECT_EQ(r.dst, kPeerG);
  EXPECT_EQ(transport_.quotes[0], pattern(20, 8));
  EXPECT_EQ(count(Counter::kIcmp6InPktTooBigs), 1u);
  // Quoting somebody else's packet: not believed.
  Bytes other(4);
  append(other, ipv6_packet(kPeerG, kRemote, kProtoTcp, pattern(20)));
  recv6(icmp6_frame(kOurMac, kRouterLl, kOurG, 1, 0, other), at_ms(0));
  EXPECT_EQ(transport_.reports.size(), 1u);
  expect_only_drop(Drop::kIcmp6BadQuote);
}

// ---- duplicate address detection and router solicitation ----------------------------------

// A DAD probe (RFC 4862 §5.4.2): NS from :: to the target's solicited-node
// group, hop limit 255, no source link-layer address option.
void expect_dad_probe(const Bytes& f, const Ipv6Addr& target) {
  const Sent6 s = parse6(f);
  EXPECT_EQ(s.src, Ipv6Addr{});
  EXPECT_EQ(s.dst, solicited_node(target));
  EXPECT_EQ(s.eth_dst, multicast_mac(solicited_node(target)));
  EXPECT_EQ(s.hop, 255);
  EXPECT_EQ(s.type(), 135);
  EXPECT_EQ(s.payload.size(), 24u) << "no options";
  EXPECT_EQ(get_addr(s.payload, 8), target);
  EXPECT_TRUE(s.icmp_ok);
}

TEST_F(Ipv6Test, AddressesAreTentativeUntilDadHasRun) {
  settings_.v6.nd.dad_transmits = 2;
  const Bytes ping = icmp6_frame(kOurMac, kPeerG, kOurG, 128, 0, echo_body(1, 1, pattern(8)));
  recv6(ping, at_ms(0));
  expect_only_drop(Drop::kIp6NotForUs);
  timer(at_ms(0));
  expect_dad_probe(expect_sent(), kOurLl);
  expect_dad_probe(expect_sent(), kOurG);
  expect_nothing_sent();
  // A resolution attempt for a tentative address is not answered (§5.4.3).
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), kPeerG, solicited_node(kOurG), 135, 0,
                    ns_body(kOurG, kPeerMac), 255),
        at_ms(10));
  expect_nothing_sent();
  EXPECT_EQ(drops(Drop::kNdTentative), 1u);
  EXPECT_EQ(ip6().source_for(kPeerG), kOurLl) << "a tentative address is no source";
  timer(at_ms(999));
  expect_nothing_sent();
  timer(at_ms(1000));
  expect_dad_probe(expect_sent(), kOurLl);
  expect_dad_probe(expect_sent(), kOurG);
  timer(at_ms(1999));
  EXPECT_TRUE(ip6().v6().tentative(kOurG));
  timer(at_ms(2000));
  expect_nothing_sent();
  EXPECT_FALSE(ip6().v6().tentative(kOurG));
  EXPECT_TRUE(ip6().v6().is_ours(kOurG));
  EXPECT_EQ(ip6().source_for(kPeerG), kOurG);
  peer_solicits(at_ms(2001));
  recv6(ping, at_ms(2002));
  EXPECT_EQ(parse6(expect_sent()).type(), 129);
  EXPECT_EQ(count(Counter::kNdDadFailed), 0u);
}

TEST_F(Ipv6Test, AdvertisementDuringDadMakesTheAddressDuplicate) {
  settings_.v6.nd.dad_transmits = 1;
  timer(at_ms(0));
  ASSERT_EQ(sent_count(), 2u);
  out_.clear();
  // The owner defends its address to all nodes (RFC 4862 §5.4.4).
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerG, Ipv6Addr::all_nodes(), 136, 0,
                    na_body(kOurG, kFlagO, kPeerMac), 255),
        at_ms(300));
  EXPECT_EQ(count(Counter::kNdDadFailed), 1u);
  EXPECT_EQ(drops(Drop::kNdDuplicateAddress), 1u);
  timer(at_ms(1000));
  EXPECT_TRUE(ip6().v6().duplicate(kOurG));
  EXPECT_FALSE(ip6().v6().is_ours(kOurG));
  EXPECT_TRUE(ip6().v6().is_ours(kOurLl)) << "the link-local address passed";
  EXPECT_EQ(ip6().source_for(kPeerG), kOurLl);
  // Given up: neither answered for nor accepted.
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), kPeerG, solicited_node(kOurG), 135, 0,
                    ns_body(kOurG, kPeerMac), 255),
        at_ms(1001));
  EXPECT_EQ(drops(Drop::kNdNotForUs), 1u);
  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 128, 0, echo_body(1, 1, pattern(8))), at_ms(1002));
  EXPECT_EQ(drops(Drop::kIp6NotForUs), 1u);
  expect_nothing_sent();
}

TEST_F(Ipv6Test, AnotherNodesProbeDuringDadMakesTheAddressDuplicate) {
  settings_.v6.nd.dad_transmits = 1;
  timer(at_ms(0));
  out_.clear();
  recv6(icmp6_frame(multicast_mac(solicited_node(kOurG)), Ipv6Addr{}, solicited_node(kOurG), 135, 0,
                    ns_body(kOurG, std::nullopt), 255),
        at_ms(100));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kNdDadFailed), 1u);
  EXPECT_TRUE(ip6().v6().duplicate(kOurG));
}

// A sibling worker received the defence and counted it: this worker only
// marks its copy of the address.
TEST_F(Ipv6Test, ReplicatedAdvertisementDuringDadMarksTheAddressUncounted) {
  settings_.v6.nd.dad_transmits = 1;
  timer(at_ms(0));
  out_.clear();
  const Bytes na = icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerG, Ipv6Addr::all_nodes(), 136, 0,
                               na_body(kOurG, kFlagO, kPeerMac), 255);
  ip6().on_replicated_nd(to_mbuf(pool_, na), at_ms(300), out_);
  EXPECT_TRUE(ip6().v6().duplicate(kOurG));
  EXPECT_EQ(count(Counter::kNdDadFailed), 0u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_nothing_sent();
}

TEST_F(Ipv6Test, RouterSolicitationsUntilAnAdvertisement) {
  settings_.v6.nd.router_solicitations = 3;
  timer(at_ms(0));
  const Sent6 rs = parse6(expect_sent());
  EXPECT_EQ(rs.type(), 133);
  EXPECT_EQ(rs.src, kOurLl);
  EXPECT_EQ(rs.dst, Ipv6Addr::all_routers());
  EXPECT_EQ(rs.eth_dst, (MacAddr{{0x33, 0x33, 0, 0, 0, 2}}));
  EXPECT_EQ(rs.hop, 255);
  EXPECT_TRUE(rs.icmp_ok);
  EXPECT_EQ(Bytes(rs.payload.begin() + 8, rs.payload.end()), lla_option(1, kOurMac));
  timer(at_ms(3999));
  expect_nothing_sent();
  timer(at_ms(4000));
  EXPECT_EQ(parse6(expect_sent()).type(), 133);
  Bytes ra(12);
  put16(ra, 2, 600);
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kRouterLl, Ipv6Addr::all_nodes(), 134, 0, ra, 255,
                    kRouterMac),
        at_ms(5000));
  timer(at_ms(8000));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kIcmp6OutRouterSolicits), 2u);
  EXPECT_EQ(ip6().v6().default_router(at_ms(8000)), kRouterLl);
}

TEST_F(Ipv6Test, RouterSolicitationFollowsDadAndStopsAfterItsCount) {
  settings_.v6.nd.dad_transmits = 1;
  settings_.v6.nd.router_solicitations = 1;
  timer(at_ms(0));
  ASSERT_EQ(sent_count(), 2u);  // the DAD probes
  out_.clear();
  timer(at_ms(1000));
  const Sent6 rs = parse6(expect_sent());
  EXPECT_EQ(rs.type(), 133);
  EXPECT_EQ(rs.src, kOurLl);
  timer(at_ms(5000));
  timer(at_ms(9000));
  expect_nothing_sent();
}

TEST_F(Ipv6Test, NoRouterSolicitationWithAConfiguredGateway) {
  settings_.v6.nd.router_solicitations = 3;
  settings_.v6.gateway = kRouterLl;
  timer(at_ms(0));
  timer(at_ms(4000));
  expect_nothing_sent();
}

// RFC 4861 §4.6.2 Prefix Information option: L (on-link) and A flags,
// lifetimes in seconds.
Bytes prefix_option(const Ipv6Addr& prefix, std::uint8_t len, bool on_link, std::uint32_t valid_s) {
  Bytes o(32);
  o[0] = std::byte{3};
  o[1] = std::byte{4};
  o[2] = std::byte{len};
  o[3] = std::byte{static_cast<std::uint8_t>((on_link ? 0x80 : 0) | 0x40)};
  put32(o, 4, valid_s);
  put32(o, 8, valid_s);
  std::memcpy(o.data() + 16, prefix.b.data(), 16);
  return o;
}

// §6.3.4 / §5.2: a destination inside an advertised on-link prefix is a
// neighbour, resolved and sent to directly; outside it, or once the
// prefix's lifetime is over, it goes through the default router.
TEST_F(Ipv6Test, AdvertisedOnLinkPrefixIsSentToDirectlyForItsLifetime) {
  const Ipv6Addr onlink = v6("2001:db8:77::5");
  const Ipv6Addr offlink = v6("2001:db8:78::5");
  Bytes ra(12);
  put16(ra, 2, 1800);
  append(ra, lla_option(1, kRouterMac));
  append(ra, prefix_option(v6("2001:db8:77::"), 64, true, 100));
  append(ra, prefix_option(offlink, 64, false, 100));  // A only: not on the link
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kRouterLl, Ipv6Addr::all_nodes(), 134, 0, ra, 255,
                    kRouterMac),
        at_ms(0));
  EXPECT_EQ(counters_.total_drops(), 0u);
  EXPECT_EQ(ip6().v6().onlink_prefixes().size(at_ms(0)), 1u);
  EXPECT_EQ(ip6().v6().next_hop(onlink, at_ms(1)), onlink);
  EXPECT_EQ(ip6().v6().next_hop(offlink, at_ms(1)), kRouterLl);
  // Sent to the on-link destination: a solicitation for it, not the router.
  EXPECT_TRUE(ip6().send_ipv6(l4(pattern(8)), onlink, kProtoUdp, at_ms(1), out_));
  const Sent6 ns = parse6(expect_sent());
  EXPECT_EQ(ns.type(), 135);
  EXPECT_EQ(get_addr(ns.payload, 8), onlink);
  expect_nothing_sent();
  // After 100 s the prefix is off the link: through the router.
  EXPECT_EQ(ip6().v6().next_hop(onlink, at_ms(100'000)), kRouterLl);
  EXPECT_EQ(ip6().v6().onlink_prefixes().size(at_ms(100'000)), 0u);
}

// A worker that does not solicit (a sibling of worker 0) sends no DAD
// probe and no Router Solicitation, yet its addresses leave DAD on the
// same schedule and a replicated defence still marks them duplicate.
TEST_F(Ipv6Test, AWorkerThatDoesNotSolicitRunsDadSilently) {
  settings_.v6.nd.dad_transmits = 2;
  settings_.v6.nd.router_solicitations = 3;
  settings_.v6.solicits = false;
  timer(at_ms(0));
  timer(at_ms(1000));
  EXPECT_TRUE(ip6().v6().tentative(kOurG));
  timer(at_ms(2000));
  EXPECT_FALSE(ip6().v6().tentative(kOurG));
  EXPECT_TRUE(ip6().v6().is_ours(kOurG));
  timer(at_ms(6000));
  timer(at_ms(10000));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kIcmp6OutNeighborSolicits), 0u);
  EXPECT_EQ(count(Counter::kIcmp6OutRouterSolicits), 0u);
  // The RA answering worker 0's solicitation reaches it as a replica.
  Bytes ra(12);
  put16(ra, 2, 600);
  ip6().on_replicated_nd(to_mbuf(pool_, icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kRouterLl,
                                                    Ipv6Addr::all_nodes(), 134, 0, ra, 255, kRouterMac)),
                         at_ms(10001), out_);
  EXPECT_EQ(ip6().v6().default_router(at_ms(10002)), kRouterLl);
}

TEST_F(Ipv6Test, AWorkerThatDoesNotSolicitStillLearnsADuplicate) {
  settings_.v6.nd.dad_transmits = 1;
  settings_.v6.solicits = false;
  timer(at_ms(0));
  expect_nothing_sent();
  const Bytes na = icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kPeerG, Ipv6Addr::all_nodes(), 136, 0,
                               na_body(kOurG, kFlagO, kPeerMac), 255);
  ip6().on_replicated_nd(to_mbuf(pool_, na), at_ms(300), out_);
  timer(at_ms(1000));
  EXPECT_TRUE(ip6().v6().duplicate(kOurG));
  EXPECT_FALSE(ip6().v6().is_ours(kOurG));
  expect_nothing_sent();
}

}  // namespace
}  // namespace tern::testkit
