// TCP over IPv6 (issue 15): the same engine on the family-neutral tuple.
// Every segment the harness takes from the stack here must come through
// send_segment6 with 2001:db8::1 > 2001:db8::2 and a checksum over the
// IPv6 pseudo-header (RFC 8200 §8.1), checked by the harness's own
// reference sum; the frames it injects carry an IPv6 header and go in
// through on_segment6. MSS = MTU - 60 (RFC 8200 §8.3), 1220 by default
// (RFC 9293 §3.7.1); ISNs (RFC 6528) and SYN cookies (RFC 4987) over the
// 128-bit addresses. No SYN from a tentative address (RFC 4862 §5.4).
#include <memory>

#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "tcp/ip_glue.h"
#include "tcp/isn.h"
#include "tcp_harness.h"
#include "wire/icmpv6.h"

namespace tern::tcptest {
namespace {

class Ipv6 : public TcpHarness {
 protected:
  Ipv6() { use_ipv6(); }
};

TEST_F(Ipv6, ActiveOpenDataAndCloseToTimeWait) {
  Tcb* c = active_syn(at_ms(0));  // the SYN: addresses, checksum and family checked by the harness
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tuple, tuple());
  EXPECT_FALSE(c->tuple.is_v4());
  // RFC 6528 over the IPv6 tuple.
  EXPECT_EQ(iss(), IsnGenerator{options_.isn_key}.isn(kLocalIp6, local_port(), kPeerIp6, 80, at_ms(0)));

  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1440), at_ms(5));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(c->mss, 1440);

  // Data both ways.
  ASSERT_EQ(stack().send_copy(*c, pattern(2880), at_ms(6)), 2880u);
  expect_sent(seg().seq(iss() + 1).ack(irs() + 1).data(1440));
  expect_sent(seg().seq(iss() + 1441).ack(irs() + 1).data(1440));
  recv(seg().seq(irs() + 1).ack(iss() + 2881).data(100), at_ms(8));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2881).ack(irs() + 101));
  EXPECT_EQ(read_all(*c), pattern(100));

  // We close first: FIN_WAIT_1, 2, then TIME_WAIT on the peer's FIN.
  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 2881).ack(irs() + 101));
  recv(seg().seq(irs() + 101).ack(iss() + 2882), at_ms(11));
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 101).ack(iss() + 2882), at_ms(12));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2882).ack(irs() + 102));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_NE(stack().time_wait().find(tuple()), nullptr);
  // The IPv4 tuple with the same ports is another connection.
  EXPECT_EQ(stack().time_wait().find(FourTuple::v4(kLocalIp, kPeerIp, local_port(), 80)), nullptr);

  // A retransmitted FIN in TIME_WAIT is acknowledged over IPv6 again.
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 101).ack(iss() + 2882), at_ms(100));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2882).ack(irs() + 102));
  EXPECT_EQ(drops(Drop::kTcpBadChecksum), 0u);
}

TEST_F(Ipv6, PassiveOpenOnADualStackListener) {
  Tcb* c = establish_passive(seg().mss(1440));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tuple, tuple());
  EXPECT_EQ(c->mss, 1440);
  EXPECT_EQ(listener()->family(), ListenFamily::kBoth);
  // The SYN-ACK's ISN covers the IPv6 tuple (the SYN arrived at t = 0).
  EXPECT_EQ(iss(), IsnGenerator{options_.isn_key}.isn(kLocalIp6, kServerPort, kPeerIp6, kPeerPort, at_ms(0)));
  recv(seg().seq(irs() + 1).ack(iss() + 1).data(500), at_ms(1));
  expect_sent(seg().flags(kTcpAck).ack(irs() + 501));
  EXPECT_EQ(read_all(*c).size(), 500u);
}

// RFC 8200 §8.3: MSS = MTU - 60. Our SYN offers 1440 at MTU 1500 (IPv4's
// 1460 there), 1220 at the IPv6 minimum MTU 1280, and never less.
TEST_F(Ipv6, SynOffersMtuMinus60) {
  stack().listen(kServerPort, 8);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1).mss(1440));
}

