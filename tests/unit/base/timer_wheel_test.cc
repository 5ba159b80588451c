#include "base/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace tern {
namespace {

constexpr Duration kTick = Duration::ms(1);
constexpr Instant kStart = at_ms(5000);  // not zero: the wheel counts from its own start

constexpr Instant t_ms(std::int64_t ms) { return kStart + Duration::ms(ms); }
constexpr Instant t_us(std::int64_t us) { return kStart + Duration::us(us); }

struct Timer : TimerNode {
  int id = 0;
  int fires = 0;
  Instant fired_at = Instant::max();
};

// A wheel plus a log of what fired when, so tests read like a trace.
class Harness {
 public:
  explicit Harness(std::size_t slots = 64) : wheel(kTick, slots, kStart) {}

  std::vector<int> advance(Instant now) {
    std::vector<int> ids;
    const std::size_t n = wheel.advance(now, [&](TimerNode& node) {
      Timer& t = timer_owner<Timer>(node);
      ++t.fires;
      t.fired_at = now;
      ids.push_back(t.id);
    });
    EXPECT_EQ(n, ids.size());
    return ids;
  }
  // Advances from the last instant to `until` in `step`s; returns each firing.
  std::vector<int> run(Instant from, Instant until, Duration step) {
    std::vector<int> ids;
    for (Instant now = from; now <= until; now = now + step) {
      for (int id : advance(now)) ids.push_back(id);
    }
    return ids;
  }

