// ReassemblyQueue: hole filling, reordering, overlaps on every side,
// duplicates, wrap-around at 2^32, the bounds, RFC 2018 §4 block order, and
// a seeded randomized stream check against a byte-level model. Every test
// checks that each mbuf came back to the pool.
#include "tcp/reassembly.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"

namespace tern {
namespace {

using Insert = ReassemblyQueue::Insert;

// Bytes are a function of their sequence number, so any delivered byte can be
// checked wherever it came from.
std::uint8_t byte_at(Seq32 s) {
  const std::uint32_t v = s.value();
  return static_cast<std::uint8_t>(v ^ (v >> 8) ^ (v >> 16) ^ (v >> 24));
}

class Reassembly : public ::testing::Test {
 protected:
  // Small data rooms, so that payloads of more than kRoom bytes are chains.
  static constexpr std::uint16_t kRoom = 64;

  void SetUp() override {
    static std::atomic<unsigned> seq{0};
    const std::string name = "reasm" + std::to_string(seq.fetch_add(1));
    // No per-lcore cache, so the in-use count is exact.
    pool_ = rte_pktmbuf_pool_create(name.c_str(), 8191, 0, 0, RTE_PKTMBUF_HEADROOM + kRoom, SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr) << "rte_pktmbuf_pool_create: " << rte_errno;
    baseline_ = rte_mempool_in_use_count(pool_);
    violations_ = invariant_violations();
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "leaked mbufs";
    // Release builds count TERN_CHECK failures instead of aborting.
    EXPECT_EQ(invariant_violations(), violations_) << "TERN_CHECK failed";
    rte_mempool_free(pool_);
  }
  unsigned in_use() const { return rte_mempool_in_use_count(pool_) - baseline_; }

  // A payload of `len` bytes for sequence numbers [seq, seq + len), as a
  // chain of segments of at most `chunk` bytes.
  Mbuf payload(Seq32 seq, std::uint32_t len, std::uint16_t chunk = kRoom) {
    EXPECT_TRUE(chunk > 0 && chunk <= kRoom);
    Mbuf head;
    std::uint32_t done = 0;
    while (done < len || !head) {
      Mbuf m = Mbuf::alloc(pool_);
      EXPECT_TRUE(m) << "test pool exhausted";
      if (!m) return {};
      const auto n = static_cast<std::uint16_t>(std::min<std::uint32_t>(chunk, len - done));
      auto room = m.append(n);
      for (std::uint16_t i = 0; i < n; ++i) room[i] = std::byte{byte_at(seq + done + i)};
      done += n;
      if (!head) {
        head = std::move(m);
      } else {
        EXPECT_EQ(rte_pktmbuf_chain(head.get(), m.get()), 0);
        (void)m.release();
      }
    }
    return head;
  }
  Insert put(ReassemblyQueue& q, std::uint32_t seq, std::uint32_t len, std::uint32_t rcv_nxt,
             std::uint16_t chunk = kRoom) {
    return q.insert(Seq32{seq}, payload(Seq32{seq}, len, chunk), Seq32{rcv_nxt});
  }

  // Pops in order; checks each delivered byte and mbuf chain, returns bytes.
  std::uint32_t pop(ReassemblyQueue& q, Seq32& rcv_nxt) {
    Seq32 at = rcv_nxt;
    std::uint32_t seen = 0;
    const std::uint32_t n = q.pop_in_order(rcv_nxt, [&](Mbuf m) {
      check_chain(m.get());
      for (rte_mbuf* s = m.get(); s != nullptr; s = s->next) {
        const auto* p = rte_pktmbuf_mtod(s, const std::uint8_t*);
        for (std::uint16_t i = 0; i < s->data_len; ++i, at += 1, ++seen) {
          if (p[i] != byte_at(at)) {
            ADD_FAILURE() << "wrong byte at seq " << at.value();
            return;
          }
        }
      }
    });
    EXPECT_EQ(n, seen);
    EXPECT_EQ(at, rcv_nxt);
    return n;
  }
  static void check_chain(const rte_mbuf* m) {
    std::uint32_t total = 0;
    std::uint16_t segs = 0;
    for (const rte_mbuf* s = m; s != nullptr; s = s->next, ++segs) total += s->data_len;
    EXPECT_EQ(total, m->pkt_len);
    EXPECT_EQ(segs, m->nb_segs);
  }

