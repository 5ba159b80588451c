// CUBIC (lib/tcp/cc/cubic.h) reductions on NewReno's recovery core: beta
// 0.7 and fast convergence (RFC 9438 §4.6, §4.7), timeouts (§4.8), the
// engine's SACK recovery, and NewReno's recovery tests run against CUBIC.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "cc_sender.h"
#include "tcp/cc/cubic.h"
#include "tcp/cc/newreno.h"

namespace tern::cc_test {
namespace {

// §4.6: ssthresh = max(0.7 * FlightSize, 2 * SMSS); cwnd_prior and W_max
// the window before the reduction; fast recovery itself as NewReno's.
TEST(Cubic, LossReducesByBetaPointSeven) {
  Flow f{make_cubic()};
  f.enter_recovery(100 * kMss);
  EXPECT_EQ(f.cc.ssthresh(), 70 * kMss);         // 0.7 * 146000 = 102200
  EXPECT_EQ(f.cc.cwnd(), 70 * kMss + 3 * kMss);  // ssthresh + 3*SMSS (RFC 5681 §3.2 step 3)
  EXPECT_EQ(f.cc.growth().w_max(), 100 * kMss);  // first loss: no fast convergence
  EXPECT_EQ(f.cc.growth().cwnd_prior(), 100 * kMss);
  // Small flights: 0.7 * 3 MSS = 3066 bytes; 0.7 * 2 MSS is below the floor.
  Flow g{make_cubic()};
  g.enter_recovery(3 * kMss);
  EXPECT_EQ(g.cc.ssthresh(), 3066u);
  Flow h{make_cubic()};
  h.enter_recovery(2 * kMss);
  EXPECT_EQ(h.cc.ssthresh(), 2 * kMss);
}

// RFC 5681 §3.2 step 2 as for NewReno: limited-transmit bytes stay out.
TEST(Cubic, LimitedTransmitBytesStayOutOfTheReduction) {
  Flow f{make_cubic()};
  f.send(10 * kMss);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(f.dup(), CcAction::kSendNew);
    f.send(kMss);
    f.cc.on_limited_transmit(kMss);
  }
  ASSERT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_EQ(f.cc.ssthresh(), 7 * kMss) << "FlightSize 12 MSS, 2 of them limited transmit: 0.7 * 10";
  EXPECT_EQ(f.cc.growth().w_max(), 10 * kMss);
}

// §4.7: a loss below the last W_max releases more: W_max = cwnd * 0.85.
TEST(Cubic, FastConvergence) {
  for (const bool fc : {true, false}) {
    SCOPED_TRACE(fc ? "fast convergence" : "without");
    Flow f{make_cubic({.hystart = false, .fast_convergence = fc})};
    f.loss_and_recover(100 * kMss, 79 * kMss);  // W_max 100 MSS, cwnd 70 MSS
    f.ack(kMss);                                // past "recover": a new event may start
    f.send(2 * kMss);
    f.enter_recovery(0);  // FlightSize 80 MSS
    EXPECT_EQ(f.cc.ssthresh(), 56 * kMss);
    EXPECT_EQ(f.cc.growth().w_max(), fc ? 68 * kMss : 80 * kMss);  // 80 * 0.85 = 68
    EXPECT_EQ(f.cc.growth().cwnd_prior(), 80 * kMss);
    // The next epoch climbs toward that W_max: K = cbrt((68 - 56) / 0.4)
    // = cbrt(30) = 3.107 s (cbrt(60) = 3.915 s without).
    f.send(60 * kMss);
    f.ack(80 * kMss);
    f.ack(kMss);
    EXPECT_NEAR(f.cc.growth().k().count_ns() / 1e9, std::cbrt(fc ? 30.0 : 60.0), kTick);
    // A loss at or above W_max remembers the window as it is.
    f.send(31 * kMss);
    f.enter_recovery(0);  // FlightSize 59 + 31 = 90 MSS > W_max
    EXPECT_EQ(f.cc.growth().w_max(), 90 * kMss);
  }
}

// §4.8: a timeout sets ssthresh with beta_cubic, cwnd to one segment; the
// next congestion avoidance starts a fresh curve with K = 0 and W_max =
// W_est = cwnd_epoch. Loss at 100 MSS, then an RTO with 90 MSS outstanding:
// ssthresh = 63 MSS; from there W(t) = 63 + 0.4 t^3 MSS.
TEST(Cubic, TimeoutStartsAFreshCurveFromTheNewWindow) {
  Flow f = after_loss_at_100();
  f.ack(kMss);
  f.send(11 * kMss);  // 90 MSS outstanding
  f.cc.on_rto(f.una, f.max);
  EXPECT_EQ(f.cc.cwnd(), kMss);
  EXPECT_EQ(f.cc.ssthresh(), 63 * kMss);
  EXPECT_EQ(f.cc.growth().cwnd_prior(), 90 * kMss);
  EXPECT_TRUE(f.cc.in_slow_start());
  f.cc.on_rto(f.una, f.max);  // backed off: ssthresh held (RFC 5681 §3.1)
  EXPECT_EQ(f.cc.ssthresh(), 63 * kMss);
  // Slow start back: 1 + 31 * 2 = 63 MSS, the last ACK lands on ssthresh.
  for (int i = 0; i < 31; ++i) {
    f.send(2 * kMss);
    f.ack(2 * kMss);
  }
  ASSERT_EQ(f.cc.cwnd(), 63 * kMss);
  EXPECT_FALSE(f.cc.growth().epoch_started()) << "slow start is not on the curve";
  f.send(kMss);
  f.ack(kMss);
  const CubicGrowth& g = f.cc.growth();
  EXPECT_EQ(g.k(), Duration{});
  EXPECT_EQ(g.w_max(), 63 * kMss);
  EXPECT_EQ(g.cwnd_epoch(), 63 * kMss);
  EXPECT_GE(g.w_est(), 63 * kMss);
  EXPECT_NEAR(static_cast<double>(g.w_cubic(Duration::s(1))), 92564, 2);  // 63.4 MSS
  EXPECT_NEAR(static_cast<double>(g.w_cubic(Duration::s(2))), 96652, 2);  // 66.2 MSS
}

// The recovery core is NewReno's (NewReno.ThirdDupAckEntersFastRetransmit,
// NewReno.PartialAckDeflatesAndStaysInRecovery), with CUBIC's ssthresh.
TEST(Cubic, ThirdDupAckEntersFastRetransmit) {
  Flow f{make_cubic()};
  f.send(20 * kMss);
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_EQ(f.dup(), CcAction::kSendNew);
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);
  EXPECT_EQ(f.dup(), CcAction::kRetransmit);
  EXPECT_TRUE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.ssthresh(), 14 * kMss);         // 0.7 * FlightSize
  EXPECT_EQ(f.cc.cwnd(), 14 * kMss + 3 * kMss);  // ssthresh + 3*SMSS
  EXPECT_EQ(f.dup(), CcAction::kNone);           // inflation only
  EXPECT_EQ(f.cc.cwnd(), 18 * kMss);
}

