// NewReno (lib/tcp/cc/newreno.h) driven by hand-made ACK sequences on
// virtual time: each test is a short trace of what the engine would report.
#include "tcp/cc/newreno.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace tern {
namespace {

constexpr std::uint32_t kMss = 1460;
constexpr Seq32 kIss{0xfffff000u};  // close to the wrap, on purpose

// A sender model: SND.UNA and SND.MAX as the engine would track them.
struct Flow {
  NewReno cc{NewRenoConfig{.mss = kMss}};
  Seq32 una = kIss + 1;
  Seq32 max = kIss + 1;

  void send(std::uint32_t bytes) { max += bytes; }
  CcAction ack(std::uint32_t bytes) {
    una += bytes;
    return cc.on_ack(AckSample{.ack = una, .acked = bytes, .snd_max = max, .now = at_ms(0)});
  }
  CcAction dup() { return cc.on_dup_ack(AckSample{.ack = una, .acked = 0, .snd_max = max, .now = at_ms(0)}); }
  // An ACK of new data that echoes (or not) the TSval of the last segment
  // it acknowledges (RFC 6582 §4.2).
  CcAction ack_echo(std::uint32_t bytes, bool echoes_last) {
    una += bytes;
    return cc.on_ack(
        AckSample{.ack = una, .acked = bytes, .snd_max = max, .now = at_ms(0), .echoes_last = echoes_last});
  }
  // A duplicate whose SACK blocks reach up to `sack_high` (RFC 2018).
  CcAction dup_sack(Seq32 sack_high) {
    return cc.on_dup_ack(AckSample{
        .ack = una, .acked = 0, .snd_max = max, .now = at_ms(0), .sacked = true, .sack_high = sack_high});
  }
  // One round trip in which every byte of cwnd is sent and acknowledged in `ack_size` pieces.
  void round(std::uint32_t ack_size) {
    const std::uint32_t w = cc.cwnd();
    send(w);
    for (std::uint32_t done = 0; done < w; done += ack_size) ack(std::min(ack_size, w - done));
  }
  // Enter fast recovery with `flight` bytes outstanding.
  void enter_recovery(std::uint32_t flight) {
    send(flight);
    dup();
    dup();
    ASSERT_EQ(dup(), CcAction::kRetransmit);
  }
};

TEST(NewReno, InitialWindowPerRfc6928) {
  EXPECT_EQ(NewReno::initial_window(536), 5360u);    // 10 * 536 < 14600
  EXPECT_EQ(NewReno::initial_window(1460), 14600u);  // min(14600, 14600)
  EXPECT_EQ(NewReno::initial_window(9000), 18000u);  // max(2 * 9000, 14600)
  EXPECT_EQ(NewReno{NewRenoConfig{.mss = 9000}}.cwnd(), 18000u);
  const NewReno cc{NewRenoConfig{.mss = 536}};
  EXPECT_EQ(cc.cwnd(), 5360u);
  EXPECT_EQ(cc.ssthresh(), NewReno::kInitialSsthresh);
  EXPECT_TRUE(cc.in_slow_start());
  EXPECT_EQ(cc.name(), "newreno");
}

TEST(NewReno, SlowStartDoublesPerRoundTripWithFullSizedAcks) {
  Flow f;
  std::uint32_t w = f.cc.cwnd();
  for (int rtt = 0; rtt < 5; ++rtt) {
    f.round(kMss);
    EXPECT_EQ(f.cc.cwnd(), 2 * w) << "rtt " << rtt;
    w = f.cc.cwnd();
  }
}

TEST(NewReno, AckDivisionGrowsNoFasterThanByteCounting) {
  Flow f;
  const std::uint32_t iw = f.cc.cwnd();
  f.round(100);  // 146 ACKs of 100 bytes for one window
  EXPECT_EQ(f.cc.cwnd(), 2 * iw);
  f.round(1);  // and one ACK per byte
  EXPECT_EQ(f.cc.cwnd(), 4 * iw);
}

TEST(NewReno, StretchAckInSlowStartLimitedToTwoSegments) {
  Flow f;
  const std::uint32_t iw = f.cc.cwnd();
  f.send(iw);
  f.ack(iw);  // one ACK for 10 segments: RFC 3465 L = 2*SMSS
  EXPECT_EQ(f.cc.cwnd(), iw + 2 * kMss);
}

TEST(NewReno, CongestionAvoidanceOneSegmentPerWindow) {
  Flow f;
  // Leave a recovery with plenty outstanding: cwnd = ssthresh = 10 MSS, and
  // the byte counter starts from zero.
  f.enter_recovery(20 * kMss);
  for (int i = 0; i < 10; ++i) f.dup();
  f.send(15 * kMss);
  f.ack(20 * kMss);
  const std::uint32_t w = f.cc.cwnd();
  ASSERT_EQ(w, 10 * kMss);
  ASSERT_FALSE(f.cc.in_slow_start());
  for (int i = 0; i < 9; ++i) f.ack(kMss);
  EXPECT_EQ(f.cc.cwnd(), w) << "less than one window acknowledged: no growth yet";
  f.ack(kMss);
  EXPECT_EQ(f.cc.cwnd(), w + kMss);
  const std::uint32_t w2 = f.cc.cwnd();
  f.round(100);  // ACK division does not help in congestion avoidance either
  EXPECT_EQ(f.cc.cwnd(), w2 + kMss);
  f.round(kMss);
  EXPECT_EQ(f.cc.cwnd(), w2 + 2 * kMss);
}

TEST(NewReno, SlowStartStopsAtSsthreshAndCountsTheRest) {
  Flow f;
  f.enter_recovery(40 * kMss);  // ssthresh = 20 MSS
  f.ack(40 * kMss);
  // Full ACK with nothing outstanding: cwnd = min(ssthresh, max(0, SMSS) + SMSS).
  EXPECT_EQ(f.cc.cwnd(), 2 * kMss);
  while (f.cc.in_slow_start()) f.round(kMss);
  EXPECT_EQ(f.cc.cwnd(), f.cc.ssthresh()) << "no overshoot";
}

TEST(NewReno, ThirdDupAckEntersFastRetransmit) {
  Flow f;
  f.send(20 * kMss);
  // RFC 3042: the first two ask for limited transmit (not sent here).
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);
  EXPECT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_TRUE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.ssthresh(), 10 * kMss);         // FlightSize / 2
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss + 3 * kMss);  // ssthresh + 3*SMSS
}

