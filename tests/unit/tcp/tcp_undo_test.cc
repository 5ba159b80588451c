// Undoing congestion responses that prove spurious (lib/tcp/tcp_undo.cc),
// scripted segment by segment on virtual time: D-SACK (RFC 3708 §3), Eifel
// with timestamps (RFC 3522, response per RFC 4015), F-RTO (RFC 5682) and
// the accounting of loss-probe episodes (RFC 8985 §7.4).
//
// Connections are opened actively at t = 0 with MSS 1460 and SACK (and
// timestamps where a test says so: SMSS is then 1448). The first RTT sample
// is 0, so RTO = rto_min = 200 ms and the probe timeout is its 10 ms floor.
// CUBIC is the default controller: a reduction sets ssthresh = 0.7 *
// FlightSize (RFC 9438 §4.6); before any loss ssthresh is "arbitrarily
// high" (kCcInitialSsthresh) and cwnd the initial window, 10 SMSS.
// S(i) is the first sequence number of the i-th full segment.
#include <optional>

#include "sack_script.h"

namespace tern::tcptest {
namespace {

// The scripts count the retransmissions of RFC 6675 recovery and of
// go-back-N after a timeout, F-RTO's home (RACK, tcp_rack.cc, resends only
// what it marks lost and leaves F-RTO out): they run without a transmit
// log, where that recovery is the fallback.
class Undo : public SackScript {
 protected:
  // Probes send RFC 8985 §7.3's one new segment ([tcp] tlp_new_segments).
  Undo() {
    options_.tx_logs = 0;
    cfg().tlp_new_segments = 1;
  }
  // SACK (and timestamps when `ts`), Nagle off.
  Tcb* open(bool sack, bool ts) {
    cfg().congestion = CongestionAlgorithm::kCubic;  // the harness's default is NewReno
    Seg opts = seg().mss(1460);
    if (sack) opts.sack_perm();
    if (ts) opts.ts(peer_ts_, 0);
    Tcb* c = establish_active(opts);
    if (c == nullptr) return nullptr;
    EXPECT_EQ(c->sack_ok, sack);
    EXPECT_EQ(c->ts_ok, ts);
    mss_ = c->mss;
    stack().set_nodelay(*c, true, at_ms(5));
    return c;
  }
};

// ---- D-SACK (RFC 3708 §3) ----------------------------------------------------

// S1 is only late: the ACK for S2..S4 enters recovery (RFC 6675 IsLost) and
// S1 goes again; then the original arrives (the ACK ends recovery, cwnd =
// ssthresh), and the retransmission after it draws a D-SACK (RFC 2883 §4)
// once nothing is outstanding any more. The one retransmission of the
// episode was a duplicate: the window comes back (Linux undoes on a D-SACK
// until the next episode).
TEST_F(Undo, DsackAfterRecoveryUndoesASpuriousFastRetransmit) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  ASSERT_EQ(c->cc.cwnd(), 14600u);

  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(11));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(c->cc.ssthresh(), 10220u);  // 0.7 * 14600
  EXPECT_EQ(c->undo_retrans, 1u);

  recv(ack_with(S(11)), at_ms(12));
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.cwnd(), 10220u);  // RFC 6937: cwnd = ssthresh at the end
  EXPECT_EQ(count(Counter::kTCPDSACKUndo), 0u);

  recv(ack_with(S(11), {{S(1), S(2)}}), at_ms(13));
  EXPECT_EQ(count(Counter::kTCPDSACKRecv), 1u);
  EXPECT_EQ(count(Counter::kTCPDSACKUndo), 1u);
  EXPECT_EQ(c->cc.cwnd(), 14600u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
  EXPECT_FALSE(c->undo_valid);
  // A second D-SACK has nothing left to undo.
  recv(ack_with(S(11), {{S(1), S(2)}}), at_ms(14));
  EXPECT_EQ(count(Counter::kTCPDSACKUndo), 1u);
  expect_nothing_sent();
}

