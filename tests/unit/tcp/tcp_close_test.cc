// Closing a connection (RFC 9293 §3.6, §3.10.4, §3.10.7.4 eighth step):
// active, passive and simultaneous close, FIN+ACK in FIN-WAIT-1, half-close
// in each direction, abort, and a reset from the peer.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Close = TcpHarness;

TEST_F(Close, ActiveCloseFinWait1FinWait2TimeWait) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);

  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1).ack(irs() + 1).data(0));
  EXPECT_EQ(state(), TcpState::kFinWait1);

  recv(seg().seq(irs() + 1).ack(iss() + 2), at_ms(20));  // the peer ACKs our FIN
  expect_nothing_sent();
  EXPECT_EQ(state(), TcpState::kFinWait2);

  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2), at_ms(30));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  // TIME_WAIT lives in the compact table, not in a TCB.
  EXPECT_EQ(stack().time_wait().size(), 1u);
  EXPECT_EQ(stack().connections(), 0u);
  EXPECT_EQ(tcbs_in_use(), 0u);
}

TEST_F(Close, PassiveCloseCloseWaitLastAckClosed) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(10));
  EXPECT_EQ(c->state, TcpState::kCloseWait);
  EXPECT_TRUE(events(c) & kTcpEvPeerFin) << events_str(events(c));
  advance_by(cfg().delayed_ack);  // the FIN is ACKed by the delayed-ACK deadline at the latest
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 2));

  stack().close(*c, now());
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kLastAck);

  recv(seg().seq(irs() + 2).ack(iss() + 2), now() + Duration::ms(5));
  expect_nothing_sent();
  EXPECT_EQ(state(), std::nullopt);
  EXPECT_EQ(stack().time_wait().size(), 0u) << "the passive closer does not wait";
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// RFC 9293 §3.6 figure 13: both FINs cross; each end ACKs the other's from CLOSING.
TEST_F(Close, SimultaneousCloseFinWait1ClosingTimeWait) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1).ack(irs() + 1));

  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(11));  // not ACKing ours yet
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kClosing);

  recv(seg().seq(irs() + 2).ack(iss() + 2), at_ms(12));
  expect_nothing_sent();
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_EQ(stack().time_wait().size(), 1u);
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// RFC 9293 §3.10.7.4 eighth step, FIN-WAIT-1: "If our FIN has been ACKed
// ... enter TIME-WAIT".
TEST_F(Close, FinAckingOurFinInFinWait1GoesStraightToTimeWait) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1));

  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2), at_ms(11));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// shutdown(SHUT_WR): we stop sending, the peer goes on and we read it all.
TEST_F(Close, HalfCloseOurSideStillReceives) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().shutdown_write(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1).ack(irs() + 1));
  recv(seg().seq(irs() + 1).ack(iss() + 2), at_ms(11));
  EXPECT_EQ(c->state, TcpState::kFinWait2);

  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 2).data(300), at_ms(12));
  EXPECT_TRUE(events(c) & kTcpEvReadable) << events_str(events(c));
  EXPECT_EQ(read_all(*c), pattern(300));
  advance_by(cfg().delayed_ack);
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 301));

  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 301).ack(iss() + 2), now() + Duration::ms(1));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 302));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_TRUE(events(c) & kTcpEvPeerFin) << events_str(events(c));

  stack().close(*c, now());  // nothing left to say
  expect_nothing_sent();
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// The peer shut down writing: CLOSE-WAIT, and we may go on sending.
TEST_F(Close, HalfClosePeerSideWeStillSend) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(10));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 2));  // the FIN is ACKed at once
  EXPECT_EQ(c->state, TcpState::kCloseWait);
  EXPECT_TRUE(events(c) & kTcpEvPeerFin);
  EXPECT_TRUE(read_all(*c).empty());
  take_all_sent();  // the ACK of the FIN

  ASSERT_EQ(stack().send_copy(*c, pattern(200, 9), at_ms(11)), 200u);
  const Sent d = expect_sent(seg().seq(iss() + 1).ack(irs() + 2).payload(pattern(200, 9)));
  EXPECT_TRUE(d.f().ack()) << d;
  recv(seg().seq(irs() + 2).ack(iss() + 201), at_ms(12));
  EXPECT_EQ(c->state, TcpState::kCloseWait);
  expect_nothing_sent();

  stack().close(*c, at_ms(13));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 201).ack(irs() + 2));
  recv(seg().seq(irs() + 2).ack(iss() + 202), at_ms(14));
  EXPECT_EQ(state(), std::nullopt);
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// The FIN goes after the queued data, in the same segment when it fits.
TEST_F(Close, FinFollowsQueuedData) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  stack().close(*c, at_ms(10));
  const std::vector<Sent> out = take_all_sent();
  ASSERT_FALSE(out.empty());
  const Sent& last = out.back();
  EXPECT_TRUE(last.f().fin()) << last;
  EXPECT_EQ(last.seq + static_cast<std::uint32_t>(last.len()), iss() + 101) << last;
}

