// Connection table and TCB pool (lib/tcp/conn_table.h): pool exhaustion and
// reuse, exactly one constructor/destructor per acquire/release, table
// insert/find/erase with the duplicate and capacity refusals, a seeded model
// check against std::map, and a fixed bucket array under churn.
#include "tcp/conn_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <vector>

namespace tern {
namespace {

FourTuple tuple(std::uint16_t rport, std::uint32_t raddr = 0x0a000002) {
  return FourTuple::v4(0x0a000001, raddr, 80, rport);
}

struct Counted {
  static inline int constructed = 0;
  static inline int destroyed = 0;
  explicit Counted(int v) : value(v) { ++constructed; }
  ~Counted() { ++destroyed; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  int value;
};

class ObjectPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { Counted::constructed = Counted::destroyed = 0; }
};

TEST_F(ObjectPoolTest, ExhaustionAndReuse) {
  ObjectPool<Counted> pool{3};
  EXPECT_EQ(pool.capacity(), 3u);
  EXPECT_EQ(pool.in_use(), 0u);
  Counted* a = pool.acquire(1);
  Counted* b = pool.acquire(2);
  Counted* c = pool.acquire(3);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(std::set<Counted*>({a, b, c}).size(), 3u);
  EXPECT_EQ(a->value, 1);
  EXPECT_EQ(b->value, 2);
  EXPECT_EQ(c->value, 3);
  EXPECT_EQ(pool.in_use(), 3u);
  EXPECT_EQ(pool.acquire(4), nullptr);  // exhausted: refused, nothing built
  EXPECT_EQ(Counted::constructed, 3);
  pool.release(b);
  EXPECT_EQ(pool.in_use(), 2u);
  Counted* d = pool.acquire(5);
  EXPECT_EQ(d, b);  // the freed slot, most recently released first
  EXPECT_EQ(d->value, 5);
  EXPECT_EQ(pool.acquire(6), nullptr);
  pool.release(a);
  pool.release(c);
  pool.release(d);
  EXPECT_EQ(pool.in_use(), 0u);
  // Every slot is usable again.
  std::vector<Counted*> all;
  for (int i = 0; i < 3; ++i) all.push_back(pool.acquire(i));
  for (Counted* p : all) EXPECT_NE(p, nullptr);
  EXPECT_EQ(pool.acquire(9), nullptr);
}

TEST_F(ObjectPoolTest, ConstructsAndDestroysExactlyOncePerUse) {
  {
    ObjectPool<Counted> pool{8};
    EXPECT_EQ(Counted::constructed, 0);  // storage only, no objects
    std::vector<Counted*> live;
    for (int round = 0; round < 100; ++round) {
      while (Counted* p = pool.acquire(round)) live.push_back(p);
      for (std::size_t i = 0; i < live.size(); i += 2) pool.release(live[i]);
      std::vector<Counted*> kept;
      for (std::size_t i = 1; i < live.size(); i += 2) kept.push_back(live[i]);
      live = kept;
      EXPECT_EQ(Counted::constructed - Counted::destroyed, static_cast<int>(pool.in_use()));
      EXPECT_EQ(pool.in_use(), live.size());
    }
    EXPECT_GT(Counted::constructed, 100);
    // Objects still in use are destroyed with the pool.
  }
  EXPECT_EQ(Counted::constructed, Counted::destroyed);
}

TEST_F(ObjectPoolTest, ZeroCapacityRefusesEverything) {
  ObjectPool<Counted> pool{0};
  EXPECT_EQ(pool.acquire(1), nullptr);
  EXPECT_EQ(Counted::constructed, 0);
}

#ifndef NDEBUG
TEST_F(ObjectPoolTest, DoubleReleaseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ObjectPool<Counted> pool{2};
        Counted* p = pool.acquire(1);
        pool.release(p);
        pool.release(p);
      },
      "invariant violated");
}

TEST_F(ObjectPoolTest, ForeignPointerAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ObjectPool<Counted> pool{2};
        Counted outside{7};
        pool.release(&outside);
      },
      "invariant violated");
}
#endif

