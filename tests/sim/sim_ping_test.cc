// Two IpLayers joined by a SimLink on virtual time: A (10.0.0.1) pings B
// (10.0.0.2) through ARP resolution, over clean, lossy and corrupting links.
#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "base/counters.h"
#include "ip/ip_layer.h"
#include "sim_link.h"
#include "test_frames.h"

namespace tern {
namespace {

using namespace testkit;

constexpr std::uint16_t kPingId = 0x5157;
constexpr std::size_t kPingData = 56;  // as ping(8): a 98-byte frame
constexpr std::int64_t kFrameBits = (14 + 20 + 8 + kPingData) * 8;
constexpr Duration kTick = Duration::ms(1);

IpSettings settings_for(const MacAddr& mac, std::uint32_t addr) {
  IpSettings s;
  s.mac = mac;
  s.addr = addr;
  s.prefix_len = 24;
  s.mtu = 1500;
  s.ip.frag_max_flows = 64;
  return s;
}

Bytes ping_data(std::uint16_t seq) { return pattern(kPingData, 1000u + seq); }

struct Scenario {
  LinkParams ab, ba;
  std::uint64_t seed = 1;
  int pings = 20;
  Duration interval = Duration::ms(100);
  Duration run_for = Duration::s(10);
  // When set, the link switches to these parameters once ping 0 is answered
  // (ARP is resolved by then), before ping 1 is sent.
  std::optional<std::pair<LinkParams, LinkParams>> after_first;
};

struct Outcome {
  std::vector<int> replied;      // sequence numbers answered, in arrival order
  std::vector<Duration> rtt;     // per ping; zero when unanswered
  std::uint64_t wrong_data = 0;  // replies that passed the checksums yet differ from the request
  std::uint64_t duplicate_replies = 0;
  LinkCounts ab, ba;
  Counters a, b;
  bool same_as(const Outcome& o) const {
    return replied == o.replied && rtt == o.rtt && ab == o.ab && ba == o.ba && a.drops == o.a.drops &&
           b.drops == o.b.drops && a.events == o.a.events && b.events == o.b.events;
  }
};

class SimPing : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool("sim", 4095);
    ASSERT_NE(pool_, nullptr) << "rte_pktmbuf_pool_create: " << rte_errno;
    baseline_ = rte_mempool_in_use_count(pool_);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "leaked mbufs";
    rte_mempool_free(pool_);
  }

  Outcome run(const Scenario& sc) {
    Outcome r;
    {
      SimLink link(sc.ab, sc.ba, sc.seed);
      IpLayer a(settings_for(kOurMac, kOurIp), r.a, pool_);
      IpLayer b(settings_for(kPeerMac, kPeerIp), r.b, pool_);
      FrameQueue qa, qb;
      std::vector<Instant> sent_at(static_cast<std::size_t>(sc.pings));
      r.rtt.assign(sent_at.size(), Duration{});
      std::vector<bool> got(sent_at.size(), false);

      const Instant end = Instant{} + sc.run_for;
      Instant now{};
      Instant next_tick{};
      Instant next_ping{};
      int sent = 0;

      auto observe = [&](const rte_mbuf* m) {
        const EthView eth = parse_eth(bytes_of(m));
        if (eth.type != kTypeIpv4 || eth.dst != kOurMac) return;
        const IpView ip = parse_ip(eth.payload);
        if (!ip.checksum_ok || ip.protocol != kProtoIcmp || ip.src != kPeerIp) return;
        const IcmpView icmp = parse_icmp(ip.payload);
        if (!icmp.checksum_ok || icmp.type != 0 || icmp.id != kPingId || icmp.seq >= sent_at.size()) return;
        if (icmp.data != ping_data(icmp.seq)) {
          ++r.wrong_data;
        } else if (got[icmp.seq]) {
          ++r.duplicate_replies;
        } else {
          got[icmp.seq] = true;
          r.replied.push_back(icmp.seq);
          r.rtt[icmp.seq] = now - sent_at[icmp.seq];
        }
      };
      auto drain = [&](FrameQueue& q, Side from) {
        while (!q.empty()) link.send(from, q.pop_front(), now);
      };

      for (;;) {
        Instant t = std::min(link.next_event(), next_tick);
        if (sent < sc.pings) t = std::min(t, next_ping);
        if (t > end) break;
        now = t;
        link.deliver_until(now, [&](Side to, Mbuf m) {
          if (to == Side::kA) {
            observe(m.get());
            a.on_frame(std::move(m), now, qa);
          } else {
            b.on_frame(std::move(m), now, qb);
          }
        });
        if (now >= next_tick) {
          a.on_timer(now, qa);
          b.on_timer(now, qb);
          next_tick = next_tick + kTick;
        }
        if (sent < sc.pings && now >= next_ping) {
          if (sent == 1 && sc.after_first) {
            EXPECT_TRUE(got[0]) << "ping 0 must be answered before the link changes";
            link.set_params(Side::kA, sc.after_first->first);
            link.set_params(Side::kB, sc.after_first->second);
          }
          const auto seq = static_cast<std::uint16_t>(sent);
          const Bytes req = echo_request(kPingId, seq, ping_data(seq));
          Mbuf m = Mbuf::alloc(pool_);
          EXPECT_TRUE(m) << "pool exhausted";
          if (!m) break;
          auto room = m.append(static_cast<std::uint16_t>(req.size()));
          std::memcpy(room.data(), req.data(), req.size());
          sent_at[seq] = now;
          a.send(std::move(m), kPeerIp, kProtoIcmp, now, qa);
          ++sent;
          next_ping = next_ping + sc.interval;
        }
        drain(qa, Side::kA);
        drain(qb, Side::kB);
      }
      r.ab = link.counts(Side::kA);
      r.ba = link.counts(Side::kB);
    }
    // The link, both layers and both queues are gone: every mbuf is back.
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "mbufs not returned after the run";
    return r;
  }

