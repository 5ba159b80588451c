// Opening a connection (RFC 9293 §3.5, §3.10.7.2-4): active, passive and
// simultaneous open, and the resets that end an attempt.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Handshake = TcpHarness;

TEST_F(Handshake, ActiveOpenSynSentToEstablished) {
  Tcb* c = active_syn(at_ms(0));  // us > peer.80: Flags [S], seq ISS
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(state(), TcpState::kSynSent);
  EXPECT_EQ(count(Counter::kActiveOpens), 1u);

  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460), at_ms(5));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1).data(0));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(events(c), kTcpEvConnected) << events_str(events(c));
  EXPECT_EQ(count(Counter::kCurrEstab), 1u);
  expect_nothing_sent();
}

TEST_F(Handshake, PassiveOpenListenSynReceivedEstablished) {
  Listener* l = stack().listen(kServerPort, 8);
  ASSERT_NE(l, nullptr);

  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1));
  set_iss(synack.seq);
  EXPECT_EQ(state(), TcpState::kSynReceived);
  EXPECT_EQ(l->syn_queue_size(), 1u);
  EXPECT_EQ(stack().accept(*l), nullptr) << "nothing to accept before the handshake completes";

  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(3));
  expect_nothing_sent();
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(l->syn_queue_size(), 0u);
  ASSERT_EQ(handler_.acceptable.size(), 1u);
  EXPECT_EQ(handler_.acceptable[0], l);
  Tcb* c = stack().accept(*l);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tuple, tuple());
  EXPECT_EQ(count(Counter::kPassiveOpens), 1u);
  EXPECT_EQ(stack().accept(*l), nullptr);
}

// RFC 9293 §3.5 figure 8: both ends send a SYN; each answers the other's
// with a SYN-ACK and enters ESTABLISHED when its own SYN is acknowledged.
TEST_F(Handshake, SimultaneousOpenGoesThroughSynReceived) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(1));  // the peer's SYN crosses ours
  expect_sent(seg().flags(kTcpSyn | kTcpAck).seq(iss()).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kSynReceived);

  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460), at_ms(2));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_TRUE(events(c) & kTcpEvConnected) << events_str(events(c));
  // The only thing we may send now is a plain ACK of what we know.
  for (const Sent& s : take_all_sent()) {
    EXPECT_EQ(s.flags, kTcpAck) << s;
    EXPECT_EQ(s.seq, iss() + 1) << s;
    EXPECT_EQ(s.ack, irs() + 1) << s;
  }
}

TEST_F(Handshake, SimultaneousOpenCompletedByPlainAck) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(1));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).seq(iss()).ack(irs() + 1));

  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(2));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  expect_nothing_sent();
}

// RFC 9293 §3.10.7.3: an RST whose ACK acknowledges our SYN refuses the connection.
TEST_F(Handshake, RstInSynSentRefusesConnection) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpRst | kTcpAck).seq(0u).ack(iss() + 1), at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(c->error, TcpError::kRefused);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kRefused);
  EXPECT_EQ(count(Counter::kAttemptFails), 1u);

  stack().close(*c, now());  // the application lets go: the TCB goes back to the pool
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(stack().connections(), 0u);
}

// RFC 9293 §3.10.7.3 first check: an ACK outside ISS < SEG.ACK =< SND.NXT
// gets <SEQ=SEG.ACK><CTL=RST> and the attempt goes on.
TEST_F(Handshake, SynAckWithBadAckInSynSentAnsweredWithRst) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1000), at_ms(1));
  expect_sent(seg().flags(kTcpRst).seq(iss() + 1000));
  EXPECT_EQ(c->state, TcpState::kSynSent);
  EXPECT_EQ(drops(Drop::kTcpBadSynSentAck), 1u);

  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1), at_ms(2));  // the real answer
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// RFC 9293 §3.10.7.4 fifth step, SYN-RECEIVED: an unacceptable ACK gets
// <SEQ=SEG.ACK><CTL=RST>; the half-open connection stays.
TEST_F(Handshake, BadFinalAckInSynReceivedAnsweredWithRst) {
  Listener* l = stack().listen(kServerPort, 8);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_iss(expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1)).seq);

  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 77), at_ms(1));
  expect_sent(seg().flags(kTcpRst).seq(iss() + 77));
  EXPECT_EQ(state(), TcpState::kSynReceived);
  EXPECT_EQ(stack().accept(*l), nullptr);
}

// RFC 9293 §3.10.7.4 second step, SYN-RECEIVED from a passive OPEN: an RST
// returns to LISTEN; the half-open child is freed.
TEST_F(Handshake, RstInSynReceivedFreesTheChild) {
  Listener* l = stack().listen(kServerPort, 8);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_iss(expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1)).seq);
  EXPECT_EQ(tcbs_in_use(), 1u);

  recv(seg().flags(kTcpRst).seq(irs() + 1), at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(state(), std::nullopt);
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(l->syn_queue_size(), 0u);

  // The listener still listens.
  recv(seg().flags(kTcpSyn).seq(irs() + 5000).mss(1460), at_ms(2));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 5001));
}