// SO_LINGER 0: RST now, TCB back in the pool now.
TEST_F(Close, AbortSendsRstAndFreesTheTcbAtOnce) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(tcbs_in_use(), 1u);

  stack().abort(*c, at_ms(10));
  const Sent rst = expect_sent(seg().seq(iss() + 1));  // RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>
  EXPECT_TRUE(rst.f().rst()) << rst;
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(stack().connections(), 0u);
  EXPECT_EQ(stack().time_wait().size(), 0u);

  recv(seg().seq(irs() + 1).ack(iss() + 1).data(10), at_ms(11));  // late data meets a closed port
  expect_sent(seg().flags(kTcpRst).seq(iss() + 1));
}

// RFC 9293 §3.10.4 (and RFC 2525 §2.17): closing with unread data resets.
TEST_F(Close, CloseWithUnreadDataSendsRst) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(50), at_ms(10));
  take_all_sent();

  stack().close(*c, at_ms(11));
  const Sent rst = expect_sent(seg().seq(iss() + 1));
  EXPECT_TRUE(rst.f().rst()) << rst;
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(count(Counter::kTCPAbortOnClose), 1u);
}

// tcp_max_orphans: connections the application closed while data or the
// FIN is still outstanding are bounded in number; past the bound close()
// resets instead of leaving one more orphan behind.
TEST_F(Close, OrphansBeyondMaxOrphansAreReset) {
  cfg().max_orphans = 1;
  Tcb* a = establish_active();
  ASSERT_NE(a, nullptr);
  const std::uint16_t a_port = local_port();
  const Seq32 a_iss = iss();
  set_irs(Seq32{7'000'000});
  Tcb* b = establish_active();
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(stack().send_copy(*a, pattern(100), at_ms(10)), 100u);
  ASSERT_EQ(stack().send_copy(*b, pattern(100), at_ms(10)), 100u);
  take_all_sent();

  stack().close(*a, at_ms(11));  // the first orphan: FIN after the data
  EXPECT_EQ(stack().orphans(), 1u);
  const Sent fin = expect_sent(seg().sport(a_port));
  EXPECT_TRUE(fin.f().fin()) << fin;
  EXPECT_EQ(fin.seq, a_iss + 101);

  stack().close(*b, at_ms(12));  // one too many
  const Sent rst = expect_sent(seg().sport(local_port()).seq(iss() + 101));
  EXPECT_TRUE(rst.f().rst()) << rst;
  EXPECT_EQ(count(Counter::kTCPAbortOnOrphans), 1u);
  EXPECT_EQ(stack().orphans(), 1u);
  EXPECT_EQ(tcbs_in_use(), 1u);
}

// tcp_orphan_retries: an orphan whose peer vanished gives up after
// orphan_retries retransmissions, not retries.
TEST_F(Close, OrphanGivesUpAfterOrphanRetries) {
  cfg().orphan_retries = 2;
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  stack().close(*c, at_ms(10));
  take_all_sent();
  int retransmissions = 0;
  while (tcbs_in_use() > 0 && now() < at_ms(600'000)) {
    if (!run_until_sent(at_ms(600'000))) break;
    const Sent s = expect_sent();
    if (s.f().rst()) break;
    ++retransmissions;
  }
  EXPECT_EQ(retransmissions, 2);
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(stack().orphans(), 0u);
  EXPECT_EQ(count(Counter::kTCPAbortOnTimeout), 1u);
}

// A retransmitted FIN in TIME-WAIT is ACKed again (RFC 9293 §3.10.7.4 eighth step).
TEST_F(Close, RetransmittedFinInTimeWaitIsAckedAgain) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck));
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2), at_ms(11));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  ASSERT_EQ(state(), TcpState::kTimeWait);

  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2), at_ms(1000));  // our ACK was lost
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kTimeWait);
}

}  // namespace
}  // namespace tern::tcptest
