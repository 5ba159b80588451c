#include "backend_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace tern::proxy {
namespace {

std::vector<BackendAddress> three() {
  return {{IpAddr::v4(0x0a000001), 8001}, {IpAddr::v4(0x0a000001), 8002}, {IpAddr::v4(0x0a000001), 8003}};
}

BackendPool pool(Policy p, std::uint32_t threshold = 3, Duration retry = Duration::s(5)) {
  return BackendPool{three(), PoolOptions{.policy = p, .fail_threshold = threshold, .retry_after = retry}};
}

// One attempt that connects and ends at once.
std::size_t serve(BackendPool& p, Instant now) {
  const auto i = p.choose(now, 0);
  EXPECT_TRUE(i.has_value());
  p.connected(*i);
  p.released(*i);
  return *i;
}

TEST(ParseBackend, AcceptsAddressAndPort) {
  const auto b = parse_backend("10.1.2.3:8080");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->addr, IpAddr::v4(0x0a010203u));
  EXPECT_EQ(b->port, 8080);
  EXPECT_EQ(format_backend(*b), "10.1.2.3:8080");
  EXPECT_TRUE(parse_backend("255.255.255.255:65535").has_value());
  const auto v6 = parse_backend("[2001:db8::7]:443");
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->addr.is_v6());
  EXPECT_EQ(v6->port, 443);
  EXPECT_EQ(format_backend(*v6), "[2001:db8::7]:443");
}

TEST(ParseBackend, RejectsMalformed) {
  for (const char* s : {"",
                        "10.1.2.3",
                        "10.1.2.3:",
                        ":80",
                        "10.1.2.3:0",
                        "10.1.2.3:65536",
                        "10.1.2:80",
                        "10.1.2.3.4:80",
                        "10.1.2.256:80",
                        "10..2.3:80",
                        "a.b.c.d:80",
                        "10.1.2.3:8a",
                        "10.1.2.3:-1",
                        "10.1.2.3:+80",
                        " 10.1.2.3:80",
                        "1000.1.2.3:80",
                        "2001:db8::7:443",
                        "[2001:db8::7]:0",
                        "[2001:db8::7]",
                        "[10.1.2.3]:80"})
    EXPECT_FALSE(parse_backend(s).has_value()) << s;
}

TEST(ParsePolicy, Names) {
  EXPECT_EQ(parse_policy("round-robin"), Policy::kRoundRobin);
  EXPECT_EQ(parse_policy("least-connections"), Policy::kLeastConnections);
  EXPECT_FALSE(parse_policy("random").has_value());
  EXPECT_EQ(to_string(Policy::kLeastConnections), "least-connections");
}

TEST(BackendPool, RoundRobinTakesTurns) {
  auto p = pool(Policy::kRoundRobin);
  std::vector<std::size_t> order;
  for (int k = 0; k < 6; ++k) order.push_back(serve(p, at_ms(k)));
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.counters(i).attempts, 2u);
    EXPECT_EQ(p.counters(i).connections, 2u);
    EXPECT_EQ(p.counters(i).active, 0u);
  }
}

TEST(BackendPool, TriedBackendsAreSkipped) {
  auto p = pool(Policy::kRoundRobin);
  const auto a = p.choose(at_ms(0), 0);
  ASSERT_EQ(a, 0u);
  p.failed(*a, at_ms(0));
  const auto b = p.choose(at_ms(0), 1u << 0);
  EXPECT_EQ(b, 1u);
  p.failed(*b, at_ms(0));
  const auto c = p.choose(at_ms(0), 0b011);
  EXPECT_EQ(c, 2u);
  p.failed(*c, at_ms(0));
  EXPECT_FALSE(p.choose(at_ms(0), 0b111).has_value());
}

