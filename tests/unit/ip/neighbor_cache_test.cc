// The IPv6 neighbour cache (RFC 4861 §7.3.2, appendix C) on virtual time:
// each state transition, retransmissions and probes, the bounds on parked
// packets and entries, and deletion.
#include "ip/neighbor_cache.h"

#include <gtest/gtest.h>
#include <rte_mempool.h>

#include <map>
#include <memory>
#include <random>

#include "test_frames.h"

namespace tern::testkit {
namespace {

const Ipv6Addr kN1 = Ipv6Addr::from_groups({0xfe80, 0, 0, 0, 0, 0, 0, 1});
const Ipv6Addr kN2 = Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2});
constexpr MacAddr kMac1{{0x02, 0, 0, 0, 0, 0x11}};
constexpr MacAddr kMac2{{0x02, 0, 0, 0, 0, 0x22}};

Ipv6Addr nth(std::uint32_t i) {
  return Ipv6Addr::from_groups({0x2001, 0xdb8, 0, 0, 0, 0, 0x1000, static_cast<std::uint16_t>(i)});
}

struct Solicitation {
  Ipv6Addr addr;
  std::optional<MacAddr> unicast_to;
};

class NeighborCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool("nct");
    ASSERT_NE(pool_, nullptr);
    cfg_.max_pending = 8;
    cfg_.max_pending_per_entry = 3;
  }
  void TearDown() override {
    cache_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "leaked mbufs";
    rte_mempool_free(pool_);
  }

  NeighborCache& nc() {
    if (!cache_) cache_ = std::make_unique<NeighborCache>(cfg_, counters_);
    return *cache_;
  }
  // A one-byte packet tagged `tag`, to tell parked packets apart.
  Mbuf packet(std::uint8_t tag) {
    const std::byte b{tag};
    return to_mbuf(pool_, std::span{&b, 1});
  }
  NeighborCache::Park park(const Ipv6Addr& a, std::uint8_t tag, Instant now) {
    EXPECT_EQ(nc().lookup_for_send(a, now), nullptr);
    return nc().park(a, packet(tag), now);
  }
  void timer(Instant now) {
    nc().on_timer(
        now,
        [&](const Ipv6Addr& a, const MacAddr* to) {
          solicits_.push_back({a, to != nullptr ? std::optional<MacAddr>{*to} : std::nullopt});
        },
        [&](Mbuf m) { unresolved_.push_back(tag_of(m)); });
  }
  void advert(const Ipv6Addr& a, NeighborAdvert na, Instant now) {
    nc().on_advert(a, na, now, [&](Mbuf m, const MacAddr& mac) {
      released_.push_back(tag_of(m));
      released_to_.push_back(mac);
    });
  }
  void source_lla(const Ipv6Addr& a, const MacAddr& mac, Instant now) {
    nc().on_source_lla(a, mac, now, [&](Mbuf m, const MacAddr& to) {
      released_.push_back(tag_of(m));
      released_to_.push_back(to);
    });
  }
  std::optional<NeighborState> state(const Ipv6Addr& a, Instant now) { return nc().state(a, now); }
  static std::uint8_t tag_of(const Mbuf& m) { return rte_pktmbuf_mtod(m.get(), const std::uint8_t*)[0]; }

  // A STALE entry for `a` with `mac`, learned from an NS's source address.
  void make_stale(const Ipv6Addr& a, const MacAddr& mac, Instant now) {
    source_lla(a, mac, now);
    ASSERT_EQ(state(a, now), NeighborState::kStale);
  }
  void make_reachable(const Ipv6Addr& a, const MacAddr& mac, Instant now) {
    make_stale(a, mac, now);
    nc().confirm(a, now);
    ASSERT_EQ(state(a, now), NeighborState::kReachable);
  }

  rte_mempool* pool_ = nullptr;
  Counters counters_;
  NeighborCacheConfig cfg_;
  std::unique_ptr<NeighborCache> cache_;
  std::vector<Solicitation> solicits_;
  std::vector<std::uint8_t> unresolved_, released_;
  std::vector<MacAddr> released_to_;
};

// ---- INCOMPLETE ----------------------------------------------------------------