  rte_mempool* pool_ = nullptr;
  unsigned baseline_ = 0;
};

LinkParams delayed(Duration d) {
  LinkParams p;
  p.delay = d;
  return p;
}

// Drops other than `allowed`, by name, for failure messages.
std::string unexpected_drops(const Counters& c, std::initializer_list<Drop> allowed) {
  std::string s;
  for (std::size_t i = 0; i < kDropCount; ++i) {
    const auto d = static_cast<Drop>(i);
    if (c.get(d) == 0 || std::find(allowed.begin(), allowed.end(), d) != allowed.end()) continue;
    s += std::string(drop_name(d)) + "=" + std::to_string(c.get(d)) + " ";
  }
  return s;
}

TEST_F(SimPing, CleanLinkAnswersEveryPingAfterArp) {
  Scenario sc;
  sc.ab = sc.ba = delayed(Duration::ms(5));
  const Outcome r = run(sc);

  ASSERT_EQ(r.replied.size(), 20u);
  EXPECT_EQ(r.wrong_data, 0u);
  EXPECT_EQ(r.duplicate_replies, 0u);
  // Ping 0 waited for ARP: one extra round trip of two 60-byte frames.
  EXPECT_EQ(r.rtt[0], Duration::ms(20) + Duration::ns(2 * 60 * 8 + 2 * kFrameBits));
  // Then: two propagation delays plus two serialisations at 1 Gb/s.
  for (std::size_t i = 1; i < r.rtt.size(); ++i)
    EXPECT_EQ(r.rtt[i], Duration::ms(10) + Duration::ns(2 * kFrameBits)) << "ping " << i;
  EXPECT_EQ(r.a.get(Counter::kArpOutRequests), 1u);
  EXPECT_EQ(r.b.get(Counter::kIcmpOutEchoReps), 20u);
  // A drops the echo replies it does not handle; nothing else is dropped.
  EXPECT_EQ(r.a.get(Drop::kIcmpUnhandledType), 20u);
  EXPECT_EQ(r.a.total_drops(), 20u);
  EXPECT_EQ(r.b.total_drops(), 0u);
  EXPECT_EQ(r.ab.sent, 21u);  // ARP request + 20 echo requests
  EXPECT_EQ(r.ab.delivered, 21u);
  EXPECT_EQ(r.ba.delivered, 21u);
  EXPECT_EQ(r.ab.lost + r.ab.dropped_queue + r.ab.corrupted + r.ab.duplicated + r.ab.reordered, 0u);
}

