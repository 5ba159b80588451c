// Receive bursts (TcpStack::begin_burst / end_burst): the ACK a segment
// earns waits for the end of the worker's poll, so the application's answer
// carries it and one burst's segments of a connection get one ACK. RFC 9293
// §3.8.6.3 and RFC 1122 §4.2.3.2 allow the delay; it never outlives the poll.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

class Burst : public TcpHarness {
 protected:
  // A SACK connection past its quick-ACK start, with nothing owed or
  // unread: what the hole tests begin from.
  Tcb* quiet_sack_connection() {
    Tcb* c = establish_passive(seg().mss(1460).sack_perm());
    if (c == nullptr) return nullptr;
    leave_quickack_mode(irs() + 1, iss() + 1);
    advance_by(cfg().delayed_ack);
    take_all_sent();
    read_all(*c);
    return c;
  }
};

// Control: outside a burst, quick-ACK mode answers a new connection's data
// at once (the behaviour the bursts change).
TEST_F(Burst, OutsideABurstDataIsAckedAtOnce) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(100));
  expect_sent(seg().flags(kTcpAck).ack(irs() + 101).data(0));
  expect_nothing_sent();
}

TEST_F(Burst, TheAnswerSentInTheBurstCarriesTheAck) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().begin_burst();
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(100));
  expect_nothing_sent();
  ASSERT_EQ(stack().send_copy(*c, pattern(50), now()), 50u);
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).ack(irs() + 101).data(50));
  stack().end_burst(now());
  expect_nothing_sent();  // the answer carried it: no bare ACK after it
}

TEST_F(Burst, SegmentsLeftUnansweredGetOneAckAtTheEnd) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().begin_burst();
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1).data(100));
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 101).ack(iss() + 1).data(100, 2));
  expect_nothing_sent();
  stack().end_burst(now());
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 201).data(0));
  expect_nothing_sent();
  EXPECT_EQ(read_all(*c).size(), 200u);
}

// What the application does before answering (nodelay, reading) sends no
// bare ACK of its own in a burst: the answer still carries it.
TEST_F(Burst, CallsThatSendNoDataLeaveTheAckDeferred) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().begin_burst();
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(100));
  stack().set_nodelay(*c, true, now());
  EXPECT_EQ(read_all(*c).size(), 100u);
  expect_nothing_sent();
  ASSERT_EQ(stack().send_copy(*c, pattern(10), now()), 10u);
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).ack(irs() + 101).data(10));
  stack().end_burst(now());
  expect_nothing_sent();
}

// The ACK of the FIN that ends FIN-WAIT-2 leaves before the TIME_WAIT
// record replaces the TCB (RFC 9293 §3.10.7.4 eighth step), burst or not.
TEST_F(Burst, TheFinEndingFinWait2IsAckedBeforeTheRecordTakesOver) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().close(*c, now());
  const Sent fin = expect_sent();
  ASSERT_TRUE(fin.f().fin()) << fin;
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 2));
  ASSERT_EQ(state(), TcpState::kFinWait2);
  stack().begin_burst();
  recv(seg().flags(kTcpAck | kTcpFin).seq(irs() + 1).ack(iss() + 2));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  stack().end_burst(now());
  expect_nothing_sent();
}

// The SYN-ACK's ACK waits too, and the first request carries it.
TEST_F(Burst, TheFirstRequestCarriesTheHandshakesAck) {
  Tcb* c = active_syn(now());
  ASSERT_NE(c, nullptr);
  stack().begin_burst();
  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  expect_nothing_sent();
  ASSERT_EQ(stack().send_copy(*c, pattern(64), now()), 64u);
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).ack(irs() + 1).data(64));
  stack().end_burst(now());
  expect_nothing_sent();
}

// A connection reset in the same burst owes no ACK, and leaves the list
// whole when the engine frees it before the burst ends.
TEST_F(Burst, AResetInTheBurstCancelsTheDeferredAck) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().begin_burst();
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1).data(100));
  expect_nothing_sent();
  recv(seg().flags(kTcpRst | kTcpAck).seq(irs() + 101).ack(iss() + 1));
  stack().end_burst(now());
  expect_nothing_sent();
  EXPECT_EQ(stack().counters().events[static_cast<std::size_t>(Counter::kOutSegs)], 1u);  // the SYN-ACK
}

TEST_F(Burst, AnAbortInTheBurstSendsItsResetAndNoAck) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().begin_burst();
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1).data(100));
  stack().abort(*c, now());
  const Sent rst = expect_sent();
  EXPECT_TRUE(rst.f().rst()) << rst;
  stack().end_burst(now());
  expect_nothing_sent();
}

// Two connections in one burst: each gets its own ACK at the end.
TEST_F(Burst, EachConnectionOfTheBurstIsAnswered) {
  Tcb* a = establish_active();
  ASSERT_NE(a, nullptr);
  const std::uint16_t a_port = local_port();
  const Seq32 a_irs = irs(), a_iss = iss();
  set_irs(Seq32{7'000'000});
  Tcb* b = establish_active();
  ASSERT_NE(b, nullptr);
  ASSERT_NE(local_port(), a_port);
  stack().begin_burst();
  recv(seg().dport(a_port).flags(kTcpAck).seq(a_irs + 1).ack(a_iss + 1).data(10));
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1).data(20));
  expect_nothing_sent();
  stack().end_burst(now());
  const auto sent = take_all_sent();
  ASSERT_EQ(sent.size(), 2u);
  int seen = 0;
  for (const Sent& s : sent) {
    if (s.sport == a_port && s.ack == a_irs + 11) seen |= 1;
    if (s.sport == local_port() && s.ack == irs() + 21) seen |= 2;
  }
  EXPECT_EQ(seen, 3);
}