TEST_F(NeighborCacheTest, MissCreatesIncompleteAndAsksForOneSolicitation) {
  EXPECT_EQ(park(kN1, 1, at_ms(0)), NeighborCache::Park::kQueuedSendSolicit);
  EXPECT_EQ(state(kN1, at_ms(0)), NeighborState::kIncomplete);
  EXPECT_EQ(park(kN1, 2, at_ms(10)), NeighborCache::Park::kQueued) << "one solicitation is outstanding";
  EXPECT_EQ(nc().pending_frames(kN1), 2u);
  EXPECT_EQ(nc().pending_frames(), 2u);
  EXPECT_EQ(nc().cached_mac(kN1), nullptr);
  EXPECT_EQ(counters_.get(Counter::kNdCacheMisses), 2u);
  EXPECT_EQ(nc().next_deadline(), at_ms(1000));
}

TEST_F(NeighborCacheTest, IncompleteRetransmitsThenGivesUp) {
  park(kN1, 1, at_ms(0));
  park(kN1, 2, at_ms(0));
  timer(at_ms(999));
  EXPECT_TRUE(solicits_.empty());
  timer(at_ms(1000));
  ASSERT_EQ(solicits_.size(), 1u);
  EXPECT_EQ(solicits_[0].addr, kN1);
  EXPECT_FALSE(solicits_[0].unicast_to.has_value()) << "multicast, to the solicited-node address";
  timer(at_ms(2000));
  EXPECT_EQ(solicits_.size(), 2u) << "MAX_MULTICAST_SOLICIT = 3, the first sent by the caller";
  EXPECT_EQ(state(kN1, at_ms(2999)), NeighborState::kIncomplete);
  timer(at_ms(3000));
  EXPECT_EQ(solicits_.size(), 2u);
  EXPECT_EQ(unresolved_, (std::vector<std::uint8_t>{1, 2}));
  EXPECT_EQ(state(kN1, at_ms(3000)), std::nullopt) << "deleted";
  EXPECT_EQ(nc().size(), 0u);
  EXPECT_EQ(counters_.get(Drop::kNdUnresolved), 2u);
  EXPECT_EQ(counters_.get(Counter::kNdExpired), 1u);
  EXPECT_EQ(nc().next_deadline(), Instant::max());
  // The next packet starts over.
  EXPECT_EQ(park(kN1, 3, at_ms(3001)), NeighborCache::Park::kQueuedSendSolicit);
}