TEST(BackendPool, LeastConnectionsPicksTheIdlest) {
  auto p = pool(Policy::kLeastConnections);
  // Three long relays, one each; then 0 and 2 end.
  std::vector<std::size_t> held;
  for (int k = 0; k < 3; ++k) {
    const auto i = p.choose(at_ms(k), 0);
    ASSERT_TRUE(i.has_value());
    p.connected(*i);
    held.push_back(*i);
  }
  EXPECT_EQ(held, (std::vector<std::size_t>{0, 1, 2}));
  p.released(0);
  p.released(2);
  // 0 and 2 have none, 1 has one: ties go in turn, 1 waits.
  const auto a = p.choose(at_ms(10), 0);
  ASSERT_TRUE(a.has_value());
  p.connected(*a);
  const auto b = p.choose(at_ms(10), 0);
  ASSERT_TRUE(b.has_value());
  p.connected(*b);
  EXPECT_NE(*a, 1u);
  EXPECT_NE(*b, 1u);
  EXPECT_NE(*a, *b);
  // Now all have one: any; then 1 would have two only after the others.
  EXPECT_EQ(p.counters(0).active + p.counters(1).active + p.counters(2).active, 3u);
}

TEST(BackendPool, LeastConnectionsAvoidsALoadedBackend) {
  auto p = pool(Policy::kLeastConnections);
  // Backend 0 holds five relays.
  for (int k = 0; k < 5; ++k) {
    const auto i = p.choose(at_ms(0), 0b110);
    ASSERT_EQ(i, 0u);
    p.connected(*i);
  }
  for (int k = 0; k < 8; ++k) {
    const auto i = p.choose(at_ms(1), 0);
    ASSERT_TRUE(i.has_value());
    EXPECT_NE(*i, 0u) << k;
    p.connected(*i);
  }
  EXPECT_EQ(p.counters(1).active, 4u);
  EXPECT_EQ(p.counters(2).active, 4u);
}

TEST(BackendPool, ConsecutiveFailuresMarkDown) {
  auto p = pool(Policy::kRoundRobin, 3);
  for (int k = 0; k < 2; ++k) {
    ASSERT_EQ(p.choose(at_ms(k), 0b110), 0u);
    EXPECT_EQ(p.failed(0, at_ms(k)), Transition::kNone);
    EXPECT_EQ(p.health(0), Health::kUp);
  }
  ASSERT_EQ(p.choose(at_ms(2), 0b110), 0u);
  EXPECT_EQ(p.failed(0, at_ms(2)), Transition::kMarkedDown);  // the proxy logs this one
  EXPECT_EQ(p.health(0), Health::kDown);
  EXPECT_EQ(p.counters(0).failures, 3u);
  EXPECT_EQ(p.counters(0).marked_down, 1u);
  EXPECT_EQ(p.counters(0).active, 0u);
  // Skipped by every choice until the retry time.
  for (int k = 0; k < 10; ++k) {
    const auto i = p.choose(at_ms(100 + k), 0);
    ASSERT_TRUE(i.has_value());
    EXPECT_NE(*i, 0u);
    p.connected(*i);
    p.released(*i);
  }
  EXPECT_FALSE(p.choose(at_ms(4999), 0b110).has_value());
}

TEST(BackendPool, SuccessResetsTheFailureCount) {
  auto p = pool(Policy::kRoundRobin, 3);
  for (int round = 0; round < 5; ++round) {
    for (int k = 0; k < 2; ++k) {
      ASSERT_EQ(p.choose(at_ms(round), 0b110), 0u);
      p.failed(0, at_ms(round));
    }
    ASSERT_EQ(p.choose(at_ms(round), 0b110), 0u);
    p.connected(0);
    p.released(0);
    EXPECT_EQ(p.consecutive_failures(0), 0u);
  }
  EXPECT_EQ(p.health(0), Health::kUp);
  EXPECT_EQ(p.counters(0).failures, 10u);
  EXPECT_EQ(p.counters(0).marked_down, 0u);
}

