// Deviations an external RFC 9293 / RFC 5961 state-machine suite found
// (issue 13), each pinned to what Linux does: TIME-WAIT's answers, the RSTs
// we generate, text on a SYN, the error a RST reports in LAST-ACK /
// CLOSING, SYN+FIN to a listener, PSH, cork then nodelay, and a write
// larger than the send buffer.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Conformance = TcpHarness;

class TimeWait : public TcpHarness {
 protected:
  // Active close to TIME-WAIT at 11 ms: afterwards RCV.NXT = irs + 2 and
  // SND.NXT = iss + 2.
  void enter(Seg peer = seg().mss(1460)) {
    Tcb* c = establish_active(peer);
    ASSERT_NE(c, nullptr);
    stack().close(*c, at_ms(10));
    expect_sent(seg().flags(kTcpFin | kTcpAck));
    recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2), at_ms(11));
    expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
    ASSERT_EQ(state(), TcpState::kTimeWait);
  }
  Instant expiry() { return stack().time_wait().find(tuple())->expiry; }
};

// RFC 9293 §3.10.7.4, eighth step, TIME-WAIT: a FIN at RCV.NXT is
// acceptable; "Remain in the TIME-WAIT state. Restart the 2 MSL time-wait
// timeout." It is acknowledged.
TEST_F(TimeWait, FinAtRcvNxtIsAckedAndRestarts2Msl) {
  enter();
  ASSERT_EQ(expiry(), at_ms(11) + cfg().time_wait);
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 2).ack(iss() + 2), at_ms(30'000));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_EQ(expiry(), at_ms(30'000) + cfg().time_wait);
}

// RFC 5961 §4.2 (and what Linux does): a SYN at or below RCV.NXT
// that cannot open a new incarnation (RFC 6191 §2) gets a challenge ACK,
// not RFC 6191's silent drop; docs/tcp/time_wait.md says why.
TEST_F(TimeWait, OldSynGetsChallengeAck) {
  enter();
  recv(seg().flags(kTcpSyn).seq(irs() + 2).ack(0u), at_ms(100));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2).data(0));
  recv(seg().flags(kTcpSyn).seq(irs() - 1000).ack(0u), at_ms(2000));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2).data(0));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_EQ(count(Counter::kTCPTimeWaitReuse), 0u);
}

// A SYN+FIN is never a new connection (a listener drops it): in TIME-WAIT
// it gets the challenge ACK whatever its sequence number.
TEST_F(TimeWait, SynFinGetsChallengeAck) {
  enter();
  ASSERT_NE(stack().listen(local_port(), 8), nullptr);
  recv(seg().flags(kTcpSyn | kTcpFin).seq(irs() + 2).ack(0u), at_ms(100));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2).data(0));
  recv(seg().flags(kTcpSyn | kTcpFin).seq(irs() + 100'000).ack(0u), at_ms(2000));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2).data(0));
  EXPECT_EQ(state(), TcpState::kTimeWait);
}

// RFC 9293 §3.10.7.4, fifth step: "if the ACK bit is off, drop the segment
// and return". An acceptable FIN without ACK is not answered.
TEST_F(TimeWait, InWindowSegmentWithoutAckIsDropped) {
  enter();
  recv(seg().flags(kTcpFin).seq(irs() + 2).ack(0u), at_ms(100));
  recv(seg().flags(kTcpFin).seq(irs() + 12).ack(0u), at_ms(101));
  recv(seg().flags(kTcpPsh).seq(irs() + 2).ack(0u).data(10), at_ms(102));
  expect_nothing_sent();
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_EQ(expiry(), at_ms(11) + cfg().time_wait);
}

// RFC 9293 §3.10.7.4, first step, still: an old FIN without ACK is not
// acceptable and is answered with an ACK.
TEST_F(TimeWait, OldFinWithoutAckGetsAck) {
  enter();
  recv(seg().flags(kTcpFin).seq(irs() + 1).ack(0u), at_ms(100));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs() + 2));
  EXPECT_EQ(expiry(), at_ms(11) + cfg().time_wait);
}

// ---- RSTs we generate in a synchronized state --------------------------------

// RFC 7323 §3.2: once negotiated, the timestamp option SHOULD be in every
// segment, RSTs included; and like Linux's tcp_send_active_reset the RST
// carries ACK (Linux prints `R.`).
TEST_F(Conformance, CloseWithUnreadDataSendsRstAckWithTimestamp) {
  Tcb* c = establish_active(seg().mss(1460).ts(100, 0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).ts(150, our_tsval(*c)).data(50),
       at_ms(10));
  take_all_sent();
  const std::uint32_t tsval = TcpStack::ts_clock(at_ms(11)) + c->ts_offset;
  stack().close(*c, at_ms(11));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(iss() + 1).ack(irs() + 51).ts(tsval, 150).data(0));
  EXPECT_EQ(count(Counter::kTCPAbortOnClose), 1u);
}