TEST_F(SimPing, SlowLinkQueuesAndTailDrops) {
  // 1 Mb/s with room for 3 frames (the one being serialised included).
  Scenario sc;
  LinkParams slow;
  slow.rate_bps = 1'000'000;
  slow.queue_limit_bytes = 3 * 98;
  sc.ab = sc.ba = slow;
  sc.pings = 11;
  sc.interval = Duration{};  // all at t=0: they wait for ARP together
  const Outcome r = run(sc);
  // ARP resolution releases the 11 at once: 3 fit, 8 are tail-dropped.
  EXPECT_EQ(r.ab.dropped_queue, 8u);
  EXPECT_EQ(r.ba.dropped_queue, 0u);
  ASSERT_EQ(r.replied.size(), 3u);
  EXPECT_EQ(r.replied, (std::vector<int>{0, 1, 2}));
  // Each waited behind the previous one: 784 us of serialisation at 1 Mb/s.
  EXPECT_EQ(r.rtt[1] - r.rtt[0], Duration::ns(kFrameBits * 1000));
  EXPECT_EQ(r.rtt[2] - r.rtt[1], Duration::ns(kFrameBits * 1000));
  // ARP request and reply (60 bytes) plus one frame each way.
  EXPECT_EQ(r.rtt[0], Duration::ns(2 * 60 * 8 * 1000 + 2 * kFrameBits * 1000));
}

Scenario lossy(std::uint64_t seed) {
  Scenario sc;
  LinkParams p = delayed(Duration::ms(5));
  p.loss = 0.1;
  sc.ab = sc.ba = p;
  sc.seed = seed;
  sc.pings = 50;
  return sc;
}

TEST_F(SimPing, LossIsDeterministicPerSeed) {
  const Outcome first = run(lossy(7));
  const Outcome again = run(lossy(7));
  EXPECT_TRUE(first.same_as(again)) << "same seed, different outcome";
  EXPECT_EQ(first.replied, again.replied);

  const Outcome other8 = run(lossy(8));
  const Outcome other9 = run(lossy(9));
  EXPECT_FALSE(first.same_as(other8) && first.same_as(other9)) << "the seed changes nothing";

  for (const Outcome* o : {&first, &other8, &other9}) {
    EXPECT_GT(o->ab.lost + o->ba.lost, 0u);
    EXPECT_GT(o->replied.size(), 25u);
    EXPECT_LT(o->replied.size(), 50u);
    EXPECT_EQ(o->wrong_data, 0u);
    EXPECT_EQ(o->ab.delivered, o->ab.sent - o->ab.lost);
  }
}

TEST_F(SimPing, ArpRetriesRecoverFromLoss) {
  // Lose half of A's frames; find a seed whose first ARP request is lost
  // (the search is deterministic), then check the retry resolved B.
  int checked = 0;
  for (std::uint64_t seed = 1; seed <= 40 && checked < 3; ++seed) {
    Scenario sc;
    sc.ab.loss = 0.5;
    sc.seed = seed;
    sc.pings = 10;
    const Outcome r = run(sc);
    if (r.a.get(Counter::kArpOutRequests) < 2) continue;
    ++checked;
    SCOPED_TRACE("seed " + std::to_string(seed));
    EXPECT_EQ(r.a.get(Counter::kArpResolved), 1u);
    EXPECT_GT(r.replied.size(), 0u);
    // The first replies arrive only after the retry interval (1 s).
    EXPECT_GE(r.rtt[r.replied.front()], Duration::ms(1000) - Duration::ms(100) * r.replied.front());
  }
  EXPECT_EQ(checked, 3) << "no seed lost the first ARP request";
}

