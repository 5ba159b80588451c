#include "http_timers.h"

#include <gtest/gtest.h>

#include <vector>

namespace tern::http {
namespace {

// nginx's defaults: client_header_timeout 10 s; keepalive/send 60 s.
HttpTimers timers(std::int64_t header_s = 10, std::int64_t idle_s = 60, std::int64_t send_s = 60) {
  return HttpTimers{HttpTimeouts{
      .header = Duration::s(header_s), .idle = Duration::s(idle_s), .send = Duration::s(send_s)}};
}

Instant at_s(double s) { return at_ms(static_cast<std::int64_t>(s * 1000)); }
// When eviction is asked for where the time does not matter (a head, a
// body or an idle connection goes first whatever it is).
const Instant kLater = at_s(10);

TEST(HttpTimers, HeadDeadlineRunsFromItsStartNotItsLastByte) {
  auto t = timers();
  TimedConn c;
  t.wait_head(c, at_s(0));  // accepted
  // Slowloris: a byte every 3 s, each one waking the server, which waits
  // for the rest of the head again.
  for (double s = 3; s < 10; s += 3) {
    EXPECT_EQ(t.pop_expired(at_s(s)), nullptr);
    t.wait_head(c, at_s(s));
  }
  EXPECT_EQ(t.pop_expired(at_s(9.999)), nullptr);
  EXPECT_EQ(t.pop_expired(at_s(10)), &c);
  EXPECT_EQ(c.wait, Wait::kHead);
  EXPECT_FALSE(c.linked());
}

TEST(HttpTimers, NextHeadStartsAfterTheResponse) {
  auto t = timers();
  TimedConn c;
  t.wait_head(c, at_s(0));
  t.stop(c);  // head complete at 2 s: responding
  t.wait_keepalive(c, at_s(2));
  t.wait_keepalive(c, at_s(30));  // woken with nothing new: keeps its deadline
  EXPECT_EQ(t.pop_expired(at_s(61.9)), nullptr);
  // The first byte of the next request at 50 s: header timeout from then.
  t.wait_head(c, at_s(50));
  EXPECT_EQ(t.pop_expired(at_s(59.9)), nullptr);
  TimedConn* e = t.pop_expired(at_s(60));
  ASSERT_EQ(e, &c);
  EXPECT_EQ(e->wait, Wait::kHead);
}

TEST(HttpTimers, IdleKeepAliveExpiresAfterTheIdleTimeout) {
  auto t = timers();
  TimedConn c;
  t.wait_keepalive(c, at_s(5));
  EXPECT_EQ(t.pop_expired(at_s(64.9)), nullptr);
  ASSERT_EQ(t.pop_expired(at_s(65)), &c);
  EXPECT_EQ(c.wait, Wait::kKeepAlive);
}

TEST(HttpTimers, BodyDeadlineRunsFromTheLastBytes) {
  auto t = timers(10, 20, 60);
  TimedConn c;
  t.wait_body(c, at_s(0));
  t.wait_body(c, at_s(15));
  EXPECT_EQ(t.pop_expired(at_s(34.9)), nullptr);
  ASSERT_EQ(t.pop_expired(at_s(35)), &c);
  EXPECT_EQ(c.wait, Wait::kBody);
}

TEST(HttpTimers, EachKindOnItsOwnTimeout) {
  auto t = timers(10, 60, 30);
  TimedConn ka, head, send, linger;
  t.wait_keepalive(ka, at_s(0));
  t.wait_head(head, at_s(1));  // armed later, due first
  t.wait_send(send, at_s(2), 1000, false);
  t.wait_linger(linger, at_s(3));
  std::vector<TimedConn*> order;
  for (double s = 0; s <= 70; s += 0.5)
    while (TimedConn* e = t.pop_expired(at_s(s))) {
      order.push_back(e);
      if (e == &send) {
        EXPECT_TRUE(t.send_stalled(*e, at_s(s), 1000));
      }
    }
  EXPECT_EQ(order, (std::vector<TimedConn*>{&head, &send, &ka, &linger}));
}

TEST(HttpTimers, ZeroTimeoutsNeverExpire) {
  auto t = timers(0, 0, 0);
  TimedConn a, b, c;
  t.wait_head(a, at_s(0));
  t.wait_keepalive(b, at_s(0));
  t.wait_send(c, at_s(0), 10, false);
  EXPECT_EQ(t.pop_expired(Instant::max()), nullptr);
  EXPECT_EQ(t.victim(kLater), &a);  // eviction still finds the oldest head
}

TEST(HttpTimers, SendTimeoutAbortsAReaderThatTakesNothing) {
  auto t = timers();
  TimedConn c;
  t.wait_send(c, at_s(0), 262144, false);
  t.wait_send(c, at_s(20), 262144, false);  // woken, took nothing: keeps its deadline
  EXPECT_EQ(t.pop_expired(at_s(59.9)), nullptr);
  ASSERT_EQ(t.pop_expired(at_s(60)), &c);
  EXPECT_TRUE(t.send_stalled(c, at_s(60), 262144));
}

TEST(HttpTimers, SendProgressRestartsTheDeadline) {
  auto t = timers();
  TimedConn c;
  t.wait_send(c, at_s(0), 262144, false);
  // on_writable at 50 s: some of the response was taken, blocked again.
  t.wait_send(c, at_s(50), 262144, true);
  EXPECT_EQ(t.pop_expired(at_s(109.9)), nullptr);
  ASSERT_EQ(t.pop_expired(at_s(110)), &c);
  EXPECT_TRUE(t.send_stalled(c, at_s(110), 262144));
}

TEST(HttpTimers, SlowReaderBelowTheWatermarkIsNotAborted) {
  auto t = timers();
  TimedConn c;
  t.wait_send(c, at_s(0), 262144, false);
  // It acknowledged 1000 bytes, too few for on_writable: seen at the deadline.
  ASSERT_EQ(t.pop_expired(at_s(60)), &c);
  EXPECT_FALSE(t.send_stalled(c, at_s(60), 261144));
  EXPECT_EQ(c.wait, Wait::kSend);
  EXPECT_EQ(t.pop_expired(at_s(119.9)), nullptr);
  // Then it stops: aborted one timeout after the progress was seen.
  ASSERT_EQ(t.pop_expired(at_s(120)), &c);
  EXPECT_TRUE(t.send_stalled(c, at_s(120), 261144));
}

TEST(HttpTimers, RetryListIsNotTimed) {
  auto t = timers(1, 1, 1);
  TimedConn c;
  t.wait_retry(c);
  t.wait_retry(c);
  EXPECT_EQ(t.retrying(), 1u);
  EXPECT_EQ(t.retry_front(), &c);
  EXPECT_EQ(t.pop_expired(Instant::max()), nullptr);
  EXPECT_EQ(t.victim(kLater), nullptr);  // responding: never evicted
  t.stop(c);
  EXPECT_EQ(t.retrying(), 0u);
  EXPECT_EQ(c.wait, Wait::kNone);
}

TEST(HttpTimers, EvictsTheOldestIncompleteHeadFirst) {  // then bodies, idle, stalled responses
  auto t = timers();
  TimedConn ka, linger, body, old_head, new_head, sending;
  t.wait_keepalive(ka, at_s(0));
  t.wait_linger(linger, at_s(0.5));
  t.wait_body(body, at_s(1));
  t.wait_head(old_head, at_s(2));
  t.wait_head(new_head, at_s(3));
  t.wait_send(sending, at_s(0), 100, false);
  t.wait_head(old_head, at_s(4));  // a byte arrived: still the oldest head
  EXPECT_EQ(t.victim(kLater), &old_head);
  t.stop(old_head);  // evicted
  EXPECT_EQ(t.victim(kLater), &new_head);
  t.stop(new_head);
  EXPECT_EQ(t.victim(kLater), &body);  // a slow body next
  t.stop(body);
  EXPECT_EQ(t.victim(kLater), &ka);  // then whichever is idle longest
  t.stop(ka);
  EXPECT_EQ(t.victim(kLater), &linger);
  t.stop(linger);
  // Only a response left, its client silent since 0 s: evictable from
  // kStallBeforeEviction on, not before (it may be a reader between ACKs).
  EXPECT_EQ(t.victim(at_s(0.1)), nullptr);
  EXPECT_EQ(t.victim(at_s(0) + HttpTimers::kStallBeforeEviction), &sending);
}

// A head younger than kYoungHead (one just accepted, its request still on
// the way) goes only after idle connections and stalled responses: under a
// flood of new connections they must not evict each other first.
TEST(HttpTimers, AYoungHeadGoesAfterStalledResponses) {
  auto t = timers();
  TimedConn young, stalled;
  t.wait_send(stalled, at_s(0), 100, false);
  t.wait_head(young, at_s(1));
  EXPECT_EQ(t.victim(at_s(1.5)), &stalled);
  t.stop(stalled);
  EXPECT_EQ(t.victim(at_s(1.5)), &young);  // nothing else: the oldest head after all
  EXPECT_EQ(t.victim(at_s(1) + HttpTimers::kYoungHead), &young);
}

// Of the responses blocked on send space, the one whose client acknowledged
// nothing for longest goes; a response that keeps moving is re-armed at
// each step and stays behind.
TEST(HttpTimers, EvictsTheResponseStalledLongest) {
  auto t = timers();
  TimedConn stalled, moving;
  t.wait_send(moving, at_s(0), 100, false);
  t.wait_send(stalled, at_s(1), 100, false);
  t.wait_send(moving, at_s(2), 50, true);     // the client made room
  t.wait_send(stalled, at_s(3), 100, false);  // still nothing: keeps its time
  EXPECT_EQ(t.victim(at_s(3)), &stalled);
  t.stop(stalled);
  EXPECT_EQ(t.victim(at_s(2.1)), nullptr);  // moving made progress 100 ms ago
  EXPECT_EQ(t.victim(at_s(3)), &moving);
}

TEST(HttpTimers, AHeadThatCompletedIsNoLongerEvictable) {
  auto t = timers();
  TimedConn a, b;
  t.wait_head(a, at_s(0));
  t.wait_head(b, at_s(1));
  t.stop(a);  // its head completed: responding
  t.wait_send(a, at_s(2), 1, false);
  EXPECT_EQ(t.victim(kLater), &b);
}

}  // namespace
// Slots held per client address: crowded means at least kMinCrowded slots
// and at least 1/kCrowdedShare of all in use.
TEST(SourceCounts, CrowdedIsAShareOfTheSlotsInUse) {
  apps::SourceCounts s(16);
  for (int i = 0; i < 7; ++i) s.add(IpAddr::v4(1));
  EXPECT_FALSE(s.crowded(IpAddr::v4(1)));  // under kMinCrowded
  s.add(IpAddr::v4(1));
  EXPECT_TRUE(s.crowded(IpAddr::v4(1)));  // 8 of 8
  for (std::uint32_t a = 100; a < 100 + 8 * apps::SourceCounts::kCrowdedShare; ++a) s.add(IpAddr::v4(a));
  EXPECT_FALSE(s.crowded(IpAddr::v4(1)));  // 8 of 520: under 1/64
  EXPECT_FALSE(s.crowded(IpAddr::v4(100)));
  s.add(IpAddr::v4(1));
  EXPECT_TRUE(s.crowded(IpAddr::v4(1)));  // 9 of 521
  EXPECT_EQ(s.count(IpAddr::v4(1)), 9u);
  EXPECT_EQ(s.sources(), 1u + 8 * apps::SourceCounts::kCrowdedShare);
  for (int i = 0; i < 9; ++i) s.remove(IpAddr::v4(1));
  EXPECT_EQ(s.count(IpAddr::v4(1)), 0u);
  EXPECT_EQ(s.sources(), 8 * apps::SourceCounts::kCrowdedShare);  // a source at zero is forgotten
  s.remove(IpAddr::v4(1));                                        // unknown: nothing changes
  EXPECT_EQ(s.total(), 8 * apps::SourceCounts::kCrowdedShare);
}

// Only young heads to choose from: one from a crowded source goes before
// an older one from a host holding a single slot (a client whose request
// is late because its host is busy), looking no further than kCrowdScan.
TEST(HttpTimers, AYoungHeadFromACrowdedSourceGoesFirst) {
  auto t = timers();
  apps::SourceCounts sources;
  std::vector<TimedConn> conns(HttpTimers::kCrowdScan + 1);
  TimedConn& lone = conns[0];
  lone.source = IpAddr::v4(1);
  sources.add(IpAddr::v4(1));
  t.wait_head(lone, at_s(0));
  for (std::size_t i = 1; i < conns.size(); ++i) {
    conns[i].source = IpAddr::v4(2);
    sources.add(IpAddr::v4(2));
    t.wait_head(conns[i], at_s(0.001 * static_cast<double>(i)));
  }
  EXPECT_EQ(t.victim(at_s(0.5)), &lone);  // without counts: the oldest
  EXPECT_EQ(t.victim(at_s(0.5), &sources), &conns[1]);
  // Once heads are old enough to be evicted on age, age decides.
  EXPECT_EQ(t.victim(at_s(0) + HttpTimers::kYoungHead, &sources), &lone);
  // The crowded source's heads all beyond the scan: the oldest after all.
  for (std::size_t i = 1; i < conns.size() - 1; ++i) {
    conns[i].source = IpAddr::v4(100 + static_cast<std::uint32_t>(i));
    sources.remove(IpAddr::v4(2));
    sources.add(conns[i].source);
  }
  for (std::uint32_t i = 0; i < 200; ++i) sources.add(IpAddr::v4(1000 + i));  // source 2 now holds 1 of 265
  EXPECT_FALSE(sources.crowded(IpAddr::v4(2)));
  EXPECT_EQ(t.victim(at_s(0.5), &sources), &lone);
  for (int i = 0; i < 10; ++i) sources.add(IpAddr::v4(2));  // 11 of 275: crowded, but 65th in line
  ASSERT_TRUE(sources.crowded(IpAddr::v4(2)));
  EXPECT_EQ(t.victim(at_s(0.5), &sources), &lone);
}

}  // namespace tern::http