  TimerWheel wheel;
};

using Ids = std::vector<int>;

TEST(TimerWheel, OneTickStepsFireAtTheFirstBoundaryAtOrAfterTheDeadline) {
  Harness h;
  Timer mid, edge;
  mid.id = 1;
  edge.id = 2;
  h.wheel.arm(mid, t_us(10'300));  // inside tick 10
  h.wheel.arm(edge, t_ms(20));     // exactly on a boundary
  EXPECT_EQ(h.run(t_ms(0), t_ms(10), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(11)), Ids{1});
  EXPECT_EQ(mid.fired_at, t_ms(11));
  EXPECT_EQ(h.run(t_ms(12), t_ms(19), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(20)), Ids{2});
  EXPECT_EQ(h.run(t_ms(21), t_ms(200), kTick), Ids{});
  EXPECT_EQ(mid.fires, 1);
  EXPECT_EQ(edge.fires, 1);
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheel, SubTickStepsNeverFireEarlyAndAtMostOneTickLate) {
  Harness h;
  Timer a, b;
  a.id = 1;
  b.id = 2;
  h.wheel.arm(a, t_us(5'250));
  h.wheel.arm(b, t_ms(7));
  for (Instant now = t_ms(0); now <= t_ms(30); now = now + Duration::us(100)) {
    h.advance(now);
    if (now < t_us(5'250)) {
      EXPECT_EQ(a.fires, 0) << now.ns_since_epoch();
    }
    if (now < t_ms(7)) {
      EXPECT_EQ(b.fires, 0) << now.ns_since_epoch();
    }
  }
  EXPECT_EQ(a.fires, 1);
  EXPECT_GE(a.fired_at, t_us(5'250));
  EXPECT_LT(a.fired_at, t_us(5'250) + kTick);
  EXPECT_EQ(b.fires, 1);
  EXPECT_EQ(b.fired_at, t_ms(7));  // on a boundary: exactly on time
}

TEST(TimerWheel, OneBigJumpFiresEverythingDueAndNothingElse) {
  Harness h{64};  // one revolution = 64 ms
  Timer soon, later, laps, beyond;
  soon.id = 1;
  later.id = 2;
  laps.id = 3;
  beyond.id = 4;
  h.wheel.arm(soon, t_ms(3));
  h.wheel.arm(later, t_us(40'500));
  h.wheel.arm(laps, t_ms(500));
  h.wheel.arm(beyond, t_ms(2000));
  Ids fired = h.advance(t_ms(1000));
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(fired, (Ids{1, 2, 3}));
  EXPECT_TRUE(h.wheel.armed(beyond));
  EXPECT_EQ(h.advance(t_ms(1999)), Ids{});
  EXPECT_EQ(h.advance(t_ms(2000)), Ids{4});
}

TEST(TimerWheel, ManyTimersInOneSlotAllFireOnce) {
  Harness h{16};
  std::vector<std::unique_ptr<Timer>> ts;
  for (int i = 0; i < 200; ++i) {
    ts.push_back(std::make_unique<Timer>());
    ts.back()->id = i;
    // Ticks 4 (i even) and 4 + 16 (i odd) share slot 4.
    const std::int64_t base_us = i % 2 == 0 ? 3'000 : 19'000;
    h.wheel.arm(*ts.back(), t_us(base_us + 1 + i * 4));
  }
  EXPECT_EQ(h.run(t_ms(0), t_ms(3), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(4)).size(), 100u);
  for (const auto& t : ts) EXPECT_EQ(t->fires, t->id % 2 == 0 ? 1 : 0) << t->id;
  EXPECT_EQ(h.run(t_ms(5), t_ms(19), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(20)).size(), 100u);
  for (const auto& t : ts) EXPECT_EQ(t->fires, 1) << t->id;
  EXPECT_EQ(h.wheel.size(), 0u);
}

TEST(TimerWheel, CancelBeforeFiring) {
  Harness h;
  Timer a, b;
  a.id = 1;
  b.id = 2;
  h.wheel.arm(a, t_ms(10));
  h.wheel.arm(b, t_ms(10));
  EXPECT_EQ(h.wheel.size(), 2u);
  h.wheel.cancel(a);
  EXPECT_FALSE(h.wheel.armed(a));
  EXPECT_TRUE(h.wheel.armed(b));
  EXPECT_EQ(h.wheel.size(), 1u);
  EXPECT_EQ(h.run(t_ms(0), t_ms(200), kTick), Ids{2});
  EXPECT_EQ(a.fires, 0);
}

TEST(TimerWheel, CancelTwiceAndCancelUnarmedAreHarmless) {
  Harness h;
  Timer a, never;
  a.id = 1;
  h.wheel.cancel(never);
  h.wheel.arm(a, t_ms(10));
  h.wheel.cancel(a);
  h.wheel.cancel(a);
  EXPECT_EQ(h.wheel.size(), 0u);
  EXPECT_EQ(h.run(t_ms(0), t_ms(100), kTick), Ids{});
  h.wheel.arm(a, t_ms(110));  // a cancelled node can be armed again
  EXPECT_EQ(h.run(t_ms(101), t_ms(110), kTick), Ids{1});
}

TEST(TimerWheel, RearmEarlierMovesTheTimer) {
  Harness h;
  Timer a;
  a.id = 1;
  h.wheel.arm(a, t_ms(50));
  h.wheel.arm(a, t_ms(10));
  EXPECT_EQ(h.wheel.size(), 1u);
  EXPECT_EQ(h.run(t_ms(0), t_ms(9), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(10)), Ids{1});
  EXPECT_EQ(h.run(t_ms(11), t_ms(100), kTick), Ids{});
  EXPECT_EQ(a.fires, 1);
}

TEST(TimerWheel, RearmLaterOnlyPushesTheDeadline) {
  // The retransmission timer pushed forward by every ACK, past a revolution.
  Harness h{32};
  Timer rto;
  rto.id = 1;
  h.wheel.arm(rto, t_ms(10));
  for (int ack = 1; ack <= 5; ++ack) {
    EXPECT_EQ(h.run(t_ms(ack * 8 - 7), t_ms(ack * 8), kTick), Ids{});
    h.wheel.arm(rto, t_ms(ack * 8 + 10));
    EXPECT_EQ(h.wheel.deadline(rto), t_ms(ack * 8 + 10));
  }
  h.wheel.arm(rto, t_ms(200));
  EXPECT_EQ(h.run(t_ms(41), t_ms(199), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(200)), Ids{1});
  EXPECT_EQ(rto.fires, 1);
}

TEST(TimerWheel, RearmLaterButAlreadyPastFiresAtTheNextAdvance) {
  Harness h;
  Timer a;
  a.id = 1;
  h.wheel.arm(a, t_us(2'100));  // filed for boundary 3 ms
  EXPECT_EQ(h.advance(t_us(2'500)), Ids{});
  h.wheel.arm(a, t_us(2'400));  // later than before, yet already past
  EXPECT_EQ(h.advance(t_us(2'600)), Ids{1});
}

TEST(TimerWheel, RearmFromInsideTheCallback) {
  TimerWheel wheel{kTick, 64, kStart};
  Timer periodic;
  std::vector<Instant> fired;
  wheel.arm(periodic, t_ms(7));
  for (Instant now = t_ms(0); now <= t_ms(100); now = now + kTick) {
    wheel.advance(now, [&](TimerNode& n) {
      EXPECT_FALSE(wheel.armed(n));  // unlinked before the call
      fired.push_back(now);
      wheel.arm(n, wheel.deadline(n) + Duration::ms(7));
    });
  }
  ASSERT_EQ(fired.size(), 14u);
  for (std::size_t i = 0; i < fired.size(); ++i) EXPECT_EQ(fired[i], t_ms(7 * (std::int64_t(i) + 1)));
  EXPECT_TRUE(wheel.armed(periodic));
  wheel.cancel(periodic);
}

TEST(TimerWheel, RearmInThePastFromTheCallbackWaitsForTheNextAdvance) {
  TimerWheel wheel{kTick, 64, kStart};
  Timer a;
  int calls = 0;
  auto again = [&](TimerNode& n) {
    ++calls;
    wheel.arm(n, kStart);  // long past: must not loop inside this advance
  };
  wheel.arm(a, t_ms(5));
  EXPECT_EQ(wheel.advance(t_ms(5), again), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(wheel.advance(t_us(5'001), again), 1u);  // same tick, still fires
  EXPECT_EQ(calls, 2);
  wheel.cancel(a);
  EXPECT_EQ(wheel.advance(t_ms(6), again), 0u);
}

TEST(TimerWheel, CallbackMayCancelItsSlotNeighbours) {
  TimerWheel wheel{kTick, 64, kStart};
  Timer a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  for (Timer* t : {&a, &b, &c}) wheel.arm(*t, t_us(4'500));  // one slot
  std::vector<int> fired;
  EXPECT_EQ(wheel.advance(t_ms(5),
                          [&](TimerNode& n) {
                            fired.push_back(timer_owner<Timer>(n).id);
                            for (Timer* t : {&a, &b, &c}) wheel.cancel(*t);
                          }),
            1u);
  EXPECT_EQ(fired.size(), 1u);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, DeadlineFarBeyondOneRevolution) {
  Harness h{16};  // one revolution = 16 ms
  Timer far;
  far.id = 1;
  h.wheel.arm(far, t_us(1'000'400));
  EXPECT_EQ(h.run(t_ms(0), t_ms(1000), kTick), Ids{});
  EXPECT_EQ(h.advance(t_ms(1001)), Ids{1});
}

TEST(TimerWheel, DeadlineInThePastFiresAtTheNextAdvance) {
  Harness h;
  Timer before_start, past;
  before_start.id = 1;
  past.id = 2;
  h.wheel.arm(before_start, kStart - Duration::s(3));
  EXPECT_EQ(h.advance(kStart), Ids{1});  // not even a tick later
  EXPECT_EQ(h.advance(t_us(10'500)), Ids{});
  h.wheel.arm(past, t_ms(3));
  EXPECT_EQ(h.wheel.next_expiry_hint(), t_us(10'500));
  EXPECT_EQ(h.advance(t_us(10'501)), Ids{2});
  EXPECT_EQ(past.fired_at, t_us(10'501));
}

TEST(TimerWheel, TimeGoingBackwardsIsIgnored) {
  Harness h;
  Timer a;
  a.id = 1;
  h.wheel.arm(a, t_ms(20));
  EXPECT_EQ(h.advance(t_ms(10)), Ids{});
  EXPECT_EQ(h.advance(t_ms(5)), Ids{});
  EXPECT_EQ(h.advance(t_ms(19)), Ids{});
  EXPECT_EQ(h.advance(t_ms(20)), Ids{1});
}

TEST(TimerWheel, AHugeGapCostsOneRevolutionNotOneStepPerTick) {
  // 2^40 ticks: a walk per tick would not finish within the test timeout.
  Harness h{1024};
  Timer a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  h.wheel.arm(a, t_ms(5));
  h.wheel.arm(b, t_ms(std::int64_t{1} << 39));
  h.wheel.arm(c, t_ms((std::int64_t{1} << 40) + 3));
  Ids fired = h.advance(t_ms(std::int64_t{1} << 40));
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(fired, (Ids{1, 2}));
  EXPECT_EQ(h.advance(t_ms((std::int64_t{1} << 40) + 3)), Ids{3});
}

TEST(TimerWheel, NextExpiryHintIsTheFirstNonEmptySlot) {
  Harness h;
  Timer a;
  EXPECT_EQ(h.wheel.next_expiry_hint(), Instant::max());
  h.wheel.arm(a, t_us(10'300));
  EXPECT_EQ(h.wheel.next_expiry_hint(), t_ms(11));
  h.wheel.cancel(a);
  EXPECT_EQ(h.wheel.next_expiry_hint(), Instant::max());
}

TEST(TimerWheel, DestroyingTheWheelDisarmsItsNodes) {
  Timer a;
  {
    TimerWheel wheel{kTick, 8, kStart};
    wheel.arm(a, t_ms(3));
    EXPECT_TRUE(TimerWheel::armed(a));
  }
  EXPECT_FALSE(TimerWheel::armed(a));
}

// Thousands of timers armed, re-armed and cancelled at random, from outside
// and from inside callbacks, on steps from sub-tick to several revolutions,
// checked against a std::multimap of what must fire by when.
TEST(TimerWheel, RandomTimersMatchAReference) {
  constexpr int kTimers = 4000;
  constexpr std::size_t kSlots = 256;  // revolution 256 ms; deadlines reach 2 s
  std::mt19937_64 rng{20240611};
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>{lo, hi}(rng);
  };

  TimerWheel wheel{kTick, kSlots, kStart};
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < kTimers; ++i) {
    timers.push_back(std::make_unique<Timer>());
    timers.back()->id = i;
  }

  // Reference: keyed by the instant each timer must have fired by. A deadline
  // after the last advance must fire by the first tick boundary at or after
  // it (< deadline + tick); one at or before it, at the very next advance.
  using Ref = std::multimap<Instant, int>;
  Ref must_fire_by;
  std::vector<Ref::iterator> where(kTimers, must_fire_by.end());
  std::vector<Instant> deadline(kTimers);
  std::vector<std::uint64_t> armed_in_epoch(kTimers);
  std::uint64_t epoch = 0;  // number of advance calls so far
  Instant last_now = kStart;
  std::size_t arms = 0, fires = 0, cancels = 0;

  auto ref_cancel = [&](int id) {
    if (where[id] == must_fire_by.end()) return false;
    must_fire_by.erase(where[id]);
    where[id] = must_fire_by.end();
    return true;
  };
  auto arm = [&](int id, Instant d) {
    if (!ref_cancel(id)) ++arms;  // a re-arm is not a new firing owed
    wheel.arm(*timers[id], d);
    deadline[id] = d;
    armed_in_epoch[id] = epoch;
    // "By the next advance": any later `now`, as every step moves time on.
    where[id] =
        must_fire_by.emplace(d <= last_now ? last_now + Duration::ns(1) : d + kTick - Duration::ns(1), id);
  };
  auto cancel = [&](int id) {
    if (ref_cancel(id)) ++cancels;
    wheel.cancel(*timers[id]);
  };
  auto random_deadline = [&](Instant now) { return now + Duration::us(uniform(-5'000, 2'000'000)); };

  Instant now = kStart;
  for (int step = 0; step < 6000; ++step) {
    for (int op = 0, n = static_cast<int>(uniform(0, 6)); op < n; ++op) {
      const int id = static_cast<int>(uniform(0, kTimers - 1));
      if (uniform(0, 9) < 8) {
        arm(id, random_deadline(now));
      } else {
        cancel(id);
      }
    }

    switch (uniform(0, 9)) {
      case 0:
        now = now + Duration::ms(uniform(300, 3'000));
        break;  // beyond a revolution
      case 1:
      case 2:
        now = now + Duration::ms(uniform(2, 50));
        break;
      case 3:
      case 4:
        now = now + kTick;
        break;
      default:
        now = now + Duration::us(uniform(1, 999));
        break;
    }

    ++epoch;
    const Instant prev_now = last_now;
    last_now = now;
    std::size_t seen = 0;
    const std::size_t n = wheel.advance(now, [&](TimerNode& node) {
      const int id = timer_owner<Timer>(node).id;
      ++seen;
      ++fires;
      ASSERT_NE(where[id], must_fire_by.end()) << "fired twice or after cancel: " << id;
      EXPECT_LE(deadline[id], now) << "fired early: " << id;
      EXPECT_LT(armed_in_epoch[id], epoch) << "armed and fired in one advance: " << id;
      EXPECT_GT(where[id]->first, prev_now) << "should have fired an advance earlier: " << id;
      ref_cancel(id);
      if (uniform(0, 4) == 0) arm(id, random_deadline(now));  // includes the past
      if (uniform(0, 9) == 0) cancel(static_cast<int>(uniform(0, kTimers - 1)));
    });
    ASSERT_EQ(n, seen);
    ASSERT_TRUE(must_fire_by.empty() || must_fire_by.begin()->first > now)
        << "missed timer " << must_fire_by.begin()->second << " at step " << step;
    ASSERT_EQ(wheel.size(), must_fire_by.size());
  }

  // Drain: everything left fires, once.
  for (int i = 0; i < 3000 && !must_fire_by.empty(); ++i) {
    now = now + kTick;
    last_now = now;
    ++epoch;
    wheel.advance(now, [&](TimerNode& node) {
      const int id = timer_owner<Timer>(node).id;
      ASSERT_NE(where[id], must_fire_by.end());
      EXPECT_LE(deadline[id], now);
      ref_cancel(id);
      ++fires;
    });
  }
  EXPECT_TRUE(must_fire_by.empty());
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(fires + cancels, arms);
  EXPECT_GT(fires, 15'000u);  // the trace really exercised the wheel
}

}  // namespace
}  // namespace tern