TEST_F(Ipv6, SynOffers1220AtTheMinimumMtu) {
  options_.mtu = 1280;
  stack().listen(kServerPort, 8);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1).mss(1220));
}

TEST_F(Ipv6, ActiveSynCarriesMss1440) {
  ASSERT_NE(stack().connect(kPeerIp6, 80, at_ms(0)), nullptr);
  const Sent syn = take_all_sent().at(0);
  EXPECT_TRUE(syn.v6);
  EXPECT_EQ(syn.opts.mss, 1440);
  EXPECT_TRUE(syn.checksum_ok) << syn;
}

// RFC 9293 §3.7.1: a peer that sends no MSS option is taken to accept
// 1220 over IPv6 (536 over IPv4).
TEST_F(Ipv6, NoMssOptionMeans1220) {
  Tcb* c = establish_passive(seg());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->mss, 1220);
}

// The checksum is over the IPv6 pseudo-header: a segment summed over an
// IPv4 pseudo-header (or not at all) is dropped and counted.
TEST_F(Ipv6, BadChecksumIsDropped) {
  stack().listen(kServerPort, 8);
  const std::uint64_t before = drops(Drop::kTcpBadChecksum);
  // Build the segment by hand: the right IPv6 frame, but the checksum over
  // 10.0.0.2 > 10.0.0.1.
  Bytes tcp(20);
  write_tcp(tcp, TcpFields{kPeerPort, kServerPort, irs().value(), 0, kTcpSyn, 65535}, {});
  fill_tcp_checksum(tcp, kPeerIp, kLocalIp);
  Bytes ip6(40);
  ip6[0] = std::byte{0x60};
  testkit::put16(ip6, 4, 20);
  ip6[6] = std::byte{6};
  ip6[7] = std::byte{64};
  for (std::size_t i = 0; i < 16; ++i) {
    ip6[8 + i] = std::byte{kPeerIp6.bytes()[i]};
    ip6[24 + i] = std::byte{kLocalIp6.bytes()[i]};
  }
  testkit::append(ip6, tcp);
  Mbuf m = testkit::to_mbuf(pool_, testkit::ethernet(testkit::kOurMac, testkit::kPeerMac, 0x86DD, ip6));
  ASSERT_TRUE(m);
  stack().on_segment6(kPeerIp6, kLocalIp6, std::move(m), 54, 20, now());
  EXPECT_EQ(drops(Drop::kTcpBadChecksum), before + 1);
  expect_nothing_sent();
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// RFC 9293 §3.10.7.1 over IPv6: a segment to a closed port is answered
// with a RST to its source, through send_segment6.
TEST_F(Ipv6, ClosedPortAnswersRst) {
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1440), at_ms(0));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(0u).ack(irs() + 1));
  recv(seg().seq(irs() + 1).ack(4242u), at_ms(1));
  expect_sent(seg().flags(kTcpRst).seq(4242u));
  EXPECT_EQ(count(Counter::kOutRsts), 2u);
}

// An RST in the window ends the connection (RFC 5961 §3.2: at RCV.NXT).
TEST_F(Ipv6, RstAtRcvNxtResetsTheConnection) {
  Tcb* c = establish_active(seg().mss(1440));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpRst).seq(irs() + 1), at_ms(1));
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(c->error, TcpError::kReset);
  expect_nothing_sent();
}

// Our abort sends <SEQ=SND.NXT><CTL=RST,ACK> over IPv6.
TEST_F(Ipv6, AbortSendsRst) {
  Tcb* c = establish_active(seg().mss(1440));
  ASSERT_NE(c, nullptr);
  stack().abort(*c, at_ms(1));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(iss() + 1).ack(irs() + 1));
}