TEST_F(Conformance, AbortSendsRstAckWithTimestamp) {
  Tcb* c = establish_active(seg().mss(1460).ts(100, 0));
  ASSERT_NE(c, nullptr);
  const std::uint32_t tsval = TcpStack::ts_clock(at_ms(10)) + c->ts_offset;
  advance_to(at_ms(10));
  stack().abort(*c, at_ms(10));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(iss() + 1).ack(irs() + 1).ts(tsval, 100).data(0));
}

// Without timestamps: R. all the same, and no option.
TEST_F(Conformance, AbortWithoutTimestampsSendsRstAck) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().abort(*c, at_ms(10));
  const Sent rst = expect_sent(seg().flags(kTcpRst | kTcpAck).seq(iss() + 1).ack(irs() + 1).data(0));
  EXPECT_FALSE(rst.opts.timestamps.has_value());
}

// ---- a RST in LAST-ACK or CLOSING is a reset --------------------------------

// RFC 9293 §3.10.7.4 second step closes the connection; Linux and the BSDs
// report ECONNRESET in every state past SYN-SENT.
TEST_F(Conformance, RstInLastAckReportsReset) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(10));
  stack().shutdown_write(*c, at_ms(11));  // half-close: the application still holds it
  take_all_sent();
  ASSERT_EQ(c->state, TcpState::kLastAck);
  recv(seg().flags(kTcpRst).seq(irs() + 2).ack(0u), at_ms(12));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kReset);
  EXPECT_EQ(c->error, TcpError::kReset);
}

TEST_F(Conformance, RstInClosingReportsReset) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().shutdown_write(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck));
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(11));  // crosses ours
  take_all_sent();
  ASSERT_EQ(c->state, TcpState::kClosing);
  recv(seg().flags(kTcpRst).seq(irs() + 2).ack(0u), at_ms(12));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kReset);
}

// ---- SYN+FIN to a listener ---------------------------------------------------

// Linux drops it always (tcp_rcv_state_process, SKB_DROP_REASON_TCP_FLAGS),
// FreeBSD by default (net.inet.tcp.drop_synfin): no SYN-ACK, no state.
TEST_F(Conformance, SynFinToListenerIsDroppedAndCounted) {
  Listener* l = stack().listen(kServerPort, 8);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn | kTcpFin).seq(irs()).ack(0u).mss(1460), at_ms(0));
  expect_nothing_sent();
  EXPECT_EQ(drops(Drop::kTcpSynFin), 1u);
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(l->syn_queue_size(), 0u);
}

// ---- cork, then nodelay --------------------------------------------------------

// Linux's TCP_NODELAY pushes what TCP_CORK held (tcp_push_pending_frames
// with TCP_NAGLE_PUSH).
TEST_F(Conformance, NodelayOnCorkedConnectionFlushes) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_cork(*c, true, at_ms(10));
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  expect_nothing_sent();
  stack().set_nodelay(*c, true, at_ms(11));
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).data(100));
}

// ---- text on a SYN (RFC 9293 §3.10.7.3) ----------------------------------------

// SYN-SENT, a SYN-ACK that acknowledges our SYN: "If there are other
// controls or text in the segment, then continue processing at the sixth
// step": the data is taken and acknowledged, and so is a FIN with it.
TEST_F(Conformance, DataOnSynAckIsDelivered) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn | kTcpAck | kTcpPsh).seq(irs()).ack(iss() + 1).mss(1460).data(100, 7), at_ms(1));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 101).data(0));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_TRUE(events(c) & kTcpEvConnected) << events_str(events(c));
  EXPECT_TRUE(events(c) & kTcpEvReadable) << events_str(events(c));
  EXPECT_EQ(read_all(*c), pattern(100, 7));
}

TEST_F(Conformance, DataAndFinOnSynAckAreProcessed) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn | kTcpAck | kTcpFin).seq(irs()).ack(iss() + 1).mss(1460).data(10), at_ms(1));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 12).data(0));
  EXPECT_EQ(c->state, TcpState::kCloseWait);
  EXPECT_TRUE(events(c) & kTcpEvPeerFin) << events_str(events(c));
  EXPECT_EQ(read_all(*c), pattern(10));
}

