// SACK-based loss recovery of the sender (lib/tcp/tcp_sack.cc), scripted
// segment by segment on virtual time: entry into recovery (RFC 6675 §5 steps
// (1)-(4), §2's duplicate acknowledgment), Proportional Rate Reduction (RFC 6937 §3),
// NextSeg's rules (RFC 6675 §4), lost-retransmission detection, tail loss
// probes (RFC 8985 §7), hostile SACK blocks (RFC 2018 §3, RFC 2883 §4) and
// what a retransmission timeout leaves behind (RFC 6675 §5.1).
//
// Every connection here is opened actively with MSS 1460, SACK-permitted and
// no timestamps, so SMSS = 1460 and the peer's window is 65535 (unscaled).
// The handshake happens at t = 0 ms in zero virtual time, so the first RTT
// sample is 0: SRTT = 0, RTO = rto_min = 200 ms, and the probe timeout is its
// 10 ms floor (max(2 * SRTT, 10 ms)). DupThresh is 3, so IsLost(SND.UNA)
// needs 3 SACKed ranges or more than (3 - 1) * 1460 = 2920 SACKed octets
// above SND.UNA. The initial window is 10 * 1460 = 14600 (RFC 6928).
//
// S(i) is the first sequence number of the i-th full segment of the stream
// (S(1) = ISS + 1). Edges are one past the last octet, as SND.UNA and
// SND.MAX are (sack_scoreboard.h): RecoveryPoint = S11 is RFC 6675's octet
// S11 - 1, and its rescue test "HighACK > RescueRxt" reads SND.UNA >
// RescueRxt. The expected numbers are worked out by hand in the comments;
// "pipe" is RFC 6675 SetPipe() after the ACK, "room" cwnd - pipe.
#include "sack_script.h"

namespace tern::tcptest {
namespace {

constexpr std::uint32_t kMss = 1460;

// These scripts pin RFC 6675's rules (DupThresh, IsLost, NextSeg, HighRxt,
// the rescue, go-back-N after a timeout), which since RACK (RFC 8985, issue
// 12) run only for a flight that found no transmit log in the pool: every
// connection here runs with none. RACK's behaviour is in tcp_rack_test.cc.
class Sack : public SackScript {
 protected:
  // SRTT is 0 on these connections, so the probe timeout is its floor:
  // raised from 2 ms (the default) to 10 ms, the scripts have room for
  // RFC 6675's rules before a probe (Sack.ProbeTimeoutFloorIsTwoMsByDefault
  // checks the default). Probes send RFC 8985 §7.3's one new segment
  // (Sack.ProbeSendsTwoNewSegmentsByDefault checks Tern's default, two).
  Sack() {
    options_.tx_logs = 0;
    cfg().tlp_min = Duration::ms(10);
    cfg().tlp_new_segments = 1;
  }
  // A SACK connection with Nagle off (each send_copy goes out at once).
  Tcb* open_sack() {
    Tcb* c = establish_active(seg().mss(1460).sack_perm());
    if (c == nullptr) return nullptr;
    EXPECT_TRUE(c->sack_ok);
    EXPECT_FALSE(c->ts_ok);
    EXPECT_EQ(c->mss, kMss);
    stack().set_nodelay(*c, true, at_ms(5));
    return c;
  }
};

// ---- entering recovery (RFC 6675 §5 steps (1)-(4)) ---------------------------

// RFC 6675 §5 step (2): "If DupAcks < DupThresh but IsLost (HighACK + 1) returns
// true ... go to step (4)". One ACK whose SACK block covers S2..S4 (4380
// octets > 2920 above SND.UNA) is enough: DupAcks is only 1.
TEST_F(Sack, IsLostEntersRecoveryOnTheFirstDuplicate) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);  // S1..S10, the initial window

  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(11));
  // (4.1) RecoveryPoint = S11. (4.2) ssthresh = FlightSize / 2 = 14600 / 2
  // = 7300. PRR (RFC 6937 §3): RecoverFS = 14600, prr_delivered = 4380;
  // pipe = S5..S10 (6 segments, nothing SACKed above them, not lost) = 8760
  // (S1 is lost). pipe > ssthresh: sndcnt = CEIL(4380 * 7300 / 14600) - 0 =
  // 2190, cwnd = 8760 + 2190 = 10950. (4.3) S1 goes at once; then pipe =
  // 8760 + 1460 (S1 retransmitted) = 10220, room 730 < one segment: nothing more.
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 1u);
  EXPECT_TRUE(c->sack_recovery);
  EXPECT_EQ(c->sack_dupacks, 1u);
  EXPECT_EQ(c->cc.ssthresh(), 7300u);
  EXPECT_EQ(c->cc.cwnd(), 10950u);
  EXPECT_EQ(c->recovery_point, S(11));
}

