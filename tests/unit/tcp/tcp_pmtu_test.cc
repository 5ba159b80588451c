// Path MTU Discovery for TCP (lib/tcp/tcp_icmp.cc): an ICMPv6 Packet Too
// Big (RFC 8201) or an ICMP Fragmentation Needed (RFC 1191) quoting a
// segment in SND.UNA..SND.MAX (RFC 5927 §4.1) lowers the connection's path
// MTU and so its MSS, and what was sent too big goes again at once at the
// new size, cwnd untouched (RFC 1191 §6.5, RFC 8201 §5.4). Reports out of
// window, not lower than the current estimate, or for a connection not yet
// synchronized change nothing; an IPv6 report below 1280 means 1280
// (RFC 8201 §4), an IPv4 one below 552 means 552 (Linux's min_pmtu).
// Also: ACK progress on an IPv6 connection confirms the neighbour
// (RFC 4861 §7.3.1), at most once a second.
#include <cstdint>

#include "ip/ip_layer.h"
#include "sack_script.h"
#include "wire/icmp.h"
#include "wire/icmpv6.h"

namespace tern::tcptest {
namespace {

class Pmtu : public SackScript {
 protected:
  // An established connection to a peer that announced `peer_mss`, with or
  // without SACK, Nagle off; nothing in flight.
  Tcb* open(std::uint16_t peer_mss, bool sack, Instant at = at_ms(0)) {
    Tcb* c = active_syn(at);
    if (c == nullptr) return nullptr;
    Seg synack = seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(peer_mss);
    if (sack) synack.sack_perm();
    recv(synack, at + Duration::ms(20));
    expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
    EXPECT_EQ(c->sack_ok, sack);
    stack().set_nodelay(*c, true, now());
    mss_ = c->mss;
    return c;
  }
  void packet_too_big(Seq32 seq, std::uint32_t mtu, Instant at) {
    const Bytes q = icmp_quote(local_port(), peer_port(), seq);
    stack().on_icmpv6_error(kIcmpv6PacketTooBig, 0, mtu, kLocalIp6, kPeerIp6, q, at);
  }
  void frag_needed(Seq32 seq, std::uint16_t mtu, Instant at) {
    stack().on_icmp_unreachable(IcmpUnreachable{.src = kLocalIp,
                                                .dst = kPeerIp,
                                                .sport = local_port(),
                                                .dport = peer_port(),
                                                .seq = seq.value(),
                                                .code = kIcmpFragNeeded,
                                                .mtu = mtu},
                                at);
  }
  // Expects [from, from + total) sent again in segments of `mss` (the last
  // one shorter), in order, then nothing.
  void expect_resent(Seq32 from, std::uint32_t total, std::uint32_t mss,
                     std::source_location loc = std::source_location::current()) {
    std::uint32_t off = 0;
    while (off < total) {
      const std::uint32_t len = std::min(mss, total - off);
      const Sent s = expect_sent(seg().seq(from + off), loc);
      EXPECT_EQ(s.payload.size(), len) << "at offset " << off;
      off += len;
    }
    expect_nothing_sent(loc);
  }
};

// A second connection alongside the one under test.
struct Conn {
  Tcb* tcb;
  std::uint16_t lport;
  Seq32 iss;
};

class PmtuShared : public Pmtu {
 protected:
  // open(), remembering the connection's ports and ISS for use().
  Conn opened(std::uint16_t peer_mss, Instant at) {
    Tcb* c = open(peer_mss, false, at);
    return {c, local_port(), iss()};
  }
  // Makes `k` the connection under test (what seg(), S() and the reports address).
  void use(const Conn& k) {
    set_ports(k.lport, 80);
    set_iss(k.iss);
  }
  // RFC 8201 §5.2 / RFC 1191 §6.3: a report to one connection lowers the
  // destination's path MTU, and another connection to it, open and idle,
  // sends its next segment at the new size without a report of its own;
  // when the estimate expires (RFC 8201 §4), both go back to the link MTU.
  // `report(seq, mtu, at)` sends the family's report to the connection
  // under test; `link_mss` / `path_mss` are the MSS before and after.
  template <typename Report>
  void follow_then_restore(Report report, std::uint16_t mtu, std::uint32_t link_mss, std::uint32_t path_mss) {
    const Conn a = opened(static_cast<std::uint16_t>(link_mss), at_ms(0));
    const Conn b = opened(static_cast<std::uint16_t>(link_mss), at_ms(21));
    ASSERT_NE(a.tcb, nullptr);
    ASSERT_NE(b.tcb, nullptr);
    ASSERT_NE(a.lport, b.lport);
    use(a);
    EXPECT_EQ(queue(*a.tcb, 2, at_ms(50)).size(), 2u);
    const Instant learned = at_ms(51);
    report(S(1), mtu, learned);
    EXPECT_EQ(a.tcb->mss, path_mss);
    expect_resent(S(1), 2 * link_mss, path_mss);
    recv(ack_with(S(3)), at_ms(60));
    EXPECT_EQ(b.tcb->mss, link_mss) << "read when b next sends";
    const std::uint64_t resent = count(Counter::kRetransSegs);

    use(b);
    send(*b.tcb, 1, at_ms(70));
    expect_resent(S(1), link_mss, path_mss);  // cut to the path without a report of its own
    EXPECT_EQ(b.tcb->pmtu, mtu);
    EXPECT_EQ(b.tcb->mss, path_mss);
    EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
    EXPECT_EQ(count(Counter::kTCPPMTUAdopted), 1u);
    EXPECT_EQ(count(Counter::kRetransSegs), resent) << "b had nothing in flight";
    recv(ack_with(S(2)), at_ms(80));

    // Just before the estimate expires b still cuts to it; at expiry the
    // link MTU applies again, to both.
    advance_to(learned + kPmtuExpires - Duration::ms(1));
    send(*b.tcb, 1, now());
    expect_resent(S(2), link_mss, path_mss);
    recv(ack_with(S(3)), now());
    advance_to(learned + kPmtuExpires);
    send(*b.tcb, 1, now());
    expect_resent(S(3), link_mss, link_mss);
    use(a);
    send(*a.tcb, 1, now());
    expect_resent(S(3), link_mss, link_mss);
    EXPECT_EQ(a.tcb->pmtu, options_.mtu);
    EXPECT_EQ(b.tcb->pmtu, options_.mtu);
    EXPECT_EQ(a.tcb->mss, link_mss);
    EXPECT_EQ(count(Counter::kTCPPMTURestored), 2u);
    EXPECT_EQ(count(Counter::kPmtuExpired), 1u);
  }
};

class Pmtu6Shared : public PmtuShared {
 protected:
  Pmtu6Shared() { use_ipv6(); }
};

TEST_F(Pmtu6Shared, OpenConnectionsFollowTheDestinationsPathMtu) {
  follow_then_restore([this](Seq32 seq, std::uint32_t mtu, Instant at) { packet_too_big(seq, mtu, at); },
                      1380, 1440, 1320);
}

TEST_F(PmtuShared, OpenIpv4ConnectionsFollowTheDestinationsPathMtu) {
  follow_then_restore([this](Seq32 seq, std::uint32_t mtu,
                             Instant at) { frag_needed(seq, static_cast<std::uint16_t>(mtu), at); },
                      1000, 1460, 960);
}

// RFC 8201 §5.4 for the connection that did not get the report: what it
// sent at the old size crossed the same path and was dropped there, so
// when it adopts the destination's lower path MTU its flight goes again at
// once at the new size, cwnd untouched, as after a report of its own; that
// report, arriving later, lowers nothing more.
TEST_F(PmtuShared, AFlightSentBeforeTheDecreaseGoesAgainAtTheNewSize) {
  const Conn a = opened(1460, at_ms(0));
  const Conn b = opened(1460, at_ms(21));
  ASSERT_NE(a.tcb, nullptr);
  ASSERT_NE(b.tcb, nullptr);
  EXPECT_EQ(queue(*b.tcb, 3, at_ms(50)).size(), 3u);
  const std::uint32_t cwnd = b.tcb->cc.cwnd();
  use(a);
  EXPECT_EQ(queue(*a.tcb, 1, at_ms(51)).size(), 1u);
  frag_needed(S(1), 1000, at_ms(52));
  expect_resent(S(1), 1460, 960);
  use(b);
  send(*b.tcb, 1, at_ms(53));
  expect_resent(S(1), 4 * 1460, 960);
  EXPECT_EQ(b.tcb->mss, 960);
  EXPECT_EQ(b.tcb->cc.cwnd(), cwnd);
  EXPECT_EQ(count(Counter::kTCPPMTUAdopted), 1u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
  frag_needed(S(2), 1000, at_ms(54));
  expect_nothing_sent();
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
}

// A connection keeps what it learned itself until its own estimate expires,
// even when the destination's cache lost it meanwhile (evicted by other
// destinations): a lookup answering the link MTU does not raise it early.
TEST_F(PmtuShared, AnEvictedEstimateIsKeptUntilItExpires) {
  const Conn a = opened(1460, at_ms(0));
  ASSERT_NE(a.tcb, nullptr);
  EXPECT_EQ(queue(*a.tcb, 1, at_ms(30)).size(), 1u);
  frag_needed(S(1), 1000, at_ms(31));
  expect_resent(S(1), 1460, 960);
  recv(ack_with(S(2)), at_ms(40));
  // Other destinations learned later, until the peer's entry, the oldest
  // of its set, is evicted (the sets are chosen by a seeded hash).
  for (std::uint32_t i = 1; i <= 1000 && learned_pmtu(IpAddr::v4(kPeerIp)) != 0; ++i)
    learn_pmtu(IpAddr::v4(0x0B000000 + i), 1200);
  ASSERT_EQ(learned_pmtu(IpAddr::v4(kPeerIp)), 0) << "evicted";
  EXPECT_GE(count(Counter::kPmtuEvicted), 1u);
  send(*a.tcb, 1, at_ms(50));  // the generation moved: a looks, and keeps its 1000
  expect_resent(S(2), 1460, 960);
  EXPECT_EQ(a.tcb->pmtu, 1000);
  recv(ack_with(S(3)), at_ms(60));
  advance_to(at_ms(31) + kPmtuExpires);
  send(*a.tcb, 1, now());
  expect_resent(S(3), 1460, 1460);
  EXPECT_EQ(count(Counter::kTCPPMTURestored), 1u);
}

class Pmtu6 : public Pmtu {
 protected:
  Pmtu6() { use_ipv6(); }
};

// RFC 8201 §5.4 without SACK: four 1440-byte segments are out when the
// router reports an MTU of 1380; the MSS becomes 1380 - 60 = 1320 and the
// whole flight goes again from SND.UNA in 1320-byte segments, at once,
// with cwnd and ssthresh as they were.
TEST_F(Pmtu6, PacketTooBigLowersTheMssAndResendsAtTheNewSize) {
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->mss, 1440);
  EXPECT_EQ(c->pmtu, 1500);
  EXPECT_EQ(stack().info(*c).pmtu, 1500u);
  EXPECT_EQ(queue(*c, 4, at_ms(30)).size(), 4u);
  const std::uint32_t cwnd = c->cc.cwnd();
  const std::uint32_t ssthresh = c->cc.ssthresh();
  packet_too_big(S(2), 1380, at_ms(31));
  EXPECT_EQ(c->pmtu, 1380);
  EXPECT_EQ(c->mss, 1320);
  EXPECT_EQ(stack().info(*c).pmtu, 1380u);
  EXPECT_EQ(stack().info(*c).mss, 1320u);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
  expect_resent(S(1), 4 * 1440, 1320);
  EXPECT_EQ(c->cc.cwnd(), cwnd);
  EXPECT_EQ(c->cc.ssthresh(), ssthresh);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
  // The peer gets everything; new data is cut at the new size too.
  recv(ack_with(S(5)), at_ms(50));
  EXPECT_EQ(c->snd_una, S(5));
  send(*c, 1, at_ms(60));
  expect_resent(S(5), 1440, 1320);
}

// With SACK and RACK's transmit log: the flight's record is longer than
// the new MSS, so it is marked lost and RACK's sending resends it at once in
// new-size segments, without entering recovery or touching cwnd.
TEST_F(Pmtu6, WithSackTheTooBigFlightIsMarkedLostAndResent) {
  Tcb* c = open(1440, true);
  ASSERT_NE(c, nullptr);
  send(*c, 1, at_ms(30));
  expect_segment(1);
  recv(ack_with(S(2)), at_ms(50));  // an RTT sample for RACK
  EXPECT_EQ(queue(*c, 4, at_ms(60)).size(), 4u);
  ASSERT_NE(c->txlog, nullptr);
  const std::uint32_t cwnd = c->cc.cwnd();
  packet_too_big(S(2), 1380, at_ms(61));
  EXPECT_EQ(c->mss, 1320);
  expect_resent(S(2), 4 * 1440, 1320);
  EXPECT_EQ(c->cc.cwnd(), cwnd);
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 0u);
  recv(ack_with(S(6)), at_ms(80));
  EXPECT_EQ(c->snd_una, S(6));
  EXPECT_FALSE(c->recovery_hold);  // the hold ends with the flight it covered
  EXPECT_EQ(c->cc.cwnd() >= cwnd, true);
}

// RFC 8201 §5.2: what a connection learned is kept for the destination
// (the sink's cache), and a new connection to it starts from it: its first
// segments are already cut to the path.
TEST_F(Pmtu6, ALearnedPathMtuIsKeptForTheDestination) {
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(learned_pmtu(kPeerIp6), 0);
  EXPECT_EQ(queue(*c, 2, at_ms(30)).size(), 2u);
  packet_too_big(S(1), 1380, at_ms(31));
  EXPECT_EQ(learned_pmtu(kPeerIp6), 1380);
  expect_resent(S(1), 2 * 1440, 1320);
  packet_too_big(S(1), 1400, at_ms(32));  // not lower: neither the connection nor the cache
  EXPECT_EQ(learned_pmtu(kPeerIp6), 1380);
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
  expect_nothing_sent();
}

TEST_F(Pmtu6, ANewConnectionStartsFromTheLearnedPathMtu) {
  learn_pmtu(kPeerIp6, 1380);
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->pmtu, 1380);
  EXPECT_EQ(c->mss, 1320);
  EXPECT_EQ(stack().info(*c).pmtu, 1380u);
}