TEST(ConnTable, InsertFindErase) {
  ConnTable<int> t{4};
  int a = 1, b = 2;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(tuple(1)), nullptr);
  EXPECT_TRUE(t.insert(tuple(1), &a));
  EXPECT_TRUE(t.insert(tuple(2), &b));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find(tuple(1)), &a);
  EXPECT_EQ(t.find(tuple(2)), &b);
  EXPECT_EQ(t.find(tuple(3)), nullptr);
  EXPECT_TRUE(t.erase(tuple(1)));
  EXPECT_FALSE(t.erase(tuple(1)));
  EXPECT_EQ(t.find(tuple(1)), nullptr);
  EXPECT_EQ(t.find(tuple(2)), &b);
  EXPECT_EQ(t.size(), 1u);
}

// The overloads that take the tuple's hash (TCP hashes a segment's tuple
// once for this table and the TIME_WAIT table) agree with the plain ones:
// what one inserts the other finds and erases.
TEST(ConnTable, HashedOverloadsAgreeWithPlain) {
  ConnTable<int> t{4, 77};
  int a = 1, b = 2;
  EXPECT_EQ(t.hash(tuple(1)), hash_four_tuple(tuple(1), 77));
  EXPECT_NE(t.hash(tuple(1)), t.hash(tuple(2)));
  EXPECT_TRUE(t.insert(tuple(1), t.hash(tuple(1)), &a));
  EXPECT_FALSE(t.insert(tuple(1), t.hash(tuple(1)), &b));  // duplicate refused, first kept
  EXPECT_TRUE(t.insert(tuple(2), &b));
  EXPECT_EQ(t.find(tuple(1)), &a);
  EXPECT_EQ(t.find(tuple(2), t.hash(tuple(2))), &b);
  EXPECT_EQ(t.find(tuple(3), t.hash(tuple(3))), nullptr);
  EXPECT_TRUE(t.erase(tuple(2), t.hash(tuple(2))));
  EXPECT_FALSE(t.erase(tuple(2), t.hash(tuple(2))));
  EXPECT_EQ(t.find(tuple(2)), nullptr);
  EXPECT_TRUE(t.erase(tuple(1)));
  EXPECT_EQ(t.find(tuple(1), t.hash(tuple(1))), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

// find_and_hash keeps the entry it found last (input's one-entry cache): a
// hit must give the same entry and hash as the table, and erasing the entry
// must forget it, or the next segment of that tuple would reach a freed TCB.
TEST(ConnTable, FindAndHashForgetsAnErasedEntry) {
  ConnTable<int> t{4, 77};
  int a = 1, b = 2, c = 3;
  ASSERT_TRUE(t.insert(tuple(1), &a));
  ASSERT_TRUE(t.insert(tuple(2), &b));
  std::size_t h = 0;
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &a);
  EXPECT_EQ(h, t.hash(tuple(1)));
  h = 0;
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &a);  // the remembered entry
  EXPECT_EQ(h, t.hash(tuple(1)));
  EXPECT_EQ(t.find_and_hash(tuple(2), h), &b);
  EXPECT_EQ(h, t.hash(tuple(2)));
  EXPECT_EQ(t.find_and_hash(tuple(3), h), nullptr);  // a miss keeps tuple(2) remembered
  EXPECT_EQ(h, t.hash(tuple(3)));
  EXPECT_TRUE(t.erase(tuple(2)));
  EXPECT_EQ(t.find_and_hash(tuple(2), h), nullptr);
  EXPECT_EQ(h, t.hash(tuple(2)));
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &a);
  EXPECT_TRUE(t.erase(tuple(1), t.hash(tuple(1))));  // the hashed overload forgets too
  EXPECT_EQ(t.find_and_hash(tuple(1), h), nullptr);
  ASSERT_TRUE(t.insert(tuple(1), &c));  // the tuple again, another entry
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &c);
  EXPECT_FALSE(t.erase(tuple(9)));  // another key's erase keeps it
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &c);
  EXPECT_EQ(t.size(), 1u);
}