// Two retransmissions, one of them needed: S1 was late, S2 was lost. The
// D-SACK for S1 accounts for one retransmission of two, and the ACK that
// S2's retransmission draws carries none: no undo (RFC 3708 §3 needs every
// retransmission of the episode reported duplicate).
TEST_F(Undo, PartialDsackKeepsTheReduction) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);

  // IsLost(S1) and IsLost(S2) (three segments SACKed above each): PRR gives
  // cwnd = 7300 + 2920; S1 and then S2 go.
  recv(ack_with(S(1), {{S(3), S(6)}}), at_ms(11));
  expect_segment(1);
  expect_segment(2);
  expect_nothing_sent();
  EXPECT_EQ(c->undo_retrans, 2u);

  // The original S1 arrives, then its retransmission: ACK S2 with a D-SACK.
  recv(ack_with(S(2), {{S(1), S(2)}, {S(3), S(6)}}), at_ms(12));
  EXPECT_EQ(count(Counter::kTCPDSACKRecv), 1u);
  EXPECT_EQ(c->undo_retrans, 1u);
  EXPECT_TRUE(c->sack_recovery);

  recv(ack_with(S(11)), at_ms(13));  // S2's retransmission filled the hole
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(count(Counter::kTCPDSACKUndo), 0u);
  EXPECT_EQ(c->cc.ssthresh(), 10220u);
  EXPECT_EQ(c->cc.cwnd(), 10220u);
}

// ---- Eifel (RFC 3522) --------------------------------------------------------

// RFC 3522 §2: the first ACK for the retransmitted S1 echoes the TSval of
// the original (sent at 10 ms), older than the retransmission's (11 ms):
// the original arrived, the fast retransmit was spurious. That ACK ends the
// recovery: Linux's TCPFullUndo. RFC 4015 §2: the window from before.
TEST_F(Undo, EifelUndoesASpuriousFastRetransmit) {
  Tcb* c = open(true, true);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(mss_, 1448u);
  const std::vector<Sent> sent = queue(*c, 10, at_ms(10));
  ASSERT_EQ(sent.size(), 10u);
  const std::uint32_t t_orig = sent[0].opts.timestamps->first;

  recv(ack_with(S(1), {{S(2), S(5)}}, t_orig), at_ms(11));
  const Sent rxt = expect_segment(1);
  expect_nothing_sent();
  ASSERT_TRUE(rxt.opts.timestamps);
  EXPECT_EQ(rxt.opts.timestamps->first, t_orig + 1);
  EXPECT_EQ(c->cc.ssthresh(), 10136u);  // 0.7 * 14480

  recv(ack_with(S(11), {}, t_orig), at_ms(12));
  EXPECT_EQ(count(Counter::kTCPFullUndo), 1u);
  EXPECT_EQ(count(Counter::kTCPPartialUndo), 0u);
  EXPECT_FALSE(c->sack_recovery);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
  // The window from before (14480), then this ACK's slow-start growth.
  EXPECT_EQ(c->cc.cwnd(), 14480u + 2 * 1448u);
  expect_nothing_sent();
}

