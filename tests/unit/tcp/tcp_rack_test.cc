// RACK time-based loss detection (RFC 8985 §6, lib/tcp/tcp_rack.cc) on
// scripted segments at virtual time.
//
// Every connection here is opened actively with MSS 1460 and SACK, no
// timestamps, Nagle off; the SYN-ACK arrives 20 ms after the SYN and one
// warm-up segment (S1, sent at 30 ms, ACKed at 50 ms) gives RACK its first
// sample: RACK.rtt = RACK.min_RTT = 20 ms, SRTT = 20 ms, so reo_wnd =
// min_RTT / 4 = 5 ms where it is not zero (§6.2 step 4: it is zero while no
// reordering has been seen, in recovery or once DupThresh = 3 segments are
// SACKed), and the RTO is its 200 ms floor. Each send_copy() at its own
// instant is its own transmit-log record (tx_log.h).
#include "sack_script.h"

namespace tern::tcptest {
namespace {

constexpr std::uint32_t kMss = 1460;

class Rack : public SackScript {
 protected:
  // With `ts`, timestamps too (RFC 7323): SMSS 1448, and every ACK here
  // echoes t1_, the TSval of S1 (the receiver's TS.Recent after it).
  Tcb* open_rack(bool ts = false) {
    Tcb* c = active_syn(at_ms(0));
    if (c == nullptr) return nullptr;
    Seg synack = seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460).sack_perm();
    if (ts) synack.ts(peer_ts_, our_tsval(*c));
    recv(synack, at_ms(20));
    expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
    EXPECT_TRUE(c->sack_ok);
    EXPECT_EQ(c->ts_ok, ts);
    mss_ = c->mss;
    stack().set_nodelay(*c, true, now());
    send(*c, 1, at_ms(30));
    const Sent s1 = expect_segment(1);
    if (ts) t1_ = s1.opts.timestamps->first;
    recv(ts ? ack_with(S(2), {}, t1_) : ack_with(S(2)), at_ms(50));
    EXPECT_EQ(c->rack_rtt_us, 20'000u);
    EXPECT_EQ(c->rack_min_rtt.us(), 20'000u);
    EXPECT_EQ(c->txlog, nullptr);  // nothing in flight: the log went back
    return c;
  }
  std::uint32_t t1_ = 0;
};

// §6.2 step 5: S2 (sent at 60 ms) is lost only once RACK.rtt + reo_wnd has
// passed since it was sent, counted from the send time of the newest
// segment delivered (S3, 62 ms, SACKed at 82 ms: RACK.rtt = 20 ms): at 60 +
// 20 + 5 = 85 ms. §6.3: the reordering timer fires then; nothing before.
TEST_F(Rack, SegmentIsLostOnlyReoWndAfterTheNewestDeliveredSendTime) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  send(*c, 1, at_ms(60));
  expect_segment(2);
  send(*c, 1, at_ms(62));
  expect_segment(3);
  recv(ack_with(S(2), {{S(3), S(4)}}), at_ms(82));
  expect_nothing_sent();
  EXPECT_EQ(c->rack_deadline, at_ms(85));
  advance_to(at_ms(84));
  expect_nothing_sent();
  advance_to(at_ms(85));
  expect_segment(2);  // the reordering timer: lost, recovery, retransmitted
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
  EXPECT_TRUE(c->sack_recovery);
  EXPECT_EQ(c->lost_segs, 1u);
  EXPECT_EQ(c->rack_deadline, Instant::max());
}

// RFC 6298 §5.1 and RFC 8985 §7.2: the first segment of each flight starts
// the retransmission timer (200 ms, the RTO's floor) and the flight of two
// segments schedules the probe at 2 SRTT = 40 ms; output() then puts the
// TCB on the wheel once, for the earlier of the two (the segment starts
// the timer without arming it), with whatever deadline the node held
// from the flight before. The last flight is not answered: its probe goes
// at the PTO, the last segment again (§7.3: nothing new to send).
TEST_F(Rack, EachFlightPutsItsProbeOnTheWheel) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  for (std::uint32_t i = 0; i < 4; ++i) {
    const Instant t = at_ms(60 + 100 * i);
    send(*c, 2, t);
    expect_segment(2 + 2 * i);
    expect_segment(3 + 2 * i);
    EXPECT_EQ(c->rtx_kind, Tcb::RtxKind::kRetransmit);
    EXPECT_EQ(c->rtx_deadline, t + Duration::ms(200));
    EXPECT_EQ(c->tlp_deadline, t + Duration::ms(40));
    ASSERT_TRUE(TimerWheel::armed(*c)) << "flight " << i;
    EXPECT_EQ(TimerWheel::deadline(*c), t + Duration::ms(40)) << "flight " << i;
    if (i == 3) break;
    recv(ack_with(S(4 + 2 * i)), t + Duration::ms(20));
    expect_nothing_sent();
  }
  advance_to(at_ms(360 + 39));
  expect_nothing_sent();
  advance_to(at_ms(360 + 40));
  expect_segment(9);  // the probe
  expect_nothing_sent();
}

// §6.2 step 4: no reordering seen yet, and DupThresh segments SACKed above
// S2: reo_wnd is 0, so S2 is lost at once (the three-duplicate rule).
TEST_F(Rack, WithoutReorderingThreeSackedSegmentsMarkALossAtOnce) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  send(*c, 1, at_ms(100));
  expect_segment(2);
  send(*c, 4, at_ms(101));
  take_all_sent();
  recv(ack_with(S(2), {{S(3), S(7)}}), at_ms(121));
  expect_segment(2);
  EXPECT_FALSE(c->rack_reordering_seen);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
}