TEST(NewReno, FastRetransmitSsthreshFloorIsTwoSegments) {
  Flow f;
  f.enter_recovery(3 * kMss);
  EXPECT_EQ(f.cc.ssthresh(), 2 * kMss);
  EXPECT_EQ(f.cc.cwnd(), 5 * kMss);
}

TEST(NewReno, DupThresholdIsConfigurable) {
  Flow f;
  f.cc = NewReno{NewRenoConfig{.mss = kMss, .dupthresh = 5}};
  f.send(20 * kMss);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss + 5 * kMss);
}

TEST(NewReno, NewAckResetsDupAckCount) {
  Flow f;
  f.send(20 * kMss);
  f.dup();
  f.dup();
  f.ack(kMss);
  EXPECT_EQ(f.dup(), CcAction::kSendNew);  // the first again
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_FALSE(f.cc.in_recovery());
}

// RFC 3042 §2 and RFC 5681 §3.2 step 2: each duplicate below the threshold
// asks for one new segment; cwnd does not change for them, and the bytes
// they send stay out of the FlightSize that sets ssthresh.
TEST(NewReno, LimitedTransmitBytesStayOutOfSsthresh) {
  Flow f;
  f.send(10 * kMss);  // the initial window, the first segment lost
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(f.dup(), CcAction::kSendNew);
    EXPECT_EQ(f.cc.cwnd(), 10 * kMss);
    f.send(kMss);
    f.cc.on_limited_transmit(kMss);
  }
  ASSERT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_EQ(f.cc.ssthresh(), 5 * kMss) << "FlightSize 12 MSS, of which 2 by limited transmit";
  EXPECT_EQ(f.cc.cwnd(), 5 * kMss + 3 * kMss);
  EXPECT_EQ(f.dup(), CcAction::kNone) << "in recovery: inflation only";
}

// Limited-transmit bytes belong to one loss event: a new ACK forgets them.
TEST(NewReno, NewAckForgetsLimitedTransmitBytes) {
  Flow f;
  f.send(10 * kMss);
  ASSERT_EQ(f.dup(), CcAction::kSendNew);
  f.send(kMss);
  f.cc.on_limited_transmit(kMss);
  f.ack(kMss);  // the "lost" segment was only late; cwnd grows to 11 MSS
  f.dup();
  f.dup();
  ASSERT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_EQ(f.cc.ssthresh(), 5 * kMss) << "FlightSize 10 MSS";
}