// Without SACK, NewReno's recovery (RFC 6582) over CUBIC: three duplicate
// ACKs resend S1, then the ACK of the original (TSecr from 10 ms) covers
// everything: Eifel on a full acknowledgment, TCPFullUndo.
TEST_F(Undo, EifelUndoesANewRenoFastRetransmit) {
  Tcb* c = open(false, true);
  ASSERT_NE(c, nullptr);
  const std::vector<Sent> sent = queue(*c, 10, at_ms(10));
  ASSERT_EQ(sent.size(), 10u);
  const std::uint32_t t_orig = sent[0].opts.timestamps->first;
  for (int i = 0; i < 3; ++i) recv(ack_with(S(1), {}, t_orig), at_ms(11 + i));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_TRUE(c->cc.in_recovery());
  EXPECT_LT(c->cc.ssthresh(), kCcInitialSsthresh);

  recv(ack_with(S(11), {}, t_orig), at_ms(14));
  EXPECT_EQ(count(Counter::kTCPFullUndo), 1u);
  EXPECT_FALSE(c->cc.in_recovery());
  EXPECT_EQ(c->cc.cwnd(), 14480u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
}

// The same ACK echoing the retransmission's TSval: the retransmission filled
// the hole, nothing is undone.
TEST_F(Undo, EifelKeepsTheReductionWhenTheRetransmissionFilledTheHole) {
  Tcb* c = open(true, true);
  ASSERT_NE(c, nullptr);
  const std::vector<Sent> sent = queue(*c, 10, at_ms(10));
  ASSERT_EQ(sent.size(), 10u);
  const std::uint32_t t_orig = sent[0].opts.timestamps->first;

  recv(ack_with(S(1), {{S(2), S(5)}}, t_orig), at_ms(11));
  const Sent rxt = expect_segment(1);
  recv(ack_with(S(11), {}, rxt.opts.timestamps->first), at_ms(12));
  EXPECT_EQ(count(Counter::kTCPFullUndo), 0u);
  EXPECT_EQ(c->cc.ssthresh(), 10136u);
  EXPECT_EQ(c->cc.cwnd(), 10136u);
  // Nor does a later ACK echoing an older TSval (RFC 3522 §3.2: only the
  // first ACK of the retransmitted data decides).
  EXPECT_FALSE(c->undo_eifel);
}

// A delay spike longer than the RTO, without SACK: the timer fires at 210 ms
// and resends S1; the ACKs of the originals then arrive, the first one (for
// S1..S5) echoing the TSval of 10 ms. RFC 3522 / RFC 4015: a spurious
// timeout (TCPSpuriousRTOs, Linux's TCPLossUndo), the window from before,
// and the sender resumes with new data (S11) instead of going back to S6.
TEST_F(Undo, EifelUndoesASpuriousTimeoutAndResumesWithNewData) {
  Tcb* c = open(false, true);
  ASSERT_NE(c, nullptr);
  const std::vector<Sent> sent = queue(*c, 20, at_ms(10));
  ASSERT_EQ(sent.size(), 10u);
  const std::uint32_t t_orig = sent[0].opts.timestamps->first;

  const std::optional<Instant> rto_at = run_until_sent(at_ms(1000));
  ASSERT_TRUE(rto_at);
  EXPECT_EQ(*rto_at, at_ms(210));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  EXPECT_EQ(c->cc.cwnd(), 1448u);
  EXPECT_EQ(c->cc.ssthresh(), 10136u);

  recv(ack_with(S(6), {}, t_orig), at_ms(215));
  EXPECT_EQ(count(Counter::kTCPSpuriousRTOs), 1u);
  EXPECT_EQ(count(Counter::kTCPLossUndo), 1u);
  EXPECT_EQ(c->cc.cwnd(), 14480u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
  // cwnd 14480 with S6..S10 (7240) in flight: five new segments.
  for (std::uint32_t i = 11; i <= 15; ++i) expect_segment(i);
  expect_nothing_sent();
  EXPECT_EQ(c->snd_nxt, c->snd_max);
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
}

// ---- F-RTO (RFC 5682) --------------------------------------------------------

// Without timestamps: the loss probe (new data, S11) at 20 ms, the RTO at
// 220 ms resends S1. Step 2b (§4.1, SACK-enhanced): the ACK for S1 leaves
// data outstanding, so two new segments (S12, S13) go instead of S2, S3.
// Step 3: the next ACK acknowledges S2..S4, sent before the timeout and never
// resent: the timeout was spurious (TCPSpuriousRTOs, TCPLossUndo).
TEST_F(Undo, FrtoDetectsASpuriousTimeout) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 20, at_ms(10)).size(), 10u);
  advance_to(at_ms(20));
  expect_segment(11);  // RFC 8985 §7.3 probe
  advance_to(at_ms(220));
  expect_segment(1);
  expect_nothing_sent();
  EXPECT_EQ(c->frto, Tcb::Frto::kAwaitFirst);
  EXPECT_EQ(c->cc.ssthresh(), 11242u);  // 0.7 * (S12 - S1)

  recv(ack_with(S(2)), at_ms(221));
  expect_segment(12);
  expect_segment(13);
  expect_nothing_sent();
  EXPECT_EQ(c->frto, Tcb::Frto::kAwaitSecond);

  recv(ack_with(S(5)), at_ms(222));
  EXPECT_EQ(count(Counter::kTCPSpuriousRTOs), 1u);
  EXPECT_EQ(count(Counter::kTCPLossUndo), 1u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
  EXPECT_FALSE(c->recovery_hold);
  // cwnd 14600 back, + 2920 slow start for this ACK = 17520; S5..S13 (13140)
  // in flight: three new segments.
  EXPECT_EQ(c->cc.cwnd(), 17520u);
  expect_segment(14);
  expect_segment(15);
  expect_segment(16);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);  // S1 only: no go-back-N
}