// §6.2 step 3: S2 delivered after S3 (which was sent after it) and never
// retransmitted: reordering. From then on reo_wnd stays min_RTT / 4 even
// with DupThresh segments SACKed, and the same pattern as above, with the
// late segment arriving 2 ms after the SACK, costs no retransmission.
TEST_F(Rack, ReorderingOnceSeenIsToleratedWithoutASpuriousRetransmission) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  send(*c, 1, at_ms(60));
  expect_segment(2);
  send(*c, 1, at_ms(61));
  expect_segment(3);
  recv(ack_with(S(2), {{S(3), S(4)}}), at_ms(81));
  EXPECT_EQ(c->rack_deadline, at_ms(85));  // 60 + 20 + 5
  recv(ack_with(S(4)), at_ms(83));         // S2 was only late
  EXPECT_TRUE(c->rack_reordering_seen);
  EXPECT_EQ(c->rack_deadline, Instant::max());

  send(*c, 1, at_ms(100));
  expect_segment(4);
  send(*c, 4, at_ms(101));
  take_all_sent();
  recv(ack_with(S(4), {{S(5), S(9)}}), at_ms(121));
  expect_nothing_sent();
  EXPECT_EQ(c->rack_deadline, at_ms(125));  // 100 + 20 + 5
  recv(ack_with(S(9)), at_ms(123));
  advance_to(at_ms(200));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kRetransSegs), 0u);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 0u);
}

// §6.2 step 4: a D-SACK widens reo_wnd by min_RTT / 4 per round
// (reo_wnd_mult 2: 10 ms) for the next 16 recoveries; after 16 recoveries
// without one it is back to min_RTT / 4.
TEST_F(Rack, DsackGrowsReoWndWhichDecaysAfterSixteenRecoveries) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  send(*c, 1, at_ms(55));
  expect_segment(2);
  recv(ack_with(S(2), {{S(1), S(2)}}), at_ms(60));  // D-SACK: S1 arrived twice
  EXPECT_EQ(count(Counter::kTCPDSACKRecv), 1u);
  EXPECT_EQ(c->rack_reo_wnd_mult, 2u);
  EXPECT_EQ(c->rack_reo_wnd_persist, 16u);
  // With reo_wnd 10 ms, S2 (55 ms) is lost at 55 + 20 + 10 = 85 ms, not
  // at the SACK of S3 (at 82 ms, 27 ms after S2 left: 5 ms would have been
  // gone already).
  send(*c, 1, at_ms(62));
  expect_segment(3);
  recv(ack_with(S(2), {{S(3), S(4)}}), at_ms(82));
  expect_nothing_sent();
  EXPECT_EQ(c->rack_deadline, at_ms(85));
  advance_to(at_ms(85));
  expect_segment(2);
  recv(ack_with(S(4)), at_ms(105));  // recovery 1 ends
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->rack_reo_wnd_persist, 15u);

  // Fifteen more, each a loss found at once (the next segment left 15 ms
  // later: 15 > reo_wnd).
  std::uint32_t next = 4;
  std::int64_t t = 120;
  for (int i = 2; i <= 16; ++i) {
    SCOPED_TRACE("recovery " + std::to_string(i));
    send(*c, 1, at_ms(t));
    send(*c, 1, at_ms(t + 15));
    take_all_sent();
    recv(ack_with(S(next), {{S(next + 1), S(next + 2)}}), at_ms(t + 35));
    expect_segment(next);
    EXPECT_TRUE(c->sack_recovery);
    recv(ack_with(S(next + 2)), at_ms(t + 55));
    EXPECT_FALSE(c->sack_recovery);
    EXPECT_EQ(c->rack_reo_wnd_mult, i < 16 ? 2u : 1u);
    next += 2;
    t += 70;
  }
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 16u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
}

