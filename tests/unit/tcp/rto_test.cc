// RFC 6298 estimator: formulas against a double-precision reference, clamps,
// backoff, Karn's rule and the §5.7 3 s rule. Virtual time only.
#include "tcp/rto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <random>

namespace tern {

// Readable failures: "1123457 ns" rather than the object's bytes.
void PrintTo(const Duration& d, std::ostream* os) { *os << d.count_ns() << " ns"; }

namespace {

constexpr Duration ms(std::int64_t v) { return Duration::ms(v); }

TEST(Rto, InitialBeforeAnySample) {
  RtoEstimator e{RtoConfig{}};
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto(), Duration::s(1));  // RFC 6298 §2.1
  EXPECT_EQ(e.srtt(), Duration{});
  EXPECT_EQ(e.backoffs(), 0u);
}

TEST(Rto, FirstSampleSetsSrttAndHalfRttvar) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(ms(300));
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt(), ms(300));
  EXPECT_EQ(e.rttvar(), ms(150));
  EXPECT_EQ(e.rto(), ms(300 + 4 * 150));  // SRTT + max(G, 4*RTTVAR)
}

TEST(Rto, FirstSampleKeepsSubMillisecondPrecision) {
  RtoConfig c;
  c.min = Duration::ns(1);
  c.granularity = Duration::ns(1);
  RtoEstimator e{c};
  e.on_rtt_sample(Duration::us(123) + Duration::ns(457));
  EXPECT_EQ(e.srtt(), Duration::ns(123'457));
  EXPECT_EQ(e.rttvar(), Duration::ns(61'728));                 // R/2, truncated below 1 ns
  EXPECT_EQ(e.rto(), Duration::ns(123'457 + 4 * 61'728 + 2));  // 4*RTTVAR = 2R exactly
}

TEST(Rto, GranularityWinsWhenVarianceIsTiny) {
  RtoConfig c;
  c.min = Duration::ns(1);
  c.granularity = ms(10);
  RtoEstimator e{c};
  for (int i = 0; i < 200; ++i) e.on_rtt_sample(ms(50));  // RTTVAR decays towards 0
  EXPECT_LT(e.rttvar() * 4, ms(10));
  EXPECT_EQ(e.srtt(), ms(50));
  EXPECT_EQ(e.rto(), ms(60));  // SRTT + G
}

TEST(Rto, SecondSampleFollowsRfc6298Section2_3) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(ms(100));  // SRTT 100, RTTVAR 50
  e.on_rtt_sample(ms(200));
  // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
  EXPECT_EQ(e.rttvar(), Duration::us(62'500));
  EXPECT_EQ(e.srtt(), Duration::us(112'500));
  EXPECT_EQ(e.rto(), Duration::us(112'500 + 250'000));
}

struct Reference {
  double srtt = 0, rttvar = 0;
  bool first = true;
  void sample(double r) {
    if (first) {
      srtt = r;
      rttvar = r / 2;
      first = false;
    } else {
      rttvar = 0.75 * rttvar + 0.25 * std::fabs(srtt - r);
      srtt = 0.875 * srtt + 0.125 * r;
    }
  }
};

TEST(Rto, TracksDoublePrecisionReferenceOverRandomSamples) {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u, 6298u}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng{seed};
    std::uniform_int_distribution<std::int64_t> base{50'000, 500'000'000};  // 50 us .. 500 ms
    RtoConfig c;
    c.min = Duration::ns(1);
    c.max = Duration::s(3600);
    RtoEstimator e{c};
    Reference ref;
    std::int64_t centre = base(rng);
    for (int i = 0; i < 10'000; ++i) {
      if (i % 1000 == 0) centre = base(rng);  // path changes
      std::uniform_int_distribution<std::int64_t> jitter{0, centre / 2};
      const std::int64_t r = centre + jitter(rng);
      e.on_rtt_sample(Duration::ns(r));
      ref.sample(static_cast<double>(r));
      ASSERT_NEAR(static_cast<double>(e.srtt().count_ns()), ref.srtt, 1'000.0) << "sample " << i;
      ASSERT_NEAR(static_cast<double>(e.rttvar().count_ns()), ref.rttvar, 1'000.0) << "sample " << i;
      const double want = std::clamp(ref.srtt + std::max(1e6, 4 * ref.rttvar), 1.0, 3600e9);
      ASSERT_NEAR(static_cast<double>(e.rto().count_ns()), want, 1'000.0) << "sample " << i;
    }
  }
}

TEST(Rto, ClampedToMinimum) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(Duration::us(10));
  EXPECT_EQ(e.rto(), ms(200));  // Linux TCP_RTO_MIN, RFC 6298 §2.4
  e.on_rtt_sample(Duration{});
  EXPECT_EQ(e.rto(), ms(200));
}

TEST(Rto, ClampedToMaximum) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(Duration::s(100));     // 100 + 4*50 s
  EXPECT_EQ(e.rto(), Duration::s(120));  // RFC 6298 §2.5
}

TEST(Rto, NegativeAndHugeSamplesAreClamped) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(Duration::ns(-5));
  EXPECT_EQ(e.srtt(), Duration{});
  e.on_rtt_sample(Duration::ns(INT64_MAX / 2));
  EXPECT_EQ(e.rto(), Duration::s(120));
}

// min_rtt (TCP_INFO's tcpi_min_rtt): the smallest sample in whole
// microseconds, over the connection's life; a sample counts only when its
// whole microseconds are fewer (on_rtt_sample compares in nanoseconds and
// divides only then).
TEST(Rto, MinRttIsTheSmallestSampleInWholeMicroseconds) {
  RtoEstimator e{RtoConfig{}};
  EXPECT_EQ(e.min_rtt(), Duration{});
  e.on_rtt_sample(Duration::ns(5'000'999));
  EXPECT_EQ(e.min_rtt(), Duration::us(5'000));
  e.on_rtt_sample(Duration::ns(5'000'000));  // the same microsecond
  EXPECT_EQ(e.min_rtt(), Duration::us(5'000));
  e.on_rtt_sample(Duration::ns(4'999'999));
  EXPECT_EQ(e.min_rtt(), Duration::us(4'999));
  e.on_rtt_sample(ms(7));  // larger: kept
  EXPECT_EQ(e.min_rtt(), Duration::us(4'999));
  e.on_rtt_sample(Duration::ns(1'999));
  EXPECT_EQ(e.min_rtt(), Duration::us(1));
  e.on_rtt_sample(Duration::ns(999));
  EXPECT_EQ(e.min_rtt(), Duration{});
  RtoEstimator big{RtoConfig{}};
  big.on_rtt_sample(Duration::ns(INT64_MAX / 2));  // clamped to kMaxSample
  EXPECT_EQ(big.min_rtt(), RtoEstimator::kMaxSample);
  big.on_rtt_sample(Duration::s(10));
  EXPECT_EQ(big.min_rtt(), Duration::s(10));
}

TEST(Rto, BackoffDoublesUpToMaximum) {
  RtoEstimator e{RtoConfig{}};
  std::int64_t want = 1;
  for (std::uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(e.backoffs(), i);
    EXPECT_EQ(e.rto(), Duration::s(std::min<std::int64_t>(want, 120))) << i;  // 1,2,4,...,64,120
    want *= 2;
    e.on_timeout();
  }
  EXPECT_EQ(e.rto(), Duration::s(120));
}

TEST(Rto, BackoffAppliesAfterClamp) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(Duration::us(10));  // clamped to 200 ms
  e.on_timeout();
  EXPECT_EQ(e.rto(), ms(400));
  e.on_timeout();
  EXPECT_EQ(e.rto(), ms(800));
}

TEST(Rto, BackoffSaturatesWithoutOverflow) {
  RtoEstimator e{RtoConfig{}};
  for (int i = 0; i < 100; ++i) e.on_timeout();
  EXPECT_EQ(e.backoffs(), 100u);
  EXPECT_EQ(e.rto(), Duration::s(120));
}

TEST(Rto, NewSampleAfterBackoffResetsIt) {
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(ms(100));  // RTO 300 ms
  e.on_timeout();
  e.on_timeout();
  EXPECT_EQ(e.rto(), ms(1200));
  e.on_rtt_sample(ms(100));  // RTTVAR 37.5, SRTT 100
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_EQ(e.rto(), ms(250));
}

TEST(Rto, KarnRule) {
  // RFC 6298 §3: a retransmitted segment's ACK is ambiguous...
  EXPECT_FALSE(RtoEstimator::sample_allowed(/*segment_was_retransmitted=*/true, /*from_timestamp=*/false));
  // ...unless an RFC 7323 timestamp echo identifies the transmission.
  EXPECT_TRUE(RtoEstimator::sample_allowed(true, true));
  EXPECT_TRUE(RtoEstimator::sample_allowed(false, false));
  EXPECT_TRUE(RtoEstimator::sample_allowed(false, true));

  // The caller's loop: the backed-off RTO survives an ACK of retransmitted
  // data without timestamps, and ends with the next valid sample.
  RtoEstimator e{RtoConfig{}};
  e.on_rtt_sample(ms(100));
  e.on_timeout();
  const Duration r = ms(900);  // measured across the retransmission
  if (RtoEstimator::sample_allowed(true, false)) e.on_rtt_sample(r);
  EXPECT_EQ(e.backoffs(), 1u);
  EXPECT_EQ(e.srtt(), ms(100));
  EXPECT_EQ(e.rto(), ms(600));
}

TEST(Rto, SynLossResetsRtoToThreeSeconds) {
  RtoEstimator e{RtoConfig{}};
  e.on_timeout();  // SYN lost once: 2 s
  EXPECT_EQ(e.rto(), Duration::s(2));
  e.on_syn_retransmitted_established();  // RFC 6298 §5.7
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_EQ(e.rto(), Duration::s(3));
  e.on_timeout();  // data lost: backs off from 3 s
  EXPECT_EQ(e.rto(), Duration::s(6));
  e.on_rtt_sample(ms(100));  // first valid sample ends the 3 s rule
  EXPECT_EQ(e.rto(), ms(300));
}

TEST(Rto, SynLossRuleAfterTimestampSample) {
  RtoEstimator e{RtoConfig{}};
  e.on_timeout();
  e.on_rtt_sample(ms(50));  // SYN-ACK timestamp echo gave a sample: RTO 200 ms
  e.on_syn_retransmitted_established();
  EXPECT_EQ(e.rto(), Duration::s(3));  // still below 3 s, so re-initialized
  EXPECT_EQ(e.srtt(), ms(50));         // the estimate itself is kept
}

TEST(Rto, SynLossRuleCappedAtMaximum) {
  RtoConfig c;
  c.max = Duration::s(2);
  RtoEstimator e{c};
  e.on_syn_retransmitted_established();
  EXPECT_EQ(e.rto(), Duration::s(2));
}

TEST(Rto, CustomKAndConfigValidation) {
  RtoConfig c;
  c.k = 2;
  RtoEstimator e{c};
  e.on_rtt_sample(ms(400));  // 400 + 2*200
  EXPECT_EQ(e.rto(), ms(800));
  EXPECT_TRUE(RtoConfig{}.valid());
  RtoConfig bad;
  bad.min = Duration::s(200);
  EXPECT_FALSE(bad.valid());
}

}  // namespace
}  // namespace tern
