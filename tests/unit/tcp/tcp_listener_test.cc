// Listeners: segments to closed ports (RFC 9293 §3.10.7.1), SYN cookies
// (RFC 4987 §3.6), the accept queue bound, and TIME-WAIT reuse by a new SYN
// (RFC 6191).
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Listen = TcpHarness;

// §3.10.7.1: "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>".
TEST_F(Listen, SegmentWithAckToClosedPortGetsRst) {
  set_ports(81, kPeerPort);
  recv(seg().flags(kTcpAck).seq(5555u).ack(7777u).data(10), at_ms(0));
  expect_sent(seg().flags(kTcpRst).seq(7777u).data(0));
  EXPECT_EQ(drops(Drop::kTcpNoSocket), 1u);
  EXPECT_EQ(count(Counter::kOutRsts), 1u);
}

// §3.10.7.1: "If the ACK bit is off, sequence number zero is used,
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"; a SYN counts in SEG.LEN.
TEST_F(Listen, SynToClosedPortGetsRstAck) {
  set_ports(81, kPeerPort);
  recv(seg().flags(kTcpSyn).seq(5555u).mss(1460), at_ms(0));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(0u).ack(5556u).data(0));
  EXPECT_EQ(drops(Drop::kTcpNoSocket), 1u);
}

TEST_F(Listen, DataWithoutAckToClosedPortAckedByLength) {
  set_ports(81, kPeerPort);
  recv(seg().flags(kTcpPsh | kTcpFin).seq(5555u).data(100), at_ms(0));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(0u).ack(5555u + 101));
}

// §3.10.7.1: "An incoming segment containing a RST is discarded."
TEST_F(Listen, RstToClosedPortNotAnswered) {
  set_ports(81, kPeerPort);
  recv(seg().flags(kTcpRst | kTcpAck).seq(5555u).ack(7777u), at_ms(0));
  expect_nothing_sent();
}

// A listener on another port does not open this one.
TEST_F(Listen, SynToOtherPortThanTheListenerGetsRst) {
  ASSERT_NE(stack().listen(kServerPort, 8), nullptr);
  set_ports(8080, kPeerPort);
  recv(seg().flags(kTcpSyn).seq(5555u), at_ms(0));
  expect_sent(seg().flags(kTcpRst | kTcpAck).ack(5556u));
  EXPECT_EQ(tcbs_in_use(), 0u);
}

TEST_F(Listen, SecondListenOnSamePortRefused) {
  ASSERT_NE(stack().listen(kServerPort, 8), nullptr);
  EXPECT_EQ(stack().listen(kServerPort, 8), nullptr);
  EXPECT_EQ(stack().listen(kServerPort + 1, 0), nullptr) << "backlog 0";
}

// RFC 4987 §3.6: with the SYN queue full, the SYN-ACK carries a cookie and
// no state is kept; the ACK that returns the cookie creates the connection.
TEST_F(Listen, SynCookieRoundTrip) {
  cfg().syn_backlog = 1;
  Listener* l = stack().listen(kServerPort, 16);
  ASSERT_NE(l, nullptr);

  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));  // fills the SYN queue
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1));
  EXPECT_EQ(tcbs_in_use(), 1u);

  set_ports(kServerPort, kPeerPort + 1);
  const Seq32 irs2 = irs() + 777777;
  recv(seg().flags(kTcpSyn).seq(irs2).mss(1460), at_ms(1));
  const Sent cookie = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs2 + 1).mss(1460));
  EXPECT_EQ(count(Counter::kSyncookiesSent), 1u);
  EXPECT_EQ(tcbs_in_use(), 1u) << "a cookie keeps no state";

  recv(seg().seq(irs2 + 1).ack(cookie.seq + 1), at_ms(2));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kSyncookiesRecv), 1u);
  EXPECT_EQ(state(), TcpState::kEstablished);
  Tcb* c = stack().accept(*l);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tuple.rport, kPeerPort + 1);
  EXPECT_EQ(c->snd_una, cookie.seq + 1);
  EXPECT_EQ(c->rcv_nxt, irs2 + 1);

  // And it carries data both ways.
  ASSERT_EQ(stack().send_copy(*c, pattern(10), at_ms(3)), 10u);
  expect_sent(seg().seq(cookie.seq + 1).ack(irs2 + 1).data(10));
}

