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

// RFC 5681 §2 counts an ACK as a duplicate only if it leaves the window
// unchanged, and a sender without SACK fast-retransmits on the third
// (§3.2). The application reading the data before a hole frees room, but
// the ACKs the hole produces keep the window they started with; the room is
// offered with the ACK that fills the hole (window_field).
TEST_F(Flow, DuplicateAcksForAHoleKeepTheirWindowWhileTheApplicationReads) {
  Tcb* c = establish_passive(seg().mss(1460).wscale(7));  // so the buffer, not 65535, bounds the window
  ASSERT_NE(c, nullptr);
  leave_quickack_mode(irs() + 1, iss() + 1);
  advance_by(cfg().delayed_ack);
  read_all(*c);
  take_all_sent();
  // Twenty segments in order, unread, then the hole's first duplicate ACK.
  const Seq32 base = c->rcv_nxt;
  for (int i = 0; i < 20; ++i) recv(seg().seq(base + i * 1460).ack(iss() + 1).data(1460, 3), now());
  const Seq32 hole = base + 20 * 1460;
  take_all_sent();
  recv(seg().seq(hole + 1460).ack(iss() + 1).data(1460, 4), now() + Duration::ms(1));
  const std::uint16_t win = expect_sent(seg().flags(kTcpAck).ack(hole).data(0)).win;
  // The reads free twenty segments' room: no window update is sent for them,
  // and the next duplicates carry the same window.
  EXPECT_EQ(read_all(*c).size(), 20u * 1460);
  expect_nothing_sent();
  for (int i = 2; i <= 4; ++i) {
    recv(seg().seq(hole + i * 1460).ack(iss() + 1).data(1460, 4), now() + Duration::ms(1));
    expect_sent(seg().flags(kTcpAck).ack(hole).data(0).win(win));
  }
  // The retransmission fills the hole: the ACK moves on and the window opens.
  recv(seg().seq(hole).ack(iss() + 1).data(1460, 5), now() + Duration::ms(1));
  const Sent filled = expect_sent(seg().flags(kTcpAck).ack(hole + 5 * 1460));
  const Seq32 held_edge = hole + (std::uint32_t{win} << c->rcv_wscale);
  EXPECT_TRUE(seq_gt(filled.ack + (std::uint32_t{filled.win} << c->rcv_wscale), held_edge));
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

// A peer that shrinks its window to zero and drops what it had room for
// (Linux does under memory pressure) accepts only SEG.SEQ = RCV.NXT (RFC 9293
// §3.10.7.4): our ACKs must not carry SND.MAX beyond its window, or it drops
// them and never learns that our own window opened.
TEST_F(Flow, AckSeqStaysInsideAWindowThePeerShrank) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  c->nodelay = true;
  ASSERT_EQ(stack().send_copy(*c, pattern(2920), at_ms(10)), 2920u);
  expect_sent(seg().seq(iss() + 1).data(1460));
  expect_sent(seg().seq(iss() + 1461).data(1460));
  expect_nothing_sent();

  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(20));  // shrunk: our data was not taken
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0).data(100), at_ms(21));
  expect_sent(seg().seq(iss() + 1).ack(irs() + 101).flags(kTcpAck));  // not iss() + 2921
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

// RFC 3042 §2 limited transmit: the first two duplicate ACKs each send one
// new segment beyond cwnd, so the third can arrive even when the window
// holds few segments; cwnd is unchanged, and at the third the segments they
// sent stay out of ssthresh (RFC 5681 §3.2 step 2).
TEST_F(Flow, LimitedTransmitSendsNewDataOnTheFirstTwoDuplicateAcks) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  const Bytes all = pattern(13 * 1460);
  ASSERT_EQ(stack().send_copy(*c, all, at_ms(10)), all.size());
  EXPECT_EQ(take_all_sent().size(), 10u);  // the initial window (RFC 6928)
  EXPECT_EQ(c->cc.cwnd(), 10u * 1460);

  // The first segment was lost.
  recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(20));
  expect_sent(seg().seq(iss() + 1 + 10 * 1460).data(1460));
  expect_nothing_sent();
  recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(21));
  expect_sent(seg().seq(iss() + 1 + 11 * 1460).data(1460));
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 10u * 1460);
  EXPECT_EQ(count(Counter::kRetransSegs), 0u);

  recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(22));
  expect_sent(seg().seq(iss() + 1).payload(Bytes(all.begin(), all.begin() + 1460)));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 1u);
  EXPECT_EQ(c->cc.ssthresh(), 5u * 1460) << "FlightSize 12 segments, 2 of them by limited transmit";
  take_all_sent();
}