// A listener told to take one family answers the other as a closed port.
TEST_F(Ipv6, V4OnlyListenerRefusesIpv6) {
  ASSERT_NE(stack().listen(kServerPort, 8, ListenFamily::kV4Only), nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1440), at_ms(0));
  expect_sent(seg().flags(kTcpRst | kTcpAck).ack(irs() + 1));
  EXPECT_EQ(drops(Drop::kTcpNoSocket), 1u);
  EXPECT_EQ(tcbs_in_use(), 0u);
}

TEST_F(Ipv6, V6OnlyListenerTakesIpv6AndRefusesIpv4) {
  listener_ = stack().listen(kServerPort, 8, ListenFamily::kV6Only);
  ASSERT_NE(establish_passive(seg().mss(1440)), nullptr);
  local_ip_ = IpAddr::v4(kLocalIp);
  peer_ip_ = IpAddr::v4(kPeerIp);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(5));
  const Sent rst = expect_sent(seg().flags(kTcpRst | kTcpAck).ack(irs() + 1));
  EXPECT_FALSE(rst.v6);
  EXPECT_EQ(drops(Drop::kTcpNoSocket), 1u);
}

// RFC 4987 §3.6 over IPv6: with the SYN queue full the SYN-ACK carries a
// cookie keyed on the 128-bit tuple, its MSS from the IPv6 table (1440 at
// MTU 1500), and the returning ACK opens the connection.
TEST_F(Ipv6, SynCookieRoundTrip) {
  cfg().syn_backlog = 1;
  Listener* l = stack().listen(kServerPort, 16);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));  // fills the SYN queue
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1));

  set_ports(kServerPort, kPeerPort + 1);
  const Seq32 irs2 = irs() + 777777;
  recv(seg().flags(kTcpSyn).seq(irs2).mss(1460), at_ms(1));
  const Sent cookie = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs2 + 1).mss(1440));
  EXPECT_EQ(count(Counter::kSyncookiesSent), 1u);
  EXPECT_EQ(tcbs_in_use(), 1u) << "a cookie keeps no state";

  recv(seg().seq(irs2 + 1).ack(cookie.seq + 1), at_ms(2));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kSyncookiesRecv), 1u);
  EXPECT_EQ(state(), TcpState::kEstablished);
  Tcb* c = stack().accept(*l);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tuple, tuple());
  EXPECT_EQ(c->mss, 1440);
  ASSERT_EQ(stack().send_copy(*c, pattern(10), at_ms(3)), 10u);
  expect_sent(seg().seq(cookie.seq + 1).ack(irs2 + 1).data(10));
}

// The cookie covers the whole IPv6 source: the same ACK from another
// address (same ports, same low 32 bits) is refused.
TEST_F(Ipv6, SynCookieFromAnotherAddressIsRefused) {
  cfg().syn_backlog = 1;
  ASSERT_NE(stack().listen(kServerPort, 16), nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_ports(kServerPort, kPeerPort + 1);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(1));
  const std::vector<Sent> sent = take_all_sent();
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_EQ(count(Counter::kSyncookiesSent), 1u);
  const Seq32 cookie = sent[1].seq;
  // The right ACK for the cookie, from 2001:db9::2 (same ports).
  auto b = kPeerIp6.bytes();
  b[3] = 0xb9;
  peer_ip_ = IpAddr::v6(b);
  recv(seg().seq(irs() + 1).ack(cookie + 1), at_ms(2));
  expect_sent(seg().flags(kTcpRst).seq(cookie + 1));
  EXPECT_EQ(count(Counter::kSyncookiesFailed), 1u);
  EXPECT_EQ(count(Counter::kSyncookiesRecv), 0u);
  // From the right address it opens the connection.
  peer_ip_ = kPeerIp6;
  recv(seg().seq(irs() + 1).ack(cookie + 1), at_ms(3));
  EXPECT_EQ(count(Counter::kSyncookiesRecv), 1u);
  EXPECT_EQ(state(), TcpState::kEstablished);
}