// SYN-SENT, a SYN without ACK (simultaneous open): "If there are other
// controls or text in the segment, queue them for processing after the
// ESTABLISHED state has been reached". Nothing is delivered or acknowledged
// before; the handshake's end delivers and ACKs it.
TEST_F(Conformance, DataOnSimultaneousOpenSynIsDeliveredOnceEstablished) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460).data(100, 3), at_ms(1));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).seq(iss()).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kSynReceived);
  EXPECT_FALSE(events(c) & kTcpEvReadable) << events_str(events(c));
  EXPECT_TRUE(read_all(*c).empty());

  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460), at_ms(2));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 101).data(0));
  EXPECT_TRUE(events(c) & kTcpEvReadable) << events_str(events(c));
  EXPECT_EQ(read_all(*c), pattern(100, 3));
}

TEST_F(Conformance, FinOnSimultaneousOpenSynIsProcessedOnceEstablished) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn | kTcpFin).seq(irs()).mss(1460).data(20), at_ms(1));
  expect_sent(seg().flags(kTcpSyn | kTcpAck).seq(iss()).ack(irs() + 1));
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 1), at_ms(2));  // a plain ACK completes it
  EXPECT_EQ(c->state, TcpState::kCloseWait);
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 22).data(0));
  EXPECT_EQ(read_all(*c), pattern(20));
}

// ---- PSH ----------------------------------------------------------------------------

// RFC 1122 §4.2.2.2 lets a sender set PSH as it likes; Linux marks the
// segment that carries the end of each write (tcp_push / tcp_mark_push),
// also when later writes were coalesced behind it, so that receivers that
// deliver on PSH see every write's end at once.
TEST_F(Conformance, PshOnTheSegmentEndingEachWrite) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).data(100));
  // Nagle holds the next short write behind the one in flight ...
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(11)), 100u);
  expect_nothing_sent();
  // ... and a large one follows: the first full segment carries the end of
  // the short write, the second none, the last (held by Nagle) the end of
  // the large one.
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(12)), 3000u);
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 101).data(1460));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1561).data(1460));
  expect_nothing_sent();
  recv(seg().seq(irs() + 1).ack(iss() + 3021), at_ms(20));
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 3021).data(180));
}

// A write that ends exactly on a segment boundary: that segment carries PSH.
TEST_F(Conformance, PshOnAFullSegmentEndingAWrite) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_cork(*c, true, at_ms(10));
  ASSERT_EQ(stack().send_copy(*c, pattern(1460), at_ms(10)), 1460u);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).data(1460));
  expect_nothing_sent();
  stack().set_cork(*c, false, at_ms(11));
  recv(seg().seq(irs() + 1).ack(iss() + 1461), at_ms(20));  // Nagle held the tail for this
  expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1461).data(100));
}

// ---- a write larger than the send buffer ---------------------------------------

// A blocking writer (the packetdrill front end's write(), an application
// looping on on_writable) queues what fits, waits for kTcpEvWritable, and
// goes on: every ACK that frees room must lead to the event, so the write
// completes and the whole stream arrives in order.
TEST_F(Conformance, WriteLargerThanSendBufferCompletesAsAcksFreeSpace) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_send_buffer(*c, 4096, 2048, now());
  const Bytes data = pattern(50'000, 9);
  std::size_t queued = 0;
  Bytes wire;
  int waits = 0;
  while (wire.size() < data.size() && waits < 1000) {
    if (queued < data.size()) {
      const std::span<const std::byte> rest{data.data() + queued, data.size() - queued};
      queued += stack().send_copy(*c, rest, now());
      if (queued < data.size()) {
        ASSERT_GT(c->sndq.bytes(), 0u) << "refused with nothing queued: no ACK will ever wake the writer";
        ++waits;
      }
    }
    handler_.clear();
    // The peer ACKs everything it gets, one segment at a time, until
    // nothing more comes.
    while (sent_count() > 0) {
      const Sent s = expect_sent();
      if (s.len() == 0) continue;
      ASSERT_EQ(s.seq, iss() + 1 + static_cast<std::uint32_t>(wire.size())) << s;
      wire.insert(wire.end(), s.payload.begin(), s.payload.end());
      recv(seg().seq(irs() + 1).ack(s.seq + static_cast<std::uint32_t>(s.len())), now() + Duration::ms(1));
    }
    if (queued < data.size()) {
      ASSERT_TRUE(events(c) & kTcpEvWritable) << "ACKs freed room but the writer was not woken at " << queued;
    } else if (wire.size() < data.size()) {
      advance_by(Duration::ms(300));  // a tail Nagle or the delayed ACK holds
    }
  }
  EXPECT_EQ(queued, data.size());
  EXPECT_EQ(wire, data);
  EXPECT_GT(waits, 5);
}

// ---- TS.Recent only from a segment whose ACK is acceptable ----------------------