// RFC 3042 §2: only "if the receiver's advertised window allows", and only
// new data: with one segment of window left, one segment; with nothing
// queued beyond what is in flight, nothing.
TEST_F(Flow, LimitedTransmitStaysWithinThePeersWindow) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(13 * 1460), at_ms(10)), 13u * 1460);
  EXPECT_EQ(take_all_sent().size(), 10u);
  // A window update (not a duplicate: the window changed) leaves room for 11 segments.
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(11 * 1460), at_ms(15));
  expect_nothing_sent();
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(11 * 1460), at_ms(20));
  expect_sent(seg().seq(iss() + 1 + 10 * 1460).data(1460));
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(11 * 1460), at_ms(21));
  expect_nothing_sent();
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(11 * 1460), at_ms(22));
  expect_sent(seg().seq(iss() + 1).data(1460));  // fast retransmit
  take_all_sent();
}

// RFC 6582 §3.2 step 1 with SACK (RFC 2018): recovery ended on a full ACK
// exactly at "recover", and the first segment sent after it is lost. The
// duplicates carry SACK blocks beyond "recover", so this is a new loss: fast
// retransmit at the third instead of waiting for the RTO.
TEST_F(Flow, SackBeyondRecoverAllowsFastRetransmitOfTheSegmentAtRecover) {
  // RFC 6675's DupThresh is the fallback without a transmit log (RACK,
  // tcp_rack_test.cc, finds the same loss by time where one is lent). SRTT
  // is 0 here: the tail loss probe's floor raised to 10 ms keeps it out of
  // the script.
  options_.tx_logs = 0;
  cfg().tlp_min = Duration::ms(10);
  Tcb* c = establish_active(seg().mss(1460).sack_perm());
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->sack_ok);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * 1460), at_ms(10)), 4u * 1460);
  EXPECT_EQ(take_all_sent().size(), 4u);
  // The first segment is lost: three duplicates (nothing new for limited
  // transmit), all before the tail loss probe (10 ms after the data).
  for (int i = 0; i < 3; ++i) recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(12 + i));
  expect_sent(seg().seq(iss() + 1).data(1460));
  ASSERT_TRUE(c->cc.in_recovery());
  const Seq32 recover = iss() + 1 + 4 * 1460;
  recv(seg().seq(irs() + 1).ack(recover), at_ms(16));  // the full ACK
  EXPECT_FALSE(c->cc.in_recovery());
  EXPECT_EQ(c->cc.cwnd(), 2u * 1460);

  ASSERT_EQ(stack().send_copy(*c, pattern(4 * 1460, 2), at_ms(17)), 4u * 1460);
  expect_sent(seg().seq(recover).data(1460));  // lost
  expect_sent(seg().seq(recover + 1460).data(1460));
  expect_nothing_sent();
  auto dup = [&](std::uint32_t sacked_segments) {
    Seg d = seg().seq(irs() + 1).ack(recover);
    d.opts_.sack[0] = SackBlock{(recover + 1460).value(), (recover + 1460 * (1 + sacked_segments)).value()};
    d.opts_.sack_count = 1;
    return d;
  };
  recv(dup(1), at_ms(18));
  expect_sent(seg().seq(recover + 2 * 1460).data(1460));  // limited transmit
  recv(dup(2), at_ms(19));
  expect_sent(seg().seq(recover + 3 * 1460).data(1460));  // limited transmit
  recv(dup(3), at_ms(20));
  expect_sent(seg().seq(recover).data(1460));  // fast retransmit, no RTO
  EXPECT_TRUE(c->cc.in_recovery());
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 2u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
  take_all_sent();
}

// The same duplicates without SACK blocks are ambiguous (RFC 6582 §4): no
// fast retransmit; the retransmission timer repairs the loss.
TEST_F(Flow, WithoutSackDuplicatesAtRecoverWaitForTheTimer) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_FALSE(c->sack_ok);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * 1460), at_ms(10)), 4u * 1460);
  take_all_sent();
  for (int i = 0; i < 3; ++i) recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(20 + i));
  expect_sent(seg().seq(iss() + 1).data(1460));
  const Seq32 recover = iss() + 1 + 4 * 1460;
  recv(seg().seq(irs() + 1).ack(recover), at_ms(30));
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * 1460, 2), at_ms(31)), 4u * 1460);
  EXPECT_EQ(take_all_sent().size(), 2u);
  for (int i = 0; i < 3; ++i) recv(seg().seq(irs() + 1).ack(recover), at_ms(40 + i));
  EXPECT_EQ(take_all_sent().size(), 2u) << "limited transmit only";
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 1u);
  EXPECT_FALSE(c->cc.in_recovery());
}

