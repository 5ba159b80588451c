// Frame prefixes (lib/ip/frame_prefix.h; IpLayer::build_prefix and
// send_prefixed): a flow's Ethernet and IPv4 headers built once must give
// the very frame send() builds, and must stop being valid when what they
// were built from changes (the next hop's MAC) or expires (its ARP entry).
#include <gtest/gtest.h>

#include <cstring>

#include "ip_harness.h"
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

}  // namespace
}  // namespace tern::testkit