// RFC 6675 §5 (4.2), SACK recovery entered by the engine: the same rule,
// limited-transmit bytes stay out of the FlightSize that sets ssthresh.
TEST(NewReno, SackRecoveryLeavesLimitedTransmitBytesOutOfSsthresh) {
  Flow f;
  f.send(10 * kMss);
  for (int i = 0; i < 2; ++i) {
    f.send(kMss);
    f.cc.on_limited_transmit(kMss);
  }
  f.cc.enter_sack_recovery(12 * kMss, f.max);
  EXPECT_EQ(f.cc.ssthresh(), 5 * kMss) << "FlightSize 12 MSS, of which 2 by limited transmit";
  EXPECT_TRUE(f.cc.in_recovery());
}

TEST(NewReno, FurtherDupAcksInflate) {
  Flow f;
  f.enter_recovery(20 * kMss);
  const std::uint32_t w = f.cc.cwnd();
  for (std::uint32_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(f.dup(), CcAction::kNone);
    EXPECT_EQ(f.cc.cwnd(), w + i * kMss);
  }
}

TEST(NewReno, PartialAckDeflatesAndStaysInRecovery) {
  Flow f;
  f.enter_recovery(20 * kMss);
  for (int i = 0; i < 4; ++i) f.dup();
  const std::uint32_t w = f.cc.cwnd();  // 17 MSS
  EXPECT_EQ(f.ack(5 * kMss), CcAction::kRetransmit);
  EXPECT_TRUE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), w - 5 * kMss + kMss);  // deflate, add back one SMSS
  const std::uint32_t w2 = f.cc.cwnd();
  EXPECT_EQ(f.ack(100), CcAction::kRetransmit);  // less than SMSS: no add-back
  EXPECT_EQ(f.cc.cwnd(), w2 - 100);
  EXPECT_EQ(f.cc.ssthresh(), 10 * kMss);
}

TEST(NewReno, FullAckExitsRecovery) {
  Flow f;
  f.enter_recovery(20 * kMss);
  for (int i = 0; i < 8; ++i) f.dup();
  f.send(8 * kMss);  // new data sent during recovery, beyond "recover"
  EXPECT_EQ(f.ack(20 * kMss), CcAction::kNone);
  EXPECT_FALSE(f.cc.in_recovery());
  // RFC 6582 §3.2 step 3 option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS).
  EXPECT_EQ(f.cc.cwnd(), 9 * kMss);
  f.ack(8 * kMss);
  f.send(30 * kMss);
  f.ack(kMss);
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);  // = ssthresh; the cap applied on exit
}

TEST(NewReno, FullAckWithMuchOutstandingDeflatesToSsthresh) {
  Flow f;
  f.enter_recovery(20 * kMss);
  for (int i = 0; i < 10; ++i) f.dup();
  f.send(15 * kMss);
  f.ack(20 * kMss);
  EXPECT_EQ(f.cc.cwnd(), f.cc.ssthresh());
}

TEST(NewReno, NoSecondReductionWithinOneRecovery) {
  Flow f;
  f.enter_recovery(40 * kMss);
  const std::uint32_t ssthresh = f.cc.ssthresh();
  f.send(10 * kMss);
  // A partial ACK, then another hole from the same window: more dup ACKs.
  f.ack(5 * kMss);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f.dup(), CcAction::kNone);
  EXPECT_EQ(f.cc.ssthresh(), ssthresh);
  EXPECT_TRUE(f.cc.in_recovery());
}

TEST(NewReno, DupAcksBelowRecoverAfterExitDoNotReenter) {
  Flow f;
  f.send(40 * kMss);
  f.dup();
  f.dup();
  f.dup();
  const Seq32 recover = f.max;
  // Leave recovery by a bogus "full" view is impossible; take the RTO path:
  // after an RTO, duplicates for data sent before it must not halve again.
  f.cc.on_rto(f.una, f.max);
  const std::uint32_t ssthresh = f.cc.ssthresh();
  f.ack(kMss);  // retransmission acknowledged, still below recover
  ASSERT_TRUE(seq_lt(f.una, recover));
  for (int i = 0; i < 2; ++i) EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_EQ(f.dup(), CcAction::kNone);
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.ssthresh(), ssthresh);
  // Once SND.UNA passes recover, a new loss event is answered again.
  f.ack(recover - f.una);
  f.send(20 * kMss);
  f.ack(kMss);
  f.dup();
  f.dup();
  EXPECT_EQ(f.dup(), CcAction::kRetransmit);
}