// After an RTO the sender goes back to SND.UNA (RFC 5681 §3.1). When a
// go-back retransmission is lost again, the duplicates for what follows it
// sit below "recover" and RFC 6582 §3.2 step 1 ignores them; their SACK
// blocks, though, report data the receiver never held before the timeout:
// the hole is resent at the third, without entering fast recovery.
TEST_F(Flow, AfterRtoSackedDuplicatesResendALostGoBackRetransmission) {
  // RFC 6675's DupThresh is the fallback without a transmit log (RACK,
  // tcp_rack_test.cc, finds the same loss by time where one is lent).
  options_.tx_logs = 0;
  Tcb* c = establish_active(seg().mss(1460).sack_perm());
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(stack().send_copy(*c, pattern(10 * 1460), at_ms(10)), 10u * 1460);
  EXPECT_EQ(take_all_sent().size(), 10u);
  auto S = [&](std::uint32_t i) { return iss() + 1 + (i - 1) * 1460; };  // segment i's first byte
  // Everything is lost: first the tail loss probe (RFC 8985 §7.3: nothing
  // new to send, so the last segment again), then the timer resends S1.
  ASSERT_TRUE(run_until_sent(at_ms(5000)).has_value());
  expect_sent(seg().seq(S(10)).data(1460));
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
  ASSERT_TRUE(run_until_sent(at_ms(5000)).has_value());
  expect_sent(seg().seq(S(1)).data(1460));
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  const std::uint32_t ssthresh = c->cc.ssthresh();
  recv(seg().seq(irs() + 1).ack(S(2)), now());
  expect_sent(seg().seq(S(2)).data(1460));
  expect_sent(seg().seq(S(3)).data(1460));
  recv(seg().seq(irs() + 1).ack(S(4)), now() + Duration::ms(1));
  for (std::uint32_t i = 4; i <= 7; ++i) expect_sent(seg().seq(S(i)).data(1460));
  expect_nothing_sent();
  // S4 is lost again; S5, S6 and S7 arrive.
  for (std::uint32_t i = 5; i <= 7; ++i) {
    Seg d = seg().seq(irs() + 1).ack(S(4));
    d.opts_.sack[0] = SackBlock{S(5).value(), S(i + 1).value()};
    d.opts_.sack_count = 1;
    recv(d, now() + Duration::ms(1));
    if (i < 7) expect_nothing_sent();
  }
  expect_sent(seg().seq(S(4)).data(1460));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 1u);
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 1u);
  EXPECT_FALSE(c->cc.in_recovery());
  EXPECT_EQ(c->cc.ssthresh(), ssthresh);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
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

namespace tern::tcptest {
namespace {

// With the port summing TCP checksums, every segment leaves with the request
// (RTE_MBUF_F_TX_TCP_CKSUM), l4_len and the folded pseudo-header sum in the
// field (the harness checks both, then completes the sum as a NIC would);
// without it, every segment carries its full checksum and no request.
class FlowChecksum : public TcpHarness {
 protected:
  void expect_every_segment(bool offloaded) {
    Tcb* c = establish_passive();
    ASSERT_NE(c, nullptr);
    const Bytes data = pattern(3000);
    ASSERT_EQ(stack().send_copy(*c, data, now()), data.size());
    recv(seg().seq(irs() + 1).ack(iss() + 1).data(10), at_ms(20));  // an ACK answers it, with data
    stack().abort(*c, now());                                       // a RST
    std::size_t n = 0;
    for (const Sent& s : take_all_sent()) {
      EXPECT_EQ(s.offloaded, offloaded) << s;
      EXPECT_TRUE(s.checksum_ok) << s;
      ++n;
    }
    EXPECT_GE(n, 4u);
  }
};

TEST_F(FlowChecksum, LeftToThePortWhenItOffersTheOffload) {
  options_.tx_checksum_offload = true;
  expect_every_segment(true);
}

TEST_F(FlowChecksum, ComputedWhenThePortDoesNot) { expect_every_segment(false); }

// A small payload is copied into the header mbuf (one mbuf on the wire); a
// larger one is attached as indirect slices of the send queue (zero copy).
// Either way the bytes are the application's, and a retransmission of the
// small one is built the same way from the queue.
TEST_F(Flow, SmallPayloadsTravelInTheHeaderMbufLargeOnesAsSlices) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100, 3), now()), 100u);
  Sent small = expect_sent(seg().seq(iss() + 1).data(100, 3));
  EXPECT_EQ(small.mbufs, 1);
  recv(seg().seq(irs() + 1).ack(iss() + 101).data(0), at_ms(20));
  ASSERT_EQ(stack().send_copy(*c, pattern(1448, 4), now()), 1448u);
  Sent full = expect_sent(seg().seq(iss() + 101).data(1448, 4));
  EXPECT_GE(full.mbufs, 2);
  ASSERT_EQ(stack().send_copy(*c, pattern(200, 5), now()), 200u);
  advance_by(Duration::s(2));  // the RTO resends from SND.UNA, both segments' bytes
  bool resent = false;
  for (const Sent& s : take_all_sent())
    if (s.seq == iss() + 101 && s.len() > 0) {
      resent = true;
      Bytes want = pattern(1448, 4);
      testkit::append(want, pattern(200, 5));
      EXPECT_EQ(s.payload, Bytes(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(s.len())));
    }
  EXPECT_TRUE(resent);
}

