// Scripted-segment tests of pacing (lib/tcp/tcp_pacing.cc): a connection
// whose controller paces (BBR, draft-cardwell-iccrg-bbr-congestion-control-00
// §4.2.1) sends each data segment no earlier than its next-send time, which
// moves on by len / pacing_rate per segment, in bursts of one send quantum
// (§4.2.2); the worker's pacing list sends the next burst when its time
// comes, in virtual time between timer ticks.
#include <gtest/gtest.h>

#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

constexpr std::uint32_t kMss = 1460;

class TcpPacing : public TcpHarness {
 protected:
  // An active open with BBR and a 100 ms handshake RTT (the SRTT the first
  // ACK gives BBR's initial pacing rate); SACK (RFC 2018) only when the
  // peer's SYN-ACK offers it, so that the scoreboard and RACK run.
  enum class Sack : bool { kOff, kOn };
  Tcb* bbr_connection(CongestionAlgorithm a = CongestionAlgorithm::kBbr, Sack sack = Sack::kOff) {
    cfg().congestion = a;
    Tcb* c = active_syn(at_ms(0));
    Seg syn_ack = seg().mss(kMss).flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1);
    if (sack == Sack::kOn) syn_ack.sack_perm();
    recv(syn_ack, at_ms(100));
    expect_sent(seg().flags(kTcpAck).ack(irs() + 1));
    handler_.clear();
    return c;
  }
  Tcb* bbr_sack_connection() { return bbr_connection(CongestionAlgorithm::kBbr, Sack::kOn); }
  Seq32 S(std::uint32_t i) const { return iss() + 1 + i * kMss; }  // the i-th segment, from 0
  // The ACK that loses segment 0: SND.UNA stays, segments 1..3 SACKed, so
  // segment 0 is lost (RFC 6675 IsLost, DupThresh segments above it).
  // Returned so that a test can SACK more on the same ACK.
  Seg sack_segments_1_to_3(Instant at) {
    Seg ack = seg().seq(irs() + 1).ack(S(0));
    ack.opts_.sack[ack.opts_.sack_count++] = SackBlock{S(1).value(), S(4).value()};
    recv(ack, at);
    return ack;
  }
  Sent expect_segment(std::uint32_t i, Instant at,
                      std::source_location loc = std::source_location::current()) {
    const Sent s = expect_sent(seg().seq(S(i)).data(kMss), loc);
    EXPECT_EQ(s.at, at) << "segment " << i << " at " << s.at.ns_since_epoch() << " ns, wanted "
                        << at.ns_since_epoch() << " (line " << loc.line() << ")";
    return s;
  }
};

