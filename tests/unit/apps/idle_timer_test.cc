#include "idle_timer.h"

#include <gtest/gtest.h>

namespace tern::proxy {
namespace {

Instant at_s(std::int64_t s) { return at_ms(s * 1000); }

TEST(IdleTimer, PairWithNoActivityIsDueAfterTheTimeout) {
  IdleTimer t{Duration::s(300)};
  IdleLink a;
  t.touch(a, at_s(0), {0, 0});
  EXPECT_EQ(t.pop_due(at_s(299)), nullptr);
  ASSERT_EQ(t.pop_due(at_s(300)), &a);
  EXPECT_TRUE(t.still_idle(a, at_s(300), {0, 0}));
  EXPECT_EQ(t.size(), 0u);
}

TEST(IdleTimer, ActivityEitherWayRestartsIt) {
  IdleTimer t{Duration::s(300)};
  IdleLink a, b;
  t.touch(a, at_s(0), {0, 0});
  t.touch(b, at_s(100), {0, 0});
  t.touch(a, at_s(200), {10, 0});  // bytes relayed on a
  EXPECT_EQ(t.pop_due(at_s(399)), nullptr);
  EXPECT_EQ(t.pop_due(at_s(400)), &b);  // b is now the first due
  EXPECT_EQ(t.pop_due(at_s(499)), nullptr);
  EXPECT_EQ(t.pop_due(at_s(500)), &a);
}

TEST(IdleTimer, SlowReaderDrainingItsQueueIsNotIdle) {
  IdleTimer t{Duration::s(300)};
  IdleLink a;
  // 200 KiB waits for a client reading a few bytes a second: no on_writable,
  // no relayed bytes, but the queue shrinks.
  t.touch(a, at_s(0), {204800, 0});
  ASSERT_EQ(t.pop_due(at_s(300)), &a);
  EXPECT_FALSE(t.still_idle(a, at_s(300), {203000, 0}));
  EXPECT_EQ(t.size(), 1u);  // re-armed from now
  EXPECT_EQ(t.pop_due(at_s(599)), nullptr);
  ASSERT_EQ(t.pop_due(at_s(600)), &a);
  EXPECT_TRUE(t.still_idle(a, at_s(600), {203000, 0}));  // then it stopped
}

TEST(IdleTimer, EitherSidesQueueCounts) {
  IdleTimer t{Duration::s(5)};
  IdleLink a;
  t.touch(a, at_s(0), {0, 4000});
  ASSERT_EQ(t.pop_due(at_s(5)), &a);
  EXPECT_FALSE(t.still_idle(a, at_s(5), {0, 3000}));
  ASSERT_EQ(t.pop_due(at_s(10)), &a);
  EXPECT_TRUE(t.still_idle(a, at_s(10), {0, 3000}));
}

TEST(IdleTimer, StoppedPairIsNeverDue) {
  IdleTimer t{Duration::s(5)};
  IdleLink a;
  t.touch(a, at_s(0), {0, 0});
  t.stop(a);
  t.stop(a);
  EXPECT_EQ(t.pop_due(at_s(100)), nullptr);
}

TEST(IdleTimer, ZeroTimeoutIsOff) {
  IdleTimer t{Duration{}};
  IdleLink a;
  EXPECT_FALSE(t.enabled());
  t.touch(a, at_s(0), {0, 0});
  EXPECT_FALSE(a.linked());
  EXPECT_EQ(t.pop_due(Instant::max()), nullptr);
}

}  // namespace
}  // namespace tern::proxy