TEST_F(Pmtu, AnIpv4ConnectionStartsFromTheLearnedPathMtu) {
  learn_pmtu(IpAddr::v4(kPeerIp), 1000);
  Tcb* c = open(1460, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->pmtu, 1000);
  EXPECT_EQ(c->mss, 960);
}

// RFC 5927 §4.1: a report quoting a sequence number outside SND.UNA..
// SND.MAX is not about a segment we sent: counted, nothing changes.
TEST_F(Pmtu6, OutOfWindowReportIsIgnoredAndCounted) {
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(queue(*c, 2, at_ms(30)).size(), 2u);
  packet_too_big(S(3) + 1, 1280, at_ms(31));  // beyond SND.MAX
  packet_too_big(iss(), 1280, at_ms(31));     // below SND.UNA
  EXPECT_EQ(drops(Drop::kTcpIcmpOutOfWindow), 2u);
  EXPECT_EQ(c->pmtu, 1500);
  EXPECT_EQ(c->mss, 1440);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 0u);
  expect_nothing_sent();
}

// RFC 8201 §4: a Packet Too Big below the IPv6 minimum link MTU sets 1280
// (MSS 1220); a later one below 1280 then lowers nothing.
TEST_F(Pmtu6, ReportBelow1280MeansExactly1280) {
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(queue(*c, 1, at_ms(30)).size(), 1u);
  packet_too_big(S(1), 600, at_ms(31));
  EXPECT_EQ(c->pmtu, 1280);
  EXPECT_EQ(c->mss, 1220);
  expect_resent(S(1), 1440, 1220);
  packet_too_big(S(1), 1000, at_ms(32));
  EXPECT_EQ(c->pmtu, 1280);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
  expect_nothing_sent();
}