// find_recent, the first step TCP's input asks inline: the remembered
// entry and its hash on a hit; on a miss nullptr with `hash` untouched (the
// out-of-line lookup computes it), also for a tuple differing only in the
// address and after the entry's erase.
TEST(ConnTable, FindRecentAnswersOnlyTheRememberedEntry) {
  ConnTable<int> t{4, 77};
  int a = 1, b = 2;
  std::size_t h = 5;
  EXPECT_EQ(t.find_recent(tuple(1), h), nullptr);  // nothing remembered yet
  EXPECT_EQ(h, 5u);
  ASSERT_TRUE(t.insert(tuple(1), &a));
  ASSERT_TRUE(t.insert(tuple(2), &b));
  ASSERT_EQ(t.find_and_hash(tuple(1), h), &a);
  h = 5;
  EXPECT_EQ(t.find_recent(tuple(1), h), &a);
  EXPECT_EQ(h, t.hash(tuple(1)));
  h = 5;
  EXPECT_EQ(t.find_recent(tuple(2), h), nullptr);  // in the table, not remembered
  EXPECT_EQ(h, 5u);
  EXPECT_EQ(t.find_recent(tuple(1, 0x0a000063), h), nullptr);  // same ports, another peer
  EXPECT_EQ(h, 5u);
  EXPECT_TRUE(t.erase(tuple(1)));
  EXPECT_EQ(t.find_recent(tuple(1), h), nullptr);
  EXPECT_EQ(h, 5u);
}

// The hashed insert (TCP's new_tcb) remembers the entry it made, so the new
// connection's next segment skips the hash and the probe; a refused
// insert, the tuple already present, must not replace what is remembered,
// or find_and_hash would return the refused pointer for the tuple.
TEST(ConnTable, HashedInsertRemembersOnlyWhatItInserted) {
  ConnTable<int> t{4, 77};
  int a = 1, b = 2, c = 3;
  std::size_t h = 0;
  ASSERT_TRUE(t.insert(tuple(1), t.hash(tuple(1)), &a));
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &a);
  EXPECT_EQ(h, t.hash(tuple(1)));
  EXPECT_FALSE(t.insert(tuple(1), t.hash(tuple(1)), &b));  // duplicate: refused
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &a);
  ASSERT_TRUE(t.insert(tuple(2), t.hash(tuple(2)), &b));
  EXPECT_EQ(t.find_and_hash(tuple(2), h), &b);
  EXPECT_EQ(h, t.hash(tuple(2)));
  EXPECT_FALSE(t.insert(tuple(2), t.hash(tuple(2)), &c));
  EXPECT_EQ(t.find_and_hash(tuple(2), h), &b);
  EXPECT_TRUE(t.erase(tuple(2), t.hash(tuple(2))));  // erasing the inserted entry forgets it
  EXPECT_EQ(t.find_and_hash(tuple(2), h), nullptr);
  EXPECT_EQ(t.find_and_hash(tuple(1), h), &a);
}

TEST(ConnTable, DuplicateInsertRefusedAndKeepsFirst) {
  ConnTable<int> t{4};
  int a = 1, b = 2;
  EXPECT_TRUE(t.insert(tuple(1), &a));
  EXPECT_FALSE(t.insert(tuple(1), &b));
  EXPECT_EQ(t.find(tuple(1)), &a);
  EXPECT_EQ(t.size(), 1u);
}

TEST(ConnTable, FullTableRefused) {
  ConnTable<int> t{3};
  int v[4] = {};
  for (std::uint16_t i = 0; i < 3; ++i) EXPECT_TRUE(t.insert(tuple(i), &v[i]));
  EXPECT_FALSE(t.insert(tuple(3), &v[3]));
  EXPECT_EQ(t.find(tuple(3)), nullptr);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_TRUE(t.erase(tuple(0)));
  EXPECT_TRUE(t.insert(tuple(3), &v[3]));  // room again after an erase
  EXPECT_EQ(t.find(tuple(3)), &v[3]);
}