TEST_F(TcpPacing, SegmentsLeaveAtThePacingRate) {
  Tcb* c = bbr_connection();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cc.name(), "bbr");
  ASSERT_EQ(c->rto.srtt(), Duration::ms(100));
  // The initial window goes at once: before any ACK, BBR paces at IW / 1 ms
  // x 2/ln2 (§4.2.1, no SRTT seen yet), whose quantum (1 ms: 41 kB) covers it.
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * kMss), at_ms(100)), 30u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));
  expect_nothing_sent();

  // The first ACK (2 segments) brings the SRTT: rate = IW / SRTT x 2.885,
  // less the 1 % margin; STARTUP grows cwnd by what was delivered, so 4
  // segments may go. At this rate the quantum is 2 segments: a burst of two
  // leaves at once, the next two one quantum (2 x 1460 B / rate) later.
  recv(seg().seq(irs() + 1).ack(S(2)), at_ms(200));
  const std::uint64_t rate = c->cc.pacing_rate();
  EXPECT_EQ(rate, std::uint64_t{10 * kMss} * 10 * 739 / 256 * 99 / 100);  // 417,253 B/s
  EXPECT_EQ(c->cc.pacing_quantum(), 2 * kMss);
  EXPECT_EQ(c->cc.cwnd(), 12 * kMss);
  EXPECT_EQ(stack().info(*c).pacing_rate, rate);  // Connection::info() / telemetry report it
  EXPECT_EQ(stack().info(*c).congestion, "bbr");
  const Duration gap = Duration::ns(static_cast<std::int64_t>(std::uint64_t{kMss} * 1'000'000'000 / rate));
  expect_segment(10, at_ms(200));
  expect_segment(11, at_ms(200));
  expect_nothing_sent();
  EXPECT_EQ(stack().pacing_deadline(), at_ms(200) + gap * 2);
  advance_to(at_ms(200) + gap * 2 - Duration::ns(1));
  expect_nothing_sent();
  advance_to(at_ms(210));  // the burst leaves between timer ticks (2 x gap = 6.998 ms)
  expect_segment(12, at_ms(200) + gap * 2);
  expect_segment(13, at_ms(200) + gap * 2);
  expect_nothing_sent();  // cwnd is full: nothing waits for the pacer
  EXPECT_EQ(stack().pacing_deadline(), Instant::max());
}

// SACK recovery under BBR (-00 §4.2.3.4): cwnd = pipe + delivered on
// entry, not PRR's; the fast retransmission leaves at once, the new data
// NextSeg then picks is paced.
TEST_F(TcpPacing, SackRecoveryUsesPacketConservation) {
  Tcb* c = bbr_sack_connection();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->sack_ok);
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * kMss), at_ms(100)), 30u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));
  // Segment 0 lost, 1..3 SACKed: RFC 6675 IsLost (3 segments above it).
  sack_segments_1_to_3(at_ms(200));
  ASSERT_TRUE(c->sack_recovery);
  ASSERT_NE(c->cc.bbr(), nullptr);
  EXPECT_TRUE(c->cc.bbr()->packet_conservation());
  // pipe = segments 4..9 (6; segment 0 is lost, 1..3 SACKed), delivered = 3
  // segments: cwnd = 9 segments. (PRR would give pipe + CEIL(3 segments x
  // ssthresh / RecoverFS).)
  EXPECT_EQ(c->cc.cwnd(), 9 * kMss);
  expect_segment(0, at_ms(200));  // (4.3): at once, outside the pacer
  expect_nothing_sent();
  // pipe is 7 segments now: 2 of new data, one burst (the quantum is 2
  // segments) a segment's time after the retransmission.
  const std::uint64_t rate = c->cc.pacing_rate();
  const Duration gap = Duration::ns(static_cast<std::int64_t>(std::uint64_t{kMss} * 1'000'000'000 / rate));
  advance_to(at_ms(210));
  expect_segment(10, at_ms(200) + gap);
  expect_segment(11, at_ms(200) + gap);
  expect_nothing_sent();
}

// BBR's loss input (-00 §4.2.3.4 BBRModulateCwndForRecovery: cwnd =
// max(cwnd - packets_lost, 1), then, in the first round of recovery,
// max(cwnd, packets_in_flight + packets_delivered)): the bytes RACK (RFC
// 8985 §6.2 step 5) marks lost on an ACK come off cwnd. Before, BBR saw
// lost = 0 and kept cwnd at 9 segments.
TEST_F(TcpPacing, BbrCutsCwndByWhatRackMarksLost) {
  Tcb* c = bbr_sack_connection();
  ASSERT_NE(c, nullptr);
  // Eleven segments: the window 0..9 at once, 10 in recovery; then the
  // application has nothing more, so the pipe stays below cwnd.
  ASSERT_EQ(stack().send_copy(*c, pattern(11 * kMss), at_ms(100)), 11u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));
  // Segment 0 lost (1..3 SACKed): recovery, cwnd = pipe 6 + delivered 3.
  Seg ack = sack_segments_1_to_3(at_ms(200));
  ASSERT_TRUE(c->sack_recovery);
  ASSERT_NE(c->txlog, nullptr);  // RACK is the loss detector
  ASSERT_TRUE(c->cc.bbr()->packet_conservation());
  EXPECT_EQ(c->cc.cwnd(), 9 * kMss);
  EXPECT_EQ(c->lost_segs, 1u);
  advance_to(at_ms(210));
  take_all_sent();  // segment 0 again, and 10: pipe 4..10 and the resend, 8 segments
  // 6 and 7 SACKed: RACK marks 4 and 5 (sent before them) lost at once
  // (reo_wnd is 0 in recovery without reordering seen). Pipe after: 8, 9,
  // 10 and the resend of 0 (4 segments); delivered 2; lost 2.
  ack.opts_.sack[ack.opts_.sack_count++] = SackBlock{S(6).value(), S(8).value()};
  recv(ack, at_ms(220));
  EXPECT_EQ(c->lost_segs, 3u);
  EXPECT_TRUE(c->cc.bbr()->packet_conservation());  // still the first round of recovery
  EXPECT_EQ(c->cc.cwnd(), 7 * kMss);                // 9 - 2 lost, and >= 4 in flight + 2 delivered
}