// RFC 5681 §4.2: "an immediate ACK SHOULD be generated when an out-of-order
// segment arrives" and "when the incoming segment fills in all or part of a
// gap". In a burst, each of those ACKs still leaves at once, with the SACK
// blocks known then (Linux's __tcp_ack_snd_check answers at once while its
// out-of-order queue holds data): one ACK for the burst would leave the
// sender a single, losable report of its losses. In-order data before the
// hole still waits for the end of the burst; in-order data after it does
// not, for a while (TcpStack::ack_now_or_later).
TEST_F(Burst, OutOfOrderSegmentsAndTheHolesFillAreAckedAtOnce) {
  Tcb* c = quiet_sack_connection();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->sack_ok);
  const Seq32 r = c->rcv_nxt;
  stack().begin_burst();
  recv(seg().flags(kTcpAck).seq(r).ack(iss() + 1).data(1000));
  recv(seg().flags(kTcpAck).seq(r + 1000).ack(iss() + 1).data(1000));
  expect_nothing_sent();  // in order: deferred to the end of the burst
  // r + 2000 .. r + 3000 is lost; the next two arrive beyond the hole.
  recv(seg().flags(kTcpAck).seq(r + 3000).ack(iss() + 1).data(1000));
  Sent a = expect_sent(seg().flags(kTcpAck).ack(r + 2000).data(0));
  ASSERT_EQ(a.opts.sack_count, 1) << a;
  EXPECT_EQ(Seq32{a.opts.sack[0].left}, r + 3000);
  EXPECT_EQ(Seq32{a.opts.sack[0].right}, r + 4000);
  recv(seg().flags(kTcpAck).seq(r + 4000).ack(iss() + 1).data(1000));
  a = expect_sent(seg().flags(kTcpAck).ack(r + 2000).data(0));
  ASSERT_EQ(a.opts.sack_count, 1) << a;
  EXPECT_EQ(Seq32{a.opts.sack[0].right}, r + 5000);
  // The retransmission fills the hole: its ACK leaves at once too.
  recv(seg().flags(kTcpAck).seq(r + 2000).ack(iss() + 1).data(1000));
  a = expect_sent(seg().flags(kTcpAck).ack(r + 5000).data(0));
  EXPECT_EQ(a.opts.sack_count, 0) << a;
  // In order again: the next arrivals are still ACKed at once, each, until
  // kAcksAfterHole of them (the filling one included) have been; then back
  // to one ACK at the end of the burst.
  Seq32 next = r + 5000;
  for (int i = 1; i < kAcksAfterHole; ++i, next += 1000) {
    recv(seg().flags(kTcpAck).seq(next).ack(iss() + 1).data(1000));
    expect_sent(seg().flags(kTcpAck).ack(next + 1000).data(0));
    read_all(*c);
  }
  recv(seg().flags(kTcpAck).seq(next).ack(iss() + 1).data(1000));
  recv(seg().flags(kTcpAck).seq(next + 1000).ack(iss() + 1).data(1000));
  expect_nothing_sent();
  stack().end_burst(now());
  expect_sent(seg().flags(kTcpAck).ack(next + 2000).data(0));
  expect_nothing_sent();
}

// Outside a hole's aftermath nothing changes: in-order data that never saw
// a hole keeps one ACK per burst (the count is set by out-of-order data).
TEST_F(Burst, InOrderDataWithoutAHoleKeepsOneAckPerBurst) {
  Tcb* c = quiet_sack_connection();
  ASSERT_NE(c, nullptr);
  const Seq32 r = c->rcv_nxt;
  stack().begin_burst();
  for (int i = 0; i < 4; ++i) recv(seg().flags(kTcpAck).seq(r + 1460 * i).ack(iss() + 1).data(1460));
  expect_nothing_sent();  // full segments: an ACK owed, at the end of the burst
  stack().end_burst(now());
  expect_sent(seg().flags(kTcpAck).ack(r + 4 * 1460).data(0));
  expect_nothing_sent();
}

// RFC 5681 §4.2 / RFC 2883 §4.1: a duplicate of data already received is
// answered at once with its D-SACK, burst or not.
TEST_F(Burst, ADuplicateIsAnsweredAtOnceWithItsDsack) {
  Tcb* c = quiet_sack_connection();
  ASSERT_NE(c, nullptr);
  const Seq32 r = c->rcv_nxt;
  recv(seg().flags(kTcpAck).seq(r).ack(iss() + 1).data(1000));
  advance_by(cfg().delayed_ack);
  take_all_sent();
  stack().begin_burst();
  recv(seg().flags(kTcpAck).seq(r).ack(iss() + 1).data(1000));
  const Sent a = expect_sent(seg().flags(kTcpAck).ack(r + 1000).data(0));
  ASSERT_EQ(a.opts.sack_count, 1) << a;
  EXPECT_EQ(Seq32{a.opts.sack[0].left}, r);
  stack().end_burst(now());
  expect_nothing_sent();
}

}  // namespace
}  // namespace tern::tcptest