TEST_F(NeighborCacheTest, SolicitedAdvertResolvesToReachableAndReleasesInOrder) {
  park(kN1, 1, at_ms(0));
  park(kN1, 2, at_ms(1));
  park(kN1, 3, at_ms(2));
  advert(kN1, {.target_lla = kMac1, .solicited = true}, at_ms(5));
  EXPECT_EQ(released_, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(released_to_, (std::vector<MacAddr>{kMac1, kMac1, kMac1}));
  EXPECT_EQ(state(kN1, at_ms(5)), NeighborState::kReachable);
  EXPECT_EQ(nc().pending_frames(), 0u);
  EXPECT_EQ(counters_.get(Counter::kNdResolved), 1u);
  const MacAddr* mac = nc().lookup_for_send(kN1, at_ms(6));
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(*mac, kMac1);
  timer(at_ms(1000));
  EXPECT_TRUE(solicits_.empty()) << "no retransmission once resolved";
  EXPECT_EQ(nc().next_deadline(), Instant::max());
}

TEST_F(NeighborCacheTest, UnsolicitedAdvertResolvesToStale) {
  park(kN1, 1, at_ms(0));
  advert(kN1, {.target_lla = kMac1, .override_ = true}, at_ms(5));
  EXPECT_EQ(released_, (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(state(kN1, at_ms(5)), NeighborState::kStale);
}

TEST_F(NeighborCacheTest, AdvertWithoutTargetAddressLeavesIncomplete) {
  park(kN1, 1, at_ms(0));
  advert(kN1, {.solicited = true}, at_ms(5));
  EXPECT_TRUE(released_.empty());
  EXPECT_EQ(state(kN1, at_ms(5)), NeighborState::kIncomplete);
  EXPECT_EQ(nc().pending_frames(kN1), 1u);
}

TEST_F(NeighborCacheTest, AdvertForUnknownTargetIsIgnored) {
  advert(kN1, {.target_lla = kMac1, .solicited = true, .override_ = true}, at_ms(0));
  EXPECT_EQ(state(kN1, at_ms(0)), std::nullopt) << "§7.2.5: no entry is created";
  EXPECT_EQ(nc().size(), 0u);
}

TEST_F(NeighborCacheTest, SourceAddressOptionResolvesIncompleteToStale) {
  park(kN1, 1, at_ms(0));
  source_lla(kN1, kMac1, at_ms(3));  // the neighbour's own NS reached us first
  EXPECT_EQ(released_, (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(released_to_, (std::vector<MacAddr>{kMac1}));
  EXPECT_EQ(state(kN1, at_ms(3)), NeighborState::kStale);
}

// ---- REACHABLE, STALE, DELAY, PROBE ------------------------------------------------

TEST_F(NeighborCacheTest, ReachableTurnsStaleAfterReachableTime) {
  make_reachable(kN1, kMac1, at_ms(0));
  EXPECT_EQ(state(kN1, at_ms(29999)), NeighborState::kReachable);
  EXPECT_EQ(state(kN1, at_ms(30000)), NeighborState::kStale);
  timer(at_ms(40000));
  EXPECT_TRUE(solicits_.empty()) << "going stale sends nothing";
}

TEST_F(NeighborCacheTest, SourceAddressOptionCreatesStale) {
  source_lla(kN1, kMac1, at_ms(0));
  EXPECT_EQ(state(kN1, at_ms(0)), NeighborState::kStale);
  ASSERT_NE(nc().cached_mac(kN1), nullptr);
  EXPECT_EQ(*nc().cached_mac(kN1), kMac1);
}

TEST_F(NeighborCacheTest, SourceAddressOptionUpdatesOnlyWhenItDiffers) {
  make_reachable(kN1, kMac1, at_ms(0));
  source_lla(kN1, kMac1, at_ms(1));
  EXPECT_EQ(state(kN1, at_ms(1)), NeighborState::kReachable) << "same address: unchanged";
  source_lla(kN1, kMac2, at_ms(2));
  EXPECT_EQ(state(kN1, at_ms(2)), NeighborState::kStale);
  EXPECT_EQ(*nc().cached_mac(kN1), kMac2);
}

TEST_F(NeighborCacheTest, SendingToStaleMovesToDelayThenProbes) {
  make_stale(kN1, kMac1, at_ms(0));
  const MacAddr* mac = nc().lookup_for_send(kN1, at_ms(100));
  ASSERT_NE(mac, nullptr) << "STALE is used for sending";
  EXPECT_EQ(*mac, kMac1);
  EXPECT_EQ(state(kN1, at_ms(100)), NeighborState::kDelay);
  EXPECT_EQ(nc().next_deadline(), at_ms(5100));
  timer(at_ms(5099));
  EXPECT_TRUE(solicits_.empty());
  timer(at_ms(5100));
  EXPECT_EQ(state(kN1, at_ms(5100)), NeighborState::kProbe);
  ASSERT_EQ(solicits_.size(), 1u);
  EXPECT_EQ(solicits_[0].unicast_to, kMac1) << "probes go to the cached address";
  ASSERT_NE(nc().lookup_for_send(kN1, at_ms(5200)), nullptr) << "PROBE still sends";
  timer(at_ms(6100));
  timer(at_ms(7100));
  EXPECT_EQ(solicits_.size(), 3u) << "MAX_UNICAST_SOLICIT";
  EXPECT_EQ(state(kN1, at_ms(8099)), NeighborState::kProbe);
  timer(at_ms(8100));
  EXPECT_EQ(solicits_.size(), 3u);
  EXPECT_EQ(state(kN1, at_ms(8100)), std::nullopt) << "§7.3.3: unanswered probes delete the entry";
  EXPECT_EQ(counters_.get(Counter::kNdExpired), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u) << "nothing was parked";
}

TEST_F(NeighborCacheTest, DelayConfirmedByUpperLayerBecomesReachable) {
  make_stale(kN1, kMac1, at_ms(0));
  nc().lookup_for_send(kN1, at_ms(0));
  nc().confirm(kN1, at_ms(2000));  // e.g. TCP saw new data acknowledged
  EXPECT_EQ(state(kN1, at_ms(2000)), NeighborState::kReachable);
  timer(at_ms(5000));
  EXPECT_TRUE(solicits_.empty()) << "no probe after a confirmation";
  EXPECT_EQ(nc().next_deadline(), Instant::max());
  EXPECT_EQ(state(kN1, at_ms(31999)), NeighborState::kReachable);
}

TEST_F(NeighborCacheTest, DelayConfirmedBySolicitedAdvert) {
  make_stale(kN1, kMac1, at_ms(0));
  nc().lookup_for_send(kN1, at_ms(0));
  advert(kN1, {.target_lla = kMac1, .solicited = true}, at_ms(10));
  EXPECT_EQ(state(kN1, at_ms(10)), NeighborState::kReachable);
  timer(at_ms(5000));
  EXPECT_TRUE(solicits_.empty());
}

TEST_F(NeighborCacheTest, ProbeAnsweredBecomesReachable) {
  make_stale(kN1, kMac1, at_ms(0));
  nc().lookup_for_send(kN1, at_ms(0));
  timer(at_ms(5000));
  ASSERT_EQ(state(kN1, at_ms(5000)), NeighborState::kProbe);
  advert(kN1, {.target_lla = kMac1, .solicited = true}, at_ms(5003));
  EXPECT_EQ(state(kN1, at_ms(5003)), NeighborState::kReachable);
  timer(at_ms(6000));
  timer(at_ms(9000));
  EXPECT_EQ(solicits_.size(), 1u) << "the probes stop";
  EXPECT_EQ(state(kN1, at_ms(9000)), NeighborState::kReachable);
}

TEST_F(NeighborCacheTest, ConfirmDoesNotTouchIncompleteOrUnknown) {
  nc().confirm(kN1, at_ms(0));
  EXPECT_EQ(state(kN1, at_ms(0)), std::nullopt);
  park(kN2, 1, at_ms(0));
  nc().confirm(kN2, at_ms(1));
  EXPECT_EQ(state(kN2, at_ms(1)), NeighborState::kIncomplete);
}

// ---- Neighbour Advertisement flags (§7.2.5) -------------------------------------

TEST_F(NeighborCacheTest, DifferentAddressWithoutOverrideOnlyDoubtsAReachableEntry) {
  make_reachable(kN1, kMac1, at_ms(0));
  advert(kN1, {.target_lla = kMac2, .solicited = true}, at_ms(1));
  EXPECT_EQ(state(kN1, at_ms(1)), NeighborState::kStale);
  EXPECT_EQ(*nc().cached_mac(kN1), kMac1) << "the address is not taken over without O";
  advert(kN1, {.target_lla = kMac2}, at_ms(2));
  EXPECT_EQ(state(kN1, at_ms(2)), NeighborState::kStale) << "STALE: ignored";
  EXPECT_EQ(*nc().cached_mac(kN1), kMac1);
}

TEST_F(NeighborCacheTest, OverrideTakesTheNewAddress) {
  make_reachable(kN1, kMac1, at_ms(0));
  advert(kN1, {.target_lla = kMac2, .override_ = true}, at_ms(1));
  EXPECT_EQ(*nc().cached_mac(kN1), kMac2);
  EXPECT_EQ(state(kN1, at_ms(1)), NeighborState::kStale) << "unsolicited and changed: STALE";
  advert(kN1, {.target_lla = kMac1, .solicited = true, .override_ = true}, at_ms(2));
  EXPECT_EQ(*nc().cached_mac(kN1), kMac1);
  EXPECT_EQ(state(kN1, at_ms(2)), NeighborState::kReachable);
}

TEST_F(NeighborCacheTest, SameAddressOrNoneFollowsTheSolicitedFlag) {
  make_stale(kN1, kMac1, at_ms(0));
  advert(kN1, {.target_lla = kMac1}, at_ms(1));
  EXPECT_EQ(state(kN1, at_ms(1)), NeighborState::kStale) << "unsolicited, same address: unchanged";
  advert(kN1, {.target_lla = kMac1, .solicited = true}, at_ms(2));
  EXPECT_EQ(state(kN1, at_ms(2)), NeighborState::kReachable);
  make_stale(kN2, kMac2, at_ms(3));
  advert(kN2, {.solicited = true}, at_ms(4));
  EXPECT_EQ(state(kN2, at_ms(4)), NeighborState::kReachable) << "no option: the cached address is confirmed";
  EXPECT_EQ(*nc().cached_mac(kN2), kMac2);
}

// ---- bounds --------------------------------------------------------------------------

TEST_F(NeighborCacheTest, PerNeighbourQueueKeepsTheNewest) {
  for (std::uint8_t t = 1; t <= 5; ++t) park(kN1, t, at_ms(t));
  EXPECT_EQ(nc().pending_frames(kN1), 3u);
  EXPECT_EQ(counters_.get(Drop::kNdQueueFull), 2u) << "§7.2.2: the oldest are replaced";
  advert(kN1, {.target_lla = kMac1, .solicited = true}, at_ms(10));
  EXPECT_EQ(released_, (std::vector<std::uint8_t>{3, 4, 5}));
}

TEST_F(NeighborCacheTest, PerWorkerPoolBoundsAllNeighbours) {
  // 8 slots: 3 + 3 + 2.
  for (std::uint8_t t = 0; t < 3; ++t) park(nth(1), t, at_ms(0));
  for (std::uint8_t t = 0; t < 3; ++t) park(nth(2), t, at_ms(0));
  for (std::uint8_t t = 0; t < 2; ++t) park(nth(3), t, at_ms(0));
  EXPECT_EQ(nc().pending_frames(), 8u);
  EXPECT_EQ(park(nth(4), 9, at_ms(0)), NeighborCache::Park::kDropped);
  EXPECT_EQ(state(nth(4), at_ms(0)), std::nullopt) << "no entry without room for its packet";
  EXPECT_EQ(park(nth(3), 7, at_ms(0)), NeighborCache::Park::kQueued) << "replaces its own oldest";
  EXPECT_EQ(nc().pending_frames(nth(3)), 2u);
  EXPECT_EQ(counters_.get(Drop::kNdQueueFull), 2u);
  EXPECT_EQ(nc().pending_frames(), 8u);
}

TEST_F(NeighborCacheTest, FullCacheEvictsAStaleEntryButNeverABusyOne) {
  cfg_.cache_size = 4;
  for (std::uint32_t i = 1; i <= 4; ++i) park(nth(i), 0, at_ms(0));
  EXPECT_EQ(nc().size(), 4u);
  EXPECT_EQ(park(nth(5), 0, at_ms(0)), NeighborCache::Park::kDropped) << "every entry is resolving";
  // One resolves (unsolicited: STALE) and gives its packet up; now it can go.
  advert(nth(2), {.target_lla = kMac2}, at_ms(1));
  EXPECT_EQ(park(nth(5), 0, at_ms(2)), NeighborCache::Park::kQueuedSendSolicit);
  EXPECT_EQ(state(nth(2), at_ms(2)), std::nullopt) << "the STALE entry was evicted";
  EXPECT_EQ(nc().size(), 4u);
  for (std::uint32_t i : {1u, 3u, 4u, 5u})
    EXPECT_EQ(state(nth(i), at_ms(2)), NeighborState::kIncomplete) << i;
  // Learning from a Source Link-Layer Address option needs room too.
  source_lla(nth(6), kMac1, at_ms(3));
  EXPECT_EQ(state(nth(6), at_ms(3)), std::nullopt);
}

TEST_F(NeighborCacheTest, DeletionKeepsEveryOtherEntryFindable) {
  // Many entries colliding in a small table, deleted in arbitrary order by
  // eviction: every entry the cache still counts must be found with its
  // own address (a broken probe chain would hide some).
  cfg_.cache_size = 32;
  std::mt19937 rng(4861);
  std::map<Ipv6Addr, MacAddr> learned;
  for (std::uint32_t round = 0; round < 3000; ++round) {
    const Ipv6Addr a = nth(rng() % 200);
    const MacAddr mac{
        {0x02, 0, 0, 0, static_cast<std::uint8_t>(round >> 8), static_cast<std::uint8_t>(round)}};
    if (!nc().state(a, at_ms(round))) {
      source_lla(a, mac, at_ms(round));
      learned[a] = mac;
    }
    ASSERT_EQ(state(a, at_ms(round)), NeighborState::kStale) << round;
    std::size_t found = 0;
    for (const auto& [addr, m] : learned) {
      const MacAddr* got = nc().cached_mac(addr);
      if (got == nullptr) continue;
      ASSERT_EQ(*got, m) << round;
      ++found;
    }
    ASSERT_EQ(found, nc().size()) << round;
    ASSERT_LE(nc().size(), 32u);
  }
  EXPECT_EQ(nc().size(), 32u);
}

TEST_F(NeighborCacheTest, DestroyingTheCacheFreesParkedPackets) {
  park(kN1, 1, at_ms(0));
  park(kN2, 2, at_ms(0));
  // TearDown checks the pool after destroying the cache.
}

TEST_F(NeighborCacheTest, StateNames) {
  EXPECT_EQ(neighbor_state_name(NeighborState::kIncomplete), "INCOMPLETE");
  EXPECT_EQ(neighbor_state_name(NeighborState::kProbe), "PROBE");
}

}  // namespace
}  // namespace tern::testkit