// The boundary of IsLost: exactly (DupThresh - 1) * SMSS = 2920 SACKed
// octets is not "more than", so the first ACK (S2, S3 SACKed) does not enter;
// the second (S4 too: 4380 octets) does, with DupAcks = 2 < DupThresh.
TEST_F(Sack, IsLostNeedsMoreThanDupThreshMinusOneSegmentsSacked) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);

  recv(ack_with(S(1), {{S(2), S(4)}}), at_ms(11));
  expect_nothing_sent();  // limited transmit has no new data to send
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->sack_dupacks, 1u);

  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(12));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_TRUE(c->sack_recovery);
  EXPECT_EQ(c->sack_dupacks, 2u);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
}

// RFC 6675 §2: an ACK that SACKs new data is a duplicate acknowledgment "even
// if it ... changes the advertised window" (a Linux receiver shrinks its
// window as its out-of-order queue fills). The segments here are 500 bytes,
// so three duplicates SACK only 1500 octets and IsLost stays false: it is
// DupAcks reaching 3 (§5 step (1)) that enters recovery, and each of the three
// changes the window.
TEST_F(Sack, DuplicatesThatChangeTheWindowCountWhenTheySackNewData) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  auto P = [&](std::uint32_t i) { return iss() + 1 + (i - 1) * 500; };  // 500-byte segment i
  for (std::uint32_t i = 0; i < 6; ++i) {
    ASSERT_EQ(stack().send_copy(*c, pattern(500, i + 1), at_ms(10)), 500u);
    expect_sent(seg().seq(P(i + 1)).data(500));
  }
  // P1 is lost; P2, P3, P4 arrive and each draws an ACK with a smaller window.
  recv(ack_with(P(1), {{P(2), P(3)}}).win(60000), at_ms(11));
  recv(ack_with(P(1), {{P(2), P(4)}}).win(50000), at_ms(12));
  expect_nothing_sent();
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->sack_dupacks, 2u);
  EXPECT_EQ(c->snd_wnd, 50000u);

  recv(ack_with(P(1), {{P(2), P(5)}}).win(40000), at_ms(13));
  // DupAcks = 3. The retransmission stops at the SACKed range: 500 bytes.
  // ssthresh = max(3000 / 2, 2 * 1460) = 2920; IsLost(P1) is false (one
  // range, 1500 octets), so pipe = P1 + P5..P6 = 1500 (RFC 6675 SetPipe
  // (a)); PRR-SSRB: sndcnt = min(2920 - 1500, max(500, 500) + 1460) = 1420,
  // cwnd = 2920. After P1, SetPipe (b) counts it again: pipe = 2000, room
  // 920, and there is nothing new to send nor a hole above HighRxt.
  expect_sent(seg().seq(P(1)).payload(pattern(500, 1)));
  expect_nothing_sent();
  EXPECT_TRUE(c->sack_recovery);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
  EXPECT_EQ(c->cc.ssthresh(), 2920u);
  EXPECT_EQ(c->cc.cwnd(), 2920u);
}

// Without SACK blocks only RFC 5681 §2's duplicates count: an ACK whose
// window changed is a window update, not a duplicate. Three of them start
// nothing; after them two strict duplicates (same window) still start
// nothing, and the third strict duplicate enters recovery: the count began
// at the first ACK with an unchanged window.
TEST_F(Sack, WithoutSackBlocksAWindowChangeIsNotADuplicate) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 4, at_ms(10)).size(), 4u);

  recv(ack_with(S(1)).win(60000), at_ms(11));
  recv(ack_with(S(1)).win(50000), at_ms(12));
  recv(ack_with(S(1)).win(40000), at_ms(13));
  expect_nothing_sent();
  EXPECT_EQ(c->sack_dupacks, 0u);
  EXPECT_FALSE(c->sack_recovery);

  recv(ack_with(S(1)).win(40000), at_ms(14));
  recv(ack_with(S(1)).win(40000), at_ms(15));
  expect_nothing_sent();
  EXPECT_EQ(c->sack_dupacks, 2u);

  recv(ack_with(S(1)).win(40000), at_ms(16));
  // No SACK information: pipe = all 4 segments = 5840 > ssthresh = 2920, and
  // nothing was delivered, so sndcnt = 0 and cwnd = 5840; S1 goes anyway
  // (4.3), after which pipe = 7300 > cwnd.
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
  EXPECT_EQ(c->cc.ssthresh(), 2920u);
}