// RFC 6582 §3.2 step 1 after a full ACK that lands exactly on "recover":
// the segment sent first after recovery began is lost. Plain duplicates
// cannot be told from echoes of unnecessary retransmissions (RFC 6582 §4),
// so they do not enter fast retransmit; duplicates whose SACK blocks reach
// past "recover" show data sent after it arrived beyond the hole: a new loss.
TEST(NewReno, SackBeyondRecoverEntersFastRetransmitAtRecover) {
  for (const bool sack : {false, true}) {
    SCOPED_TRACE(sack ? "with SACK" : "without SACK");
    Flow f;
    f.enter_recovery(20 * kMss);
    const Seq32 recover = f.max;
    for (int i = 0; i < 8; ++i) f.dup();
    f.send(8 * kMss);        // sent during recovery; the first of these is lost
    f.ack(recover - f.una);  // the full ACK, exactly "recover"
    ASSERT_FALSE(f.cc.in_recovery());
    const std::uint32_t ssthresh = f.cc.ssthresh();
    const Seq32 high = recover + 3 * kMss;  // three later segments arrived
    f.dup();
    f.dup();
    const CcAction third = sack ? f.dup_sack(high) : f.dup();
    if (sack) {
      EXPECT_EQ(third, CcAction::kRetransmit);
      EXPECT_TRUE(f.cc.in_recovery());
      EXPECT_EQ(f.cc.ssthresh(), 4 * kMss) << "a new event: FlightSize 8 MSS halved";
    } else {
      EXPECT_EQ(third, CcAction::kNone);
      EXPECT_FALSE(f.cc.in_recovery());
      EXPECT_EQ(f.cc.ssthresh(), ssthresh);
    }
  }
}

// A duplicate without new SACK information (a D-SACK for duplicated data,
// or a duplicated ACK) may be the dupthresh-th; a later one whose blocks
// reach past "recover" still enters fast retransmit.
TEST(NewReno, SackEvidenceAfterTheThresholdStillEnters) {
  Flow f;
  f.enter_recovery(20 * kMss);
  const Seq32 recover = f.max;
  f.send(8 * kMss);
  f.ack(recover - f.una);  // full ACK at "recover"
  for (int i = 0; i < 4; ++i) EXPECT_NE(f.dup(), CcAction::kRetransmit);
  EXPECT_EQ(f.dup_sack(recover + kMss), CcAction::kRetransmit);
  EXPECT_TRUE(f.cc.in_recovery());
}

// After an RTO (recover = SND.MAX) SACK blocks below "recover" never enter
// fast recovery again (RFC 6582 §3.2 step 1). But a duplicate whose blocks
// reach past what the receiver was known to hold when the timer fired shows
// that the go-back retransmission of the hole at SEG.ACK was lost while
// later ones arrived: it is resent once per hole (kRetransmit), cwnd and
// ssthresh untouched.
TEST(NewReno, AfterRtoSackEvidenceResendsTheHoleOnceWithoutReentering) {
  Flow f;
  f.send(40 * kMss);
  const Seq32 recover = f.max;
  // Before the timeout the receiver had SACKed up to 20 MSS.
  f.dup_sack(f.una + 20 * kMss);
  f.cc.on_rto(f.una, f.max);
  const std::uint32_t ssthresh = f.cc.ssthresh();
  f.ack(kMss);  // the first go-back retransmission arrived
  ASSERT_TRUE(seq_lt(f.una, recover));
  // Duplicates whose blocks stay within what was known: nothing.
  for (int i = 0; i < 4; ++i) EXPECT_NE(f.dup_sack(f.una + 19 * kMss), CcAction::kRetransmit);
  f.ack(kMss);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(f.dup_sack(f.una + 21 * kMss), CcAction::kSendNew);
  EXPECT_EQ(f.dup_sack(f.una + 22 * kMss), CcAction::kRetransmit);
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.ssthresh(), ssthresh);
  EXPECT_EQ(f.cc.cwnd(), 3 * kMss) << "slow start from 1 MSS, two ACKs";
  EXPECT_EQ(f.dup_sack(f.una + 23 * kMss), CcAction::kNone) << "once per hole";
  EXPECT_EQ(f.dup_sack(recover), CcAction::kNone);
  // The next hole gets its own resend.
  f.ack(kMss);
  f.dup_sack(f.una + 24 * kMss);
  f.dup_sack(f.una + 24 * kMss);
  EXPECT_EQ(f.dup_sack(f.una + 24 * kMss), CcAction::kRetransmit);
  EXPECT_FALSE(f.cc.in_recovery());
  // Without SACK blocks, duplicates below "recover" stay ambiguous.
  f.ack(kMss);
  for (int i = 0; i < 5; ++i) EXPECT_NE(f.dup(), CcAction::kRetransmit);
}