TEST(ConnTable, TuplesDifferingInOneFieldAreDistinct) {
  const FourTuple base = FourTuple::v4(0x0a000001, 0x0a000002, 80, 40000);
  FourTuple l = base, r = base, lp = base, rp = base, swapped = base;
  l.laddr = IpAddr::v4(0x0a000001 ^ 1);
  r.raddr = IpAddr::v4(0x0a000002 ^ 1);
  lp.lport ^= 1;
  rp.rport ^= 1;
  std::swap(swapped.lport, swapped.rport);  // same ports, other direction
  const FourTuple all[] = {base, l, r, lp, rp, swapped};
  int v[6] = {};
  ConnTable<int> t{8};
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(t.insert(all[i], &v[i])) << i;
  EXPECT_EQ(t.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.find(all[i]), &v[i]) << i;
  EXPECT_TRUE(t.erase(base));
  for (int i = 1; i < 6; ++i) EXPECT_EQ(t.find(all[i]), &v[i]) << i;
}

TEST(ConnTable, ForEachVisitsEveryEntryOnce) {
  ConnTable<int> t{16};
  int v[10] = {};
  for (std::uint16_t i = 0; i < 10; ++i) ASSERT_TRUE(t.insert(tuple(i), &v[i]));
  std::map<std::uint16_t, int*> seen;
  t.for_each([&](const FourTuple& k, int* p) { EXPECT_TRUE(seen.emplace(k.rport, p).second); });
  ASSERT_EQ(seen.size(), 10u);
  for (std::uint16_t i = 0; i < 10; ++i) EXPECT_EQ(seen[i], &v[i]);
}

auto key(const FourTuple& t) { return std::tuple(t.laddr, t.raddr, t.lport, t.rport); }

// 2001:db8::1 -> 2001:db8::a.b.c.d whose low 32 bits are those of
// 10.0.1.<host> (0x0a0001xx), as an IPv4 key's are.
FourTuple v6_tuple(std::uint8_t host, std::uint16_t rport, std::uint16_t lport = 80) {
  return FourTuple{IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                   IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 1, host}), lport,
                   rport};
}

TEST(ConnTable, Ipv6KeysAreDistinctFromIpv4AndFromEachOther) {
  // The same ports and the same low 32 address bits in both families; and
  // IPv6 addresses differing in one byte of the upper half only.
  const FourTuple v4 = FourTuple::v4(0x0a000001, 0x0a000105, 80, 40000);
  const FourTuple a = v6_tuple(5, 40000);
  FourTuple b = a;
  auto bytes = b.raddr.bytes();
  bytes[3] ^= 0x01;  // 2001:db9::...
  b.raddr = IpAddr::v6(bytes);
  FourTuple c = a;
  auto lb = c.laddr.bytes();
  lb[7] = 0x01;  // another local /64
  c.laddr = IpAddr::v6(lb);
  const FourTuple all[] = {v4, a, b, c};
  int v[4] = {};
  ConnTable<int> t{8, 0x77};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(t.insert(all[i], &v[i])) << i;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.find(all[i]), &v[i]) << i;
  EXPECT_FALSE(t.insert(a, &v[0])) << "the same IPv6 tuple twice";
  EXPECT_TRUE(t.erase(a));
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_EQ(t.find(b), &v[2]);
  EXPECT_EQ(t.find(v4), &v[0]);
  // Every address bit reaches the hash.
  for (std::size_t byte = 0; byte < 16; ++byte) {
    FourTuple d = a;
    auto rb = d.raddr.bytes();
    rb[byte] ^= 0x80;
    d.raddr = IpAddr::v6(rb);
    EXPECT_NE(hash_four_tuple(d, 0x77), hash_four_tuple(a, 0x77)) << "remote byte " << byte;
    FourTuple e = a;
    auto eb = e.laddr.bytes();
    eb[byte] ^= 0x80;
    e.laddr = IpAddr::v6(eb);
    EXPECT_NE(hash_four_tuple(e, 0x77), hash_four_tuple(a, 0x77)) << "local byte " << byte;
  }
}

