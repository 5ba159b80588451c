#include "timeout_list.h"

#include <gtest/gtest.h>

#include "slot_pool.h"

namespace tern::apps {
namespace {

TEST(TimeoutList, FrontIsDueOnlyAtItsDeadline) {
  TimeoutList l{Duration::s(10)};
  TimeoutLink a, b;
  l.arm(a, at_ms(0));
  l.arm(b, at_ms(3000));
  EXPECT_EQ(l.pop_due(at_ms(9999)), nullptr);
  EXPECT_EQ(l.pop_due(at_ms(10000)), &a);
  EXPECT_FALSE(a.linked());
  EXPECT_EQ(l.pop_due(at_ms(12999)), nullptr);
  EXPECT_EQ(l.pop_due(at_ms(13000)), &b);
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.pop_due(at_ms(99999)), nullptr);
}

TEST(TimeoutList, ReArmingMovesToTheBackWithANewDeadline) {
  TimeoutList l{Duration::s(5)};
  TimeoutLink a, b, c;
  l.arm(a, at_ms(0));
  l.arm(b, at_ms(1000));
  l.arm(c, at_ms(2000));
  l.arm(a, at_ms(4000));  // activity on a: its deadline is now 9 s
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.front(), &b);
  EXPECT_EQ(l.deadline(a), at_ms(9000));
  EXPECT_EQ(l.pop_due(at_ms(5000)), nullptr);  // a's first deadline is gone
  EXPECT_EQ(l.pop_due(at_ms(7000)), &b);
  EXPECT_EQ(l.pop_due(at_ms(7000)), &c);
  EXPECT_EQ(l.pop_due(at_ms(7000)), nullptr);
  EXPECT_EQ(l.pop_due(at_ms(9000)), &a);
}

TEST(TimeoutList, ArmingOnAnotherListLeavesTheFirst) {
  TimeoutList shorter{Duration::s(1)}, longer{Duration::s(60)};
  TimeoutLink a, b;
  shorter.arm(a, at_ms(0));
  shorter.arm(b, at_ms(0));
  longer.arm(a, at_ms(500));
  EXPECT_EQ(shorter.size(), 1u);
  EXPECT_EQ(longer.size(), 1u);
  EXPECT_EQ(a.list, &longer);
  EXPECT_EQ(shorter.pop_due(at_ms(1000)), &b);
  EXPECT_EQ(shorter.pop_due(at_ms(1000)), nullptr);
  EXPECT_EQ(longer.pop_due(at_ms(60499)), nullptr);
  EXPECT_EQ(longer.pop_due(at_ms(60500)), &a);
}

TEST(TimeoutList, UnlinkFromTheMiddleKeepsTheRestInOrder) {
  TimeoutList l{Duration::s(1)};
  TimeoutLink a, b, c;
  l.arm(a, at_ms(0));
  l.arm(b, at_ms(1));
  l.arm(c, at_ms(2));
  TimeoutList::unlink(b);
  TimeoutList::unlink(b);  // not on a list: nothing
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(l.pop_due(at_ms(5000)), &a);
  EXPECT_EQ(l.pop_due(at_ms(5000)), &c);
  EXPECT_TRUE(l.empty());
}

TEST(TimeoutList, ZeroTimeoutKeepsTheOrderButNeverExpires) {
  TimeoutList l{Duration{}};
  TimeoutLink a, b;
  l.arm(a, at_ms(0));
  l.arm(b, at_ms(1));
  EXPECT_FALSE(l.expires());
  EXPECT_EQ(l.pop_due(Instant::max()), nullptr);
  EXPECT_EQ(l.front(), &a);  // the oldest can still be chosen (eviction)
}

struct Item {
  int value = 7;
};

TEST(SlotPool, GrowsOnDemandUpToItsLimit) {
  SlotPool<Item, 4> p{6};
  EXPECT_EQ(p.allocated(), 0u);
  std::vector<Item*> taken;
  for (int i = 0; i < 6; ++i) {
    Item* e = p.take();
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->value, 7);
    taken.push_back(e);
  }
  EXPECT_EQ(p.allocated(), 8u);  // two blocks of 4
  EXPECT_EQ(p.in_use(), 6u);
  EXPECT_EQ(p.take(), nullptr);  // the limit, though the block has room
  p.give_back(taken[2]);
  EXPECT_EQ(p.take(), taken[2]);  // reused, same address
  EXPECT_EQ(p.take(), nullptr);
}

TEST(SlotPool, UnlimitedFollowsThePeak) {
  SlotPool<Item, 16> p;
  std::vector<Item*> taken;
  for (int i = 0; i < 1000; ++i) taken.push_back(p.take());
  for (Item* e : taken) ASSERT_NE(e, nullptr);
  EXPECT_EQ(p.allocated(), 1008u);
  for (Item* e : taken) p.give_back(e);
  EXPECT_EQ(p.in_use(), 0u);
  for (int i = 0; i < 1000; ++i) ASSERT_NE(p.take(), nullptr);
  EXPECT_EQ(p.allocated(), 1008u);  // no new block: the free ones came back
  std::size_t seen = 0;
  p.for_each_allocated([&seen](Item&) { ++seen; });
  EXPECT_EQ(seen, 1008u);
}

// tern-echo's state has no cap of its own: the engine's TCB pool ([tcp]
// max_connections) is the limit, so nothing stops at the former 65,536.
TEST(SlotPool, UnlimitedPassesTheFormerEchoCap) {
  SlotPool<Item, 1024> p;
  for (std::uint32_t i = 0; i < 70000; ++i) ASSERT_NE(p.take(), nullptr) << i;
  EXPECT_EQ(p.in_use(), 70000u);
}

}  // namespace
}  // namespace tern::apps