// §6.2: a retransmission is a transmission like any other, and its loss is
// found by time. S3 and S5 are lost and both resent at 80 ms (PRR leaves no
// room for S8, queued at 85 ms). The ACK at 100 ms reports S3's resend, not
// S5's, and clocks S8 out; S8 is SACKed at 120 ms while S5's retransmission
// (80 ms) is not: RACK.rtt (20 ms) + reo_wnd (0 in recovery) has passed
// since it left, so it goes again at once. RFC 6675's NextSeg would not
// send it again (HighRxt covers it), and S5 was not SND.UNA when resent:
// only the RTO would have.
TEST_F(Rack, LostRetransmissionOfANonHeadHoleIsResentWithoutTimeout) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  send(*c, 6, at_ms(60));  // S2..S7, one batch
  ASSERT_EQ(take_all_sent().size(), 6u);
  recv(ack_with(S(3), {{S(4), S(5)}, {S(6), S(8)}}), at_ms(80));
  expect_segment(3);
  expect_segment(5);
  expect_nothing_sent();
  EXPECT_EQ(c->lost_segs, 2u);
  send(*c, 1, at_ms(85));
  expect_nothing_sent();
  recv(ack_with(S(5), {{S(6), S(8)}}), at_ms(100));  // S3 arrived, S5's resend did not
  expect_segment(8);
  expect_nothing_sent();
  recv(ack_with(S(5), {{S(6), S(9)}}), at_ms(120));
  expect_segment(5);
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 1u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
  recv(ack_with(S(9)), at_ms(140));
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->txlog, nullptr);
}

// §6.3 RACK_mark_losses_on_RTO: on a timeout the segment at SND.UNA and
// everything sent more than RACK.rtt + reo_wnd before is lost; what was
// sent since is still in flight and is not sent again (no go-back-N).
// S2..S4 leave at 60 ms; the tail loss probe resends S4 at 100 ms (PTO =
// 2 * SRTT) and restarts the RTO (300 ms); S5 leaves at 290 ms. At the
// timeout S2 goes at once (cwnd one segment); S5 stays in flight (pipe),
// and the next segment the ACK of S2 clocks out is S3, not S5.
TEST_F(Rack, TimeoutMarksTheHeadAndWhatWasSentRttPlusReoWndBefore) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  send(*c, 3, at_ms(60));
  ASSERT_EQ(take_all_sent().size(), 3u);
  advance_to(at_ms(100));
  expect_segment(4);  // the probe
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
  send(*c, 1, at_ms(290));
  expect_segment(5);
  advance_to(at_ms(300));
  expect_segment(2);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  EXPECT_EQ(c->snd_nxt, c->snd_max);  // not rewound
  EXPECT_EQ(c->lost_segs, 3u);        // S2, S3, S4; not S5
  recv(ack_with(S(3)), at_ms(320));
  expect_segment(3);
  const std::vector<Sent> rest = take_all_sent();
  for (const Sent& s : rest) EXPECT_NE(s.seq, S(5)) << s;
}

// RFC 6298 §5.4 when the log has no record of SND.UNA (a full log forgets
// its oldest record when nothing can absorb it: TxLog::free_one): the
// timeout still resends the segment at SND.UNA first, not the lowest
// record RACK marked lost above it (S4), and the rest of what the log
// forgot (S3) goes next as the window opens, without a second timeout.
TEST_F(Rack, TimeoutResendsWhatTheLogForgotFromSndUna) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 4; ++i) send(*c, 1, at_ms(60 + i));
  ASSERT_EQ(take_all_sent().size(), 4u);
  ASSERT_NE(c->txlog, nullptr);
  c->txlog->release(S(4));  // S2's and S3's records gone, as forgotten ones
  ASSERT_EQ(c->snd_una, S(2));
  advance_to(at_ms(110));
  expect_segment(5);  // the probe, 2 * SRTT after S5
  advance_to(at_ms(400));
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  expect_segment(2);
  expect_nothing_sent();
  recv(ack_with(S(3)), at_ms(420));
  expect_segment(3);
  expect_segment(4);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
}

