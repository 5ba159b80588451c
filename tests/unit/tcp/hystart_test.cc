// HyStart++ (RFC 9406, lib/tcp/cc/hystart.h) as CUBIC uses it in its first
// slow start, on an ACK clock: one ACK per MSS, each sending what cwnd
// allows in whole segments, every ACK with an RTT sample.
//
// Rounds as the controller counts them (RFC 9406 §4.2): a round ends with
// the ACK that covers SND.MAX as it stood when the round began. With IW =
// 10 and two segments sent per ACK in slow start, the rounds hold 10, 18,
// 36, 72, 144, 288 ACKs: round r+1 is what was sent during round r before
// its last ACK, plus the two segments that ACK's predecessor round released
// last (M_r = M_(r-1) + 2 * n_r, n_(r+1) = M_r - M_(r-1), M_0 = 28).
#include "tcp/cc/hystart.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "tcp/cc/cubic.h"

namespace tern {
namespace {

constexpr std::uint32_t kMss = 1460;
constexpr std::uint32_t kCssStep = kMss / HyStart::kCssGrowthDivisor;  // 365 bytes per MSS acknowledged
constexpr Seq32 kIss{0xfffff000u};
constexpr Duration ms(std::int64_t v) { return Duration::ms(v); }
constexpr Duration us(std::int64_t v) { return Duration::us(v); }

struct Flow {
  Cubic cc;
  Seq32 una = kIss + 1;
  Seq32 max = kIss + 1;
  Seq32 round_end;
  Instant now = at_ms(0);