// RFC 6675 §5 (4.2): "[RFC5681] requires that any segments sent as part of
// the Limited Transmit mechanism not be counted in FlightSize" for
// ssthresh = FlightSize / 2.
TEST_F(Sack, LimitedTransmitSegmentsStayOutOfTheFlightSizeThatSetsSsthresh) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 12, at_ms(10)).size(), 10u);  // S11, S12 wait for cwnd

  // S1 is lost. RFC 6675 §5 step (3) / RFC 3042: the first two duplicates each
  // send one new segment (the peer's window has room).
  recv(ack_with(S(1), {{S(2), S(3)}}), at_ms(11));
  expect_segment(11);
  expect_nothing_sent();
  recv(ack_with(S(1), {{S(2), S(4)}}), at_ms(12));
  expect_segment(12);
  expect_nothing_sent();

  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(13));
  // FlightSize = S13 - S1 = 17520, of which 2920 by limited transmit:
  // ssthresh = (17520 - 2920) / 2 = 7300 (8760 if they were counted).
  // PRR: RecoverFS = SND.NXT - SND.UNA = 17520, prr_delivered = 1460; pipe =
  // S5..S12 = 11680 > 7300: sndcnt = CEIL(1460 * 7300 / 17520) = 609, cwnd =
  // 12289. After S1 pipe = 13140 > cwnd: nothing more.
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(c->cc.ssthresh(), 7300u);
  EXPECT_EQ(c->cc.cwnd(), 12289u);
}

// ---- Proportional Rate Reduction (RFC 6937 §3) -------------------------------

// The proportional part, while pipe > ssthresh, sends
// CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out: with ssthresh half of
// RecoverFS, one segment for every two delivered. Once pipe <= ssthresh,
// PRR-SSRB sends min(ssthresh - pipe, max(prr_delivered - prr_out,
// DeliveredData) + MSS): here as much as was delivered. The ACK covering
// RecoveryPoint ends recovery with cwnd = ssthresh.
TEST_F(Sack, PrrSendsHalfOfWhatIsDeliveredThenAsMuchAsIsDelivered) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 40, at_ms(10)).size(), 10u);  // S1..S10
  // Slow start to 20 segments: each ACK of one segment adds one to cwnd
  // (RFC 3465, L = 2) and frees one, so two new segments go per ACK.
  for (std::uint32_t i = 2; i <= 11; ++i) {
    recv(ack_with(S(i)), at_ms(11));
    expect_segment(10 + 2 * (i - 2) + 1);
    expect_segment(10 + 2 * (i - 2) + 2);
  }
  expect_nothing_sent();
  ASSERT_EQ(c->cc.cwnd(), 20u * kMss);
  // In flight: T1..T20 = S11..S30. Queued beyond them: S31..S40.
  auto T = [&](std::uint32_t i) { return S(10 + i); };

  // E1: T1 is lost, T2..T4 SACKed: IsLost, recovery. ssthresh = 29200 / 2 =
  // 14600, RecoverFS = 29200, prr_delivered = 4380. pipe = T5..T20 = 23360 >
  // ssthresh: sndcnt = CEIL(4380 * 14600 / 29200) = 2190, cwnd = 25550. T1
  // goes (prr_out = 1460); pipe = 24820, room 730: nothing more.
  recv(ack_with(T(1), {{T(2), T(5)}}), at_ms(12));
  expect_sent(seg().seq(T(1)).data(kMss));
  expect_nothing_sent();
  EXPECT_EQ(c->cc.ssthresh(), 14600u);
  EXPECT_EQ(c->cc.cwnd(), 25550u);

  // E2..E6: each ACK SACKs two more segments (2920 delivered). Before each,
  // pipe = (unSACKed above the SACKed range) + 1460 (T1 retransmitted):
  //   E2: prr_delivered  7300, pipe 14 + 1 = 21900, CEIL(7300 * 1/2) = 3650 - prr_out 1460 = 2190
  //   E3: prr_delivered 10220, pipe 13 + 1 = 20440, 5110 - 2920 = 2190
  //   E4: prr_delivered 13140, pipe 12 + 1 = 18980, 6570 - 4380 = 2190
  //   E5: prr_delivered 16060, pipe 11 + 1 = 17520, 8030 - 5840 = 2190
  //   E6: prr_delivered 18980, pipe 10 + 1 = 16060, 9490 - 7300 = 2190
  // (the segment counts include the new one each previous ACK sent): sndcnt
  // 2190 is one new segment (NextSeg rule 2: no hole is lost but T1), and
  // 730 bytes of credit carried into the next ACK's CEIL.
  for (std::uint32_t k = 0; k < 5; ++k) {
    recv(ack_with(T(1), {{T(2), T(7 + 2 * k)}}), at_ms(13 + k));
    expect_sent(seg().seq(T(21 + k)).data(kMss));
    expect_nothing_sent();
    EXPECT_EQ(c->cc.cwnd(), 24090u - k * 1460) << "E" << k + 2;
  }

  // E7: prr_delivered 21900, pipe = T17..T25 + T1 = 10 segments = 14600, no
  // longer above ssthresh: PRR-SSRB, sndcnt = min(14600 - 14600, ...) = 0.
  recv(ack_with(T(1), {{T(2), T(17)}}), at_ms(18));
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 14600u);

  // E8: prr_delivered 24820, pipe = T19..T25 + T1 = 8 segments = 11680:
  // sndcnt = min(14600 - 11680, max(24820 - 8760, 2920) + 1460) = 2920: two
  // segments for the two delivered.
  recv(ack_with(T(1), {{T(2), T(19)}}), at_ms(19));
  expect_sent(seg().seq(T(26)).data(kMss));
  expect_sent(seg().seq(T(27)).data(kMss));
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 14600u);

  // E9: the same: prr_delivered 27740, pipe = T21..T27 + T1 = 11680, sndcnt
  // = min(2920, max(27740 - 11680, 2920) + 1460) = 2920. The SACKed range
  // reaches T21 = the SND.MAX at T1's retransmission, not beyond: no sign
  // yet that the retransmission was lost.
  recv(ack_with(T(1), {{T(2), T(21)}}), at_ms(20));
  expect_sent(seg().seq(T(28)).data(kMss));
  expect_sent(seg().seq(T(29)).data(kMss));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 0u);

  // RFC 6675 §5 (A) / RFC 6937: the cumulative ACK at RecoveryPoint (T21)
  // ends recovery with cwnd = ssthresh = 14600. In flight: T21..T29 = 13140,
  // so one more segment fits.
  recv(ack_with(T(21)), at_ms(21));
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.cwnd(), 14600u);
  EXPECT_EQ(c->cc.ssthresh(), 14600u);
  expect_sent(seg().seq(T(30)).data(kMss));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
}

