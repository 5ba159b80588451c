// OnLinkPrefixes: the on-link prefix list Router Advertisements feed
// (RFC 4861 §6.3.4), on virtual time.
#include "ip/onlink_prefixes.h"

#include <gtest/gtest.h>

#include "wire/ipv6.h"

namespace tern {
namespace {

Ipv6Addr v6(const char* text) { return *Ipv6Addr::from_string(text); }
Instant at_s(std::int64_t s) { return Instant{} + Duration::s(s); }

using Update = OnLinkPrefixes::Update;

TEST(OnLinkPrefixes, APrefixIsOnLinkForItsValidLifetime) {
  OnLinkPrefixes p;
  EXPECT_FALSE(p.on_link(v6("2001:db8:5::9"), at_s(0)));
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::"), 64, 600, at_s(0)), Update::kAdded);
  EXPECT_TRUE(p.on_link(v6("2001:db8:5::9"), at_s(0)));
  EXPECT_TRUE(p.on_link(v6("2001:db8:5:0:ffff::1"), at_s(599)));
  EXPECT_FALSE(p.on_link(v6("2001:db8:5:1::9"), at_s(0))) << "outside the /64";
  EXPECT_FALSE(p.on_link(v6("2001:db8:5::9"), at_s(600))) << "lifetime over";
  EXPECT_EQ(p.size(at_s(600)), 0u);
}

// §6.3.4: a known prefix takes the new lifetime, shorter or longer; zero
// takes it off the link at once; zero for an unknown prefix does nothing.
TEST(OnLinkPrefixes, LifetimesAreRefreshedAndZeroRemoves) {
  OnLinkPrefixes p;
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::"), 64, 600, at_s(0)), Update::kAdded);
  // The same prefix with other host bits is the same prefix.
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::1"), 64, 30, at_s(100)), Update::kRefreshed);
  EXPECT_TRUE(p.on_link(v6("2001:db8:5::9"), at_s(129)));
  EXPECT_FALSE(p.on_link(v6("2001:db8:5::9"), at_s(130)));
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::"), 64, 600, at_s(200)), Update::kAdded) << "expired: added again";
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::"), 64, 0, at_s(201)), Update::kRemoved);
  EXPECT_FALSE(p.on_link(v6("2001:db8:5::9"), at_s(201)));
  EXPECT_EQ(p.on_prefix(v6("2001:db8:6::"), 64, 0, at_s(202)), Update::kIgnored);
  EXPECT_EQ(p.size(at_s(202)), 0u);
  // Another length is another prefix.
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::"), 64, 600, at_s(300)), Update::kAdded);
  EXPECT_EQ(p.on_prefix(v6("2001:db8:5::"), 48, 600, at_s(300)), Update::kAdded);
  EXPECT_EQ(p.size(at_s(300)), 2u);
}

TEST(OnLinkPrefixes, InfiniteLifetimeNeverRunsOut) {
  OnLinkPrefixes p;
  EXPECT_EQ(p.on_prefix(v6("2001:db8:7::"), 64, OnLinkPrefixes::kInfinite, at_s(0)), Update::kAdded);
  EXPECT_TRUE(p.on_link(v6("2001:db8:7::1"), at_s(10'000'000)));
}

// §6.3.4: "If the prefix is the link-local prefix, silently ignore the
// Prefix Information option"; a length past 128 is no prefix.
TEST(OnLinkPrefixes, LinkLocalAndBadLengthsAreIgnored) {
  OnLinkPrefixes p;
  EXPECT_EQ(p.on_prefix(v6("fe80::"), 64, 600, at_s(0)), Update::kIgnored);
  EXPECT_EQ(p.on_prefix(v6("2001:db8::"), 129, 600, at_s(0)), Update::kIgnored);
  EXPECT_EQ(p.size(at_s(0)), 0u);
}

TEST(OnLinkPrefixes, AFullListRefusesNewPrefixesUntilOneExpires) {
  OnLinkPrefixes p;
  for (std::size_t i = 0; i < OnLinkPrefixes::kMax; ++i) {
    Ipv6Addr a = v6("2001:db8::");
    a.b[3] = static_cast<std::uint8_t>(i + 1);
    EXPECT_EQ(p.on_prefix(a, 32, i == 0 ? 10 : 600, at_s(0)), Update::kAdded) << i;
  }
  EXPECT_EQ(p.on_prefix(v6("2001:db9::"), 32, 600, at_s(1)), Update::kFull);
  EXPECT_FALSE(p.on_link(v6("2001:db9::1"), at_s(1)));
  // The first one's lifetime ends: its slot takes the new prefix.
  EXPECT_EQ(p.on_prefix(v6("2001:db9::"), 32, 600, at_s(10)), Update::kAdded);
  EXPECT_TRUE(p.on_link(v6("2001:db9::1"), at_s(10)));
  EXPECT_EQ(p.size(at_s(10)), OnLinkPrefixes::kMax);
}

}  // namespace
}  // namespace tern