// §6.2 RACK_sent_after breaks a tie in send time by sequence, which holds
// within one batch but not across ACKs handled at one instant: here one ACK
// at 80 ms clocks out new data (S10, S11) and the next, same instant,
// finds S3 lost and resends it, after S10 and S11 but below them. When
// S10 and S11 are SACKed and S3's resend (queued behind them) is not yet,
// RACK must not call the resend lost: it left after RACK's segment. The
// log's transmission order settles the tie.
TEST_F(Rack, ResendAfterNewDataAtTheSameInstantIsNotLostWhenTheNewDataIsSacked) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  const std::uint32_t w = c->cc.cwnd() / kMss;  // S2..S(w+1) fill cwnd
  ASSERT_GE(w, 8u);
  send(*c, w, at_ms(60));
  ASSERT_EQ(take_all_sent().size(), w);
  send(*c, 2, at_ms(61));  // two more queued
  ASSERT_EQ(take_all_sent().size(), 0u);
  const std::uint32_t n1 = w + 2;   // the first new segment
  recv(ack_with(S(3)), at_ms(80));  // S2 delivered: new data goes out
  {
    const std::vector<Sent> out = take_all_sent();
    ASSERT_GE(out.size(), 1u);
    EXPECT_EQ(out.front().seq, S(n1));
  }
  recv(ack_with(S(3), {{S(4), S(8)}}), at_ms(80));  // DupThresh SACKed: S3 lost at once
  expect_segment(3);
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
  take_all_sent();
  // Everything but S3 delivered, the new data included; S3's resend not yet.
  recv(ack_with(S(3), {{S(4), S(n1 + 2)}}), at_ms(100));
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 0u);
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
  for (const Sent& s : take_all_sent()) EXPECT_NE(s.seq, S(3)) << s;
  recv(ack_with(S(n1 + 2)), at_ms(101));
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
}

