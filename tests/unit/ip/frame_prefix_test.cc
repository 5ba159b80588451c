// Frame prefixes (lib/ip/frame_prefix.h; IpLayer::build_prefix and
// send_prefixed, Ipv6Layer's for IPv6): a flow's Ethernet and IP headers
// built once must give the very frame send() builds, and must stop being
// valid when what they were built from changes (the next hop's MAC) or
// expires (its ARP entry; the neighbour's REACHABLE time, RFC 4861 §7.3.3).
#include <gtest/gtest.h>

#include <cstring>

#include "ipv6_harness.h"
#include "wire/checksum.h"

namespace tern::testkit {
namespace {

using FramePrefixTest = IpHarness;

constexpr MacAddr kPeerNewMac{{0x02, 0, 0, 0, 0, 0x22}};

// A TCP-like L4 message: what the transport hands the IP layer.
Bytes l4_message() { return pattern(40, 7); }

// `l4` behind `p`'s bytes, in one mbuf, as TcpStack::send_data_segment builds it.
Mbuf prefixed(rte_mempool* pool, const FramePrefix& p, std::span<const std::byte> l4) {
  Bytes f(p.bytes.begin(), p.bytes.begin() + p.len);
  append(f, l4);
  return to_mbuf(pool, f);
}

Mbuf with_headroom(rte_mempool* pool, std::span<const std::byte> l4) { return to_mbuf(pool, l4); }

TEST_F(FramePrefixTest, NoPrefixUntilTheNextHopIsResolved) {
  FramePrefix p;
  EXPECT_FALSE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(0))) << "the peer's MAC is not known";
  EXPECT_EQ(p.len, 0u);
  resolve_peer(at_ms(0));
  EXPECT_TRUE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(1)));
  FramePrefix off_link;
  EXPECT_FALSE(ip().build_prefix(kOurIp, kRemoteIp, kProtoTcp, off_link, at_ms(1)))
      << "off link: the gateway's MAC is not known";
  FramePrefix other_src;
  EXPECT_FALSE(ip().build_prefix(kOurIp + 5, kPeerIp, kProtoTcp, other_src, at_ms(1)))
      << "send() sends from our address only";
  expect_nothing_sent();
}

// The frame send_prefixed() sends is the frame send() sends, byte for byte,
// but for the next IP ID (and so the header checksum).
TEST_F(FramePrefixTest, PrefixedFrameIsTheFrameSendBuilds) {
  resolve_peer(at_ms(0));
  const Bytes l4 = l4_message();
  ASSERT_TRUE(ip().send(with_headroom(pool_, l4), kPeerIp, kProtoTcp, at_ms(1), out_));
  const Bytes full = expect_sent();

  FramePrefix p;
  ASSERT_TRUE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(1)));
  EXPECT_EQ(p.len, 34u);
  EXPECT_EQ(p.max_l3_len, 1500u);
  EXPECT_EQ(p.l4_pseudo_sum, pseudo_header_sum(kOurIp, kPeerIp, kProtoTcp, 0));
  ip().send_prefixed(prefixed(pool_, p, l4), p, out_);
  const Bytes fast = expect_sent();

  ASSERT_EQ(fast.size(), full.size());
  const IpView a = parse_ip(parse_eth(full).payload), b = parse_ip(parse_eth(fast).payload);
  EXPECT_TRUE(b.checksum_ok) << "the header checksum from the prefix's sum";
  EXPECT_EQ(b.id, static_cast<std::uint16_t>(a.id + 1)) << "the layer's one ID counter";
  Bytes patched = fast;
  put16(patched, 14 + 4, a.id);
  put16(patched, 14 + 10, get16(full, 14 + 10));
  EXPECT_EQ(patched, full);
  EXPECT_EQ(count(Counter::kIpOutRequests), 2u);
}

TEST_F(FramePrefixTest, PortChecksumOffloadIsAskedForAsSendAsksForIt) {
  settings_.tx_ip_checksum_offload = true;
  resolve_peer(at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(1)));
  ip().send_prefixed(prefixed(pool_, p, l4_message()), p, out_);
  Mbuf m = out_.pop_front();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM),
            RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
  EXPECT_EQ(m->l2_len, 14u);
  EXPECT_EQ(m->l3_len, 20u);
}