TEST(BackendPool, OneProbeAfterRetryAfterThenUp) {
  auto p = pool(Policy::kRoundRobin, 1, Duration::s(5));
  ASSERT_EQ(p.choose(at_ms(0), 0b110), 0u);
  p.failed(0, at_ms(0));
  ASSERT_EQ(p.health(0), Health::kDown);
  EXPECT_FALSE(p.choose(at_ms(4999), 0b110).has_value());
  // At the retry time one client probes; others skip it meanwhile.
  ASSERT_EQ(p.choose(at_ms(5000), 0b110), 0u);
  EXPECT_EQ(p.health(0), Health::kProbing);
  EXPECT_EQ(p.counters(0).probes, 1u);
  EXPECT_FALSE(p.choose(at_ms(5001), 0b110).has_value());
  EXPECT_EQ(p.connected(0), Transition::kBackUp);  // logged: up again
  EXPECT_EQ(p.health(0), Health::kUp);
  p.released(0);
  ASSERT_EQ(p.choose(at_ms(5002), 0b110), 0u);
  EXPECT_EQ(p.connected(0), Transition::kNone);  // already up: no second line
  p.released(0);
  ASSERT_EQ(p.choose(at_ms(5002), 0b110), 0u);
  EXPECT_EQ(p.counters(0).marked_down, 1u);
}

TEST(BackendPool, FailedProbeWaitsAnotherRetryAfter) {
  auto p = pool(Policy::kRoundRobin, 1, Duration::s(5));
  ASSERT_EQ(p.choose(at_ms(0), 0b110), 0u);
  p.failed(0, at_ms(0));
  ASSERT_EQ(p.choose(at_ms(6000), 0b110), 0u);
  EXPECT_EQ(p.failed(0, at_ms(6000)), Transition::kNone);  // still down: not logged again
  EXPECT_EQ(p.health(0), Health::kDown);
  EXPECT_FALSE(p.choose(at_ms(10999), 0b110).has_value());
  EXPECT_EQ(p.choose(at_ms(11000), 0b110), 0u);
  EXPECT_EQ(p.counters(0).marked_down, 1u);  // counted once: it never came up
  EXPECT_EQ(p.counters(0).probes, 2u);
}

TEST(BackendPool, AbandonedProbeLetsTheNextClientProbe) {
  auto p = pool(Policy::kRoundRobin, 1, Duration::s(5));
  ASSERT_EQ(p.choose(at_ms(0), 0b110), 0u);
  p.failed(0, at_ms(0));
  ASSERT_EQ(p.choose(at_ms(5000), 0b110), 0u);
  p.abandoned(0);
  EXPECT_EQ(p.health(0), Health::kDown);
  EXPECT_EQ(p.counters(0).active, 0u);
  EXPECT_EQ(p.choose(at_ms(5001), 0b110), 0u);
}

TEST(BackendPool, AllDownMeansNoChoice) {
  auto p = pool(Policy::kLeastConnections, 1, Duration::s(5));
  for (std::size_t i = 0; i < 3; ++i) {
    const auto c = p.choose(at_ms(0), 0);
    ASSERT_TRUE(c.has_value());
    p.failed(*c, at_ms(0));
  }
  EXPECT_FALSE(p.choose(at_ms(1), 0).has_value());
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(p.health(i), Health::kDown);
  EXPECT_TRUE(p.choose(at_ms(5000), 0).has_value());
}

TEST(BackendPool, LateSuccessBringsADownBackendBack) {
  auto p = pool(Policy::kRoundRobin, 2);
  // Three attempts to 0 in flight at once; two fail (down), the third connects.
  for (int k = 0; k < 3; ++k) ASSERT_EQ(p.choose(at_ms(0), 0b110), 0u);
  p.failed(0, at_ms(1));
  p.failed(0, at_ms(1));
  EXPECT_EQ(p.health(0), Health::kDown);
  p.connected(0);
  EXPECT_EQ(p.health(0), Health::kUp);
  EXPECT_EQ(p.counters(0).active, 1u);
}

TEST(BackendPool, ThresholdZeroMeansOne) {
  auto p = pool(Policy::kRoundRobin, 0);
  ASSERT_EQ(p.choose(at_ms(0), 0b110), 0u);
  p.failed(0, at_ms(0));
  EXPECT_EQ(p.health(0), Health::kDown);
}

TEST(BackendPool, SingleBackend) {
  BackendPool p{{{IpAddr::v4(0x7f000001), 80}}, PoolOptions{}};
  for (int k = 0; k < 3; ++k) EXPECT_EQ(serve(p, at_ms(k)), 0u);
  EXPECT_FALSE(p.choose(at_ms(3), 1).has_value());
}

}  // namespace
}  // namespace tern::proxy