// PRR-SSRB's slow-start bound: after a burst of losses pipe falls far below
// ssthresh, and each ACK sends at most DeliveredData + 1 MSS (more if PRR is
// owed), not all of ssthresh - pipe at once.
TEST_F(Sack, PrrSsrbSendsAtMostDeliveredPlusOneSegmentAfterABurstLoss) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);

  // S1..S7 lost, S8..S10 SACKed. IsLost(S1): recovery. ssthresh = 7300,
  // prr_delivered = 4380, pipe = 0 (S1..S7 all lost). SSRB: sndcnt =
  // min(7300 - 0, max(4380 - 0, 4380) + 1460) = 5840, cwnd = 5840: S1 (4.3)
  // and then S2, S3, S4 (NextSeg rule 1: lost holes): four segments for the
  // three delivered, where ssthresh - pipe would have allowed five.
  recv(ack_with(S(1), {{S(8), S(11)}}), at_ms(11));
  for (std::uint32_t i = 1; i <= 4; ++i) expect_segment(i);
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 5840u);

  // S1 arrives: ACK S2. delivered 1460, prr_delivered 5840 = prr_out. pipe =
  // S2..S4 (retransmitted, HighRxt = S5) = 4380. sndcnt = min(7300 - 4380,
  // max(0, 1460) + 1460) = 2920: S5, S6.
  recv(ack_with(S(2), {{S(8), S(11)}}), at_ms(12));
  expect_segment(5);
  expect_segment(6);
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 7300u);

  // ACK S3. prr_delivered 7300, prr_out 8760. pipe = S3..S6 = 5840. sndcnt =
  // min(7300 - 5840, max(-1460, 1460) + 1460) = 1460: S7, now bounded by
  // ssthresh - pipe.
  recv(ack_with(S(3), {{S(8), S(11)}}), at_ms(13));
  expect_segment(7);
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 7300u);

  // Everything arrived: RecoveryPoint S11 is acknowledged, cwnd = ssthresh.
  recv(ack_with(S(11)), at_ms(14));
  expect_nothing_sent();
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.cwnd(), 7300u);
  EXPECT_EQ(count(Counter::kTCPSACKRescue), 0u);
}

// ---- NextSeg (RFC 6675 §4) ---------------------------------------------------

// Rule (1) before rule (2): lost holes are retransmitted before new data,
// even with new data queued and room in the peer's window.
TEST_F(Sack, NextSegSendsLostHolesBeforeNewData) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 12, at_ms(10)).size(), 10u);  // S11, S12 queued

  // S1 and S3 lost: SACK S2 and S4..S7. IsLost(S1): recovery. ssthresh =
  // 7300, prr_delivered = 7300. pipe = S8..S10 = 4380 (S1 and S3 are lost:
  // 2 ranges and 7300, 5840 octets above them). SSRB: sndcnt = min(7300 -
  // 4380, 7300 + 1460) = 2920, cwnd = 7300. S1 goes (4.3); pipe 5840, room
  // 1460: NextSeg's rule (1) gives S3 (lost, above HighRxt = S2) although
  // rule (2) has S11 to offer. pipe = 7300 = cwnd.
  recv(ack_with(S(1), {{S(4), S(8)}, {S(2), S(3)}}), at_ms(11));
  expect_segment(1);
  expect_segment(3);
  expect_nothing_sent();
  EXPECT_EQ(c->cc.cwnd(), 7300u);

  // S8 arrives. prr_delivered 8760, prr_out 2920, pipe = S9..S10 + S1 + S3
  // (retransmitted) = 5840: sndcnt = min(1460, 5840 + 1460) = 1460. No lost
  // hole is left above HighRxt (S4): rule (2), the new segment S11.
  recv(ack_with(S(1), {{S(4), S(9)}, {S(2), S(3)}}), at_ms(12));
  expect_segment(11);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSACKRescue), 0u);
}