  std::vector<SackBlock> sacks(const ReassemblyQueue& q, std::size_t max = kTcpMaxSackBlocks) {
    std::array<SackBlock, kTcpMaxSackBlocks> out{};
    const std::uint8_t n = q.sack_blocks(out, max);
    return {out.begin(), out.begin() + n};
  }

  rte_mempool* pool_ = nullptr;
  unsigned baseline_ = 0;
  std::uint64_t violations_ = 0;
};

TEST_F(Reassembly, DeliversInOrderOnceTheHoleFills) {
  ReassemblyQueue q(65535, 64);
  Seq32 rcv_nxt{1000};
  EXPECT_EQ(put(q, 1100, 100, 1000), Insert::kQueued);
  EXPECT_EQ(put(q, 1200, 100, 1000), Insert::kQueued);
  EXPECT_EQ(pop(q, rcv_nxt), 0u);  // hole at [1000, 1100)
  EXPECT_EQ(rcv_nxt, Seq32{1000});
  EXPECT_EQ(q.bytes(), 200u);
  EXPECT_EQ(q.highest(), Seq32{1300});
  EXPECT_EQ(put(q, 1000, 100, 1000), Insert::kQueued);
  EXPECT_EQ(pop(q, rcv_nxt), 300u);
  EXPECT_EQ(rcv_nxt, Seq32{1300});
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST_F(Reassembly, ReverseOrder) {
  ReassemblyQueue q(65535, 64);
  for (std::uint32_t i = 10; i-- > 1;) EXPECT_EQ(put(q, i * 50, 50, 0), Insert::kQueued);
  EXPECT_EQ(q.segments(), 9u);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{50, 500}}));  // abutting runs are one block
  Seq32 rcv_nxt{0};
  EXPECT_EQ(put(q, 0, 50, 0), Insert::kQueued);
  EXPECT_EQ(pop(q, rcv_nxt), 500u);
  EXPECT_TRUE(q.empty());
}

TEST_F(Reassembly, OverlapOnTheLeftTrimsTheNewFront) {
  ReassemblyQueue q(65535, 64);
  ASSERT_EQ(put(q, 100, 100, 0), Insert::kQueued);  // [100, 200)
  ASSERT_EQ(put(q, 150, 100, 0), Insert::kQueued);  // [150, 250) -> [200, 250)
  EXPECT_EQ(q.bytes(), 150u);
  EXPECT_EQ(q.segments(), 2u);
  ASSERT_EQ(put(q, 0, 100, 0), Insert::kQueued);
  Seq32 rcv_nxt{0};
  EXPECT_EQ(pop(q, rcv_nxt), 250u);
}

TEST_F(Reassembly, OverlapOnTheRightTrimsTheNewTail) {
  ReassemblyQueue q(65535, 64);
  ASSERT_EQ(put(q, 100, 100, 0), Insert::kQueued);  // [100, 200)
  ASSERT_EQ(put(q, 30, 100, 0), Insert::kQueued);   // [30, 130) -> [30, 100)
  EXPECT_EQ(q.bytes(), 170u);
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{30, 200}}));
  ASSERT_EQ(put(q, 0, 30, 0), Insert::kQueued);
  Seq32 rcv_nxt{0};
  EXPECT_EQ(pop(q, rcv_nxt), 200u);
}

