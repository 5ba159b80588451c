// PathMtuCache (lib/ip/pmtu_cache.h): per-destination path MTUs, lowered
// only, expiring 10 minutes (the configured time) after the last decrease
// (RFC 8201 §4), bounded with eviction of the entry learned longest ago.
#include "ip/pmtu_cache.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

constexpr std::uint16_t kLink = 1500;
const IpAddr kPeer4 = IpAddr::v4(0x0A000002);
const IpAddr kPeer6 = *IpAddr::parse("2001:db8:1::2");

Instant at_s(std::int64_t s) { return Instant{} + Duration::s(s); }

class PmtuCache : public ::testing::Test {
 protected:
  Counters counters_;
  PathMtuCache cache_{64, Duration::s(600), counters_};
};

TEST_F(PmtuCache, UnknownDestinationGetsTheLinkMtu) {
  EXPECT_EQ(cache_.get(kPeer4, kLink, at_s(1)), kLink);
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(PmtuCache, LearnedDecreaseIsKeptPerDestination) {
  EXPECT_TRUE(cache_.lower(kPeer6, 1400, kLink, at_s(1)));
  EXPECT_EQ(cache_.get(kPeer6, kLink, at_s(2)), 1400);
  EXPECT_EQ(cache_.get(kPeer4, kLink, at_s(2)), kLink) << "another destination";
  EXPECT_EQ(cache_.get(*IpAddr::parse("2001:db8:1::3"), kLink, at_s(2)), kLink);
  EXPECT_EQ(counters_.get(Counter::kPmtuLearned), 1u);
}

TEST_F(PmtuCache, AReportNeverRaisesTheEstimate) {
  ASSERT_TRUE(cache_.lower(kPeer4, 1300, kLink, at_s(1)));
  EXPECT_FALSE(cache_.lower(kPeer4, 1400, kLink, at_s(2)));
  EXPECT_FALSE(cache_.lower(kPeer4, 1300, kLink, at_s(2)));
  EXPECT_FALSE(cache_.lower(kPeer6, kLink, kLink, at_s(2))) << "not below the link MTU";
  EXPECT_EQ(cache_.get(kPeer4, kLink, at_s(3)), 1300);
  EXPECT_TRUE(cache_.lower(kPeer4, 1200, kLink, at_s(4)));
  EXPECT_EQ(cache_.get(kPeer4, kLink, at_s(5)), 1200);
  EXPECT_EQ(counters_.get(Counter::kPmtuLearned), 2u);
  EXPECT_EQ(cache_.size(), 1u);
}

// RFC 8201 §4: no increase sooner than 5 minutes after a decrease; here the
// configured 10 minutes, counted from the latest decrease.
TEST_F(PmtuCache, EstimateExpiresTheConfiguredTimeAfterTheLastDecrease) {
  ASSERT_TRUE(cache_.lower(kPeer6, 1400, kLink, at_s(100)));
  ASSERT_TRUE(cache_.lower(kPeer6, 1300, kLink, at_s(400)));
  EXPECT_EQ(cache_.get(kPeer6, kLink, at_s(999)), 1300) << "600 s after the first decrease: still kept";
  EXPECT_EQ(cache_.get(kPeer6, kLink, at_s(1000)), kLink) << "600 s after the last";
  EXPECT_EQ(counters_.get(Counter::kPmtuExpired), 1u);
  EXPECT_EQ(cache_.size(), 0u);
  EXPECT_TRUE(cache_.lower(kPeer6, 1400, kLink, at_s(1001))) << "learned afresh";
}

// What an open TCP connection follows (TcpStack::follow_path_mtu): the
// generation moves on every decrease and only then (not for a refused
// report, nor when an entry expires: a connection holds the expiry
// lookup() gave it).
TEST_F(PmtuCache, GenerationMovesOnEveryDecreaseAndLookupGivesTheExpiry) {
  const std::uint32_t g0 = cache_.generation();
  const PathMtu none = cache_.lookup(kPeer4, kLink, at_s(1));
  EXPECT_EQ(none.mtu, kLink);
  EXPECT_EQ(none.expires, Instant::max());
  ASSERT_TRUE(cache_.lower(kPeer4, 1300, kLink, at_s(10)));
  EXPECT_EQ(cache_.generation(), g0 + 1);
  EXPECT_FALSE(cache_.lower(kPeer4, 1400, kLink, at_s(11)));
  EXPECT_EQ(cache_.generation(), g0 + 1) << "a report that lowers nothing";
  ASSERT_TRUE(cache_.lower(kPeer6, 1400, kLink, at_s(12)));
  EXPECT_EQ(cache_.generation(), g0 + 2) << "another destination";
  const PathMtu p = cache_.lookup(kPeer4, kLink, at_s(20));
  EXPECT_EQ(p.mtu, 1300);
  EXPECT_EQ(p.expires, at_s(610));
  EXPECT_EQ(cache_.lookup(kPeer4, kLink, at_s(610)).expires, Instant::max()) << "expired";
  EXPECT_EQ(cache_.generation(), g0 + 2);
}

TEST_F(PmtuCache, TheLinkMtuBoundsWhatIsAnswered) {
  ASSERT_TRUE(cache_.lower(kPeer4, 1400, kLink, at_s(1)));
  EXPECT_EQ(cache_.get(kPeer4, 1280, at_s(2)), 1280);
}

TEST(PmtuFloor, ReportsAreFlooredPerFamily) {
  EXPECT_EQ(floored_pmtu(kPeer6, 1000), kMinPmtu6);  // RFC 8201 §4
  EXPECT_EQ(floored_pmtu(kPeer4, 0), kMinPmtu4);     // RFC 1191 §5 "old-style" report
  EXPECT_EQ(floored_pmtu(kPeer4, 1400), 1400);
}

// A full set gives up the entry learned longest ago (or an expired one);
// the table never holds more than its capacity.
TEST(PmtuCacheBound, FullTableEvictsTheOldestOfASet) {
  Counters counters;
  PathMtuCache cache{PathMtuCache::kWays, Duration::s(600), counters};  // one set
  ASSERT_EQ(cache.capacity(), PathMtuCache::kWays);
  for (std::uint32_t i = 0; i < PathMtuCache::kWays; ++i)
    ASSERT_TRUE(cache.lower(IpAddr::v4(0x0A000010 + i), 1400, kLink, at_s(1 + i)));
  EXPECT_TRUE(cache.lower(IpAddr::v4(0x0A000020), 1300, kLink, at_s(10)));
  EXPECT_EQ(counters.get(Counter::kPmtuEvicted), 1u);
  EXPECT_EQ(cache.size(), PathMtuCache::kWays);
  EXPECT_EQ(cache.get(IpAddr::v4(0x0A000010), kLink, at_s(11)), kLink) << "the oldest went";
  for (std::uint32_t i = 1; i < PathMtuCache::kWays; ++i)
    EXPECT_EQ(cache.get(IpAddr::v4(0x0A000010 + i), kLink, at_s(11)), 1400);
  EXPECT_EQ(cache.get(IpAddr::v4(0x0A000020), kLink, at_s(11)), 1300);
  // An expired entry is taken before a live one.
  EXPECT_TRUE(cache.lower(IpAddr::v4(0x0A000030), 1300, kLink, at_s(602)));  // 0x11 expired at 601
  EXPECT_EQ(counters.get(Counter::kPmtuEvicted), 1u);
  EXPECT_EQ(counters.get(Counter::kPmtuExpired), 1u);
  EXPECT_EQ(cache.get(IpAddr::v4(0x0A000013), kLink, at_s(602)), 1400);
}

// The set index takes every byte of the address: 100 IPv4 destinations
// that differ in their last byte fill all four sets of a 16-entry table
// (the hash once spread them over two, so 8 entries at most were kept).
TEST(PmtuCacheBound, AddressesDifferingInTheLastByteSpreadOverEverySet) {
  Counters counters;
  PathMtuCache cache{16, Duration::s(600), counters};
  for (std::uint32_t i = 1; i <= 100; ++i) cache.lower(IpAddr::v4(0x0A000000 + i), 1400, kLink, at_s(1));
  EXPECT_EQ(cache.size(), 16u);
}

TEST(PmtuCacheBound, SizeZeroKeepsNothing) {
  Counters counters;
  PathMtuCache cache{0, Duration::s(600), counters};
  EXPECT_FALSE(cache.lower(kPeer4, 1400, kLink, at_s(1)));
  EXPECT_EQ(cache.get(kPeer4, kLink, at_s(2)), kLink);
}

}  // namespace
}  // namespace tern
