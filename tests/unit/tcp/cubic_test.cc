// CUBIC (lib/tcp/cc/cubic.h) window growth, driven by hand-made ACK
// sequences on virtual time: the curve (RFC 9438 eq. 1, 2, §4.2), the
// Reno-friendly region (§4.3), the per-ACK burst bound, idle time (§5.8).
// Reductions and recovery: cubic_recovery_test.cc; HyStart++: hystart_test.cc.
#include "tcp/cc/cubic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "cc_sender.h"
#include "tcp/cc/newreno.h"

namespace tern::cc_test {
namespace {

// RFC 9438 eq. 1 in bytes, in floating point: the reference.
double eq1(double t, double k, double w_max_seg) { return (0.4 * std::pow(t - k, 3) + w_max_seg) * kMss; }

TEST(Cubic, NameAndInitialWindow) {
  const Cubic cc = make_cubic();
  EXPECT_EQ(cc.name(), "cubic");
  EXPECT_EQ(cc.cwnd(), 10 * kMss);  // RFC 6928, as NewReno
  EXPECT_EQ(cc.ssthresh(), Cubic::kInitialSsthresh);
  EXPECT_TRUE(cc.in_slow_start());
  EXPECT_FALSE(cc.growth().epoch_started());
}

// Eq. 1 and 2 against floating point: W_max = 100 MSS, cwnd_epoch = 70 MSS,
// K = cbrt(30 / 0.4) = cbrt(75) = 4.217163 s. By hand (segments):
// W(0) = 70, W(1) = 86.681, W(2) = 95.640, W(K) = 100, W(6) = 102.267,
// W(10) = 177.354.
TEST(Cubic, CurveMatchesEquationOne) {
  Flow f = after_loss_at_100();
  f.ack(kMss);  // the first ACK in congestion avoidance starts the epoch
  const CubicGrowth& g = f.cc.growth();
  ASSERT_TRUE(g.epoch_started());
  EXPECT_EQ(g.cwnd_epoch(), 70 * kMss);
  const double k = std::cbrt(30.0 / 0.4);
  EXPECT_NEAR(g.k().count_ns() / 1e9, k, kTick);
  EXPECT_NEAR(k, 4.217163, 1e-6);
  for (const double t : {0.0, 0.5, 1.0, 2.0, k, 6.0, 10.0, 30.0}) {
    // Tolerance: t and K each off by at most one tick, times the slope
    // 3 * C * (t - K)^2 segments/s, plus a byte of rounding. At 10 s:
    // 3 * 0.4 * 5.783^2 = 40 MSS/s, 2 ticks of it = 14.3 bytes.
    const double slope = 3 * 0.4 * (t - k) * (t - k) * kMss;
    const double tol = 2 * kTick * slope + 2;
    const double got = static_cast<double>(g.w_cubic(Duration::ns(static_cast<std::int64_t>(t * 1e9))));
    EXPECT_NEAR(got, eq1(t, k, 100), tol) << "t = " << t;
  }
  EXPECT_NEAR(static_cast<double>(g.w_cubic(Duration{})), 102200, 3);  // = cwnd_epoch
  EXPECT_NEAR(static_cast<double>(g.w_cubic(Duration::s(1))), 126554, 8);
  EXPECT_NEAR(static_cast<double>(g.w_cubic(Duration::s(10))), 258937, 16);
}

// §4.2: target = W_cubic(t + RTT), cwnd += (target - cwnd) / cwnd per MSS.
// First ACK of the epoch (t = 0), SRTT 100 ms: W(0.1) = 72.0839 MSS =
// 105242.5 bytes, so cwnd grows by (105242.5 - 102200) * 1460 / 102200 =
// 43.46 bytes.
TEST(Cubic, FirstAckMovesTowardTheTargetOneRttAhead) {
  Flow f = after_loss_at_100();
  f.srtt = Duration::ms(100);
  f.send(kMss);
  f.ack(kMss);
  EXPECT_NEAR(f.cc.cwnd(), 102200 + 43, 1);
}

// On an ACK clock at 100 ms, cwnd rides the curve: concave up to W_max at
// t = K, flat there, convex beyond. A loss at 1000 MSS: K = cbrt(300 / 0.4)
// = 9.086 s; W_est (700 MSS + 9/17 MSS per RTT, 748 at K) stays far below,
// so this is the cubic region throughout. Each ACK closes acked / cwnd of
// the gap to W(t + RTT), so cwnd trails that by about 1.6 RTTs of slope:
// it stays between W(t - RTT) and W(t + RTT), give or take a segment.
TEST(Cubic, CwndFollowsTheCurveOnAnAckClock) {
  Flow f{make_cubic()};
  f.loss_and_recover(1000 * kMss, 800 * kMss);
  ASSERT_EQ(f.cc.cwnd(), 700 * kMss);
  f.srtt = Duration::ms(100);
  const Instant t0 = f.now;
  f.send(kMss);
  f.ack(kMss);  // starts the epoch at t0
  const double k = f.cc.growth().k().count_ns() / 1e9;
  EXPECT_NEAR(k, 9.0856, 1e-3);
  bool saw_plateau = false;
  while (f.now - t0 < Duration::s(14)) {
    const std::uint32_t before = f.cc.cwnd();
    f.round(Duration::ms(100));
    const double t = (f.now - t0).count_ns() / 1e9;
    const double c = f.cc.cwnd();
    EXPECT_GE(c, eq1(t - 0.1, k, 1000) - kMss) << "t = " << t;
    EXPECT_LE(c, eq1(t + 0.1, k, 1000) + kMss) << "t = " << t;
    EXPECT_GE(f.cc.cwnd(), before);
    EXPECT_LT(f.cc.growth().w_est(), 800 * kMss) << "not in the Reno-friendly region";
    if (std::abs(t - k) < 0.3) {
      EXPECT_NEAR(c, 1000.0 * kMss, 1.0 * kMss) << "plateau at W_max, t = " << t;
      saw_plateau = true;
    }
  }
  EXPECT_TRUE(saw_plateau);
  EXPECT_GT(f.cc.cwnd(), 1040 * kMss) << "convex past K: W(14) = 1047.5 MSS";
}

// With a smaller window at the same RTT the Reno estimate overtakes the
// flat part of the curve: loss at 100 MSS, K = 4.217 s, W_est = 70 + 9/17
// MSS per RTT reaches cwnd_prior = 100 MSS near t = 5.7 s and then adds one
// MSS per RTT, while W(t) is 102.3 MSS at 6 s: cwnd = W_est from there.
TEST(Cubic, RenoEstimateTakesOverOnTheFlatPartOfTheCurve) {
  Flow f = after_loss_at_100();
  f.srtt = Duration::ms(100);
  const Instant t0 = f.now;
  f.send(kMss);
  f.ack(kMss);
  while (f.now - t0 < Duration::s(4)) f.round(Duration::ms(100));
  EXPECT_GT(f.cc.cwnd(), f.cc.growth().w_est() + 5 * kMss) << "t = 4 s: on the curve";
  while (f.now - t0 < Duration::s(7)) f.round(Duration::ms(100));
  EXPECT_EQ(f.cc.cwnd(), f.cc.growth().w_est()) << "t = 7 s: Reno-friendly";
  EXPECT_GT(f.cc.cwnd(), 105 * kMss);  // W(7) = 108.6 MSS and W_est is above it
  EXPECT_GT(static_cast<double>(f.cc.cwnd()), eq1(7.0, std::cbrt(75.0), 100));
}

// §4.3 with a short RTT and a small W_max: loss at 20 MSS, ssthresh 14 MSS,
// K = cbrt(15) = 2.466 s, but at 1 ms per round trip the cubic curve hardly
// moves while W_est gains alpha = 9/17 MSS per RTT: cwnd follows W_est.
TEST(Cubic, RenoFriendlyRegionFollowsWest) {
  Flow f{make_cubic()};
  f.srtt = Duration::ms(1);
  f.loss_and_recover(20 * kMss, 20 * kMss);
  ASSERT_EQ(f.cc.cwnd(), 14 * kMss);
  // First ACK: W_est = 20440 + 9/17 * 1460 * 1460 / 20440 = 20440 + 55.2,
  // while the cubic step is (W(0.001) - 20440) * 1460 / 20440 = 10.7 * 1460
  // / 20440 = 0.8 bytes (slope 3 * 0.4 * K^2 = 7.3 MSS/s): cwnd = W_est.
  f.send(kMss);
  f.ack(kMss);
  EXPECT_EQ(f.cc.cwnd(), 20440u + 55);
  EXPECT_EQ(f.cc.cwnd(), f.cc.growth().w_est());
  // Ten round trips: about 10 * 9/17 = 5.29 MSS more, cwnd = W_est all along.
  const std::uint32_t c0 = f.cc.cwnd();
  for (int i = 0; i < 10; ++i) {
    f.round(Duration::ms(1));
    EXPECT_EQ(f.cc.cwnd(), f.cc.growth().w_est());
  }
  EXPECT_NEAR(f.cc.cwnd() - c0, 10.0 * 9 / 17 * kMss, 0.1 * kMss);
  // Once W_est reaches cwnd_prior (20 MSS), alpha = 1: one MSS per RTT,
  // Reno's own rate (NewReno.CongestionAvoidanceOneSegmentPerWindow), less
  // what eq. 4 loses by dividing by the cwnd of the moment, which grows
  // through the round: about 1/(2 * 20) of it here, 4.88 MSS in 5 RTTs.
  while (f.cc.cwnd() < 20 * kMss) f.round(Duration::ms(1));
  const std::uint32_t c1 = f.cc.cwnd();
  for (int i = 0; i < 5; ++i) f.round(Duration::ms(1));
  EXPECT_NEAR(f.cc.cwnd() - c1, 4.88 * kMss, 0.05 * kMss);
  EXPECT_EQ(f.cc.cwnd(), f.cc.growth().w_est());
}

// The same loss and the same round trips for NewReno: it halves to 10 MSS
// and adds 1 MSS per RTT; CUBIC keeps 14 MSS and adds 9/17. Over the 10
// RTTs NewReno needs to climb back to 20 MSS, CUBIC sends at least as much
// (by hand: 14 * 10 + 9/17 * 45 = 163.8 MSS against 10 * 10 + 45 = 145),
// and once alpha = 1 it grows at Reno's rate: within the 1/(2 * cwnd) that
// eq. 4's per-ACK division costs against NewReno's byte counting (RFC 3465),
// under 2 % from 20 to 40 MSS.
TEST(Cubic, RenoFriendlyRegionKeepsUpWithReno) {
  Flow c{make_cubic()};
  Sender<NewReno> r{NewReno{NewRenoConfig{.mss = kMss}}};
  c.srtt = r.srtt = Duration::ms(1);
  c.loss_and_recover(20 * kMss, 20 * kMss);
  r.loss_and_recover(20 * kMss, 20 * kMss);
  ASSERT_EQ(r.cc.cwnd(), 10 * kMss);
  std::uint64_t sent_c = 0, sent_r = 0;
  for (int i = 0; i < 10; ++i) {
    sent_c += c.cc.cwnd();
    sent_r += r.cc.cwnd();
    c.round(Duration::ms(1));
    r.round(Duration::ms(1));
  }
  EXPECT_EQ(r.cc.cwnd(), 20 * kMss);
  EXPECT_EQ(sent_r, 145u * kMss);
  EXPECT_GE(sent_c, 163u * kMss);
  while (c.cc.growth().w_est() < 20 * kMss) c.round(Duration::ms(1));
  const std::uint32_t c0 = c.cc.cwnd(), r0 = r.cc.cwnd();
  for (int i = 0; i < 20; ++i) {
    c.round(Duration::ms(1));
    r.round(Duration::ms(1));
  }
  EXPECT_EQ(r.cc.cwnd() - r0, 20 * kMss);
  EXPECT_GE(c.cc.cwnd() - c0, 0.98 * 20 * kMss) << "Reno's slope once alpha = 1";
}

// No ACK releases more than 1.5 times what it acknowledged: growth per ACK
// is at most acked / 2. Stretch ACK 20 s into the epoch: W(20.1 s) = 1703
// MSS, far above 1.5 * cwnd, so target = 1.5 * cwnd and the ACK of 10 MSS
// adds exactly (0.5 * cwnd) * 14600 / cwnd = 7300 bytes.
TEST(Cubic, OneAckGrowsCwndByAtMostHalfOfWhatItAcks) {
  Flow f = after_loss_at_100();
  f.srtt = Duration::ms(100);
  f.send(20 * kMss);
  f.ack(kMss);  // epoch start
  const std::uint32_t before = f.cc.cwnd();
  f.now = f.now + Duration::s(20);
  f.ack(10 * kMss);
  // 7300 less the rounding of cwnd / 2 (cwnd is odd here).
  EXPECT_GE(f.cc.cwnd() - before, 7299u);
  EXPECT_LE(f.cc.cwnd() - before, 7300u);
  // And on every ACK of a long ACK clock with mixed sizes.
  for (int i = 0; i < 200; ++i) {
    const std::uint32_t acked = (i % 7 + 1) * 500;
    const std::uint32_t w = f.cc.cwnd();
    f.send(acked);
    f.now = f.now + Duration::ms(3);
    f.ack(acked);
    ASSERT_LE(f.cc.cwnd() - w, acked / 2) << "ack " << i;
  }
}

// §5.8: idle time is not on the curve. A short gap (under one RTO, when
// the engine reports it) moves the epoch start forward by the time since
// the last ACK; a restart that drops cwnd below ssthresh ends the epoch
// (the congestion avoidance after the new slow start is a new stage); one
// that leaves cwnd in congestion avoidance shifts it.
TEST(Cubic, IdleTimeIsNotOnTheCurve) {
  Flow f = after_loss_at_100();
  f.ack(kMss);  // t = 0: the epoch starts
  const Instant start = f.cc.growth().epoch_start();
  f.now = at_ms(50);
  f.ack(f.max - f.una);  // 50 ms: everything acknowledged, the pipe is empty
  const std::uint32_t w = f.cc.cwnd();
  // Sending resumes at 200 ms, the last send was at 40 ms: idle since the
  // last ACK, 150 ms.
  EXPECT_FALSE(f.cc.on_idle_restart(at_ms(200), at_ms(40), Duration::ms(200)));
  EXPECT_EQ(f.cc.growth().epoch_start(), start + Duration::ms(150));
  EXPECT_EQ(f.cc.cwnd(), w);
  // Longer than one RTO: cwnd = min(IW, cwnd) = 10 MSS, below ssthresh.
  EXPECT_TRUE(f.cc.on_idle_restart(at_ms(2000), at_ms(200), Duration::ms(200)));
  EXPECT_EQ(f.cc.cwnd(), 10 * kMss);
  EXPECT_FALSE(f.cc.growth().epoch_started());
  // A window already below IW stays in congestion avoidance: shifted.
  Flow g{make_cubic()};
  g.loss_and_recover(4 * kMss, 4 * kMss);  // ssthresh = cwnd = 0.7 * 4 MSS = 4088
  ASSERT_EQ(g.cc.cwnd(), 4088u);
  g.ack(kMss);
  ASSERT_FALSE(g.cc.in_slow_start());
  const Instant s2 = g.cc.growth().epoch_start();
  EXPECT_TRUE(g.cc.on_idle_restart(g.now + Duration::s(3), g.now, Duration::ms(200)));
  EXPECT_TRUE(g.cc.growth().epoch_started());
  EXPECT_EQ(g.cc.growth().epoch_start(), s2 + Duration::s(3));
}

}  // namespace
}  // namespace tern::cc_test