// A report at or above the current estimate (here the link's 1500, and a
// jumbo 9000) cannot raise it (RFC 8201 §4: increases come only from
// probing or expiry): counted, ignored.
TEST_F(Pmtu6, ReportNotBelowTheCurrentPathMtuIsIgnored) {
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(queue(*c, 1, at_ms(30)).size(), 1u);
  packet_too_big(S(1), 1500, at_ms(31));
  packet_too_big(S(1), 9000, at_ms(31));
  EXPECT_EQ(c->pmtu, 1500);
  EXPECT_EQ(c->mss, 1440);
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 2u);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 0u);
  expect_nothing_sent();
}

// A smaller path MTU that still leaves room for the peer's own small MSS
// is recorded but sends nothing again: no segment was too big.
TEST_F(Pmtu6, PeerMssBelowTheNewPathLeavesTheMss) {
  Tcb* c = open(1200, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->mss, 1200);
  EXPECT_EQ(queue(*c, 1, at_ms(30)).size(), 1u);
  packet_too_big(S(1), 1400, at_ms(31));
  EXPECT_EQ(c->pmtu, 1400);
  EXPECT_EQ(c->mss, 1200);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
  expect_nothing_sent();
}

// Not synchronized: a report quoting our SYN lowers nothing (the SYN is far
// below any MTU; Linux ignores reports for request sockets).
TEST_F(Pmtu6, ReportDuringTheHandshakeIsIgnored) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  packet_too_big(iss(), 1280, at_ms(1));
  EXPECT_EQ(c->pmtu, 1500);
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
}