// The same until step 3, but the ACK only SACKs S12, a segment sent after
// the timeout, with SND.UNA stuck at S2: the old segments were lost. §4.1
// step 3b: conventional recovery, back to SND.UNA (S2, S3 with cwnd 2920),
// and the reduction stays.
TEST_F(Undo, FrtoFallsBackWhenTheTimeoutWasGenuine) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 20, at_ms(10)).size(), 10u);
  advance_to(at_ms(20));
  expect_segment(11);
  advance_to(at_ms(220));
  expect_segment(1);
  recv(ack_with(S(2)), at_ms(221));
  expect_segment(12);
  expect_segment(13);

  recv(ack_with(S(2), {{S(12), S(13)}}), at_ms(222));
  EXPECT_EQ(c->frto, Tcb::Frto::kOff);
  expect_segment(2);
  expect_segment(3);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSpuriousRTOs), 0u);
  EXPECT_EQ(count(Counter::kTCPLossUndo), 0u);
  EXPECT_EQ(c->cc.ssthresh(), 11242u);
  EXPECT_TRUE(c->recovery_hold);
}

// Without SACK, the basic algorithm (§2.1): a duplicate ACK as the first ACK
// after the timeout means conventional recovery at once (step 2a).
TEST_F(Undo, FrtoBasicFallsBackOnADuplicateAck) {
  Tcb* c = open(false, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 20, at_ms(10)).size(), 10u);
  advance_to(at_ms(210));  // no loss probe without SACK
  expect_segment(1);
  EXPECT_EQ(c->frto, Tcb::Frto::kAwaitFirst);
  recv(ack_with(S(1)), at_ms(211));
  EXPECT_EQ(c->frto, Tcb::Frto::kOff);
  recv(ack_with(S(2)), at_ms(212));  // then ordinary go-back-N: S2, S3
  expect_segment(2);
  expect_segment(3);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPSpuriousRTOs), 0u);
}

// [tcp] undo = false: the D-SACK of the first test changes nothing.
TEST_F(Undo, DisabledByConfig) {
  cfg().undo = false;
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  recv(ack_with(S(1), {{S(2), S(5)}}), at_ms(11));
  expect_segment(1);
  recv(ack_with(S(11)), at_ms(12));
  recv(ack_with(S(11), {{S(1), S(2)}}), at_ms(13));
  EXPECT_EQ(count(Counter::kTCPDSACKUndo), 0u);
  EXPECT_EQ(c->cc.ssthresh(), 10220u);
}

// ---- loss-probe episodes (RFC 8985 §7.4) -------------------------------------

