// Congestion::undo at the controller level (lib/tcp/cc/reno_recovery.h,
// cubic.cc): what a reduction found spurious gives back. The engine's
// detectors (D-SACK, Eifel, F-RTO) are tcp_undo_test.cc's.
#include <gtest/gtest.h>

#include <cstdint>

#include "cc_sender.h"
#include "tcp/cc/controller.h"
#include "tcp/cc/cubic.h"
#include "tcp/cc/newreno.h"

namespace tern::cc_test {
namespace {

using RenoFlow = Sender<NewReno>;
RenoFlow make_reno() { return RenoFlow{NewReno{NewRenoConfig{.mss = kMss}}}; }

// Linux's tcp_undo_cwnd_reduction, RFC 4015 §2: during recovery cwnd is
// NewReno's inflated window, so the one from before the fast retransmit
// replaces it; ssthresh = max(ssthresh, prior). Only once per episode.
TEST(CcUndo, NewRenoUndoInRecoveryRestoresTheWindow) {
  RenoFlow f = make_reno();
  ASSERT_EQ(f.cc.cwnd(), 10 * kMss);
  EXPECT_FALSE(f.cc.can_undo());
  f.enter_recovery(20 * kMss);
  EXPECT_EQ(f.cc.ssthresh(), 10 * kMss);
  EXPECT_EQ(f.cc.cwnd(), 13 * kMss);
  EXPECT_TRUE(f.cc.can_undo());
  EXPECT_EQ(f.cc.prior_cwnd(), 10 * kMss);

  EXPECT_TRUE(f.cc.undo());
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);
  EXPECT_EQ(f.cc.ssthresh(), kCcInitialSsthresh);
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_FALSE(f.cc.undo()) << "nothing left to undo";
  // Further duplicates of the same window do not enter again (RFC 6582 §3.2
  // step 1: "recover" is kept).
  EXPECT_NE(f.dup(), CcAction::kRetransmit);
}

// After recovery ended (a late D-SACK): cwnd = max(cwnd, prior).
TEST(CcUndo, NewRenoUndoAfterRecoveryTakesTheLargerWindow) {
  RenoFlow f = make_reno();
  f.loss_and_recover(20 * kMss, 15 * kMss);
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);  // min(ssthresh, 15 + 1) MSS
  // Congestion avoidance: one SMSS per window (RFC 5681 §3.1), past the IW.
  f.round(Duration::ms(10));
  f.round(Duration::ms(10));
  const std::uint32_t cwnd = f.cc.cwnd();
  ASSERT_GT(cwnd, 10 * kMss);
  EXPECT_TRUE(f.cc.undo());
  EXPECT_EQ(f.cc.cwnd(), cwnd);
  EXPECT_EQ(f.cc.ssthresh(), kCcInitialSsthresh);
}

// RFC 5681 §3.1: a timeout collapses cwnd to one segment; a backed-off
// repeat keeps what the first one saved, and an RTO during fast recovery
// keeps the window from before the recovery (Linux's tcp_enter_loss).
TEST(CcUndo, TimeoutsKeepTheWindowFromBeforeTheEpisode) {
  RenoFlow f = make_reno();
  f.send(10 * kMss);
  f.cc.on_rto(f.una, f.max);
  f.cc.on_rto(f.una, f.max);
  EXPECT_EQ(f.cc.cwnd(), kMss);
  EXPECT_EQ(f.cc.ssthresh(), 5 * kMss);
  EXPECT_TRUE(f.cc.undo());
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);
  EXPECT_EQ(f.cc.ssthresh(), kCcInitialSsthresh);

  RenoFlow g = make_reno();
  g.enter_recovery(20 * kMss);
  g.cc.on_rto(g.una, g.max);
  EXPECT_EQ(g.cc.cwnd(), kMss);
  EXPECT_TRUE(g.cc.undo());
  EXPECT_EQ(g.cc.cwnd(), 10 * kMss);
  EXPECT_EQ(g.cc.ssthresh(), kCcInitialSsthresh);
}