// RFC 4861 §7.3.1: new data acknowledged confirms the peer's first hop, at
// most once a second per connection.
TEST_F(Pmtu6, AckProgressConfirmsTheNeighbourOnceASecond) {
  Tcb* c = open(1440, false);
  ASSERT_NE(c, nullptr);
  confirmed_.clear();
  EXPECT_EQ(queue(*c, 3, at_ms(2000)).size(), 3u);
  recv(ack_with(S(2)), at_ms(2010));
  ASSERT_EQ(confirmed_.size(), 1u);
  EXPECT_EQ(confirmed_[0], kPeerIp6);
  recv(ack_with(S(3)), at_ms(2020));
  EXPECT_EQ(confirmed_.size(), 1u);
  recv(ack_with(S(4)), at_ms(3010));
  EXPECT_EQ(confirmed_.size(), 2u);
}

// IPv4 (RFC 1191): Fragmentation Needed with a next-hop MTU of 1000 makes
// the MSS 960 and resends the flight at that size, cwnd untouched.
TEST_F(Pmtu, FragmentationNeededLowersTheMssAndResends) {
  Tcb* c = open(1460, false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(queue(*c, 3, at_ms(30)).size(), 3u);
  const std::uint32_t cwnd = c->cc.cwnd();
  frag_needed(S(1), 1000, at_ms(31));
  EXPECT_EQ(c->pmtu, 1000);
  EXPECT_EQ(c->mss, 960);
  expect_resent(S(1), 3 * 1460, 960);
  EXPECT_EQ(c->cc.cwnd(), cwnd);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
  // IPv4 never confirms neighbours.
  recv(ack_with(S(4)), at_ms(2000));
  EXPECT_TRUE(confirmed_.empty());
}

// Below Linux's min_pmtu (552), and RFC 1191 §5's MTU 0 from an old router:
// 552, MSS 512; with timestamps 12 bytes less.
TEST_F(Pmtu, TinyOrZeroNextHopMtuMeans552) {
  cfg().timestamps = true;
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460).ts(100, 0), at_ms(20));
  take_all_sent();
  ASSERT_TRUE(c->ts_ok);
  EXPECT_EQ(c->mss, 1448);
  stack().set_nodelay(*c, true, now());
  const Bytes data = pattern(1448);
  EXPECT_EQ(stack().send_copy(*c, data, at_ms(30)), data.size());
  take_all_sent();
  frag_needed(iss() + 1, 0, at_ms(31));
  EXPECT_EQ(c->pmtu, 552);
  EXPECT_EQ(c->mss, 500);
  const Sent a = expect_sent(seg().seq(iss() + 1));
  EXPECT_EQ(a.payload.size(), 500u);
  frag_needed(iss() + 1, 68, at_ms(32));  // still 552: nothing lower
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
  EXPECT_EQ(count(Counter::kTCPPMTUUpdates), 1u);
}

}  // namespace
}  // namespace tern::tcptest