// RFC 6582 §4.2, the timestamp heuristic: after a timeout, duplicates that
// do not cover "recover" enter fast retransmit when the last ACK of new data
// echoed the TSval of the last segment it acknowledged (the resends arrive
// one by one, so a duplicate means one was lost); not when it echoed an
// older one (it jumped over data the receiver held, whose resends the
// duplicates may answer), nor on ACKs from before the timeout. ssthresh then
// comes from cwnd, what went since the timeout, not SND.MAX - SEG.ACK.
TEST(NewReno, AfterRtoTimestampHeuristicEntersFastRetransmit) {
  Flow f;
  f.round(kMss);  // cwnd 20 MSS
  f.send(40 * kMss);
  const Seq32 recover = f.max;
  f.ack_echo(kMss, true);
  f.cc.on_rto(f.una, f.max);
  for (int i = 0; i < 4; ++i) EXPECT_NE(f.dup(), CcAction::kRetransmit) << "an echo from before the timeout";
  f.ack_echo(6 * kMss, false);  // the receiver held 6 segments: the ACK jumped
  for (int i = 0; i < 4; ++i) EXPECT_NE(f.dup(), CcAction::kRetransmit) << "after a jump";
  f.ack_echo(kMss, true);  // a resend moved the cumulative ACK itself
  ASSERT_TRUE(seq_lt(f.una, recover));
  ASSERT_EQ(f.cc.cwnd(), 4 * kMss);  // slow start from one segment, two ACKs (L = 2)
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_TRUE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.ssthresh(), 2 * kMss);  // max(4 MSS / 2, 2 MSS)
  EXPECT_EQ(f.cc.cwnd(), 5 * kMss);      // + 3 duplicates
  // Recovery then runs to "recover" as any other (RFC 6582 §3.2).
  EXPECT_EQ(f.ack(kMss), CcAction::kRetransmit);  // a partial ACK
}

TEST(NewReno, RtoCollapsesToOneSegment) {
  Flow f;
  f.round(kMss);  // cwnd 20 MSS
  f.send(16 * kMss);
  f.cc.on_rto(f.una, f.max);
  EXPECT_EQ(f.cc.cwnd(), kMss);
  EXPECT_EQ(f.cc.ssthresh(), 8 * kMss);
  EXPECT_TRUE(f.cc.in_slow_start());
  // Backed-off RTO for the same segment: ssthresh held (RFC 5681 §3.1).
  f.cc.on_rto(f.una, f.max);
  EXPECT_EQ(f.cc.ssthresh(), 8 * kMss);
  EXPECT_EQ(f.cc.cwnd(), kMss);
}

TEST(NewReno, RtoDuringRecoveryLeavesIt) {
  Flow f;
  f.enter_recovery(20 * kMss);
  f.cc.on_rto(f.una, f.max);
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), kMss);
  EXPECT_EQ(f.cc.ssthresh(), 10 * kMss);
}

TEST(NewReno, IdleRestartAfterMoreThanOneRto) {
  Flow f;
  f.round(kMss);
  f.round(kMss);
  ASSERT_EQ(f.cc.cwnd(), 40 * kMss);
  const Duration rto = Duration::ms(200);
  EXPECT_FALSE(f.cc.on_idle_restart(at_ms(1200), at_ms(1000), rto));  // exactly one RTO: not idle
  EXPECT_EQ(f.cc.cwnd(), 40 * kMss);
  EXPECT_TRUE(f.cc.on_idle_restart(at_ms(1201), at_ms(1000), rto));
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);  // min(IW, cwnd)
  // A cwnd already below IW is kept.
  f.cc.on_rto(f.una, f.max);
  EXPECT_TRUE(f.cc.on_idle_restart(at_ms(5000), at_ms(1000), rto));
  EXPECT_EQ(f.cc.cwnd(), kMss);
}

}  // namespace
}  // namespace tern