// Rule (4), the rescue retransmission: with nothing lost by IsLost, nothing
// new and no SACKed range above the tail, one segment holding the highest
// unSACKed octet goes once HighACK has passed RescueRxt, and RescueRxt =
// RecoveryPoint then keeps it to one per recovery.
TEST_F(Sack, RescueRetransmitsTheTailOncePerRecovery) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);

  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(11));  // as IsLostEntersRecoveryOnTheFirstDuplicate
  expect_segment(1);
  expect_nothing_sent();

  // S5..S7 arrive. prr_delivered 8760, pipe = S8..S10 + S1 = 5840: SSRB
  // sndcnt = min(1460, max(7300, 4380) + 1460) = 1460. But S8..S10 have no
  // SACKed data above them (rules 1, 3 fail), nothing is new (rule 2), and
  // SND.UNA = S1 is not above RescueRxt = S2 (set by (4.3)): no rescue yet.
  recv(ack_with(S(1), {{S(2), S(8)}}), at_ms(12));
  expect_nothing_sent();

  // S1's retransmission arrives: ACK S8 (delivered 10220, prr_delivered
  // 18980). pipe = S8..S10 = 4380, sndcnt = min(2920, ...) = 2920. Rule (4):
  // SND.UNA = S8 > RescueRxt = S2: one segment ending at the highest
  // unSACKed octet, S10. RescueRxt = RecoveryPoint = S11.
  recv(ack_with(S(8)), at_ms(13));
  expect_segment(10);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSACKRescue), 1u);

  // S8 arrives: ACK S9, still below RecoveryPoint. pipe = S9..S10 = 2920,
  // room 4380, but SND.UNA = S9 is not above RescueRxt = S11: no second rescue.
  recv(ack_with(S(9)), at_ms(14));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSACKRescue), 1u);
  EXPECT_TRUE(c->sack_recovery);

  recv(ack_with(S(11)), at_ms(15));
  expect_nothing_sent();
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.cwnd(), 7300u);
}

// ---- lost retransmissions ----------------------------------------------------

// Data sent after the retransmission of the segment at SND.UNA is SACKed
// while SND.UNA stays: that retransmission was lost too. It is sent again
// at once (not left to the RTO), once per retransmission.
TEST_F(Sack, LostRetransmissionOfTheHeadIsSentAgain) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 12, at_ms(10)).size(), 10u);  // S11, S12 queued

  // Recovery as in IsLostEntersRecoveryOnTheFirstDuplicate: S1 resent when
  // SND.MAX was S11; room 730, not enough for S11.
  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(11));
  expect_segment(1);
  expect_nothing_sent();

  // S5, S6: prr_delivered 7300, pipe = S7..S10 + S1 = 7300, not above
  // ssthresh: sndcnt = min(7300 - 7300, ...) = 0.
  recv(ack_with(S(1), {{S(2), S(7)}}), at_ms(12));
  expect_nothing_sent();
  // S7, S8: prr_delivered 10220, pipe = S9, S10 + S1 = 4380: sndcnt =
  // min(2920, max(8760, 2920) + 1460) = 2920: the new S11, S12 (rule 2).
  // Highest SACKed: S9 <= S11, nothing known about S1's retransmission.
  recv(ack_with(S(1), {{S(2), S(9)}}), at_ms(13));
  expect_segment(11);
  expect_segment(12);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 0u);

  // S9, S10 and S11 arrive, S1 does not: S11 left after S1's retransmission.
  // S1 goes again (outside PRR's budget). pipe = S12 + S1 = 2920; PRR:
  // sndcnt = min(7300 - 2920, ...) = 4380, but there is nothing to send:
  // no new data, and no rescue while SND.UNA = S1 is not above RescueRxt = S2.
  recv(ack_with(S(1), {{S(2), S(12)}}), at_ms(14));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 1u);
  EXPECT_TRUE(c->sack_recovery);

  // S12 arrives: SACKed up to S13 = SND.MAX at the second retransmission,
  // nothing sent after it: no third one.
  recv(ack_with(S(1), {{S(2), S(13)}}), at_ms(15));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 1u);

  recv(ack_with(S(13)), at_ms(16));
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.cwnd(), 7300u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
}

// ---- tail loss probes (RFC 8985 §7) ------------------------------------------

// RFC 8985 §7.2 / §7.3: with nothing new to send the last segment goes again
// at PTO = max(2 * SRTT, 10 ms) = 10 ms (SRTT = 0); one probe only, and the
// RTO restarts from it (§7.3: 20 + 200 = 220 ms, not 10 + 200 = 210 ms).
TEST_F(Sack, ProbeResendsTheLastSegmentAfterTheMinimumPto) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rto.srtt(), Duration{});
  ASSERT_EQ(queue(*c, 4, at_ms(10)).size(), 4u);

  advance_to(at_ms(19));
  expect_nothing_sent();
  advance_to(at_ms(20));
  expect_segment(4);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);

  advance_to(at_ms(219));  // no second probe at 30 ms, no RTO at 210 ms
  expect_nothing_sent();
  advance_to(at_ms(220));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
}