// 10k random insert/find/erase on a small key space (so duplicates, misses and
// the capacity limit are all hit), checked against std::map after every step.
// Under this churn at full load the bucket array must never change (no
// allocation on the packet path).
TEST(ConnTable, RandomOpsMatchStdMap) {
  constexpr std::size_t kCapacity = 200;
  ConnTable<int> t{kCapacity, 0x5eed};
  std::map<std::tuple<IpAddr, IpAddr, std::uint16_t, std::uint16_t>, int*> model;
  std::vector<int> values(1024);
  std::mt19937 rng{12345};
  const std::size_t buckets = t.bucket_count();
  int inserts = 0, refusals_full = 0, refusals_dup = 0, erases = 0;
  std::uint32_t last = 0;
  for (int op = 0; op < 10'000; ++op) {
    // Every other op on the last op's key, so find_and_hash's remembered
    // entry is hit, and erased, often.
    const auto n = rng() % 2 == 0 ? last : static_cast<std::uint32_t>(rng() % 400);
    last = n;
    // A third of the keys IPv6, some of them equal to an IPv4 key in their
    // low 32 bits, so a hash or compare that looked at those only would fail.
    const FourTuple k =
        n % 3 == 2
            ? v6_tuple(static_cast<std::uint8_t>(n % 7), static_cast<std::uint16_t>(1024 + n),
                       static_cast<std::uint16_t>(80 + n % 2))
            : FourTuple::v4(0x0a000001 + n % 3, 0x0a000100 + n % 7, static_cast<std::uint16_t>(80 + n % 2),
                            static_cast<std::uint16_t>(1024 + n));
    int* p = &values[rng() % values.size()];
    switch (rng() % 3) {
      case 0: {
        const bool present = model.count(key(k)) != 0;
        const bool full = model.size() >= kCapacity;
        const bool expect = !present && !full;
        // Both overloads: the hashed one (TCP's new_tcb) also remembers
        // what it inserted for find_and_hash.
        ASSERT_EQ(op % 2 == 0 ? t.insert(k, p) : t.insert(k, t.hash(k), p), expect) << "op " << op;
        if (expect) {
          model[key(k)] = p;
          ++inserts;
        } else if (present) {
          ++refusals_dup;
        } else {
          ++refusals_full;
        }
        break;
      }
      case 1: {
        const bool present = model.erase(key(k)) != 0;
        ASSERT_EQ(t.erase(k), present) << "op " << op;
        erases += present;
        break;
      }
      default: {
        auto it = model.find(key(k));
        int* const want = it == model.end() ? nullptr : it->second;
        ASSERT_EQ(t.find(k), want) << "op " << op;
        std::size_t h = 0;
        ASSERT_EQ(t.find_and_hash(k, h), want) << "op " << op;
        ASSERT_EQ(h, t.hash(k)) << "op " << op;
      }
    }
    ASSERT_EQ(t.size(), model.size());
    ASSERT_EQ(t.bucket_count(), buckets) << "op " << op;
  }
  // The workload exercised every path.
  EXPECT_GT(inserts, 1000);
  EXPECT_GT(erases, 1000);
  EXPECT_GT(refusals_dup, 100);
  EXPECT_GT(refusals_full, 100);
  std::size_t visited = 0;
  t.for_each([&](const FourTuple& k, int* p) {
    ++visited;
    auto it = model.find(key(k));
    ASSERT_NE(it, model.end());
    EXPECT_EQ(it->second, p);
  });
  EXPECT_EQ(visited, model.size());
}

// Full-load churn at a size where Abseil's tombstone handling matters: erase
// one, insert a fresh tuple, many times over. The bucket array stays the same.
TEST(ConnTable, ChurnAtCapacityNeverGrows) {
  for (std::size_t cap : {1u, 7u, 14u, 100u, 896u, 1000u, 1792u, 7168u}) {
    ConnTable<int> t{cap};
    int v = 0;
    const std::size_t buckets = t.bucket_count();
    std::uint32_t next = 0;
    std::vector<FourTuple> live;
    for (; next < cap; ++next) {
      live.push_back(tuple(static_cast<std::uint16_t>(next), next >> 16));
      ASSERT_TRUE(t.insert(live.back(), &v));
    }
    for (std::uint32_t i = 0; i < 20 * cap + 1000; ++i, ++next) {
      const std::size_t j = i % cap;
      ASSERT_TRUE(t.erase(live[j]));
      live[j] = tuple(static_cast<std::uint16_t>(next), next >> 16);
      ASSERT_TRUE(t.insert(live[j], &v));
      ASSERT_EQ(t.bucket_count(), buckets) << "cap " << cap << " step " << i;
    }
    EXPECT_EQ(t.size(), cap);
  }
}

}  // namespace
}  // namespace tern