// With the port summing checksums, an IPv6 segment carries the folded IPv6
// pseudo-header sum with RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV6 (the
// harness checks both and finishes the sum as a NIC would).
TEST_F(Ipv6, ChecksumOffloadUsesTheIpv6PseudoHeader) {
  options_.tx_checksum_offload = true;
  Tcb* c = establish_active(seg().mss(1440));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(700), at_ms(1)), 700u);
  const Sent s = expect_sent(seg().seq(iss() + 1).data(700));
  EXPECT_TRUE(s.offloaded);
}

// One stack, both families at once on one dual-stack listener.
TEST_F(Ipv6, BothFamiliesOnOneListener) {
  ASSERT_NE(establish_passive(seg().mss(1440)), nullptr);
  const std::uint32_t ipv6_conns = tcbs_in_use();
  // The same ports from the IPv4 peer: a new connection.
  local_ip_ = IpAddr::v4(kLocalIp);
  peer_ip_ = IpAddr::v4(kPeerIp);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(5));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1).mss(1460));
  EXPECT_FALSE(synack.v6);
  EXPECT_EQ(tcbs_in_use(), ipv6_conns + 1);
}

// ICMPv6 errors (RFC 4443) quoting our SYN: Port Unreachable refuses the
// attempt, an error quoting a sequence number we never sent or another
// tuple is ignored, Packet Too Big and errors past SYN_SENT are counted
// and ignored.
TEST_F(Ipv6, PortUnreachableRefusesTheAttempt) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  // Out of window first: ignored.
  Bytes q = icmp_quote(local_port(), 80, iss() + 5);
  stack().on_icmpv6_error(kIcmpv6DestUnreachable, kIcmpv6PortUnreachable, 0, kLocalIp6, kPeerIp6, q,
                          at_ms(1));
  EXPECT_EQ(drops(Drop::kTcpIcmpOutOfWindow), 1u);
  EXPECT_EQ(c->state, TcpState::kSynSent);
  // Another peer with the same low 32 bits and ports: no such connection.
  q = icmp_quote(local_port(), 80, iss());
  auto other = kPeerIp6.bytes();
  other[2] ^= 1;
  stack().on_icmpv6_error(kIcmpv6DestUnreachable, kIcmpv6PortUnreachable, 0, kLocalIp6, IpAddr::v6(other), q,
                          at_ms(1));
  EXPECT_EQ(drops(Drop::kTcpIcmpNoSocket), 1u);
  // Packet Too Big: PMTU not done, counted.
  stack().on_icmpv6_error(kIcmpv6PacketTooBig, 0, 0, kLocalIp6, kPeerIp6, q, at_ms(1));
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
  EXPECT_EQ(c->state, TcpState::kSynSent);
  stack().on_icmpv6_error(kIcmpv6DestUnreachable, kIcmpv6PortUnreachable, 0, kLocalIp6, kPeerIp6, q,
                          at_ms(2));
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(c->error, TcpError::kRefused);
  EXPECT_EQ(count(Counter::kAttemptFails), 1u);
}