// RFC 9438 §4.9.2 (figures 7, 8): the curve from before the reduction, W_max,
// K, epoch_start and W_est, with cwnd and ssthresh, when cwnd is below the
// window saved.
// Congestion avoidance after a loss at 100 MSS, nothing outstanding, then
// `rounds` round trips of 100 ms on the curve.
Flow on_the_curve(int rounds) {
  Flow f = after_loss_at_100();
  f.srtt = Duration::ms(100);
  f.ack(80 * kMss);
  for (int i = 0; i < rounds; ++i) f.round(Duration::ms(100));
  return f;
}

TEST(CcUndo, CubicRestoresItsCurve) {
  Flow f = on_the_curve(5);
  const CubicGrowth& g = f.cc.growth();
  ASSERT_TRUE(g.epoch_started());
  const std::uint32_t cwnd = f.cc.cwnd(), ssthresh = f.cc.ssthresh();
  const std::uint32_t w_max = g.w_max(), w_est = g.w_est(), cwnd_prior = g.cwnd_prior();
  const Duration k = g.k();
  const Instant epoch = g.epoch_start();
  ASSERT_EQ(w_max, 100 * kMss);

  f.enter_recovery(cwnd);  // FlightSize = cwnd < W_max: fast convergence
  EXPECT_NE(g.w_max(), w_max);
  EXPECT_FALSE(g.epoch_started());
  EXPECT_LT(f.cc.ssthresh(), ssthresh);

  EXPECT_TRUE(f.cc.undo());
  EXPECT_EQ(f.cc.cwnd(), cwnd);
  EXPECT_EQ(f.cc.ssthresh(), ssthresh);
  EXPECT_EQ(g.w_max(), w_max);
  EXPECT_EQ(g.cwnd_prior(), cwnd_prior);
  EXPECT_TRUE(g.epoch_started());
  EXPECT_EQ(g.epoch_start(), epoch);
  EXPECT_EQ(g.k(), k);
  EXPECT_EQ(g.w_est(), w_est);
  // The next ACK continues on the old curve, from where it had reached.
  f.now = f.now + Duration::ms(10);
  f.send(kMss);
  f.ack(kMss);
  EXPECT_GE(f.cc.cwnd(), cwnd);
}

// §4.9.2: "when the detection happens long after ... and the current cwnd
// is already higher than prior_cwnd, CUBIC SHOULD continue to use the
// current and the most recent values".
TEST(CcUndo, CubicLateUndoKeepsTheCurrentCurve) {
  Flow f = on_the_curve(3);
  const std::uint32_t prior = f.cc.cwnd();
  f.loss_and_recover(prior, prior / 2);
  f.ack(kMss);
  for (int i = 0; i < 400 && f.cc.cwnd() <= prior; ++i) f.round(Duration::ms(100));
  ASSERT_GT(f.cc.cwnd(), prior);
  const CubicGrowth& g = f.cc.growth();
  const std::uint32_t cwnd = f.cc.cwnd(), w_max = g.w_max();
  const Instant epoch = g.epoch_start();
  EXPECT_TRUE(f.cc.undo());
  EXPECT_EQ(f.cc.cwnd(), cwnd);
  EXPECT_EQ(g.w_max(), w_max);
  EXPECT_EQ(g.epoch_start(), epoch);
}

// The run-time variant forwards both.
TEST(CcUndo, CongestionForwardsUndo) {
  Congestion c{CongestionAlgorithm::kCubic, NewRenoConfig{.mss = kMss}};
  EXPECT_FALSE(c.can_undo());
  c.enter_sack_recovery(20 * kMss, Seq32{1000});
  EXPECT_TRUE(c.can_undo());
  EXPECT_EQ(c.ssthresh(), 7 * kMss);  // 0.7 * min(FlightSize, cwnd = IW)
  EXPECT_TRUE(c.undo());
  EXPECT_EQ(c.cwnd(), 10 * kMss);
  EXPECT_EQ(c.ssthresh(), kCcInitialSsthresh);
  EXPECT_FALSE(c.in_recovery());
  Congestion r{CongestionAlgorithm::kNewReno, NewRenoConfig{.mss = kMss}};
  r.on_rto(Seq32{0}, Seq32{10 * kMss});
  EXPECT_TRUE(r.undo());
  EXPECT_EQ(r.cwnd(), 10 * kMss);
}

}  // namespace
}  // namespace tern::cc_test