TEST_F(Reassembly, SegmentCoveringSeveralReplacesThem) {
  ReassemblyQueue q(65535, 64);
  for (std::uint32_t s : {100u, 300u, 500u}) ASSERT_EQ(put(q, s, 100, 0), Insert::kQueued);
  ASSERT_EQ(put(q, 50, 600, 0), Insert::kQueued);  // [50, 650)
  EXPECT_EQ(q.segments(), 1u);
  EXPECT_EQ(q.bytes(), 600u);
  EXPECT_EQ(in_use(), (600u + kRoom - 1) / kRoom);  // the covered ones were freed
  ASSERT_EQ(put(q, 0, 50, 0), Insert::kQueued);
  Seq32 rcv_nxt{0};
  EXPECT_EQ(pop(q, rcv_nxt), 650u);
}

TEST_F(Reassembly, SegmentCoveringSomeAndOverlappingBothNeighbours) {
  ReassemblyQueue q(65535, 64);
  for (std::uint32_t s : {100u, 300u, 500u}) ASSERT_EQ(put(q, s, 100, 0), Insert::kQueued);
  // [150, 550): front trimmed to 200, [300, 400) replaced, tail trimmed to 500.
  ASSERT_EQ(put(q, 150, 400, 0), Insert::kQueued);
  EXPECT_EQ(q.segments(), 3u);
  EXPECT_EQ(q.bytes(), 500u);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{100, 600}}));
  ASSERT_EQ(put(q, 0, 100, 0), Insert::kQueued);
  Seq32 rcv_nxt{0};
  EXPECT_EQ(pop(q, rcv_nxt), 600u);
}

TEST_F(Reassembly, ExactAndSpanningDuplicatesAreFreed) {
  ReassemblyQueue q(65535, 64);
  ASSERT_EQ(put(q, 100, 100, 0), Insert::kQueued);
  ASSERT_EQ(put(q, 200, 100, 0), Insert::kQueued);
  const unsigned held = in_use();
  EXPECT_EQ(put(q, 100, 100, 0), Insert::kDuplicate);  // exact
  EXPECT_EQ(put(q, 120, 30, 0), Insert::kDuplicate);   // inside one
  EXPECT_EQ(put(q, 150, 100, 0), Insert::kDuplicate);  // across two abutting ones
  EXPECT_EQ(put(q, 100, 200, 0), Insert::kDuplicate);  // exactly both
  EXPECT_EQ(in_use(), held);
  EXPECT_EQ(q.bytes(), 200u);
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(q.insert(Seq32{400}, Mbuf{}, Seq32{0}), Insert::kDuplicate);                  // no payload
  EXPECT_EQ(q.insert(Seq32{400}, payload(Seq32{400}, 0), Seq32{0}), Insert::kDuplicate);  // empty
  EXPECT_EQ(in_use(), held);
}

TEST_F(Reassembly, DataBeforeRcvNxtIsTrimmedOrDropped) {
  ReassemblyQueue q(65535, 64);
  EXPECT_EQ(put(q, 0, 100, 100), Insert::kDuplicate);  // ends at rcv_nxt
  EXPECT_EQ(put(q, 0, 50, 100), Insert::kDuplicate);
  EXPECT_TRUE(q.empty());
  // Starts before rcv_nxt: 130 bytes trimmed across three 64-byte segments.
  EXPECT_EQ(put(q, 70, 200, 200), Insert::kQueued);
  EXPECT_EQ(q.bytes(), 70u);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{200, 270}}));
  Seq32 rcv_nxt{200};
  EXPECT_EQ(pop(q, rcv_nxt), 70u);
  EXPECT_EQ(rcv_nxt, Seq32{270});
}

TEST_F(Reassembly, PopSkipsWhatTheCallerDeliveredDirectly) {
  ReassemblyQueue q(65535, 64);
  ASSERT_EQ(put(q, 100, 100, 0), Insert::kQueued);  // [100, 200)
  ASSERT_EQ(put(q, 200, 100, 0), Insert::kQueued);  // [200, 300)
  ASSERT_EQ(put(q, 400, 100, 0), Insert::kQueued);  // [400, 500)
  // The in-order fast path delivered [0, 250) itself.
  Seq32 rcv_nxt{250};
  EXPECT_EQ(pop(q, rcv_nxt), 50u);
  EXPECT_EQ(rcv_nxt, Seq32{300});
  EXPECT_EQ(q.segments(), 1u);
  EXPECT_EQ(q.bytes(), 100u);
  q.clear();
  EXPECT_TRUE(q.empty());
}

