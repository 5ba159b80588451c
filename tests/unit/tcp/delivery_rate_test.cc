// Delivery-rate sampling (lib/tcp/delivery_rate.cc), per
// draft-cheng-iccrg-delivery-rate-estimation-02: snapshots at send time
// (§3.2), the sample from the newest delivered transmission (§3.3) and the
// app-limited marking (§3.4), on synthetic send and ACK times.
#include "tcp/delivery_rate.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

constexpr std::uint32_t kMss = 1460;

// §3.3: rate = delivered / max(send_elapsed, ack_elapsed).
TEST(DeliveryRate, RateOverTheLongerOfTheSendAndAckIntervals) {
  DeliveryClock c;
  const TxSnapshot a = delivery_on_send(c, 0, true);  // §3.2: an empty pipe restarts both clocks
  const TxSnapshot b = delivery_on_send(c, 1000, false);
  EXPECT_EQ(a.delivered, 0u);
  EXPECT_EQ(b.first_sent_us, 0u);

  RateSampler s;
  s.on_delivered(a);
  RateSample rs = s.finish(c, kMss, 10'000, 0);
  ASSERT_TRUE(rs.valid);
  EXPECT_TRUE(rs.has_prior);
  EXPECT_EQ(rs.prior_delivered, 0u);
  EXPECT_EQ(rs.delivered, kMss);
  EXPECT_EQ(rs.interval_us, 10'000u);  // the ACK side: 10 ms since the clock started
  EXPECT_EQ(rs.delivery_rate, std::uint64_t{kMss} * 100);
  EXPECT_EQ(c.delivered, kMss);
  EXPECT_EQ(c.delivered_us, 10'000u);
  EXPECT_EQ(c.first_sent_us, 0u);  // a's send time

  // b: sent 1 ms after the flight's first send, ACKed 11 ms after the start.
  s.on_delivered(b);
  rs = s.finish(c, kMss, 11'000, 0);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.delivered, 2 * kMss);
  EXPECT_EQ(rs.interval_us, 11'000u);
  EXPECT_EQ(rs.delivery_rate, std::uint64_t{2 * kMss} * 1'000'000 / 11'000);
  EXPECT_EQ(c.first_sent_us, 1000u);
}

// A sending burst shorter than the ACK spacing cannot inflate the rate, nor
// can ACK compression: the send interval counts when it is the longer.
TEST(DeliveryRate, SendIntervalCountsWhenLonger) {
  DeliveryClock c;
  delivery_on_send(c, 0, true);
  RateSampler s;
  s.on_delivered(delivery_on_send(c, 0, true));
  RateSample rs = s.finish(c, 10 * kMss, 20'000, 0);  // round 1: delivered_us = 20 ms
  ASSERT_TRUE(rs.valid);
  // Round 2: sent over 20 ms (from 20 ms to 40 ms), all ACKed in a burst at 45 ms.
  const TxSnapshot first = delivery_on_send(c, 20'000, false);
  const TxSnapshot last = delivery_on_send(c, 40'000, false);
  EXPECT_EQ(first.delivered_us, 20'000u);
  s.on_delivered(first);
  s.on_delivered(last);
  rs = s.finish(c, 10 * kMss, 45'000, 0);
  ASSERT_TRUE(rs.valid);
  // send_elapsed = 40 ms - first_sent (0, the first flight's: c.first_sent_us
  // moved to 0 at round 1) = 40 ms; ack_elapsed = 45 - 20 = 25 ms.
  EXPECT_EQ(rs.interval_us, 40'000u);
  EXPECT_EQ(rs.prior_delivered, 10 * kMss);
  EXPECT_EQ(rs.delivered, 10 * kMss);
}

// §3.3: "Update info using the newest packet" whatever order they come in.
TEST(DeliveryRate, NewestDeliveredTransmissionWins) {
  DeliveryClock c;
  const TxSnapshot old = delivery_on_send(c, 0, true);
  c.delivered = 5 * kMss;  // as if ACKs arrived in between
  c.delivered_us = 3000;
  const TxSnapshot newer = delivery_on_send(c, 4000, false);
  RateSampler s;
  s.on_delivered(newer);
  s.on_delivered(old);  // SACKed late: must not take over
  const RateSample rs = s.finish(c, kMss, 9000, 0);
  EXPECT_EQ(rs.prior_delivered, 5 * kMss);
  EXPECT_EQ(rs.delivered, kMss);
  EXPECT_EQ(rs.interval_us, 6000u);  // ack side: 9000 - 3000; send side: 4000 - 0
}

TEST(DeliveryRate, NoSampleWithoutADeliveredSnapshot) {
  DeliveryClock c;
  RateSampler s;
  const RateSample rs = s.finish(c, kMss, 1000, 0);
  EXPECT_FALSE(rs.valid);
  EXPECT_FALSE(rs.has_prior);
  EXPECT_EQ(c.delivered, kMss);  // C.delivered still counts it
}

// §3.3 rs.rtt: the newest delivered transmission's RTT, none for a
// retransmission (Karn: which transmission was delivered is unknown).
TEST(DeliveryRate, RttOfTheNewestTransmission) {
  DeliveryClock c;
  RateSampler s;
  s.on_delivered(delivery_on_send(c, 1000, true));
  RateSample rs = s.finish(c, kMss, 1750, 0);
  EXPECT_EQ(rs.rtt, Duration::us(750));
  TxSnapshot again = delivery_on_send(c, 2000, true);
  again.retransmitted = true;
  s.on_delivered(again);
  rs = s.finish(c, kMss, 3000, 0);
  EXPECT_EQ(rs.rtt, Duration{});
  EXPECT_TRUE(rs.has_prior);
}

// §3.3: an interval shorter than min_rtt is not a reliable sample.
TEST(DeliveryRate, IntervalBelowMinRttIsRejected) {
  DeliveryClock c;
  RateSampler s;
  s.on_delivered(delivery_on_send(c, 0, true));
  RateSample rs = s.finish(c, kMss, 5000, 10'000);
  EXPECT_FALSE(rs.valid);
  EXPECT_TRUE(rs.has_prior);  // still counts for round trips
  EXPECT_EQ(rs.delivery_rate, 0u);
  s.on_delivered(delivery_on_send(c, 5000, true));
  rs = s.finish(c, kMss, 15'000, 10'000);
  EXPECT_TRUE(rs.valid);
}

// §3.4: data sent while app-limited gives app-limited samples until the
// bubble (everything in flight at the marking) is delivered.
TEST(DeliveryRate, AppLimitedMarkingLastsUntilTheBubbleIsDelivered) {
  DeliveryClock c;
  c.delivered = 100 * kMss;
  delivery_mark_app_limited(c, 4 * kMss);  // nothing more to send, pipe 4 segments < cwnd
  EXPECT_EQ(c.app_limited, 104 * kMss);
  const TxSnapshot p = delivery_on_send(c, 1000, false);
  EXPECT_TRUE(p.app_limited);
  RateSampler s;
  s.on_delivered(p);
  RateSample rs = s.finish(c, 4 * kMss, 2000, 0);  // delivered = 104 segments: not past the mark yet
  EXPECT_TRUE(rs.is_app_limited);
  EXPECT_NE(c.app_limited, 0u);
  rs = s.finish(c, kMss, 3000, 0);  // past it: the marking ends
  EXPECT_EQ(c.app_limited, 0u);
  const TxSnapshot q = delivery_on_send(c, 3000, false);
  EXPECT_FALSE(q.app_limited);
  s.on_delivered(q);
  rs = s.finish(c, kMss, 4000, 0);
  EXPECT_FALSE(rs.is_app_limited);
}

// §3.4: "(C.delivered + C.pipe) ? : 1": zero is reserved for "not limited".
TEST(DeliveryRate, AppLimitedMarkIsNeverZero) {
  DeliveryClock c;
  delivery_mark_app_limited(c, 0);
  EXPECT_EQ(c.app_limited, 1u);
}

// Clocks wrap modulo 2^32 microseconds.
TEST(DeliveryRate, WrappingClocks) {
  DeliveryClock c;
  const std::uint32_t t0 = 0xFFFF'F000u;
  RateSampler s;
  s.on_delivered(delivery_on_send(c, t0, true));
  const RateSample rs = s.finish(c, kMss, t0 + 10'000, 0);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.interval_us, 10'000u);
}

}  // namespace
}  // namespace tern