// -00 §4.3.4.4 BBRIsNextCyclePhase: the 5/4 probing phase lasts at least
// RTprop and then until inflight reaches 5/4 BDP, or "packets_lost > 0"
// says the path cannot take it. The model is put in that phase directly
// (BtlBw 12.5 MB/s, RTprop 10 ms: 5/4 BDP is far above this flight); the
// engine's ACK that lets RACK mark a loss then ends it. Before, BBR saw
// lost = 0 and probed on.
TEST_F(TcpPacing, ALossEndsBbrProbingPhase) {
  Tcb* c = bbr_sack_connection();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(10 * kMss), at_ms(100)), 10u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));

  Bbr* b = c->cc.bbr();
  ASSERT_NE(b, nullptr);
  constexpr std::uint64_t kBw = 12'500'000;  // bytes per second
  Instant t = at_ms(100);
  std::uint32_t delivered = 0;
  const auto probe_round = [&](std::uint64_t rate) {  // one round trip of synthetic samples
    t = t + Duration::ms(11);
    RateSample rs;
    rs.has_prior = true;
    rs.prior_delivered = delivered;
    rs.valid = true;
    rs.delivery_rate = rate;
    rs.rtt = Duration::ms(10);
    rs.delivered = 10 * kMss;
    delivered += 10 * kMss;
    BbrAck a;
    a.now = t;
    a.delivered = 10 * kMss;
    a.inflight = 10 * kMss;
    a.prior_inflight = 20 * kMss;
    a.delivered_total = delivered;
    a.srtt = Duration::ms(10);
    b->on_sample(rs, a);
  };
  for (std::uint64_t r = kBw / 8; r < kBw; r *= 2) probe_round(r);
  for (int i = 0; i < 8 && b->state() != Bbr::State::kProbeBw; ++i) probe_round(kBw);
  ASSERT_EQ(b->state(), Bbr::State::kProbeBw);
  for (int i = 0; i < 8 && b->pacing_gain() != 320u; ++i) probe_round(kBw);
  ASSERT_EQ(b->pacing_gain(), 320u);  // 5/4
  ASSERT_LT(20 * kMss, b->inflight(320));
  ASSERT_LT(t + Duration::ms(30), at_ms(300));  // before the loss probe (2 x SRTT after 100 ms)

  // 30 ms into the phase (past RTprop): segment 0 lost, 1..3 SACKed.
  sack_segments_1_to_3(t + Duration::ms(30));
  EXPECT_EQ(c->lost_segs, 1u);
  EXPECT_EQ(b->pacing_gain(), 192u);  // the next phase: 3/4
  EXPECT_EQ(b->cycle_index(), 1u);
}

// Controllers that do not pace send whatever cwnd allows at once.
TEST_F(TcpPacing, NewRenoIsNotPaced) {
  Tcb* c = bbr_connection(CongestionAlgorithm::kNewReno);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cc.pacing_rate(), 0u);
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * kMss), at_ms(100)), 30u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));
  recv(seg().seq(irs() + 1).ack(S(2)), at_ms(200));
  for (std::uint32_t i = 10; i < 14; ++i) expect_segment(i, at_ms(200));  // slow start: 2 + 2
  expect_nothing_sent();
  EXPECT_EQ(stack().pacing_deadline(), Instant::max());
}

// [tcp] pacing: a window-based controller paces as Linux's internal pacing
// does (tcp_update_pacing_rate): pacing_ss_ratio % of cwnd / SRTT while
// cwnd < ssthresh / 2, pacing_burst segments at a time. Here 200 % of 10
// segments over the handshake's 100 ms: 292,000 B/s, two segments (one
// burst) every 10 ms, so the initial window takes 50 ms, not 0.
TEST_F(TcpPacing, CubicPacesItsWindowWhenPacingIsOn) {
  cfg().pacing = true;
  Tcb* c = bbr_connection(CongestionAlgorithm::kCubic);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cc.name(), "cubic");
  ASSERT_EQ(c->rto.srtt(), Duration::ms(100));
  EXPECT_EQ(stack().info(*c).pacing_rate, 292'000u);
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * kMss), at_ms(100)), 30u * kMss);
  for (std::uint32_t burst = 0; burst < 5; ++burst) {
    advance_to(at_ms(100 + 10 * burst));
    expect_segment(2 * burst, at_ms(100 + 10 * burst));
    expect_segment(2 * burst + 1, at_ms(100 + 10 * burst));
    expect_nothing_sent();
  }
  advance_to(at_ms(200));
  expect_nothing_sent();               // cwnd (10 segments) is in flight
  EXPECT_EQ(c->cc.pacing_rate(), 0u);  // the controller's own: CUBIC has none
}

// Without [tcp] pacing (the default) CUBIC sends its window at once.
TEST_F(TcpPacing, CubicIsNotPacedByDefault) {
  Tcb* c = bbr_connection(CongestionAlgorithm::kCubic);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(stack().info(*c).pacing_rate, 0u);
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * kMss), at_ms(100)), 30u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));
  expect_nothing_sent();
}

// A connection freed while it waits on the pacing list leaves the list.
TEST_F(TcpPacing, AbortedWhileWaitingLeavesTheList) {
  Tcb* c = bbr_connection();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(30 * kMss), at_ms(100)), 30u * kMss);
  for (std::uint32_t i = 0; i < 10; ++i) expect_segment(i, at_ms(100));
  recv(seg().seq(irs() + 1).ack(S(2)), at_ms(200));
  expect_segment(10, at_ms(200));
  expect_segment(11, at_ms(200));
  ASSERT_NE(stack().pacing_deadline(), Instant::max());
  stack().abort(*c, at_ms(200));
  expect_sent(seg().flags(kTcpRst | kTcpAck));
  advance_to(at_ms(300));
  expect_nothing_sent();
  EXPECT_EQ(stack().pacing_deadline(), Instant::max());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

}  // namespace
}  // namespace tern::tcptest