// A port that copies every frame anyway (TcpStackOptions::tx_copy_max at
// kTxCopyMaxAlways): full segments travel in the header mbuf too, and a
// retransmission built from two writes holds both, in order.
TEST_F(Flow, OnACopyingPortFullSegmentsTravelInTheHeaderMbuf) {
  options_.tx_copy_max = TcpStackOptions::kTxCopyMaxAlways;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(1448, 4), now()), 1448u);
  Sent full = expect_sent(seg().seq(iss() + 1).data(1448, 4));
  EXPECT_EQ(full.mbufs, 1);
  ASSERT_EQ(stack().send_copy(*c, pattern(200, 5), now()), 200u);
  advance_by(Duration::s(2));  // the RTO resends from SND.UNA, both writes' bytes
  bool resent = false;
  for (const Sent& s : take_all_sent())
    if (s.seq == iss() + 1 && s.len() > 0) {
      resent = true;
      EXPECT_EQ(s.mbufs, 1);
      Bytes want = pattern(1448, 4);
      testkit::append(want, pattern(200, 5));
      EXPECT_EQ(s.payload, Bytes(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(s.len())));
    }
  EXPECT_TRUE(resent);
}

// Header prediction takes in-order data with nothing else to learn, and
// leaves every other segment to the full path: the same outcome either way
// (data readable, ACK every second segment, window changes taken).
TEST_F(Flow, HeaderPredictionTakesPlainInOrderDataAndNothingElse) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  leave_quickack_mode(irs() + 1, iss() + 1);
  advance_by(cfg().delayed_ack);
  take_all_sent();
  read_all(*c);
  Seq32 seq = c->rcv_nxt;
  const std::uint64_t hits = count(Counter::kTCPHPHits);
  recv(seg().seq(seq).ack(iss() + 1).data(c->rcv_mss, 1), now() + Duration::ms(1));
  seq += c->rcv_mss;
  recv(seg().flags(kTcpAck | kTcpPsh).seq(seq).ack(iss() + 1).data(c->rcv_mss, 2), now());
  seq += c->rcv_mss;
  EXPECT_EQ(count(Counter::kTCPHPHits), hits + 2);
  expect_sent(seg().flags(kTcpAck).ack(seq));  // the second full segment is ACKed at once
  // A new window, a FIN, data beyond a hole, our data in flight: the full path.
  recv(seg().seq(seq).ack(iss() + 1).win(1000).data(100, 3), now() + Duration::ms(1));
  seq += 100;
  EXPECT_EQ(c->snd_wnd, 1000u << c->snd_wscale);
  recv(seg().seq(seq + 50).ack(iss() + 1).win(1000).data(50, 4), now());
  ASSERT_EQ(stack().send_copy(*c, pattern(10), now()), 10u);
  recv(seg().seq(seq).ack(iss() + 1).win(1000).data(50, 5), now());
  recv(seg().flags(kTcpAck | kTcpFin).seq(seq + 100).ack(iss() + 11).win(1000).data(0), now());
  EXPECT_EQ(count(Counter::kTCPHPHits), hits + 2);
  Bytes want = pattern(c->rcv_mss, 1);
  testkit::append(want, pattern(c->rcv_mss, 2));
  testkit::append(want, pattern(100, 3));
  testkit::append(want, pattern(50, 5));
  testkit::append(want, pattern(50, 4));
  EXPECT_EQ(read_all(*c), want);
  EXPECT_EQ(c->state, TcpState::kCloseWait);
}