// [tcp] tlp_min_ms's default: with SRTT 0 the probe goes 2 ms after the
// data (RFC 8985 §7.2's 2 * SRTT has no floor of its own; Linux adds two
// jiffies).
TEST_F(Sack, ProbeTimeoutFloorIsTwoMsByDefault) {
  cfg().tlp_min = TcpConfig{}.tlp_min;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rto.srtt(), Duration{});
  ASSERT_EQ(queue(*c, 4, at_ms(10)).size(), 4u);
  advance_to(at_ms(11));
  expect_nothing_sent();
  advance_to(at_ms(12));
  expect_segment(4);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
}

// An ACK that reports progress ends the probe episode (RFC 8985 §7.2): the
// PTO is armed again, 10 ms after it.
TEST_F(Sack, ProgressAllowsTheNextProbe) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 4, at_ms(10)).size(), 4u);
  advance_to(at_ms(20));
  expect_segment(4);
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);

  // S1 arrives (its ACK was slow): S2..S4 still out (3 segments, no extra
  // delayed-ACK allowance), PTO at 25 + 10 = 35 ms. The RTO, restarted
  // too, would come at 225 ms.
  recv(ack_with(S(2)), at_ms(25));
  expect_nothing_sent();
  advance_to(at_ms(34));
  expect_nothing_sent();
  advance_to(at_ms(35));
  expect_segment(4);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 2u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
}

// RFC 8985 §7.3: when previously unsent data exists and the peer's window
// admits it, the probe is one new segment, cwnd notwithstanding.
TEST_F(Sack, ProbeSendsNewDataWhenTheWindowAllows) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 12, at_ms(10)).size(), 10u);  // cwnd full; S11, S12 queued
  advance_to(at_ms(19));
  expect_nothing_sent();
  advance_to(at_ms(20));
  expect_segment(11);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
  EXPECT_EQ(count(Counter::kRetransSegs), 0u);
  EXPECT_EQ(c->snd_max, S(12));
}

// [tcp] tlp_new_segments' default, a departure from RFC 8985 §7.3: with two
// full segments waiting the probe sends both, so that the receiver, which
// may hold everything sent before, acknowledges at once (RFC 5681 §4.2)
// instead of holding one lone segment for its delayed-ACK timer. Only full
// segments: with one and a half waiting, one goes.
TEST_F(Sack, ProbeSendsTwoNewSegmentsByDefault) {
  cfg().tlp_new_segments = TcpConfig{}.tlp_new_segments;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 12, at_ms(10)).size(), 10u);  // cwnd full; S11, S12 queued
  advance_to(at_ms(20));
  expect_segment(11);
  expect_segment(12);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
  EXPECT_EQ(count(Counter::kRetransSegs), 0u);
  EXPECT_EQ(c->snd_max, S(13));
  EXPECT_TRUE(c->tlp_outstanding);
}

TEST_F(Sack, ProbeSendsOnlyFullSegmentsAsTheSecond) {
  cfg().tlp_new_segments = TcpConfig{}.tlp_new_segments;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);  // cwnd full
  ASSERT_EQ(stack().send_copy(*c, pattern(kMss + kMss / 2), at_ms(10)), kMss + kMss / 2);
  expect_nothing_sent();
  advance_to(at_ms(20));
  expect_segment(11);
  expect_nothing_sent();
  EXPECT_EQ(c->snd_max, S(12));
}

// RFC 8985 §7.2: with a single segment in flight the PTO adds WCDelAckT
// (200 ms), as the peer may be holding back its ACK of a lone segment. With
// rto_min 500 ms the RTO (at 510 ms) comes after the PTO, at 10 + 10 + 200
// = 220 ms.
TEST_F(Sack, ProbeAfterALoneSegmentWaitsForTheDelayedAck) {
  cfg().rto_min = Duration::ms(500);
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  expect_sent(seg().seq(S(1)).data(100));
  advance_to(at_ms(219));
  expect_nothing_sent();
  advance_to(at_ms(220));
  expect_sent(seg().seq(S(1)).payload(pattern(100)));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 0u);
}

// The probe is armed only when it comes before the RTO: a lone segment's
// PTO (210 ms) is later than the default RTO (200 ms), so the RTO fires.
TEST_F(Sack, NoProbeWhenThePtoWouldComeAfterTheRto) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  expect_sent(seg().seq(S(1)).data(100));
  advance_to(at_ms(209));
  expect_nothing_sent();
  advance_to(at_ms(210));
  expect_sent(seg().seq(S(1)).data(100));
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  EXPECT_EQ(count(Counter::kTCPLossProbes), 0u);
}

