#include "tcp/seq.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace tern {
namespace {

// No integer ordering sneaks in: `a < b` must not compile (RFC 9293 §3.4
// comparisons are modular), while equality stays available.
template <class T>
concept Ordered = requires(T a, T b) {
  a < b;
};
static_assert(!Ordered<Seq32>);
static_assert(Seq32{5} == Seq32{5} && Seq32{5} != Seq32{6});
static_assert(seq_lt(Seq32{0xffffffff}, Seq32{0}), "usable in constant expressions");

constexpr std::uint32_t kTop = 0xffffffffu;

TEST(Seq32, ArithmeticWrapsModulo2To32) {
  EXPECT_EQ((Seq32{kTop} + 1).value(), 0u);
  EXPECT_EQ((Seq32{kTop - 9} + 20).value(), 10u);
  EXPECT_EQ((Seq32{3} - 5).value(), kTop - 1);
  Seq32 s{kTop};
  s += 2;
  EXPECT_EQ(s.value(), 1u);
  s -= 3;
  EXPECT_EQ(s.value(), kTop - 1);
  EXPECT_EQ(Seq32{}.value(), 0u);
}

TEST(Seq32, SignedDistanceAcrossTheWrap) {
  EXPECT_EQ(Seq32{10} - Seq32{kTop - 9}, 20);  // 10 is 20 past 2^32 - 10
  EXPECT_EQ(Seq32{kTop - 9} - Seq32{10}, -20);
  EXPECT_EQ(Seq32{100} - Seq32{100}, 0);
  EXPECT_EQ(Seq32{0x7fffffffu} - Seq32{0}, INT32_MAX);
}

TEST(Seq32, ComparisonsAwayFromTheWrap) {
  const Seq32 a{1000}, b{2000};
  EXPECT_TRUE(seq_lt(a, b));
  EXPECT_TRUE(seq_leq(a, b));
  EXPECT_FALSE(seq_gt(a, b));
  EXPECT_FALSE(seq_geq(a, b));
  EXPECT_TRUE(seq_gt(b, a));
  EXPECT_TRUE(seq_geq(b, a));
  EXPECT_FALSE(seq_lt(a, a));
  EXPECT_TRUE(seq_leq(a, a));
  EXPECT_TRUE(seq_geq(a, a));
  EXPECT_FALSE(seq_gt(a, a));
}

TEST(Seq32, ComparisonsAcrossTheWrapFollowTheStreamNotTheInteger) {
  // SND.UNA just below 2^32, SND.NXT just past zero: NXT is ahead.
  const Seq32 una{kTop - 100}, nxt{200};
  EXPECT_TRUE(seq_lt(una, nxt));
  EXPECT_TRUE(seq_leq(una, nxt));
  EXPECT_TRUE(seq_gt(nxt, una));
  EXPECT_TRUE(seq_geq(nxt, una));
  EXPECT_FALSE(seq_lt(nxt, una));
  EXPECT_GT(una.value(), nxt.value());  // where integer order would mislead
}

TEST(Seq32, JustUnderHalfTheSpaceStillOrders) {
  const Seq32 a{0x12345678u};
  const Seq32 b = a + 0x7fffffffu;
  EXPECT_TRUE(seq_lt(a, b));
  EXPECT_FALSE(seq_lt(b, a));
}

TEST(Seq32, ExactlyHalfTheSpaceApartIsAmbiguousAsRfc1982Says) {
  // RFC 1982 §3.2 leaves this undefined; TCP windows (<= 2^30, RFC 7323 §2.3)
  // never get here. Pinned so a change of behaviour is noticed.
  const Seq32 a{7};
  const Seq32 b = a + 0x80000000u;
  EXPECT_TRUE(seq_lt(a, b));
  EXPECT_TRUE(seq_lt(b, a));
}

TEST(Seq32, InWindowIsHalfOpen) {
  // RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND (RFC 9293 §3.10.7.4).
  const Seq32 nxt{5000};
  EXPECT_FALSE(seq_in_window(nxt - 1, nxt, 100));
  EXPECT_TRUE(seq_in_window(nxt, nxt, 100));
  EXPECT_TRUE(seq_in_window(nxt + 99, nxt, 100));
  EXPECT_FALSE(seq_in_window(nxt + 100, nxt, 100));
}

TEST(Seq32, InWindowAcrossTheWrap) {
  const Seq32 left{kTop - 9};
  EXPECT_TRUE(seq_in_window(Seq32{kTop}, left, 20));
  EXPECT_TRUE(seq_in_window(Seq32{0}, left, 20));
  EXPECT_TRUE(seq_in_window(Seq32{9}, left, 20));
  EXPECT_FALSE(seq_in_window(Seq32{10}, left, 20));
  EXPECT_FALSE(seq_in_window(Seq32{kTop - 10}, left, 20));
}

TEST(Seq32, EmptyWindowContainsNothing) {
  EXPECT_FALSE(seq_in_window(Seq32{42}, Seq32{42}, 0));
  EXPECT_FALSE(seq_in_window(Seq32{43}, Seq32{42}, 0));
}

TEST(Seq32, LargestWindowContainsAllButOne) {
  const Seq32 left{100};
  EXPECT_TRUE(seq_in_window(left + (kTop - 1), left, kTop));
  EXPECT_FALSE(seq_in_window(left - 1, left, kTop));  // = left + kTop
}

TEST(Seq32, MaxAndMinAcrossTheWrap) {
  const Seq32 old{kTop - 5}, recent{3};
  EXPECT_EQ(seq_max(old, recent), recent);
  EXPECT_EQ(seq_max(recent, old), recent);
  EXPECT_EQ(seq_min(old, recent), old);
  EXPECT_EQ(seq_min(recent, old), old);
  EXPECT_EQ(seq_max(recent, recent), recent);
}

}  // namespace
}  // namespace tern