TEST_F(Listen, AckWithForgedCookieGetsRst) {
  cfg().syn_backlog = 1;
  ASSERT_NE(stack().listen(kServerPort, 16), nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_ports(kServerPort, kPeerPort + 2);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));  // answered with a cookie
  take_all_sent();
  ASSERT_EQ(count(Counter::kSyncookiesSent), 1u);

  set_ports(kServerPort, kPeerPort + 1);
  recv(seg().seq(5000u).ack(123456u), at_ms(1));
  expect_sent(seg().flags(kTcpRst).seq(123456u));
  EXPECT_EQ(count(Counter::kSyncookiesFailed), 1u);
  EXPECT_EQ(tcbs_in_use(), 1u);
}

// A stray ACK at a listener that has sent no cookie (a late final ACK of a
// connection already gone) is answered with RST like any segment without a
// connection, not counted as a failed cookie: Linux checks cookies only
// after a recent SYN-queue overflow (tcp_synq_no_recent_overflow).
TEST_F(Listen, StrayAckWithoutRecentCookiesIsNotACookieFailure) {
  ASSERT_NE(stack().listen(kServerPort, 16), nullptr);
  recv(seg().seq(5000u).ack(123456u), at_ms(0));
  expect_sent(seg().flags(kTcpRst).seq(123456u));
  EXPECT_EQ(count(Counter::kSyncookiesFailed), 0u);
  EXPECT_EQ(drops(Drop::kTcpBadCookie), 0u);
  EXPECT_EQ(drops(Drop::kTcpNoSocket), 1u);
  EXPECT_EQ(count(Counter::kOutRsts), 1u);
}

// Cookies sent long ago (more than two periods: none can be valid now) do
// not make a later stray ACK a cookie failure; a recent one does.
TEST_F(Listen, AckLongAfterTheLastCookieIsNotACookieFailure) {
  cfg().syn_backlog = 1;
  ASSERT_NE(stack().listen(kServerPort, 16), nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_ports(kServerPort, kPeerPort + 2);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));  // answered with a cookie
  take_all_sent();
  ASSERT_EQ(count(Counter::kSyncookiesSent), 1u);

  // (The first SYN's child retransmits its SYN-ACK meanwhile.)
  set_ports(kServerPort, kPeerPort + 3);
  advance_to(at_ms(2 * 64'000 - 1));  // a cookie could still be valid
  take_all_sent();
  recv(seg().seq(5000u).ack(123456u));
  expect_sent(seg().flags(kTcpRst).seq(123456u));
  EXPECT_EQ(count(Counter::kSyncookiesFailed), 1u);

  advance_to(at_ms(2 * 64'000 + 1));  // none can be now
  take_all_sent();
  recv(seg().seq(5000u).ack(123456u));
  expect_sent(seg().flags(kTcpRst).seq(123456u));
  EXPECT_EQ(count(Counter::kSyncookiesFailed), 1u);
  EXPECT_EQ(drops(Drop::kTcpNoSocket), 1u);
}

// Backlog 1: one established child waits for accept(); the next final ACK
// is dropped (Linux ListenOverflows), and taken once the queue has room.
TEST_F(Listen, AcceptQueueOverflowDropsFinalAck) {
  Listener* l = stack().listen(kServerPort, 1);
  ASSERT_NE(l, nullptr);

  set_ports(kServerPort, kPeerPort);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  const Seq32 iss1 = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1)).seq;
  set_ports(kServerPort, kPeerPort + 1);
  recv(seg().flags(kTcpSyn).seq(irs() + 9000).mss(1460), at_ms(1));
  const Seq32 iss2 = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 9001)).seq;

  set_ports(kServerPort, kPeerPort);
  recv(seg().seq(irs() + 1).ack(iss1 + 1), at_ms(2));
  EXPECT_EQ(l->accept_queue_size(), 1u);

  set_ports(kServerPort, kPeerPort + 1);
  recv(seg().seq(irs() + 9001).ack(iss2 + 1), at_ms(3));
  expect_nothing_sent();
  EXPECT_EQ(l->accept_queue_size(), 1u);
  EXPECT_EQ(count(Counter::kListenOverflows), 1u);
  EXPECT_EQ(drops(Drop::kTcpListenOverflow), 1u);
  EXPECT_EQ(state(), TcpState::kSynReceived);

  Tcb* first = stack().accept(*l);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->tuple.rport, kPeerPort);
  recv(seg().seq(irs() + 9001).ack(iss2 + 1), at_ms(4));  // the peer's next ACK
  Tcb* second = stack().accept(*l);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->tuple.rport, kPeerPort + 1);
}