  explicit Flow(CubicGrowth::Config g = {}) : cc(NewRenoConfig{.mss = kMss}, g) {
    refill();
    round_end = max;
  }
  const HyStart& hs() const { return cc.growth().hystart(); }
  // Send what cwnd allows, in whole segments, as the engine would.
  void refill() {
    const auto out = static_cast<std::uint32_t>(max - una);
    if (cc.cwnd() > out) max += (cc.cwnd() - out) / kMss * kMss;
  }
  // One ACK for one MSS; `rtt` zero: an ACK without an RTT sample.
  void ack(Duration rtt) {
    una += kMss;
    now = now + ms(1);
    cc.on_ack(AckSample{.ack = una, .acked = kMss, .snd_max = max, .now = now, .rtt = rtt, .srtt = rtt});
    if (una == round_end) round_end = max;  // before this ACK's reply, as HyStart++ records it
    refill();
  }
  // The rest of the current round; returns how many ACKs that was.
  std::uint32_t round(Duration rtt) {
    const Seq32 end = round_end;
    std::uint32_t n = 0;
    for (; seq_lt(una, end); ++n) ack(rtt);
    return n;
  }
  // Rounds 0 and 1 at `base`: 28 ACKs, cwnd 38 MSS, lastRoundMinRTT = base.
  void two_rounds(Duration base) {
    ASSERT_EQ(round(base), 10u);
    ASSERT_EQ(round(base), 18u);
    ASSERT_EQ(cc.cwnd(), 38 * kMss);
  }
};

// RttThresh = max(4 ms, min(lastRoundMinRTT / 8, 16 ms)).
TEST(HyStart, RttThresholdIsAnEighthClampedToFourAndSixteenMs) {
  EXPECT_EQ(HyStart::rtt_thresh(ms(10)), ms(4));  // 1.25 ms, raised to 4
  EXPECT_EQ(HyStart::rtt_thresh(ms(32)), ms(4));
  EXPECT_EQ(HyStart::rtt_thresh(ms(64)), ms(8));
  EXPECT_EQ(HyStart::rtt_thresh(ms(100)), us(12500));
  EXPECT_EQ(HyStart::rtt_thresh(ms(200)), ms(16));  // 25 ms, capped at 16
}

// Rounds 0, 1 at 100 ms; round 2's minimum of 113 ms is at least 100 + 12.5:
// on its 8th sample (N_RTT_SAMPLE) the sender enters CSS. That ACK still
// grew cwnd by a full MSS (38 + 8 = 46 MSS); each later one adds a quarter.
TEST(HyStart, RttRiseEntersConservativeSlowStart) {
  Flow f;
  f.two_rounds(ms(100));
  EXPECT_EQ(f.hs().last_round_min_rtt(), ms(100));
  for (int i = 0; i < 7; ++i) f.ack(ms(113));
  EXPECT_FALSE(f.hs().in_css()) << "7 samples are not enough";
  f.ack(ms(113));
  EXPECT_TRUE(f.hs().in_css());
  EXPECT_EQ(f.hs().css_baseline_min_rtt(), ms(113));
  EXPECT_EQ(f.cc.cwnd(), 46 * kMss);
  f.ack(ms(113));
  EXPECT_EQ(f.cc.cwnd(), 46 * kMss + kCssStep);
  // The rest of round 2 (36 ACKs in all): 46 MSS + 28 * 365 = 53 MSS.
  EXPECT_EQ(f.round(ms(113)), 27u);
  EXPECT_EQ(f.cc.cwnd(), 53 * kMss);
  EXPECT_EQ(f.hs().css_rounds(), 1u) << "the partial round counts";
  EXPECT_TRUE(f.cc.in_slow_start()) << "CSS is still slow start: ssthresh unset";
  EXPECT_EQ(f.cc.ssthresh(), Cubic::kInitialSsthresh);
}

TEST(HyStart, RiseBelowTheThresholdStaysInSlowStart) {
  Flow f;
  f.two_rounds(ms(100));
  EXPECT_EQ(f.round(ms(112)), 36u);  // 112 < 100 + 12.5
  EXPECT_EQ(f.round(ms(124)), 72u);  // 124 < 112 + 14
  EXPECT_FALSE(f.hs().in_css());
  EXPECT_EQ(f.cc.cwnd(), 146 * kMss);  // 10 + 10 + 18 + 36 + 72: plain slow start
}

// The clamp at both ends: base 10 ms needs +4 ms (not 1.25), base 200 ms
// needs +16 ms (not 25).
TEST(HyStart, ClampedThresholdDecides) {
  struct Case {
    Duration base, rtt;
    bool css;
  };
  for (const Case c : {Case{ms(10), us(13900), false}, Case{ms(10), ms(14), true},
                       Case{ms(200), ms(215), false}, Case{ms(200), ms(216), true}}) {
    SCOPED_TRACE(testing::Message() << c.base.count_ns() << " ns -> " << c.rtt.count_ns() << " ns");
    Flow f;
    f.two_rounds(c.base);
    f.round(c.rtt);
    EXPECT_EQ(f.hs().in_css(), c.css);
  }
}

TEST(HyStart, FlatOrSlowlyRisingRttNeverLeavesSlowStart) {
  Flow f;
  for (int r = 0; r < 6; ++r) f.round(ms(100));
  EXPECT_FALSE(f.hs().in_css());
  EXPECT_EQ(f.cc.cwnd(), 578 * kMss);  // 10 + 10 + 18 + 36 + 72 + 144 + 288
  // +10 ms a round: always below an eighth (12.5 ms and more) of the last.
  Flow g;
  for (int r = 0; r < 6; ++r) g.round(ms(100 + 10 * r));
  EXPECT_FALSE(g.hs().in_css());
  EXPECT_EQ(g.cc.cwnd(), 578 * kMss);
}

// Only ACKs with an RTT sample count, and a round needs eight of them;
// an ACK without one neither counts nor lowers the round's minimum.
TEST(HyStart, FewerThanEightSamplesDoNotDecide) {
  Flow f;
  f.two_rounds(ms(100));
  for (int i = 0; i < 7; ++i) f.ack(ms(150));
  EXPECT_EQ(f.round(Duration{}), 29u);
  EXPECT_FALSE(f.hs().in_css());
  EXPECT_EQ(f.cc.cwnd(), 74 * kMss);
  Flow g;
  g.two_rounds(ms(100));
  g.ack(Duration{});
  for (int i = 0; i < 8; ++i) g.ack(ms(150));
  EXPECT_TRUE(g.hs().in_css()) << "eight samples, minimum 150 ms";
  EXPECT_EQ(g.hs().css_baseline_min_rtt(), ms(150));
}

// In CSS a round whose minimum falls below the baseline shows the exit was
// spurious: back to slow start (RFC 9406 §4.2), decided on its 8th sample.
TEST(HyStart, RttFallingBackInCssResumesSlowStart) {
  Flow f;
  f.two_rounds(ms(100));
  f.round(ms(113));
  ASSERT_TRUE(f.hs().in_css());
  std::uint32_t w = f.cc.cwnd();
  for (int i = 0; i < 8; ++i) {
    f.ack(ms(100));
    EXPECT_EQ(f.cc.cwnd(), w + kCssStep) << "ack " << i;  // the 8th still at the CSS rate
    w = f.cc.cwnd();
  }
  EXPECT_FALSE(f.hs().in_css());
  f.ack(ms(100));
  EXPECT_EQ(f.cc.cwnd(), w + kMss) << "slow start again";
  EXPECT_TRUE(f.cc.in_slow_start());
  // And HyStart++ still watches: a later rise enters CSS again, with a
  // fresh count of CSS_ROUNDS (the partial round 5 is its first).
  f.round(ms(100));
  f.round(ms(100));
  f.round(ms(120));
  EXPECT_TRUE(f.hs().in_css());
  EXPECT_EQ(f.hs().css_rounds(), 1u);
}

// CSS_ROUNDS = 5 rounds of CSS (the partial round 2 and rounds 3 to 6),
// each growing cwnd by a quarter MSS per ACK, then congestion avoidance
// with ssthresh = cwnd; CUBIC's first epoch then has K = 0 and W_max =
// cwnd_prior = that cwnd (RFC 9438 §4.10).
TEST(HyStart, CssEndsInCongestionAvoidanceAfterFiveRounds) {
  Flow f;
  f.two_rounds(ms(100));
  f.round(ms(113));
  for (std::uint32_t r = 2; r <= 5; ++r) {
    ASSERT_EQ(f.hs().css_rounds(), r - 1);
    const std::uint32_t w = f.cc.cwnd();
    const std::uint32_t n = f.round(ms(113));
    EXPECT_EQ(f.cc.cwnd(), w + n * kCssStep) << "round " << r + 1;
    if (r < 5) {
      EXPECT_TRUE(f.cc.in_slow_start());
    }
  }
  EXPECT_FALSE(f.cc.in_slow_start());
  EXPECT_EQ(f.cc.ssthresh(), f.cc.cwnd());
  const std::uint32_t exit = f.cc.cwnd();
  EXPECT_EQ(f.cc.growth().cwnd_prior(), exit);
  f.ack(ms(113));  // the first ACK in congestion avoidance
  EXPECT_EQ(f.cc.growth().k(), Duration{});
  EXPECT_EQ(f.cc.growth().w_max(), exit);
  EXPECT_EQ(f.cc.growth().cwnd_epoch(), exit);
}

// A loss ends slow start or CSS the ordinary way (§4.6 for CUBIC), and
// HyStart++ stays out of every later slow start (RFC 9406 §4.3).
TEST(HyStart, OnlyInTheFirstSlowStart) {
  Flow f;
  f.two_rounds(ms(100));
  f.round(ms(113));
  ASSERT_TRUE(f.hs().in_css());
  f.cc.on_rto(f.una, f.max);
  EXPECT_FALSE(f.hs().in_css());
  const std::uint32_t ssthresh = f.cc.ssthresh();
  EXPECT_NE(ssthresh, Cubic::kInitialSsthresh);
  for (int i = 0; i < 20; ++i) {
    const std::uint32_t w = f.cc.cwnd();
    f.ack(ms(100 + 50 * i));
    EXPECT_EQ(f.cc.cwnd(), std::min(w + kMss, ssthresh)) << "ack " << i;
  }
  EXPECT_FALSE(f.hs().in_css());
}

TEST(HyStart, CanBeTurnedOff) {
  Flow f{CubicGrowth::Config{.hystart = false}};
  f.two_rounds(ms(100));
  f.round(ms(300));
  EXPECT_FALSE(f.hs().in_css());
  EXPECT_EQ(f.cc.cwnd(), 74 * kMss);
}

}  // namespace
}  // namespace tern