TEST_F(SimPing, CorruptionIsCaughtByChecksums) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Scenario sc;
    sc.ab = sc.ba = delayed(Duration::ms(1));
    LinkParams bad = sc.ab;
    bad.corrupt = 0.3;
    sc.after_first = std::pair{bad, bad};
    sc.seed = seed;
    sc.pings = 100;
    const Outcome r = run(sc);

    ASSERT_GT(r.ab.corrupted, 0u);
    ASSERT_GT(r.ba.corrupted, 0u);
    EXPECT_EQ(r.wrong_data, 0u) << "a corrupted reply was accepted";
    // A corrupted request is never answered; a corrupted reply never counts.
    EXPECT_EQ(r.replied.size(), 100u - r.ab.corrupted - r.ba.corrupted);
    EXPECT_EQ(r.b.get(Counter::kIcmpOutEchoReps), 100u - r.ab.corrupted);

    const auto checksum_drops = [](const Counters& c) {
      return c.get(Drop::kIpBadChecksum) + c.get(Drop::kIcmpBadChecksum) + c.get(Drop::kIpBadVersion) +
             c.get(Drop::kIpBadHeaderLength) + c.get(Drop::kIpBadTotalLength);
    };
    // Every corrupted frame is dropped once, under a validation reason.
    EXPECT_EQ(checksum_drops(r.b), r.ab.corrupted);
    EXPECT_EQ(r.b.total_drops(), r.ab.corrupted)
        << unexpected_drops(r.b, {Drop::kIpBadChecksum, Drop::kIcmpBadChecksum, Drop::kIpBadVersion,
                                  Drop::kIpBadHeaderLength, Drop::kIpBadTotalLength});
    EXPECT_EQ(checksum_drops(r.a), r.ba.corrupted);
    EXPECT_EQ(r.a.total_drops(), r.ba.corrupted + r.a.get(Drop::kIcmpUnhandledType)) << unexpected_drops(
        r.a, {Drop::kIpBadChecksum, Drop::kIcmpBadChecksum, Drop::kIpBadVersion, Drop::kIpBadHeaderLength,
              Drop::kIpBadTotalLength, Drop::kIcmpUnhandledType});
    EXPECT_GT(r.b.get(Drop::kIcmpBadChecksum), 0u);
    EXPECT_GT(r.b.get(Drop::kIpBadChecksum), 0u);
  }
}

// The link alone: frames tagged with their index in the first payload byte.
TEST_F(SimPing, LinkDuplicatesAndReorders) {
  LinkParams p;
  p.duplicate = 0.5;
  p.reorder = 0.5;
  p.reorder_delay = Duration::us(50);  // >> 0.48 us of serialisation per frame
  std::vector<int> order;
  LinkCounts counts;
  {
    SimLink link(p, LinkParams{}, 42);
    for (int i = 0; i < 100; ++i) {
      Bytes f = ethernet(kPeerMac, kOurMac, kTypeIpv4, Bytes(46));
      f[14] = static_cast<std::byte>(i);
      link.send(Side::kA, to_mbuf(pool_, f), Instant::from_ns(i * 1000));
    }
    Instant last{};
    while (link.next_event() != Instant::max()) {
      const Instant t = link.next_event();
      EXPECT_GE(t, last);
      last = t;
      link.deliver_until(t, [&](Side to, Mbuf m) {
        EXPECT_EQ(to, Side::kB);
        order.push_back(std::to_integer<int>(m.head()[14]));
      });
    }
    counts = link.counts(Side::kA);
    EXPECT_EQ(link.counts(Side::kB), LinkCounts{});
  }
  EXPECT_EQ(counts.sent, 100u);
  EXPECT_GT(counts.duplicated, 30u);
  EXPECT_LT(counts.duplicated, 70u);
  EXPECT_GT(counts.reordered, 30u);
  EXPECT_LT(counts.reordered, 70u);
  EXPECT_EQ(counts.delivered, 100u + counts.duplicated);
  ASSERT_EQ(order.size(), counts.delivered);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end())) << "nothing overtook anything";
  // Every frame arrived, each once or twice.
  for (int i = 0; i < 100; ++i) {
    const auto n = std::count(order.begin(), order.end(), i);
    EXPECT_TRUE(n == 1 || n == 2) << "frame " << i << " delivered " << n << " times";
  }
}

TEST_F(SimPing, LinkHeapBoundIsCounted) {
  LinkParams p;
  p.delay = Duration::ms(1);
  {
    SimLink link(p, p, 1, /*max_in_flight=*/4);
    for (int i = 0; i < 6; ++i) link.send(Side::kB, to_mbuf(pool_, Bytes(60)), Instant{});
    EXPECT_EQ(link.in_flight(), 4u);
    EXPECT_EQ(link.counts(Side::kB).dropped_queue, 2u);
  }  // frames still in flight are freed; TearDown checks the pool
}

}  // namespace
}  // namespace tern
