// Data transfer: in-order and out-of-order receive (RFC 9293 §3.10.7.4
// seventh step, RFC 5681 §4.2), the peer's window (§3.8.6), Nagle (§3.7.4),
// fast retransmit (RFC 5681 §3.2), zero-copy send and receive, and
// sequence numbers wrapping at 2^32.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Flow = TcpHarness;

TEST_F(Flow, InOrderDataIsReadable) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(700), at_ms(10));
  EXPECT_EQ(events(c), kTcpEvReadable) << events_str(events(c));
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 701).ack(iss() + 1).data(300, 2), at_ms(11));
  Bytes want = pattern(700);
  testkit::append(want, pattern(300, 2));
  EXPECT_EQ(read_all(*c), want);
}

// RFC 5681 §4.2: "an immediate duplicate ACK SHOULD be sent when an
// out-of-order segment arrives", and an immediate ACK when it fills the hole.
TEST_F(Flow, OutOfOrderSegmentGetsImmediateDupAckAndIsDeliveredWhenTheHoleFills) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  leave_quickack_mode(irs() + 1, iss() + 1);  // so "at once" is not quick-ACK mode's doing
  advance_by(cfg().delayed_ack);
  take_all_sent();
  read_all(*c);
  const Seq32 base = c->rcv_nxt;

  recv(seg().seq(base + 1460).ack(iss() + 1).data(1460, 2), now() + Duration::ms(1));
  expect_sent(seg().flags(kTcpAck).ack(base).data(0));  // duplicate ACK, at once
  EXPECT_TRUE(read_all(*c).empty());

  recv(seg().seq(base).ack(iss() + 1).data(1460, 1), now() + Duration::ms(1));
  expect_sent(seg().flags(kTcpAck).ack(base + 2920));
  Bytes want = pattern(1460, 1);
  testkit::append(want, pattern(1460, 2));
  EXPECT_EQ(read_all(*c), want);
}

// A FIN beyond a hole takes effect once the hole is filled.
TEST_F(Flow, FinBeyondAHoleWaitsForTheData) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpFin).seq(irs() + 101).ack(iss() + 1).data(50, 2), at_ms(10));
  expect_sent(seg().flags(kTcpAck).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);

  recv(seg().seq(irs() + 1).ack(iss() + 1).data(100), at_ms(11));
  expect_sent(seg().flags(kTcpAck).ack(irs() + 152));
  EXPECT_EQ(c->state, TcpState::kCloseWait);
  EXPECT_TRUE(events(c) & kTcpEvPeerFin);
  Bytes want = pattern(100);
  testkit::append(want, pattern(50, 2));
  EXPECT_EQ(read_all(*c), want);
}

// RFC 9293 §3.8.6.1: nothing but probes enter a zero window; a window update
// lets the data go.
TEST_F(Flow, ZeroWindowHoldsDataUntilReopened) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));
  ASSERT_EQ(stack().send_copy(*c, pattern(500), at_ms(11)), 500u);
  expect_nothing_sent();

  recv(seg().seq(irs() + 1).ack(iss() + 1).win(8000), at_ms(12));  // window update
  expect_sent(seg().seq(iss() + 1).ack(irs() + 1).payload(pattern(500)));
  expect_nothing_sent();
}

// The peer's window bounds what is in flight (RFC 9293 §3.8.6); RFC 9293
// §3.8.6.2.1 lets us fill a window smaller than an MSS (at least half the
// largest window the peer offered).
TEST_F(Flow, SendLimitedByThePeersWindow) {
  Tcb* c = establish_active(seg().mss(1460).win(1000));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(10)), 3000u);
  const Sent d = expect_sent(seg().seq(iss() + 1));
  EXPECT_EQ(d.len(), 1000u) << d;
  expect_nothing_sent();

  recv(seg().seq(irs() + 1).ack(iss() + 1001).win(1000), at_ms(20));
  expect_sent(seg().seq(iss() + 1001).data(1000));
}

// RFC 9293 §3.7.4 (Nagle): with data unacknowledged, a short tail waits for
// the ACK or for a full segment.
TEST_F(Flow, NagleHoldsTheShortTailUntilAcked) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(10)), 3000u);
  expect_sent(seg().seq(iss() + 1).data(1460));
  expect_sent(seg().seq(iss() + 1461).data(1460));
  expect_nothing_sent();

  recv(seg().seq(irs() + 1).ack(iss() + 2921), at_ms(20));
  expect_sent(seg().seq(iss() + 2921).data(80));
}

TEST_F(Flow, NoDelaySendsTheShortTailAtOnce) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(10)), 3000u);
  expect_sent(seg().seq(iss() + 1).data(1460));
  expect_sent(seg().seq(iss() + 1461).data(1460));
  expect_sent(seg().seq(iss() + 2921).data(80));
}

// RFC 5681 §3.2: the third duplicate ACK retransmits the missing segment.
TEST_F(Flow, ThirdDuplicateAckTriggersFastRetransmit) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(5 * 1460), at_ms(10)), 5u * 1460);
  EXPECT_EQ(take_all_sent().size(), 5u);

  // The first segment was lost; each later one draws a duplicate ACK.
  for (int i = 0; i < 2; ++i) {
    recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(20 + i));
    expect_nothing_sent();
  }
  recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(22));
  const Bytes all = pattern(5 * 1460);
  expect_sent(seg().seq(iss() + 1).payload(Bytes(all.begin(), all.begin() + 1460)));
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 1u);
  take_all_sent();
}

// Acknowledged data leaves the send queue and its mbufs go back to the pool.
TEST_F(Flow, AckedDataIsFreed) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(4000), at_ms(10)), 4000u);
  take_all_sent();
  recv(seg().seq(irs() + 1).ack(iss() + 4001), at_ms(20));
  expect_nothing_sent();
  expect_pool_in_use(0);
}

// Zero-copy: the application's chain goes out as it is (sliced by MSS),
// and received payload comes back as a chain without headers.
TEST_F(Flow, ZeroCopySendAndReceive) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  const Bytes data = pattern(2000, 5);
  Mbuf head = testkit::to_mbuf(pool_, std::span(data).first(1000));
  Mbuf tail = testkit::to_mbuf(pool_, std::span(data).subspan(1000));
  ASSERT_TRUE(head && tail);
  ASSERT_EQ(rte_pktmbuf_chain(head.get(), tail.release()), 0);
  ASSERT_TRUE(stack().send(*c, std::move(head), at_ms(10)));
  const Sent a = expect_sent(seg().seq(iss() + 1).data(1460));
  const Sent b = expect_sent(seg().seq(iss() + 1461).data(540));
  Bytes got = a.payload;
  testkit::append(got, b.payload);
  EXPECT_EQ(got, data);

  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 2001).data(300, 6), at_ms(20));
  Mbuf m = stack().recv(*c, now());
  ASSERT_TRUE(m);
  EXPECT_EQ(testkit::bytes_of(m.get()), pattern(300, 6));
  EXPECT_FALSE(stack().recv(*c, now()));
}

// RFC 9293 §3.4: sequence arithmetic is modulo 2^32.
TEST_F(Flow, SequenceNumbersWrapAround) {
  set_irs(Seq32{0xFFFFFF00u});
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(1000), at_ms(10));  // crosses 2^32
  expect_sent(seg().flags(kTcpAck).ack(irs() + 1001));
  EXPECT_EQ((irs() + 1001).value(), 0x2E9u);  // 0xFFFFFF00 + 1001 = 2^32 + 0x2E9
  EXPECT_EQ(read_all(*c), pattern(1000));
}

}  // namespace
}  // namespace tern::tcptest