// Tern probes only where SACK was negotiated (the probe's ACK must be able
// to say what is missing): without it the RTO is the first to resend.
TEST_F(Sack, NoProbeWithoutSack) {
  Tcb* c = establish_active(seg().mss(1460));
  ASSERT_NE(c, nullptr);
  ASSERT_FALSE(c->sack_ok);
  stack().set_nodelay(*c, true, at_ms(5));
  ASSERT_EQ(queue(*c, 4, at_ms(10)).size(), 4u);
  advance_to(at_ms(209));
  expect_nothing_sent();
  advance_to(at_ms(210));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPLossProbes), 0u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
}

// ---- hostile SACK blocks (RFC 2018 §3, RFC 2883 §4) --------------------------

// Blocks that cannot be SACK information for [SND.UNA, SND.MAX) = [S1, S11)
// are counted and ignored: no scoreboard entry, no duplicate (so neither
// limited transmit of the queued S11 nor, at the third, recovery), nothing
// sent. Nor are the ACKs taken for RFC 5681 duplicates, which count only
// without a SACK option: these carry one, all of it junk.
TEST_F(Sack, ImpossibleSackBlocksAreDiscardedAndChangeNothing) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 12, at_ms(10)).size(), 10u);

  recv(ack_with(S(1), {{S(1) - 100, S(1) + 100},  // straddles SND.UNA
                       {S(5), S(3)},              // inverted
                       {S(10), S(11) + 1460},     // beyond SND.MAX
                       {S(2), S(2) + 20000}}),    // longer than the 14600 outstanding
       at_ms(11));
  EXPECT_EQ(count(Counter::kTCPSACKDiscard), 4u);
  recv(ack_with(S(1), {{S(3), S(3)},                     // empty
                       {S(1) - 3000, S(1) - 1000},       // below SND.UNA, not first: no D-SACK
                       {S(11), S(11) + 1},               // one octet beyond SND.MAX
                       {S(1) + 1, S(1) + 0x7ffffffe}}),  // spans nearly half the sequence space
       at_ms(12));
  EXPECT_EQ(count(Counter::kTCPSACKDiscard), 8u);
  recv(ack_with(S(1), {{S(12), S(2)},                         // inverted, far
                       {S(11) + 5000, S(11) + 6000},          // beyond SND.MAX
                       {S(1) - 500, S(1)},                    // ends at SND.UNA, not first
                       {S(1) + 1000, S(1) + 1000 + 14601}}),  // one octet too long
       at_ms(13));
  EXPECT_EQ(count(Counter::kTCPSACKDiscard), 12u);

  expect_nothing_sent();
  EXPECT_TRUE(c->sb.empty());
  EXPECT_EQ(c->sack_dupacks, 0u);
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 0u);
  EXPECT_EQ(count(Counter::kTCPDSACKRecv), 0u);
  EXPECT_EQ(count(Counter::kTCPSACKReneging), 0u);
  EXPECT_EQ(c->cc.cwnd(), 14600u);
}

// RFC 2883 §4: a first block at or below the cumulative ACK reports a
// duplicate segment the peer received. It is counted, and it is not a
// duplicate acknowledgment (RFC 6675 §2: it SACKs nothing new), so three of
// them send nothing, although S13 is queued for limited transmit.
TEST_F(Sack, DsackIsCountedAndIsNotADuplicate) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 14, at_ms(10)).size(), 10u);
  // S1 acknowledged: cwnd 16060, in flight S2..S10 = 13140: S11, S12 go.
  recv(ack_with(S(2)), at_ms(11));
  expect_segment(11);
  expect_segment(12);
  expect_nothing_sent();

  for (std::uint32_t i = 0; i < 3; ++i) {
    recv(ack_with(S(2), {{S(1), S(2)}}), at_ms(12 + i));
    EXPECT_EQ(count(Counter::kTCPDSACKRecv), i + 1);
  }
  expect_nothing_sent();
  EXPECT_EQ(c->sack_dupacks, 0u);
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(count(Counter::kTCPSACKDiscard), 0u);
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 0u);
}

// ---- after a retransmission timeout (RFC 6675 §5.1) --------------------------