// Request/response: the request that acknowledges our last response (SND.UNA
// < SEG.ACK = SND.MAX) takes the predicted path too, its ACK processed as
// the full path would (SND.UNA moves, the send queue empties, the timer
// stops).
TEST_F(Flow, HeaderPredictionTakesARequestThatAcknowledgesTheResponse) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  Seq32 seq = c->rcv_nxt;
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(stack().send_copy(*c, pattern(64, round + 10), now()), 64u);  // the response
    const Sent resp = expect_sent(seg().data(64, round + 10));
    const std::uint64_t hits = count(Counter::kTCPHPHits);
    // The last round's request also moves the window: process_ack takes it.
    const std::uint16_t win = round == 2 ? 30000 : 65535;
    recv(seg().flags(kTcpAck | kTcpPsh).seq(seq).ack(resp.seq + 64).win(win).data(64, round),
         now() + Duration::ms(1));
    take_all_sent();
    seq += 64;
    EXPECT_EQ(count(Counter::kTCPHPHits), hits + 1) << "round " << round;
    EXPECT_EQ(c->snd_una, resp.seq + 64);
    EXPECT_EQ(c->snd_una, c->snd_max);
    EXPECT_TRUE(c->sndq.empty());
    EXPECT_EQ(c->rtx_kind, Tcb::RtxKind::kNone);
    EXPECT_EQ(c->snd_wnd, std::uint32_t{win} << c->snd_wscale);
    EXPECT_EQ(read_all(*c), pattern(64, round));
  }
}

// The sending side: a pure ACK of new data takes the predicted path (a new
// window with it too); a duplicate ACK and a bare window update do not.
TEST_F(Flow, HeaderPredictionTakesAPureAckOfNewData) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, now());
  ASSERT_EQ(stack().send_copy(*c, pattern(3000, 7), now()), 3000u);
  const auto sent = take_all_sent();
  ASSERT_GE(sent.size(), 2u);
  const std::uint64_t hits = count(Counter::kTCPHPAcks);
  recv(seg().seq(irs() + 1).ack(iss() + 1 + 1460).win(40000).data(0), now() + Duration::ms(1));
  EXPECT_EQ(count(Counter::kTCPHPAcks), hits + 1);
  EXPECT_EQ(c->snd_una, iss() + 1 + 1460);
  EXPECT_EQ(c->snd_wnd, 40000u << c->snd_wscale);
  recv(seg().seq(irs() + 1).ack(iss() + 1 + 1460).win(40000).data(0), now());  // duplicate
  recv(seg().seq(irs() + 1).ack(iss() + 1 + 1460).win(50000).data(0), now());  // window update
  EXPECT_EQ(count(Counter::kTCPHPAcks), hits + 1);
  EXPECT_EQ(c->snd_wnd, 50000u << c->snd_wscale);
  recv(seg().seq(irs() + 1).ack(iss() + 3001).win(50000).data(0), now());
  EXPECT_EQ(count(Counter::kTCPHPAcks), hits + 2);
  EXPECT_EQ(c->snd_una, c->snd_max);
  EXPECT_TRUE(c->sndq.empty());
}

// RFC 7661 §4.3 (and RFC 9438 §4.10's note): cwnd grows only when it limited
// the sender. An application that sends 100 bytes per round trip never
// uses its initial window; Linux (tcp_is_cwnd_limited) leaves cwnd there,
// and so must we, or a later burst goes out at a window never tested.
TEST_F(Flow, AnApplicationLimitedSenderDoesNotGrowCwnd) {
  Tcb* c = establish_active(seg().mss(1460).win(60000));
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, at_ms(5));
  const std::uint32_t iw = c->cc.cwnd();
  Seq32 next = iss() + 1;
  for (int i = 0; i < 50; ++i) {
    const Instant t = at_ms(10 + 10 * i);
    ASSERT_EQ(stack().send_copy(*c, pattern(100), t), 100u);
    expect_sent(seg().seq(next).data(100));
    next += 100;
    recv(seg().seq(irs() + 1).ack(next).win(60000), t + Duration::ms(1));
  }
  EXPECT_EQ(c->cc.cwnd(), iw);
}

// A sender that fills cwnd still grows it in slow start.
TEST_F(Flow, ACwndLimitedSenderGrowsCwnd) {
  Tcb* c = establish_active(seg().mss(1460).win(60000));
  ASSERT_NE(c, nullptr);
  const std::uint32_t iw = c->cc.cwnd();
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * 1460), at_ms(10)), 30u * 1460);
  EXPECT_EQ(take_all_sent().size(), 10u);
  recv(seg().seq(irs() + 1).ack(iss() + 1 + 2 * 1460).win(60000), at_ms(20));
  EXPECT_GT(c->cc.cwnd(), iw);
}

}  // namespace
}  // namespace tern::tcptest