TEST(Cubic, PartialAckDeflatesAndStaysInRecovery) {
  Flow f{make_cubic()};
  f.enter_recovery(20 * kMss);
  for (int i = 0; i < 4; ++i) f.dup();
  const std::uint32_t w = f.cc.cwnd();  // 14 + 3 + 4 = 21 MSS
  ASSERT_EQ(w, 21 * kMss);
  EXPECT_EQ(f.ack(5 * kMss), CcAction::kRetransmit);
  EXPECT_TRUE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), w - 5 * kMss + kMss);   // deflate, add back one SMSS: 17 MSS
  EXPECT_EQ(f.ack(100), CcAction::kRetransmit);  // less than SMSS: no add-back
  EXPECT_EQ(f.cc.cwnd(), 17 * kMss - 100);
  EXPECT_EQ(f.cc.ssthresh(), 14 * kMss);
  EXPECT_FALSE(f.cc.growth().epoch_started()) << "recovery is not on the curve";
  f.ack(f.max - f.una);  // full ACK, nothing left: cwnd = min(ssthresh, 0 + SMSS + SMSS)
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), 2 * kMss);
}

// The engine's SACK recovery (RFC 6675 with PRR, tcp_sack.cc) enters
// through enter_sack_recovery: the reduction is CUBIC's there too, PRR
// sets cwnd, and at the end cwnd = ssthresh; the next ACK starts the epoch.
TEST(Cubic, SackRecoveryTakesTheCubicReduction) {
  Flow f{make_cubic()};
  f.cc.adopt(100 * kMss, f.cc.ssthresh(), false);  // a window of 100 MSS, all in use
  f.send(100 * kMss);
  f.cc.enter_sack_recovery(100 * kMss, f.max);
  EXPECT_TRUE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(f.cc.growth().w_max(), 100 * kMss);
  EXPECT_EQ(f.cc.cwnd(), 100 * kMss) << "unchanged: PRR's to set";
  f.cc.set_recovery_cwnd(50 * kMss);
  EXPECT_EQ(f.cc.cwnd(), 50 * kMss);
  f.cc.exit_sack_recovery();
  EXPECT_FALSE(f.cc.in_recovery());
  EXPECT_EQ(f.cc.cwnd(), 70 * kMss);
  f.ack(kMss);
  EXPECT_EQ(f.cc.growth().cwnd_epoch(), 70 * kMss);
  EXPECT_NEAR(f.cc.growth().k().count_ns() / 1e9, std::cbrt(75.0), kTick);
}