// After the RTO the scoreboard is empty (RFC 2018 §8) and the sender goes
// back to SND.UNA (RFC 5681 §3.1). Ranges SACKed after the timeout are not
// sent again.
TEST_F(Sack, GoBackNSkipsWhatIsSackedAfterTheTimeout) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  advance_to(at_ms(20));  // the tail loss probe: S10 again
  expect_segment(10);
  advance_to(at_ms(219));
  expect_nothing_sent();
  // RTO at 20 + 200 ms: ssthresh = 14600 / 2 = 7300, cwnd = 1460, S1 again.
  advance_to(at_ms(220));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  EXPECT_EQ(c->recovery_point, S(11));

  // S1 arrives; the peer also holds S5..S7. cwnd = 2920 (slow start).
  // IsLost(S2) holds (4380 SACKed octets above it), but §5.1: no recovery
  // before SND.UNA reaches RecoveryPoint. Go-back-N: S2, S3.
  recv(ack_with(S(2), {{S(5), S(8)}}), at_ms(221));
  expect_segment(2);
  expect_segment(3);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 0u);

  // ACK S4: cwnd = 5840. S4, then SND.NXT jumps over the SACKed S5..S7 to
  // S8. S8 waits: RFC 5681 FlightSize = SND.NXT - SND.UNA = 5840 = cwnd
  // counts the SACKed segments jumped over.
  recv(ack_with(S(4), {{S(5), S(8)}}), at_ms(222));
  expect_segment(4);
  expect_nothing_sent();
  EXPECT_EQ(c->snd_nxt, S(8));

  // ACK S8 (S4 filled the hole): cwnd = min(ssthresh 7300, 5840 + 2920):
  // S8, S9, S10, the rest of the queue. S5..S7 never went twice.
  recv(ack_with(S(8)), at_ms(223));
  expect_segment(8);
  expect_segment(9);
  expect_segment(10);
  expect_nothing_sent();
  recv(ack_with(S(11)), at_ms(224));
  expect_nothing_sent();
  // The probe, S1, S2, S3, S4, S8, S9, S10.
  EXPECT_EQ(count(Counter::kRetransSegs), 8u);
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 0u);
  EXPECT_FALSE(c->recovery_hold);
}

// RFC 6675 §5.1: after an RTO, "no new recovery" (no second reduction of
// ssthresh) until SND.UNA reaches RecoveryPoint = HighData at the timeout,
// even on DupThresh duplicates and IsLost; a go-back retransmission found
// lost again is resent once, cwnd and ssthresh untouched. Once SND.UNA has
// reached RecoveryPoint, a new loss enters recovery as usual.
TEST_F(Sack, NoNewRecoveryBeforeSndUnaReachesTheRecoveryPoint) {
  // The conventional go-back-N after the timeout: F-RTO (RFC 5682, on by
  // default without timestamps) would send new data after the first ACK
  // instead (tcp_undo_test.cc covers it).
  cfg().frto = false;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 16, at_ms(10)).size(), 10u);  // S11..S16 queued
  // Everything is lost. The probe at 20 ms is new data, S11; the RTO at 220
  // ms finds FlightSize S1..S11 = 16060: ssthresh 8030, cwnd 1460, S1 again.
  advance_to(at_ms(20));
  expect_segment(11);
  advance_to(at_ms(220));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(c->recovery_point, S(12));
  EXPECT_EQ(c->cc.ssthresh(), 8030u);

  recv(ack_with(S(2)), at_ms(221));  // cwnd 2920
  expect_segment(2);
  expect_segment(3);
  recv(ack_with(S(4)), at_ms(222));  // cwnd 5840
  for (std::uint32_t i = 4; i <= 7; ++i) expect_segment(i);
  expect_nothing_sent();

  // S4 is lost again; S5, S6, S7 arrive. The first two duplicates do nothing
  // (no limited transmit during go-back-N); the third makes DupAcks = 3 and
  // IsLost(S4) true: S4 again, but no recovery, ssthresh and cwnd unchanged.
  recv(ack_with(S(4), {{S(5), S(6)}}), at_ms(223));
  recv(ack_with(S(4), {{S(5), S(7)}}), at_ms(224));
  expect_nothing_sent();
  recv(ack_with(S(4), {{S(5), S(8)}}), at_ms(225));
  expect_segment(4);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 0u);
  EXPECT_EQ(count(Counter::kTCPLostRetransmit), 1u);
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.ssthresh(), 8030u);
  EXPECT_EQ(c->cc.cwnd(), 5840u);

  // ACK S8: cwnd = min(8030, 5840 + 2920) = 8030. S8..S11 (go-back) and the
  // new S12 fill 7300; the 730 left would be a short segment (sender SWS).
  recv(ack_with(S(8)), at_ms(226));
  for (std::uint32_t i = 8; i <= 12; ++i) expect_segment(i);
  expect_nothing_sent();
  EXPECT_TRUE(c->recovery_hold);

  // ACK S12 = RecoveryPoint: the hold ends. cwnd 8030 (congestion
  // avoidance: 5840 acked < cwnd, no growth); in flight S12: S13..S16 go.
  recv(ack_with(S(12)), at_ms(227));
  EXPECT_FALSE(c->recovery_hold);
  for (std::uint32_t i = 13; i <= 16; ++i) expect_segment(i);
  expect_nothing_sent();

  // S12 is lost; S13, S14, S15 arrive: a new loss, a new recovery at the
  // third duplicate. ssthresh = (S17 - S12) / 2 = 3650.
  recv(ack_with(S(12), {{S(13), S(14)}}), at_ms(228));
  recv(ack_with(S(12), {{S(13), S(15)}}), at_ms(229));
  expect_nothing_sent();
  recv(ack_with(S(12), {{S(13), S(16)}}), at_ms(230));
  expect_segment(12);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSackRecovery), 1u);
  EXPECT_TRUE(c->sack_recovery);
  EXPECT_EQ(c->cc.ssthresh(), 3650u);
}

}  // namespace
}  // namespace tern::tcptest
