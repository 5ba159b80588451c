// ARP (RFC 826) through the IP layer: answering, learning, resolving a next
// hop with parked frames, retries and expiry on virtual time, bounds, routing.
#include <gtest/gtest.h>

#include "ip_harness.h"

namespace tern::testkit {
namespace {

using ArpTest = IpHarness;

TEST_F(ArpTest, RequestForOurAddressGetsExactReply) {
  // 02:..:02 > ff:ff:ff:ff:ff:ff, ARP, Request who-has 10.0.0.1 tell 10.0.0.2
  recv(arp_request_frame(kPeerMac, kPeerIp, kOurIp), at_ms(0));

  // 02:..:01 > 02:..:02, ARP, Reply 10.0.0.1 is-at 02:..:01
  const Bytes f = expect_sent();
  ASSERT_EQ(f.size(), 60u) << "padded to the Ethernet minimum";
  const EthView eth = parse_eth(f);
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  EXPECT_EQ(eth.type, kTypeArp);
  const ArpView a = parse_arp(eth.payload);
  EXPECT_EQ(a.htype, 1);
  EXPECT_EQ(a.ptype, 0x0800);
  EXPECT_EQ(a.hlen, 6);
  EXPECT_EQ(a.plen, 4);
  EXPECT_EQ(a.op, 2);
  EXPECT_EQ(a.sha, kOurMac);
  EXPECT_EQ(a.spa, kOurIp);
  EXPECT_EQ(a.tha, kPeerMac);
  EXPECT_EQ(a.tpa, kPeerIp);
  for (std::size_t i = 42; i < 60; ++i) EXPECT_EQ(f[i], std::byte{0}) << "padding byte " << i;
  expect_nothing_sent();

  // The requester is learned on the way (RFC 826: merge, then answer).
  const MacAddr* mac = ip().arp().lookup(kPeerIp, at_ms(1));
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(*mac, kPeerMac);
  EXPECT_EQ(count(Counter::kArpInRequests), 1u);
  EXPECT_EQ(count(Counter::kArpOutReplies), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(ArpTest, ReplyGoesToTheSenderHardwareAddress) {
  // The ARP sender field, not the Ethernet source, names who gets the answer.
  Bytes f =
      ethernet(MacAddr::broadcast(), kRouterMac, kTypeArp, arp_packet(1, kPeerMac, kPeerIp, {}, kOurIp));
  recv(f, at_ms(0));
  const EthView eth = parse_eth(expect_sent());
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(parse_arp(eth.payload).tha, kPeerMac);
}

TEST_F(ArpTest, RequestForAnotherAddressIsNotAnsweredNorLearned) {
  recv(arp_request_frame(kPeerMac, kPeerIp, ip4(10, 0, 0, 9)), at_ms(0));
  expect_nothing_sent();
  expect_only_drop(Drop::kArpNotForUs);
  // RFC 826: only a packet for us creates an entry.
  EXPECT_EQ(ip().arp().lookup(kPeerIp, at_ms(0)), nullptr);
  expect_no_leaks();
}

TEST_F(ArpTest, RequestForAnotherAddressRefreshesAKnownSender) {
  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(0));
  const MacAddr moved{{0x02, 0, 0, 0, 0, 0x22}};
  recv(arp_request_frame(moved, kPeerIp, ip4(10, 0, 0, 9)), at_ms(1));
  const MacAddr* mac = ip().arp().lookup(kPeerIp, at_ms(2));
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(*mac, moved) << "RFC 826 merge: an existing entry is updated by any ARP naming its sender";
  expect_only_drop(Drop::kArpNotForUs);
}

TEST_F(ArpTest, ReplyIsLearned) {
  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(0));
  expect_nothing_sent();
  const MacAddr* mac = ip().arp().lookup(kPeerIp, at_ms(1));
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(*mac, kPeerMac);
  EXPECT_EQ(count(Counter::kArpInReplies), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
}

TEST_F(ArpTest, EntryGoesStaleAfterItsTtl) {
  settings_.arp.entry_ttl = Duration::s(60);
  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(0));
  EXPECT_NE(ip().arp().lookup(kPeerIp, at_ms(59'999)), nullptr);
  EXPECT_EQ(ip().arp().lookup(kPeerIp, at_ms(60'000)), nullptr);
}

TEST_F(ArpTest, MalformedArpIsCounted) {
  // Hardware type 6 (IEEE 802) is not Ethernet/IPv4 ARP.
  Bytes p = arp_packet(1, kPeerMac, kPeerIp, {}, kOurIp);
  put16(p, 0, 6);
  recv(ethernet(MacAddr::broadcast(), kPeerMac, kTypeArp, p), at_ms(0));
  expect_only_drop(Drop::kArpMalformed);
  expect_nothing_sent();
}

TEST_F(ArpTest, UnknownOpcodeIsCounted) {
  recv(ethernet(MacAddr::broadcast(), kPeerMac, kTypeArp, arp_packet(3, kPeerMac, kPeerIp, {}, kOurIp)),
       at_ms(0));
  expect_only_drop(Drop::kArpUnknownOp);
  expect_nothing_sent();
}

TEST_F(ArpTest, BroadcastOrMulticastSenderIsNeverLearned) {
  recv(arp_reply_frame(MacAddr::broadcast(), kPeerIp, kOurMac, kOurIp), at_ms(0));
  recv(arp_reply_frame(MacAddr{{0x01, 0, 0x5e, 0, 0, 1}}, ip4(10, 0, 0, 3), kOurMac, kOurIp), at_ms(0));
  EXPECT_EQ(ip().arp().lookup(kPeerIp, at_ms(1)), nullptr);
  EXPECT_EQ(ip().arp().lookup(ip4(10, 0, 0, 3), at_ms(1)), nullptr);
}

// ---- resolving a next hop ------------------------------------------------

TEST_F(ArpTest, UnresolvedNextHopParksTheFrameAndAsksOnce) {
  // ping from 10.0.0.2, whose MAC we do not know yet
  recv(ping_frame(7, 1, pattern(56)), at_ms(0));
  // the echo reply waits; we ask: who-has 10.0.0.2 tell 10.0.0.1
  {
    const EthView eth = parse_eth(expect_sent());
    EXPECT_EQ(eth.dst, MacAddr::broadcast());
    EXPECT_EQ(eth.src, kOurMac);
    ASSERT_EQ(eth.type, kTypeArp);
    const ArpView a = parse_arp(eth.payload);
    EXPECT_EQ(a.op, 1);
    EXPECT_EQ(a.sha, kOurMac);
    EXPECT_EQ(a.spa, kOurIp);
    EXPECT_EQ(a.tha, MacAddr{});
    EXPECT_EQ(a.tpa, kPeerIp);
  }
  expect_nothing_sent();
  EXPECT_EQ(ip().arp().pending_frames(), 1u);

  // a second ping while the request is outstanding: parked, no new request
  recv(ping_frame(7, 2, pattern(56)), at_ms(10));
  expect_nothing_sent();
  EXPECT_EQ(ip().arp().pending_frames(), 2u);
  EXPECT_EQ(count(Counter::kArpOutRequests), 1u);

  // 10.0.0.2 is-at 02:..:02 releases both replies, in order, to that MAC
  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(20));
  for (std::uint16_t seq : {1, 2}) {
    const Reply r = expect_echo_reply();
    EXPECT_EQ(r.eth.dst, kPeerMac);
    EXPECT_EQ(r.eth.src, kOurMac);
    EXPECT_EQ(r.ip.dst, kPeerIp);
    EXPECT_EQ(r.icmp.seq, seq);
  }
  expect_nothing_sent();
  EXPECT_EQ(ip().arp().pending_frames(), 0u);
  EXPECT_EQ(count(Counter::kArpResolved), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(ArpTest, RetriesEveryIntervalThenGivesUpAndDropsParkedFrames) {
  settings_.arp.retry_interval = Duration::ms(1000);
  settings_.arp.max_retries = 3;
  recv(ping_frame(7, 1, pattern(56)), at_ms(0));
  recv(ping_frame(7, 2, pattern(56)), at_ms(0));
  ASSERT_EQ(parse_eth(expect_sent()).type, kTypeArp);  // the first request
  expect_nothing_sent();

  const auto expect_request_at = [&](std::int64_t t) {
    timer(at_ms(t - 1));
    expect_nothing_sent();
    timer(at_ms(t));
    const EthView eth = parse_eth(expect_sent());
    ASSERT_EQ(eth.type, kTypeArp) << "at " << t << " ms";
    EXPECT_EQ(parse_arp(eth.payload).op, 1);
    EXPECT_EQ(parse_arp(eth.payload).tpa, kPeerIp);
    expect_nothing_sent();
  };
  expect_request_at(1000);
  expect_request_at(2000);
  expect_request_at(3000);
  EXPECT_EQ(count(Counter::kArpOutRequests), 4u) << "one request and max_retries retransmissions";
  EXPECT_EQ(ip().arp().pending_frames(), 2u);

  timer(at_ms(3999));
  EXPECT_EQ(ip().arp().pending_frames(), 2u);
  timer(at_ms(4000));  // the last retry went unanswered for a full interval
  expect_nothing_sent();
  EXPECT_EQ(ip().arp().pending_frames(), 0u);
  expect_only_drop(Drop::kArpUnresolved, 2);
  EXPECT_EQ(count(Counter::kArpExpired), 1u);
  expect_no_leaks();

  // Later traffic to the failed hop starts a fresh resolution.
  recv(ping_frame(7, 3, pattern(56)), at_ms(5000));
  EXPECT_EQ(parse_eth(expect_sent()).type, kTypeArp);
  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(5001));
  EXPECT_EQ(expect_echo_reply().icmp.seq, 3);
}

TEST_F(ArpTest, LateReplyAfterGivingUpReleasesNothing) {
  settings_.arp.max_retries = 0;
  recv(ping_frame(7, 1, pattern(8)), at_ms(0));
  out_.clear();
  timer(at_ms(1000));
  expect_only_drop(Drop::kArpUnresolved);
  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(1500));
  expect_nothing_sent();
  EXPECT_NE(ip().arp().lookup(kPeerIp, at_ms(1500)), nullptr);
  expect_no_leaks();
}

TEST_F(ArpTest, PendingBoundDropsTheOverflowAsArpQueueFull) {
  settings_.arp.max_pending = 2;
  recv(ping_frame(7, 1, pattern(8)), at_ms(0));
  recv(ping_frame(7, 2, pattern(8)), at_ms(0));
  recv(ping_frame(7, 3, pattern(8)), at_ms(0));
  EXPECT_EQ(parse_eth(expect_sent()).type, kTypeArp);
  expect_nothing_sent();
  expect_only_drop(Drop::kArpQueueFull);
  EXPECT_EQ(ip().arp().pending_frames(), 2u);
  expect_no_leaks(/*held=*/2);

  recv(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), at_ms(1));
  EXPECT_EQ(expect_echo_reply().icmp.seq, 1);
  EXPECT_EQ(expect_echo_reply().icmp.seq, 2);
  expect_nothing_sent();
  expect_no_leaks();
}

TEST_F(ArpTest, FullCacheDropsAsArpQueueFull) {
  settings_.arp.cache_size = 1;
  recv(ping_frame(7, 1, pattern(8)), at_ms(0));  // takes the only entry (10.0.0.2)
  out_.clear();
  recv(ping_frame(7, 1, pattern(8), {.src = ip4(10, 0, 0, 3)}), at_ms(0));
  expect_nothing_sent();
  expect_only_drop(Drop::kArpQueueFull);
}

TEST_F(ArpTest, OffLinkDestinationGoesViaTheGateway) {
  // ping from 192.0.2.7, routed to us by 10.0.0.254
  recv(ping_frame(9, 1, pattern(32), {.src = kRemoteIp}, kRouterMac), at_ms(0));
  {
    const EthView eth = parse_eth(expect_sent());
    ASSERT_EQ(eth.type, kTypeArp);
    EXPECT_EQ(parse_arp(eth.payload).tpa, kGatewayIp) << "ARP for the router, never for an off-link address";
  }
  expect_nothing_sent();
  recv(arp_reply_frame(kRouterMac, kGatewayIp, kOurMac, kOurIp), at_ms(1));
  const Reply r = expect_echo_reply();
  EXPECT_EQ(r.eth.dst, kRouterMac);
  EXPECT_EQ(r.ip.dst, kRemoteIp);
  EXPECT_EQ(r.ip.src, kOurIp);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(ArpTest, OffLinkWithoutGatewayIsNoRoute) {
  settings_.gateway.reset();
  recv(ping_frame(9, 1, pattern(32), {.src = kRemoteIp}, kRouterMac), at_ms(0));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpNoRoute);
  EXPECT_EQ(ip().arp().pending_frames(), 0u);
  expect_no_leaks();
}

TEST_F(ArpTest, SendToResolvedHopFramesTheDatagram) {
  resolve_peer(at_ms(0));
  Mbuf l4 = Mbuf::alloc(pool_);
  ASSERT_TRUE(l4);
  const Bytes udp = pattern(12, 3);
  std::memcpy(l4.append(12).data(), udp.data(), udp.size());
  ASSERT_TRUE(ip().send(std::move(l4), kPeerIp, kProtoUdp, at_ms(1), out_));
  const EthView eth = parse_eth(expect_sent());
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  const IpView v = parse_ip(eth.payload);
  EXPECT_EQ(v.version, 4);
  EXPECT_EQ(v.ihl, 5);
  EXPECT_TRUE(v.checksum_ok);
  EXPECT_TRUE(v.df());
  EXPECT_EQ(v.total_length, 32);
  EXPECT_EQ(v.protocol, kProtoUdp);
  EXPECT_EQ(v.src, kOurIp);
  EXPECT_EQ(v.dst, kPeerIp);
  EXPECT_EQ(v.payload, udp);
  expect_nothing_sent();
  expect_no_leaks();
}

}  // namespace
}  // namespace tern::testkit