// With SACK, SND.MAX - SND.UNA also counts data the receiver holds: when a
// loss is found soon after a recovery, FlightSize is well above the window
// PRR let out. The reduction is from cwnd then (reno_recovery.h), or
// recovery after recovery would raise ssthresh instead of lowering it.
TEST(Cubic, SackRecoveryReducesFromCwndWhenFlightSizeIsLarger) {
  Flow f{make_cubic()};
  f.cc.adopt(50 * kMss, 50 * kMss, false);
  f.send(100 * kMss);
  f.cc.enter_sack_recovery(100 * kMss, f.max);
  EXPECT_EQ(f.cc.ssthresh(), 35 * kMss) << "0.7 * cwnd, not 0.7 * FlightSize (70 MSS)";
  EXPECT_EQ(f.cc.growth().w_max(), 50 * kMss);
}

// RFC 9438 §4.6: "ssthresh = cwnd * beta_cubic", as Linux reduces; the
// engine keeps an unused cwnd from growing (RFC 7661, note_cwnd_use), the
// measure §4.6 asks of an implementation that reduces from cwnd. FlightSize
// at the ACK that finds the loss is what that ACK left in flight: a
// receiver acknowledging a window of 10 segments 6 at a time leaves 4, and
// 0.7 * 4 would have taken the window to 2.8 segments, not 7.
TEST(Cubic, SackRecoveryReducesFromCwndWhenFlightSizeIsSmaller) {
  Flow f{make_cubic()};
  f.cc.adopt(10 * kMss, 10 * kMss, false);
  f.send(10 * kMss);
  f.ack(6 * kMss);  // cwnd-limited congestion avoidance: 10 MSS plus a little
  const std::uint32_t cwnd = f.cc.cwnd();
  ASSERT_GE(cwnd, 10 * kMss);
  f.cc.enter_sack_recovery(4 * kMss, f.max);
  EXPECT_EQ(f.cc.ssthresh(), static_cast<std::uint32_t>(std::uint64_t{cwnd} * 7 / 10))
      << "0.7 * cwnd, not 0.7 * 4 MSS";
  EXPECT_EQ(f.cc.growth().w_max(), cwnd);
  EXPECT_EQ(f.cc.growth().cwnd_prior(), cwnd);
  // NewReno keeps RFC 6675 §5 (4.2)'s FlightSize / 2 where it is smaller.
  Sender<NewReno> g{NewReno{NewRenoConfig{.mss = kMss}}};
  g.cc.adopt(10 * kMss, 10 * kMss, false);
  g.send(10 * kMss);
  g.ack(6 * kMss);
  g.cc.enter_sack_recovery(4 * kMss, g.max);
  EXPECT_EQ(g.cc.ssthresh(), 2 * kMss);
}

}  // namespace
}  // namespace tern::cc_test