TEST_F(Reassembly, WrapsAroundTwoToTheThirtyTwo) {
  ReassemblyQueue q(65535, 64);
  const std::uint32_t base = 0xFFFFFF00u;  // 256 bytes before the wrap
  Seq32 rcv_nxt{base};
  ASSERT_EQ(put(q, base + 300, 100, base), Insert::kQueued);  // after the wrap
  ASSERT_EQ(put(q, base + 200, 150, base), Insert::kQueued);  // across it, tail trimmed
  ASSERT_EQ(put(q, base + 100, 50, base), Insert::kQueued);   // before it
  EXPECT_EQ(q.bytes(), 250u);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{base + 100, base + 150}, {base + 200, 0x90}}));
  EXPECT_EQ(put(q, base - 100, 150, base), Insert::kQueued);  // trimmed to [base, base + 50)
  EXPECT_EQ(pop(q, rcv_nxt), 50u);
  ASSERT_EQ(put(q, base + 50, 60, base + 50), Insert::kQueued);  // overlaps [base + 100, ...)
  EXPECT_EQ(pop(q, rcv_nxt), 100u);
  ASSERT_EQ(put(q, base + 150, 60, rcv_nxt.value()), Insert::kQueued);
  EXPECT_EQ(pop(q, rcv_nxt), 250u);
  EXPECT_EQ(rcv_nxt, Seq32{0x90});
  EXPECT_TRUE(q.empty());
}

TEST_F(Reassembly, ByteLimitIsNeverExceeded) {
  ReassemblyQueue q(300, 64);
  ASSERT_EQ(put(q, 100, 100, 0), Insert::kQueued);
  ASSERT_EQ(put(q, 250, 100, 0), Insert::kQueued);
  // Only new bytes count: [100, 350) adds [200, 250) and replaces [250, 350).
  ASSERT_EQ(put(q, 100, 250, 0), Insert::kQueued);
  EXPECT_EQ(q.bytes(), 250u);
  EXPECT_EQ(q.segments(), 2u);
  const unsigned held = in_use();
  EXPECT_EQ(put(q, 400, 51, 0), Insert::kOverLimit);
  EXPECT_EQ(in_use(), held);  // refused and freed
  EXPECT_EQ(q.bytes(), 250u);
  EXPECT_EQ(put(q, 400, 50, 0), Insert::kQueued);  // exactly at the bound
  EXPECT_EQ(q.bytes(), 300u);
  EXPECT_EQ(put(q, 50, 1, 0), Insert::kOverLimit);
  EXPECT_EQ(put(q, 100, 100, 0), Insert::kDuplicate);  // a duplicate is not over the limit
  EXPECT_EQ(q.segments(), 3u);
  ReassemblyQueue none(300, 0);
  EXPECT_EQ(put(none, 100, 1, 0), Insert::kOverLimit);
}

TEST_F(Reassembly, SegmentLimitIsNeverExceeded) {
  ReassemblyQueue q(65535, 4);
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_EQ(put(q, 100 + 10 * i, 5, 0), Insert::kQueued);
  const unsigned held = in_use();
  EXPECT_EQ(put(q, 500, 5, 0), Insert::kOverLimit);
  EXPECT_EQ(in_use(), held);
  EXPECT_EQ(q.segments(), 4u);
  // Replacing two queued segments leaves three: allowed at full count.
  EXPECT_EQ(put(q, 105, 20, 0), Insert::kQueued);
  EXPECT_EQ(q.segments(), 3u);
  EXPECT_EQ(put(q, 500, 5, 0), Insert::kQueued);
  EXPECT_EQ(q.segments(), 4u);
  EXPECT_EQ(put(q, 0, 10, 0), Insert::kOverLimit);  // even the hole filler: deliver it directly
}