// A refresh of the same MAC keeps prefixes; a new MAC for the hop (the
// peer's NIC replaced, a failover's gratuitous ARP) makes them stale, and
// the one built next carries it.
TEST_F(FramePrefixTest, GenerationMovesWhenTheNextHopsMacChanges) {
  resolve_peer(at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(1)));
  EXPECT_EQ(p.generation, *ip().prefix_generation());
  EXPECT_EQ(get_mac(p.bytes, 0), kPeerMac);

  recv(arp_request_frame(kPeerMac, kPeerIp, kOurIp), at_ms(2));
  out_.clear();
  EXPECT_EQ(p.generation, *ip().prefix_generation()) << "same MAC: still valid";

  recv(arp_request_frame(kPeerNewMac, kPeerIp, kOurIp), at_ms(3));
  out_.clear();
  EXPECT_NE(p.generation, *ip().prefix_generation()) << "the hop's MAC changed";
  ASSERT_TRUE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(4)));
  EXPECT_EQ(get_mac(p.bytes, 0), kPeerNewMac);
  EXPECT_EQ(p.generation, *ip().prefix_generation());
}

// Valid no longer than the ARP entry it was built from: after that the
// full path looks the hop up again (and asks ARP when it is stale).
TEST_F(FramePrefixTest, ValidUntilTheArpEntryGoesStale) {
  resolve_peer(at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, at_ms(5)));
  EXPECT_EQ(p.valid_until, at_ms(0) + settings_.arp.entry_ttl);
  EXPECT_FALSE(ip().build_prefix(kOurIp, kPeerIp, kProtoTcp, p, p.valid_until)) << "stale: no prefix";
}

// ---- IPv6 (Ipv6Layer::build_prefix / send_prefixed) ----------------------------

using FramePrefix6Test = Ipv6Test;

// Neighbour states (RFC 4861 §7.3.2): a prefix only while the neighbour is
// REACHABLE; INCOMPLETE (unknown) and STALE go the full path, which
// solicits or moves the entry to DELAY.
TEST_F(FramePrefix6Test, NoPrefixUnlessTheNeighbourIsReachable) {
  FramePrefix p;
  EXPECT_FALSE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(0))) << "no entry";
  ASSERT_TRUE(ip6().send_ipv6(l4(l4_message()), kOurG, kPeerG, kProtoTcp, at_ms(0), out_));
  out_.clear();  // the solicitation; the packet is parked
  ASSERT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(0)), NeighborState::kIncomplete);
  EXPECT_FALSE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(0))) << "INCOMPLETE";
  // Unsolicited, no Override: the entry learns the MAC but stays unconfirmed.
  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kPeerG, 0, kPeerMac), 255), at_ms(1));
  out_.clear();  // the parked packet
  ASSERT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(1)), NeighborState::kStale);
  EXPECT_FALSE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(1))) << "STALE";
  EXPECT_EQ(p.len, 0u);
  ip6().confirm(kPeerG, at_ms(2));  // TCP's upper-layer confirmation (§7.3.1)
  EXPECT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(2)));
  FramePrefix other_src;
  EXPECT_FALSE(ip6().v6().build_prefix(v6("2001:db8:1::9"), kPeerG, kProtoTcp, other_src, at_ms(2)))
      << "not our address";
  FramePrefix no_route;
  EXPECT_FALSE(ip6().v6().build_prefix(kOurG, kRemote, kProtoTcp, no_route, at_ms(2)));
  expect_nothing_sent();
}

// Byte for byte the frame send_ipv6() builds: no IP ID, no header checksum.
TEST_F(FramePrefix6Test, PrefixedFrameIsTheFrameSendBuilds) {
  peer_solicits(at_ms(0));
  ip6().confirm(kPeerG, at_ms(0));
  const std::uint64_t requests = count(Counter::kIp6OutRequests);  // our NA's
  const Bytes msg = l4_message();
  ASSERT_TRUE(ip6().send_ipv6(l4(msg), kOurG, kPeerG, kProtoTcp, at_ms(1), out_));
  const Bytes full = expect_sent();

  FramePrefix p;
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(1)));
  EXPECT_TRUE(p.ipv6);
  EXPECT_EQ(p.len, 54u);
  EXPECT_EQ(p.max_l3_len, 1500u);
  EXPECT_EQ(p.l4_pseudo_sum, ipv6_pseudo_header_sum(kOurG, kPeerG, 0, kProtoTcp));
  EXPECT_TRUE(ip6().v6().send_prefixed(prefixed(pool_, p, msg), p, out_));
  EXPECT_EQ(expect_sent(), full);
  EXPECT_EQ(count(Counter::kIp6OutRequests), requests + 2);
  EXPECT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(1)), NeighborState::kReachable);
}