// A segment in the window that acknowledges data never sent is dropped
// (RFC 9293 §3.10.7.4 fifth step); its TSval must not become TS.Recent, or
// one blind segment with a far-future TSval makes every later one fail PAWS
// (RFC 7323 §5.3). Linux updates TS.Recent only once tcp_ack accepted the
// ACK (FLAG_UPDATE_TS_RECENT); packetdrill's ts_recent/invalid_ack.pkt.
TEST_F(Conformance, TsRecentNotTakenFromSegmentWithUnacceptableAck) {
  Tcb* c = establish_active(seg().mss(1460).ts(100, 0));
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).ts(200, our_tsval(*c)), at_ms(10));
  take_all_sent();
  recv(seg().seq(irs() + 1).ack(iss() + 9999).ts(200'000, our_tsval(*c)), at_ms(20));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1).ts(our_tsval(*c), 200));
  EXPECT_EQ(c->ts_recent, 200u);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).ts(201, our_tsval(*c)).data(1000),
       at_ms(1000));
  expect_sent(seg().flags(kTcpAck).ack(irs() + 1001).ts(our_tsval(*c), 201));
  EXPECT_EQ(read_all(*c).size(), 1000u);
}

// ---- A bare ACK at the right edge of our window --------------------------------

// A peer that filled our receive window exactly, and lost part of what it
// sent, ACKs with SEG.SEQ = RCV.NXT + RCV.WND. RFC 9293 §3.10.7.4's table
// says "<" for a segment without text; Linux (tcp_sequence) and the BSDs
// accept the edge. Dropping those ACKs deadlocked an interop run: the
// kernel's shrinking window never reached us, our ACKs went beyond its
// window, and both sides retransmitted into each other's drop for good.
TEST_F(Conformance, BareAckAtTheRightEdgeOfOurWindowIsAccepted) {
  Tcb* c = establish_active(seg().mss(1460).win(20000));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(10)), 3000u);
  expect_sent(seg().seq(iss() + 1).data(1460));
  expect_sent(seg().seq(iss() + 1461).data(1460));
  expect_nothing_sent();
  const Seq32 edge = c->rcv_adv;
  ASSERT_TRUE(seq_gt(edge, c->rcv_nxt));
  recv(seg().seq(edge.value()).ack(iss() + 2921).win(1000), at_ms(20));
  expect_sent(seg().seq(iss() + 2921).data(80));  // the ACK was taken: the tail goes
  EXPECT_EQ(c->snd_una, iss() + 2921);
  EXPECT_EQ(c->snd_wnd, 1000u);
  EXPECT_EQ(drops(Drop::kTcpOutOfWindow), 0u);
}

// One beyond the edge is still out of the window: dropped, answered with an ACK.
TEST_F(Conformance, BareAckBeyondTheRightEdgeIsNotAccepted) {
  Tcb* c = establish_active(seg().mss(1460).win(20000));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(1000), at_ms(10)), 1000u);
  expect_sent(seg().seq(iss() + 1).data(1000));
  recv(seg().seq((c->rcv_adv + 1).value()).ack(iss() + 1001).win(1000), at_ms(20));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1001).ack(irs() + 1).data(0));
  EXPECT_EQ(c->snd_una, iss() + 1);
  EXPECT_EQ(drops(Drop::kTcpOutOfWindow), 1u);
}

// ---- The handshake's RTT in microseconds ---------------------------------------

// The first RTT sample comes from the handshake. With timestamps, TSecr's
// millisecond ticks gave 0 for a LAN's 300 us, and SRTT, min_RTT and
// BBR's first pacing rate started from nothing; the SYN (SYN-ACK) is timed
// from its send instead, as Linux times it from its own send stamp.
TEST_F(Conformance, ActiveHandshakeRttIsTimedInMicroseconds) {
  Tcb* c = active_syn(at_ms(5));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460).ts(100, our_tsval(*c)),
       at_ms(5) + Duration::us(300));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  ASSERT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(c->rto.srtt(), Duration::us(300));
  EXPECT_EQ(c->rto.min_rtt(), Duration::us(300));
}

TEST_F(Conformance, PassiveHandshakeRttIsTimedInMicroseconds) {
  Listener* l = stack().listen(local_port(), 8);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).ack(0u).mss(1460).ts(100, 0), at_ms(5));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1));
  ASSERT_TRUE(synack.opts.timestamps);
  recv(seg().seq(irs() + 1).ack(synack.seq + 1).ts(101, synack.opts.timestamps->first),
       at_ms(5) + Duration::us(250));
  Tcb* c = stack().accept(*l);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rto.srtt(), Duration::us(250));
}

}  // namespace
}  // namespace tern::tcptest