TEST_F(Reassembly, SackBlocksMostRecentFirst) {
  ReassemblyQueue q(65535, 64);
  ASSERT_EQ(put(q, 100, 10, 0), Insert::kQueued);  // A
  ASSERT_EQ(put(q, 300, 10, 0), Insert::kQueued);  // C
  ASSERT_EQ(put(q, 200, 10, 0), Insert::kQueued);  // B
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{200, 210}, {300, 310}, {100, 110}}));
  // A duplicate of A triggers this ACK: A goes first (RFC 2018 §4).
  ASSERT_EQ(put(q, 100, 10, 0), Insert::kDuplicate);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{100, 110}, {200, 210}, {300, 310}}));
  // Joining C to a new D makes one block, now the most recent.
  ASSERT_EQ(put(q, 310, 10, 0), Insert::kQueued);
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{300, 320}, {100, 110}, {200, 210}}));
  ASSERT_EQ(put(q, 500, 10, 0), Insert::kQueued);
  ASSERT_EQ(put(q, 700, 10, 0), Insert::kQueued);
  // Five blocks: only the four (or three) most recent are reported.
  EXPECT_EQ(sacks(q), (std::vector<SackBlock>{{700, 710}, {500, 510}, {300, 320}, {100, 110}}));
  EXPECT_EQ(sacks(q, 3), (std::vector<SackBlock>{{700, 710}, {500, 510}, {300, 320}}));
  EXPECT_EQ(sacks(q, 0), (std::vector<SackBlock>{}));
  ReassemblyQueue empty(100, 4);
  EXPECT_EQ(sacks(empty), (std::vector<SackBlock>{}));
}

// RFC 2883 §4 reports the first duplicate run of a segment: the first part
// of [seq, end) already held, abutting entries taken as one run.
TEST_F(Reassembly, FirstHeldRunOfARange) {
  ReassemblyQueue q(65535, 64);
  ASSERT_EQ(put(q, 100, 10, 0), Insert::kQueued);
  ASSERT_EQ(put(q, 110, 10, 0), Insert::kQueued);  // abuts: [100, 120) is one run
  ASSERT_EQ(put(q, 200, 10, 0), Insert::kQueued);
  const auto held = [&](std::uint32_t seq, std::uint32_t end) -> std::pair<std::uint32_t, std::uint32_t> {
    Seq32 l, r;
    if (!q.first_held(Seq32{seq}, Seq32{end}, &l, &r)) return {0, 0};
    return {l.value(), r.value()};
  };
  using P = std::pair<std::uint32_t, std::uint32_t>;
  EXPECT_EQ(held(0, 100), (P{0, 0})) << "ends where the first entry starts";
  EXPECT_EQ(held(120, 200), (P{0, 0})) << "the hole between";
  EXPECT_EQ(held(0, 300), (P{100, 120})) << "the first run only";
  EXPECT_EQ(held(105, 115), (P{105, 115})) << "inside a run, across two entries";
  EXPECT_EQ(held(115, 205), (P{115, 120}));
  EXPECT_EQ(held(150, 300), (P{200, 210}));
  EXPECT_EQ(held(205, 205), (P{0, 0})) << "empty range";
  EXPECT_EQ(held(210, 400), (P{0, 0}));
  // Modular order: a run that crosses 2^32.
  ReassemblyQueue w(65535, 64);
  ASSERT_EQ(put(w, 0xfffffff0u, 32, 0xffffff00u), Insert::kQueued);
  Seq32 l, r;
  ASSERT_TRUE(w.first_held(Seq32{0xffffffe0u}, Seq32{0x8u}, &l, &r));
  EXPECT_EQ(l, Seq32{0xfffffff0u});
  EXPECT_EQ(r, Seq32{0x8u});
  ReassemblyQueue empty(100, 4);
  EXPECT_FALSE(empty.first_held(Seq32{0}, Seq32{10}, &l, &r));
}