// A Neighbour Advertisement with Override and a new MAC (§7.2.5) moves the
// generation: solicited, the entry stays REACHABLE and the prefix built
// next carries the new MAC; unsolicited, it goes STALE, no prefix is
// built, and the full path's send moves it to DELAY (§7.3.3).
TEST_F(FramePrefix6Test, AnOverridingAdvertisementInvalidatesThePrefix) {
  peer_solicits(at_ms(0));
  ip6().confirm(kPeerG, at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(1)));
  ASSERT_EQ(p.generation, *p.generation_of);
  EXPECT_EQ(get_mac(p.bytes, 0), kPeerMac);

  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kPeerG, kFlagS | kFlagO, kPeerMac), 255),
        at_ms(2));
  EXPECT_EQ(p.generation, *p.generation_of) << "same MAC, still REACHABLE: still valid";

  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kPeerG, kFlagS | kFlagO, kPeerNewMac), 255),
        at_ms(3));
  EXPECT_NE(p.generation, *p.generation_of) << "the neighbour's MAC changed";
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(3)));
  EXPECT_EQ(get_mac(p.bytes, 0), kPeerNewMac);

  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 136, 0, na_body(kPeerG, kFlagO, kPeerMac), 255), at_ms(4));
  EXPECT_NE(p.generation, *p.generation_of);
  EXPECT_FALSE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(4))) << "STALE";
  ASSERT_TRUE(ip6().send_ipv6(l4(l4_message()), kOurG, kPeerG, kProtoTcp, at_ms(5), out_));
  EXPECT_EQ(parse6(expect_sent()).eth_dst, kPeerMac);
  EXPECT_EQ(ip6().v6().neighbors().state(kPeerG, at_ms(5)), NeighborState::kDelay);
}

// Valid only until REACHABLE lapses: then the full path runs, and its send
// to the now STALE entry starts DELAY as before; a confirmation while
// REACHABLE lets the next build last longer.
TEST_F(FramePrefix6Test, ValidUntilReachableLapses) {
  peer_solicits(at_ms(0));
  ip6().confirm(kPeerG, at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(5)));
  EXPECT_EQ(p.valid_until, at_ms(0) + settings_.v6.nd.base_reachable_time);
  ip6().confirm(kPeerG, at_ms(10));
  EXPECT_EQ(p.generation, *p.generation_of) << "a confirmation keeps prefixes";
  FramePrefix later;
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, later, at_ms(10)));
  EXPECT_EQ(later.valid_until, at_ms(10) + settings_.v6.nd.base_reachable_time);

  const Instant lapsed = later.valid_until;
  EXPECT_FALSE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, lapsed)) << "STALE: no prefix";
  ASSERT_TRUE(ip6().send_ipv6(l4(l4_message()), kOurG, kPeerG, kProtoTcp, lapsed, out_));
  expect_sent();
  EXPECT_EQ(ip6().v6().neighbors().state(kPeerG, lapsed), NeighborState::kDelay);
}

// A Router Advertisement may change the hop limit (or MTU, routes) a
// prefix bakes in: prefixes built before it are rebuilt.
TEST_F(FramePrefix6Test, ARouterAdvertisementInvalidatesThePrefix) {
  peer_solicits(at_ms(0));
  ip6().confirm(kPeerG, at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(1)));
  EXPECT_EQ(get8(p.bytes, 14 + 7), 64u);
  Bytes ra(12);
  ra[0] = std::byte{32};  // Cur Hop Limit; router lifetime 0: not a default router
  recv6(icmp6_frame(MacAddr{{0x33, 0x33, 0, 0, 0, 1}}, kRouterLl, Ipv6Addr::all_nodes(), 134, 0, ra, 255,
                    kRouterMac),
        at_ms(2));
  out_.clear();
  EXPECT_NE(p.generation, *p.generation_of);
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(2)));
  EXPECT_EQ(get8(p.bytes, 14 + 7), 32u);
}

// Checksum offload: the flags and lengths send_ipv6() sets for it.
TEST_F(FramePrefix6Test, PortChecksumOffloadIsAskedForAsSendAsksForIt) {
  peer_solicits(at_ms(0));
  ip6().confirm(kPeerG, at_ms(0));
  FramePrefix p;
  ASSERT_TRUE(ip6().v6().build_prefix(kOurG, kPeerG, kProtoTcp, p, at_ms(1)));
  Mbuf f = prefixed(pool_, p, l4_message());
  f->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
  ASSERT_TRUE(ip6().v6().send_prefixed(std::move(f), p, out_));
  Mbuf m = out_.pop_front();
  ASSERT_TRUE(m);
  EXPECT_NE(m->ol_flags & RTE_MBUF_F_TX_IPV6, 0u);
  EXPECT_EQ(m->l2_len, 14u);
  EXPECT_EQ(m->l3_len, 40u);
}

}  // namespace
}  // namespace tern::testkit