// A retransmitted SYN in SYN-RECEIVED gets the same SYN-ACK again, not a second child.
TEST_F(Handshake, RetransmittedSynInSynReceivedResendsSynAck) {
  Listener* l = stack().listen(kServerPort, 8);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_iss(expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1)).seq);

  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(300));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).seq(iss()).ack(irs() + 1));
  EXPECT_EQ(tcbs_in_use(), 1u);
  EXPECT_EQ(l->syn_queue_size(), 1u);
}

TEST_F(Handshake, ConnectPicksDistinctEphemeralPorts) {
  Tcb* a = stack().connect(kPeerIp, 80, now());
  Tcb* b = stack().connect(kPeerIp, 80, now());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Sent sa = expect_sent(seg().flags(kTcpSyn).sport(a->tuple.lport).dport(80));
  const Sent sb = expect_sent(seg().flags(kTcpSyn).sport(b->tuple.lport).dport(80));
  EXPECT_NE(sa.sport, sb.sport);
  EXPECT_GE(sa.sport, cfg().ephemeral_first);
  EXPECT_LE(sa.sport, cfg().ephemeral_last);
  EXPECT_NE(sa.seq, sb.seq) << "RFC 6528: ISNs differ per connection";
}

// A new TCB is a copy of the stack's prototype (TcpStack::build_tcb_proto,
// issue 16): the config's buffers, Nagle and keepalive settings, quick-ACK
// mode, a fresh estimator and controller. The pool hands the slot of a
// freed TCB out again first, so the second connection below reuses the
// first one's memory after the application changed all of that: nothing
// of it may carry over.
TEST_F(Handshake, ReusedTcbSlotStartsFromTheConfig) {
  cfg().snd_buf = 100'000;
  cfg().rcv_buf = 200'000;
  cfg().nodelay = true;
  cfg().keepalive = true;
  cfg().keepalive_idle = Duration::s(77);
  cfg().keepalive_interval = Duration::s(7);
  cfg().keepalive_probes = 5;
  cfg().user_timeout = Duration::s(30);
  cfg().congestion = CongestionAlgorithm::kCubic;
  Tcb* a = stack().connect(kPeerIp, 80, now());
  ASSERT_NE(a, nullptr);
  const auto check_fresh = [&](const Tcb& c) {
    EXPECT_EQ(c.state, TcpState::kSynSent);
    EXPECT_EQ(c.snd_buf, 100'000u);
    EXPECT_EQ(c.snd_lowat, 50'000u);
    EXPECT_EQ(c.rcv_buf, 200'000u);
    EXPECT_TRUE(c.nodelay);
    EXPECT_TRUE(c.keepalive);
    EXPECT_EQ(c.ka_idle, Duration::s(77));
    EXPECT_EQ(c.ka_interval, Duration::s(7));
    EXPECT_EQ(c.ka_probes, 5u);
    EXPECT_EQ(c.user_timeout, Duration::s(30));
    EXPECT_EQ(c.quickacks, 16);
    EXPECT_EQ(c.cc.algorithm(), CongestionAlgorithm::kCubic);
    EXPECT_EQ(c.rto.rto(), cfg().rto_initial);
    EXPECT_EQ(c.retries, 0);
    EXPECT_EQ(c.events, 0);
    EXPECT_FALSE(c.app_closed);
    EXPECT_EQ(c.window_clamp, 0u);
    EXPECT_EQ(c.user, nullptr);
    EXPECT_EQ(c.sndq.bytes(), 0u);
  };
  check_fresh(*a);
  const std::uint32_t fresh_cwnd = a->cc.cwnd();
  const std::uint16_t first_port = a->tuple.lport;
  // The application's changes, and a timeout's.
  stack().set_nodelay(*a, false, now());
  stack().set_keepalive_params(*a, Duration::s(1), Duration::s(1), 1, now());
  stack().set_congestion(*a, CongestionAlgorithm::kBbr);
  stack().set_window_clamp(*a, 4096, now());
  a->user = a;
  advance_by(Duration::s(1) + Duration::ms(1));  // the SYN times out once: backoff, a retry
  EXPECT_GT(a->rto.rto(), cfg().rto_initial);
  take_all_sent();
  stack().abort(*a, now());
  stack().close(*a, now());
  take_all_sent();
  ASSERT_EQ(tcbs_in_use(), 0u);

  Tcb* b = stack().connect(kPeerIp, 80, now());
  ASSERT_EQ(b, a) << "the pool hands the freed slot out again";
  EXPECT_NE(b->tuple.lport, first_port);
  check_fresh(*b);
  EXPECT_EQ(b->cc.cwnd(), fresh_cwnd);
  take_all_sent();
}

}  // namespace
}  // namespace tern::tcptest