TEST_F(Reassembly, ChainTrimHelpersCrossSegments) {
  Mbuf m = payload(Seq32{0}, 200, 64);  // 64 + 64 + 64 + 8
  ASSERT_EQ(m->nb_segs, 4);
  rte_mbuf* h = mbuf_chain_trim_front(m.release(), 130);  // frees two, 2 off the third
  m.reset(h);
  check_chain(m.get());
  EXPECT_EQ(m->nb_segs, 2);
  EXPECT_EQ(m.pkt_len(), 70u);
  EXPECT_EQ(std::to_integer<std::uint8_t>(m.head()[0]), byte_at(Seq32{130}));
  mbuf_chain_trim_back(m.get(), 8);  // exactly the last segment
  check_chain(m.get());
  EXPECT_EQ(m->nb_segs, 1);
  EXPECT_EQ(m.pkt_len(), 62u);
  mbuf_chain_trim_back(m.get(), 61);
  EXPECT_EQ(m.pkt_len(), 1u);
  m = payload(Seq32{0}, 128, 64);
  m.reset(mbuf_chain_trim_front(m.release(), 64));  // exactly the first segment
  check_chain(m.get());
  EXPECT_EQ(m->nb_segs, 1);
  EXPECT_EQ(std::to_integer<std::uint8_t>(m.head()[0]), byte_at(Seq32{64}));
}

TEST_F(Reassembly, DestructorAndMoveFreeEverything) {
  {
    ReassemblyQueue q(65535, 64);
    ASSERT_EQ(put(q, 100, 300, 0), Insert::kQueued);
    ReassemblyQueue moved(std::move(q));
    EXPECT_EQ(moved.bytes(), 300u);
    ReassemblyQueue other(10, 1);
    ASSERT_EQ(put(other, 5, 5, 0), Insert::kQueued);
    other = std::move(moved);  // frees other's segment
    EXPECT_EQ(other.bytes(), 300u);
    EXPECT_GT(in_use(), 0u);
  }
  EXPECT_EQ(in_use(), 0u);
}