// The whole flight is out and unacknowledged at the PTO (10 ms): with no new
// data the probe resends the last segment, S10. The ACK for S1..S10 comes,
// then a D-SACK for S10: the original and the probe both arrived, there was
// no loss and no congestion response is due.
TEST_F(Undo, LossProbeDsackedMeansNoLoss) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  advance_to(at_ms(20));
  expect_segment(10);
  EXPECT_EQ(count(Counter::kTCPLossProbes), 1u);
  EXPECT_TRUE(c->tlp_rxt_out);

  recv(ack_with(S(11)), at_ms(21));
  EXPECT_TRUE(c->tlp_rxt_out) << "SEG.ACK = TLPHighRxt: not decided yet";
  recv(ack_with(S(11), {{S(10), S(11)}}), at_ms(22));
  EXPECT_FALSE(c->tlp_rxt_out);
  EXPECT_EQ(count(Counter::kTCPLossProbeRecovery), 0u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);

  // Data sent later and acknowledged is no longer taken for a repair.
  queue(*c, 1, at_ms(25));
  recv(ack_with(S(12)), at_ms(26));
  EXPECT_EQ(count(Counter::kTCPLossProbeRecovery), 0u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
}

// A peer that sends no D-SACK answers the duplicate probe with a plain
// duplicate ACK (RFC 5681 §4.2: at once for a duplicate segment): nothing
// new acknowledged or SACKed, so both copies arrived (Linux's
// tcp_process_tlp_ack does the same).
TEST_F(Undo, LossProbeDrawingAPureDuplicateMeansNoLoss) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  advance_to(at_ms(20));
  expect_segment(10);
  recv(ack_with(S(11)), at_ms(21));
  recv(ack_with(S(11)), at_ms(22));
  EXPECT_FALSE(c->tlp_rxt_out);
  queue(*c, 1, at_ms(25));
  recv(ack_with(S(12)), at_ms(26));
  EXPECT_EQ(count(Counter::kTCPLossProbeRecovery), 0u);
  EXPECT_EQ(c->cc.ssthresh(), kCcInitialSsthresh);
}

// S10 was lost and the probe repaired it: the ACK covers S10 and no D-SACK
// follows; once data sent after the probe is acknowledged, §7.4 calls for
// the response fast recovery would have made (TCPLossProbeRecovery):
// ssthresh = 0.7 * cwnd, cwnd = ssthresh.
TEST_F(Undo, LossProbeThatRepairedALossReducesTheWindow) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  advance_to(at_ms(20));
  expect_segment(10);
  recv(ack_with(S(11)), at_ms(21));
  const std::uint32_t cwnd = c->cc.cwnd();
  EXPECT_EQ(cwnd, 14600u + 2920u);

  ASSERT_EQ(queue(*c, 1, at_ms(25)).size(), 1u);
  recv(ack_with(S(12)), at_ms(26));
  EXPECT_EQ(count(Counter::kTCPLossProbeRecovery), 1u);
  EXPECT_FALSE(c->tlp_rxt_out);
  EXPECT_EQ(c->cc.ssthresh(), cwnd * 7 / 10);
  EXPECT_LT(c->cc.cwnd(), cwnd);
  EXPECT_FALSE(c->sack_recovery);
}

// ---- per-connection figures -------------------------------------------------

TEST_F(Undo, RetransmittedSegmentsAreCountedPerConnection) {
  Tcb* c = open(true, false);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(queue(*c, 10, at_ms(10)).size(), 10u);
  EXPECT_EQ(c->retransmitted_segs, 0u);
  recv(ack_with(S(1), {{S(3), S(6)}}), at_ms(11));
  expect_segment(1);
  expect_segment(2);
  EXPECT_EQ(c->retransmitted_segs, 2u);
  EXPECT_EQ(count(Counter::kRetransSegs), 2u);
}

}  // namespace
}  // namespace tern::tcptest