// §6.2 step 2 with timestamps: an ACK whose TSecr is older than the TSval
// of a retransmission it delivers answers an earlier transmission, and
// does not update RACK. S2..S5 leave at 60 ms, S6 at 70 ms; S3..S5 are
// SACKed at 80 ms, so S2 is lost (DupThresh SACKed: reo_wnd 0) and resent
// at 80 ms. The original S2 was only late: the ACK of S2..S5 at 105 ms
// echoes its TSval (60 ms), and arrives 25 ms after the resend left, more
// than min_RTT (20 ms), so the min_RTT rule alone took it for the resend's:
// RACK.rtt 25 ms and RACK's segment the resend (80 ms), after which S6,
// sent at 70 ms and still in flight, looked lost and went again.
TEST_F(Rack, AckEchoingAnOlderTsvalThanTheRetransmissionDoesNotMoveRack) {
  Tcb* c = open_rack(true);
  ASSERT_NE(c, nullptr);
  const std::vector<Sent> s2 = queue(*c, 4, at_ms(60));  // S2..S5
  ASSERT_EQ(s2.size(), 4u);
  const std::uint32_t t60 = s2[0].opts.timestamps->first;
  send(*c, 1, at_ms(70));
  expect_segment(6);
  recv(ack_with(S(2), {{S(3), S(6)}}, t1_), at_ms(80));
  const Sent rxt = expect_segment(2);
  expect_nothing_sent();
  ASSERT_TRUE(rxt.opts.timestamps);
  EXPECT_GT(rxt.opts.timestamps->first, t60);
  EXPECT_EQ(c->rack_rtt_us, 20'000u);
  recv(ack_with(S(6), {}, t60), at_ms(105));  // the original's ACK
  EXPECT_EQ(c->rack_rtt_us, 20'000u);         // not 25 ms: nothing learnt
  expect_nothing_sent();                      // S6 is not called lost
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
}

// The same delivery with an echo of the resend's TSval: the resend filled
// the hole, and RACK takes its time (RACK.rtt 25 ms), as before.
TEST_F(Rack, AckEchoingTheRetransmissionsTsvalMovesRack) {
  Tcb* c = open_rack(true);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 4, at_ms(60)).size(), 4u);
  send(*c, 1, at_ms(70));
  expect_segment(6);
  recv(ack_with(S(2), {{S(3), S(6)}}, t1_), at_ms(80));
  const Sent rxt = expect_segment(2);
  recv(ack_with(S(6), {}, rxt.opts.timestamps->first), at_ms(105));
  EXPECT_EQ(c->rack_rtt_us, 25'000u);
}

// RACK.min_RTT is a windowed minimum (min_rtt_filter.h, 300 s): the path's
// RTT rises from 20 ms to 38 ms at 1 s (a route change) and stays there,
// one segment timed every 10 s. By 400 s the 20 ms minimum has expired,
// and reo_wnd (§6.2 step 4, min_RTT / 4) is 9.5 ms: S(a), sent 2 ms before
// S(b), is lost at 38 + 9.5 ms after it left once S(b) is SACKed, not at
// 38 + 5 ms as with the connection's minimum. (Below DupThresh SACKed, no
// recovery: reo_wnd is not 0.)
TEST_F(Rack, AnOldMinRttExpiresAndReoWndFollowsTheRisenPath) {
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  std::uint32_t next = 2;
  for (std::int64_t t = 1'000; t <= 391'000; t += 10'000, ++next) {
    send(*c, 1, at_ms(t));
    expect_segment(next);
    recv(ack_with(S(next + 1)), at_ms(t + 38));
  }
  EXPECT_EQ(c->rack_min_rtt.us(), 38'000u);
  const std::uint32_t a = next;
  send(*c, 1, at_ms(400'000));
  expect_segment(a);
  send(*c, 1, at_ms(400'002));
  expect_segment(a + 1);
  recv(ack_with(S(a), {{S(a + 1), S(a + 2)}}), at_ms(400'040));
  EXPECT_EQ(c->rack_deadline, at_ms(400'047) + Duration::us(500));
  advance_to(at_ms(400'046));
  expect_nothing_sent();
  advance_to(at_ms(400'048));
  expect_segment(a);
}

// The filter alone: a minimum lasts while samples refresh it, and is gone
// within the window once larger samples have turned the halves twice.
TEST(MinRttFilter, KeepsTheLeastSampleOfTheWindowAndForgetsOlderOnes) {
  MinRttFilter f;
  EXPECT_EQ(f.us(), 0u);
  const Instant t0 = Instant::from_ns(1'000'000'000);
  f.update(20'000, t0);
  f.update(30'000, t0 + Duration::s(1));
  EXPECT_EQ(f.us(), 20'000u);
  f.update(30'000, t0 + Duration::s(160));  // a new half: 20 ms is the previous one's
  EXPECT_EQ(f.us(), 20'000u);
  f.update(35'000, t0 + Duration::s(200));
  EXPECT_EQ(f.us(), 20'000u);
  f.update(35'000, t0 + Duration::s(320));  // 20 ms (at t0) is gone
  EXPECT_EQ(f.us(), 30'000u);
  f.update(40'000, t0 + Duration::s(1'000));  // after a silence longer than the window: nothing old
  EXPECT_EQ(f.us(), 40'000u);
  f.update(0, t0 + Duration::s(1'001));  // a zero sample counts as 1 us
  EXPECT_EQ(f.us(), 1u);
}

// RFC 9438 §4.6 in the engine: CUBIC's SACK recovery reduces from cwnd
// ("ssthresh = cwnd * beta_cubic", as Linux), not from the FlightSize that
// the ACK finding the loss left. Here that ACK delivers S2..S7 and SACKs
// S9..S11: S8 is lost, and only S8..S11 (4 segments) is still "in flight"
// although the window in use was 10 and more. 0.7 * FlightSize was 4088
// octets (2.8 segments); 0.7 * cwnd keeps 7 segments and more.
TEST_F(Rack, CubicSackRecoveryReducesFromCwndNotTheFlightTheAckLeft) {
  cfg().congestion = CongestionAlgorithm::kCubic;
  Tcb* c = open_rack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cc.name(), "cubic");
  ASSERT_GE(queue(*c, 10, at_ms(60)).size(), 10u);  // S2..S11
  const std::uint32_t cwnd = c->cc.cwnd();
  ASSERT_GE(cwnd, 10 * kMss);
  recv(ack_with(S(8), {{S(9), S(12)}}), at_ms(80));
  expect_segment(8);
  EXPECT_TRUE(c->sack_recovery);
  // The ACK's slow-start growth (at most 2 segments, RFC 3465) comes first.
  EXPECT_GE(c->cc.ssthresh(), cwnd * 7 / 10);
  EXPECT_LE(c->cc.ssthresh(), (cwnd + 2 * kMss) * 7 / 10);
}

}  // namespace
}  // namespace tern::tcptest