// Puts the connection under test into TIME-WAIT on the server side: we
// close first, the peer's FIN+ACK ends it. The peer's last sequence number
// is irs() + 1 (its FIN).
class TimeWaitReuse : public TcpHarness {
 protected:
  void server_time_wait(Seg peer_syn_options) {
    Tcb* c = establish_passive(std::move(peer_syn_options));
    ASSERT_NE(c, nullptr);
    stack().close(*c, at_ms(10));
    const Sent fin = expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1));
    Seg finack = seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2);
    if (fin.opts.timestamps) finack.ts(2000, fin.opts.timestamps->first);
    recv(finack, at_ms(11));
    expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
    ASSERT_EQ(state(), TcpState::kTimeWait);
    ASSERT_EQ(stack().time_wait().size(), 1u);
  }
};

// RFC 6191 §2 / RFC 9293 §3.10.7.4: a SYN with a sequence number above the
// old connection's may open a new incarnation at once.
TEST_F(TimeWaitReuse, SynWithHigherSequenceAccepted) {
  server_time_wait(seg().mss(1460));
  recv(seg().flags(kTcpSyn).seq(irs() + 100000).mss(1460), at_ms(100));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 100001));
  EXPECT_EQ(stack().time_wait().size(), 0u);
  EXPECT_EQ(state(), TcpState::kSynReceived);
}

// RFC 6191 §2: without timestamps, a SYN at or below RCV.NXT may be an old
// duplicate: silently dropped, TIME-WAIT stays.
TEST_F(TimeWaitReuse, SynWithOldSequenceDropped) {
  server_time_wait(seg().mss(1460));
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(100));
  for (const Sent& s : take_all_sent()) EXPECT_FALSE(s.f().syn()) << s;
  EXPECT_EQ(stack().time_wait().size(), 1u);
  EXPECT_EQ(state(), TcpState::kTimeWait);
}

// RFC 6191 §2: with timestamps, a newer TSval makes the SYN acceptable
// whatever its sequence number.
TEST_F(TimeWaitReuse, SynWithNewerTimestampAccepted) {
  server_time_wait(seg().mss(1460).ts(1000, 0));
  recv(seg().flags(kTcpSyn).seq(irs() - 50000).mss(1460).ts(3000, 0), at_ms(100));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() - 49999));
  EXPECT_EQ(stack().time_wait().size(), 0u);
}

TEST_F(TimeWaitReuse, SynWithOlderTimestampDropped) {
  server_time_wait(seg().mss(1460).ts(1000, 0));
  recv(seg().flags(kTcpSyn).seq(irs() + 100000).mss(1460).ts(1500, 0), at_ms(100));  // TS.Recent is 2000
  for (const Sent& s : take_all_sent()) EXPECT_FALSE(s.f().syn()) << s;
  EXPECT_EQ(stack().time_wait().size(), 1u);
}

}  // namespace
}  // namespace tern::tcptest