TEST_F(Ipv6, UnreachableWhenEstablishedIsASoftError) {
  Tcb* c = establish_active(seg().mss(1440));
  ASSERT_NE(c, nullptr);
  const Bytes q = icmp_quote(local_port(), 80, iss() + 1);
  stack().on_icmpv6_error(kIcmpv6DestUnreachable, kIcmpv6NoRoute, 0, kLocalIp6, kPeerIp6, q, at_ms(1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(drops(Drop::kTcpIcmpSoftError), 1u);
}

TEST_F(Ipv6, NoRouteEndsTheAttemptAsUnreachable) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  const Bytes q = icmp_quote(local_port(), 80, iss());
  stack().on_icmpv6_error(kIcmpv6DestUnreachable, kIcmpv6AddressUnreachable, 0, kLocalIp6, kPeerIp6, q,
                          at_ms(1));
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(c->error, TcpError::kUnreachable);
}

// Duplicate address detection (RFC 4862 §5.4) through a real IpLayer joined
// by TcpIpGlue, as a worker runs it: while our addresses are tentative none
// may be a source, so an active open fails at once with kNoSource (Linux:
// EADDRNOTAVAIL) and sends nothing, to a global and to a link-local peer;
// once DAD ends the SYN leaves from the address source selection picks.
class Ipv6Dad : public Ipv6 {
 protected:
  void TearDown() override {
    glue_.reset();
    ip_.reset();  // its parked packets back before the harness counts mbufs
    out_.clear();
    Ipv6::TearDown();
  }
  IpLayer& ip() {
    if (!ip_) {
      IpSettings s;
      s.mac = testkit::kOurMac;
      s.v6.addrs = {Ipv6Prefix{Ipv6Addr{kLocalIp6.bytes()}, 64}};
      s.v6.nd.dad_transmits = 1;  // one probe, tentative until RetransTimer (1 s) after it
      ip_ = std::make_unique<IpLayer>(s, counters_, pool_);
      glue_ = std::make_unique<TcpIpGlue>(*ip_, out_);
      glue_->attach(stack());
    }
    return *ip_;
  }

  FrameQueue out_;
  std::unique_ptr<IpLayer> ip_;
  std::unique_ptr<TcpIpGlue> glue_;
};

TEST_F(Ipv6Dad, ConnectFailsWhileOurAddressesAreTentative) {
  const Ipv6Addr ours_ll = link_local_from_mac(testkit::kOurMac);
  const IpAddr peer_ll = IpAddr::v6(link_local_from_mac(testkit::kPeerMac).b);
  ip().on_timer(at_ms(0), out_);  // DAD probes for the link-local and the global address
  ASSERT_TRUE(ip_->v6().tentative(Ipv6Addr{kLocalIp6.bytes()}));
  ASSERT_TRUE(ip_->v6().tentative(ours_ll));
  out_.clear();

  for (const IpAddr& peer : {kPeerIp6, peer_ll}) {
    ConnectError err = ConnectError::kNone;
    EXPECT_EQ(stack().connect(peer, 80, at_ms(1), &err), nullptr);
    EXPECT_EQ(err, ConnectError::kNoSource) << "not a SYN from a tentative address";
  }
  expect_nothing_sent();  // no SYN
  EXPECT_TRUE(out_.empty()) << "nothing through the IP layer either";
  EXPECT_EQ(count(Counter::kActiveOpens), 0u);
  EXPECT_EQ(tcbs_in_use(), 0u);

  ip().on_timer(at_ms(1000), out_);  // one RetransTimer after the probe: DAD is over
  ASSERT_FALSE(ip_->v6().tentative(Ipv6Addr{kLocalIp6.bytes()}));
  out_.clear();
  ConnectError err = ConnectError::kNone;
  Tcb* global = stack().connect(kPeerIp6, 80, at_ms(1001), &err);
  ASSERT_NE(global, nullptr);
  EXPECT_EQ(err, ConnectError::kNone);
  EXPECT_EQ(global->tuple.laddr, kLocalIp6);
  Tcb* link = stack().connect(peer_ll, 80, at_ms(1001), &err);
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->tuple.laddr, IpAddr::v6(ours_ll.b));
  EXPECT_EQ(count(Counter::kActiveOpens), 2u);
  const std::vector<Sent> syns = take_all_sent();
  ASSERT_EQ(syns.size(), 2u);
  EXPECT_EQ(syns[0].flags, kTcpSyn);
  EXPECT_EQ(syns[0].src, kLocalIp6);
  EXPECT_EQ(syns[1].flags, kTcpSyn);
  EXPECT_EQ(syns[1].src, IpAddr::v6(ours_ll.b));
  EXPECT_TRUE(syns[0].checksum_ok && syns[1].checksum_ok);
  stack().close(*global, now());
  stack().close(*link, now());
}

}  // namespace
}  // namespace tern::tcptest