// A stream split into random segments — a partition covering every byte, plus
// random overlapping extras and exact duplicates — inserted in random order,
// with the in-order fast path delivering segments at rcv_nxt directly now and
// then. Checked against a byte-level model: kQueued adds new bytes, kDuplicate
// adds none, bytes() equals the bytes held, SACK blocks are exact runs of
// them, the bounds hold, and the delivered stream is exactly the one sent.
TEST_F(Reassembly, RandomizedStreamsArriveExactly) {
  constexpr int kCases = 3000;
  std::mt19937 rng(20261123);
  int over_limit = 0;
  for (int c = 0; c < kCases; ++c) {
    const std::uint32_t seed = rng();
    SCOPED_TRACE("case " + std::to_string(c) + " seed " + std::to_string(seed));
    std::mt19937 r(seed);
    auto uni = [&r](std::uint32_t lo, std::uint32_t hi) {
      return std::uniform_int_distribution<std::uint32_t>(lo, hi)(r);
    };
    const std::uint32_t len = uni(1, 2000);
    // Half the cases start close to the wrap.
    const Seq32 base{uni(0, 1) ? 0xFFFFFFFFu - uni(0, 4000) : static_cast<std::uint32_t>(r())};
    const bool limited = uni(0, 2) == 0;
    ReassemblyQueue q(limited ? uni(1, 2000) : 1u << 20,
                      static_cast<std::uint16_t>(limited ? uni(1, 8) : 512));
    const auto chunk = static_cast<std::uint16_t>(uni(0, 3) == 0 ? uni(1, 8) : kRoom);

    struct Seg {
      std::uint32_t off, len;
    };
    std::vector<Seg> segs;
    for (std::uint32_t off = 0; off < len;) {
      const std::uint32_t n = std::min(len - off, uni(1, 400));
      segs.push_back({off, n});
      off += n;
    }
    const std::size_t extras = uni(0, static_cast<std::uint32_t>(segs.size()) * 2);
    for (std::size_t i = 0; i < extras; ++i) {
      if (uni(0, 2) == 0) {
        segs.push_back(segs[uni(0, static_cast<std::uint32_t>(segs.size() - 1))]);
      } else {
        const std::uint32_t off = uni(0, len - 1);
        segs.push_back({off, uni(1, len - off)});
      }
    }
    std::shuffle(segs.begin(), segs.end(), r);

    Seq32 rcv_nxt = base;
    std::vector<bool> held(len, false);  // the model: bytes the queue holds
    std::uint32_t held_count = 0;
    auto delivered = [&] { return static_cast<std::uint32_t>(rcv_nxt - base); };
    auto consume = [&] {
      const std::uint32_t from = delivered();
      pop(q, rcv_nxt);
      for (std::uint32_t i = from; i < delivered(); ++i) {
        if (held[i]) --held_count;
        held[i] = false;
      }
      // Stale bytes the caller delivered directly are gone too.
      for (std::uint32_t i = 0; i < delivered(); ++i) {
        if (held[i]) --held_count;
        held[i] = false;
      }
    };

    // Refused segments come back later, like retransmissions, until done.
    for (int round = 0; round < 100000 && !segs.empty() && !HasFailure(); ++round) {
      std::vector<Seg> retry;
      for (const Seg& s : segs) {
        const Seq32 seq = base + s.off;
        const std::uint32_t from = delivered();
        if (s.off <= from && s.off + s.len > from && (limited || uni(0, 3) == 0)) {
          // The in-order fast path: deliver directly, then drain the queue.
          rcv_nxt = base + (s.off + s.len);
          consume();
          continue;
        }
        const Insert res = q.insert(seq, payload(seq, s.len, chunk), rcv_nxt);
        std::uint32_t fresh = 0;
        for (std::uint32_t i = std::max(s.off, from); i < s.off + s.len; ++i) fresh += held[i] ? 0 : 1;
        if (res == Insert::kDuplicate) {
          ASSERT_EQ(fresh, 0u) << "kDuplicate for new bytes, seg " << s.off << "+" << s.len;
        } else if (res == Insert::kQueued) {
          ASSERT_GT(fresh, 0u) << "kQueued with nothing new, seg " << s.off << "+" << s.len;
          for (std::uint32_t i = std::max(s.off, from); i < s.off + s.len; ++i) held[i] = true;
          held_count += fresh;
        } else {
          ASSERT_TRUE(limited);
          ++over_limit;
          retry.push_back(s);
        }
        ASSERT_EQ(q.bytes(), held_count) << "bytes held twice or lost";
        ASSERT_LE(q.bytes(), q.max_bytes());
        ASSERT_LE(q.segments(), q.max_segments());
        consume();
        ASSERT_EQ(q.bytes(), held_count);
        for (const SackBlock& b : sacks(q)) {
          const auto lo = static_cast<std::uint32_t>(Seq32{b.left} - base);
          const auto hi = static_cast<std::uint32_t>(Seq32{b.right} - base);
          ASSERT_LT(lo, hi);
          ASSERT_LE(hi, len);
          ASSERT_GT(lo, delivered());
          ASSERT_FALSE(held[lo - 1]) << "block does not start a run";
          ASSERT_TRUE(hi == len || !held[hi]) << "block does not end a run";
          for (std::uint32_t i = lo; i < hi; ++i) ASSERT_TRUE(held[i]) << "block covers a hole";
        }
      }
      segs = std::move(retry);
    }
    ASSERT_EQ(delivered(), len) << "stream incomplete";
    ASSERT_TRUE(q.empty());
    ASSERT_EQ(in_use(), 0u);
  }
  // The limited cases must really have hit their bounds, or they test nothing.
  EXPECT_GT(over_limit, 0);
}

}  // namespace
}  // namespace tern
