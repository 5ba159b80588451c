// The sender's SACK scoreboard (lib/tcp/sack_scoreboard.h) driven by scripted
// ACKs. Offsets are from kBase, 8 KiB below 2^32, so most ranges here
// straddle the wrap on purpose.
#include "tcp/sack_scoreboard.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <utility>
#include <vector>

namespace tern {
namespace {

constexpr Seq32 kBase{0xffffe000u};
constexpr std::uint32_t kSmss = 1000;
constexpr std::uint32_t kDupThresh = 3;

Seq32 at(std::uint32_t off) { return kBase + off; }
SackBlock blk(std::uint32_t lo, std::uint32_t hi) { return SackBlock{at(lo).value(), at(hi).value()}; }

using Rel = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

// A sender with 10 segments of kSmss outstanding: [0, 10000).
struct Sender {
  SackScoreboard sb;
  Seq32 una = at(0);
  Seq32 max = at(10000);

  SackUpdate ack(std::initializer_list<SackBlock> blocks) {
    return sb.update(una, max, std::span<const SackBlock>(blocks.begin(), blocks.size()));
  }
  SackUpdate ack_to(std::uint32_t off, std::initializer_list<SackBlock> blocks = {}) {
    una = at(off);
    return ack(blocks);
  }
  Rel ranges() const {
    Rel r;
    for (const SackRange& x : sb.ranges())
      r.emplace_back(static_cast<std::uint32_t>(x.left - kBase), static_cast<std::uint32_t>(x.right - kBase));
    return r;
  }
  std::uint32_t pipe() const { return sb.pipe(una, max, kDupThresh, kSmss); }
  SackNext next(std::uint32_t new_data = 0) const {
    return sb.next_seg(una, max, new_data, kDupThresh, kSmss);
  }
};

void expect_seg(const SackNext& s, SackNext::Kind kind, std::uint32_t off, std::uint32_t len, int rule) {
  EXPECT_EQ(s.kind, kind);
  EXPECT_EQ(s.seq, at(off));
  EXPECT_EQ(s.len, len);
  EXPECT_EQ(s.rule, rule);
}

TEST(SackScoreboard, MergesOverlappingAndAdjacentBlocks) {
  Sender s;
  SackUpdate u = s.ack({blk(3000, 4000), blk(5000, 6000)});
  EXPECT_EQ(u.valid, 2);
  EXPECT_EQ(u.newly_sacked, 2000u);
  EXPECT_EQ(s.ranges(), (Rel{{3000, 4000}, {5000, 6000}}));
  // Touching both neighbours: one range, or IsLost would count three.
  u = s.ack({blk(4000, 5000)});
  EXPECT_EQ(u.newly_sacked, 1000u);
  EXPECT_EQ(s.ranges(), (Rel{{3000, 6000}}));
  u = s.ack({blk(2500, 3500)});  // overlaps the left edge
  EXPECT_EQ(u.newly_sacked, 500u);
  EXPECT_EQ(s.ranges(), (Rel{{2500, 6000}}));
  // A repeat carries nothing new, so it is no RFC 6675 §2 duplicate ACK.
  u = s.ack({blk(2500, 6000), blk(3000, 4000)});
  EXPECT_EQ(u.valid, 2);
  EXPECT_EQ(u.newly_sacked, 0u);
  s.ack({blk(1000, 1500), blk(8000, 9000)});
  u = s.ack({blk(1200, 8500)});              // swallows three ranges and both gaps
  EXPECT_EQ(u.newly_sacked, 1000u + 2000u);  // the gaps [1500, 2500) and [6000, 8000)
  EXPECT_EQ(s.ranges(), (Rel{{1000, 9000}}));
  EXPECT_EQ(s.sb.sacked_bytes(), 8000u);
  EXPECT_EQ(s.sb.high_sacked(), at(9000));
  EXPECT_TRUE(s.sb.is_sacked(at(1000)));
  EXPECT_TRUE(s.sb.is_sacked(at(8999)));
  EXPECT_FALSE(s.sb.is_sacked(at(999)));
  EXPECT_FALSE(s.sb.is_sacked(at(9000)));
}

TEST(SackScoreboard, CumulativeAckDropsWhatItCovers) {
  Sender s;
  s.ack({blk(2000, 3000), blk(4000, 5000), blk(6000, 7000)});
  EXPECT_EQ(s.ack({}).valid, 0);  // no blocks: nothing forgotten
  EXPECT_EQ(s.sb.sacked_bytes(), 3000u);
  const SackUpdate u = s.ack_to(5000);  // the holes below 5000 were filled
  EXPECT_FALSE(u.reneged);
  EXPECT_EQ(s.ranges(), (Rel{{6000, 7000}}));
  EXPECT_EQ(s.sb.sacked_bytes(), 1000u);
  s.ack_to(7000);
  EXPECT_TRUE(s.sb.empty());
  EXPECT_EQ(s.sb.sacked_bytes(), 0u);
  EXPECT_EQ(s.sb.high_sacked(), std::nullopt);
}

TEST(SackScoreboard, WrapsAroundTwoToThe32) {
  Sender s;  // kBase + 8192 == 2^32
  s.ack({blk(7000, 8000), blk(9000, 9500), blk(9700, 9800)});
  s.ack({blk(8000, 9000)});
  EXPECT_EQ(s.ranges(), (Rel{{7000, 9500}, {9700, 9800}}));
  EXPECT_EQ(s.sb.ranges()[0].left.value(), 0xfffffb58u);   // 0xffffe000 + 7000
  EXPECT_EQ(s.sb.ranges()[0].right.value(), 0x0000051cu);  // 0xffffe000 + 9500 - 2^32
  EXPECT_TRUE(s.sb.is_sacked(Seq32{0xffffffffu}));
  EXPECT_TRUE(s.sb.is_sacked(Seq32{0}));
  EXPECT_FALSE(s.sb.is_sacked(Seq32{0x0000051cu}));
  EXPECT_EQ(s.sb.sacked_bytes(), 2600u);
  EXPECT_TRUE(s.sb.is_lost(at(4000), kDupThresh, kSmss));  // 2600 > 2000 octets above
  // Not lost: [9500, 9700) and [9800, 10000); [0, 7000) is (2600 octets above).
  EXPECT_EQ(s.pipe(), 200u + 200u);
  const SackUpdate u = s.ack_to(9500);  // SND.UNA wraps too
  EXPECT_FALSE(u.reneged);
  EXPECT_EQ(s.ranges(), (Rel{{9700, 9800}}));
  EXPECT_EQ(s.sb.sacked_bytes(), 100u);
  s.ack_to(9800);
  EXPECT_TRUE(s.sb.empty());
}

// Attached to a transmit log's room the board holds kLentRanges: the ranges
// it had come along, a window with more than kMaxRanges holes loses
// nothing; detached, it keeps the lowest kMaxRanges (the highest forgotten,
// as on overflow, and counted) and their octets only.
TEST(SackScoreboard, LentRoomHoldsMoreRangesAndDetachKeepsTheLowest) {
  Sender s;
  s.max = at(100000);
  s.ack({blk(100, 110)});
  std::array<SackRange, SackScoreboard::kLentRanges> room{};
  s.sb.attach(room);
  EXPECT_EQ(s.sb.capacity(), SackScoreboard::kLentRanges);
  ASSERT_EQ(s.sb.ranges().size(), 1u);
  EXPECT_TRUE(s.sb.is_sacked(at(105)));
  const std::uint32_t n = 3 * SackScoreboard::kMaxRanges;
  for (std::uint32_t k = 1; k < n; ++k) EXPECT_EQ(s.ack({blk(100 + 100 * k, 110 + 100 * k)}).overflow, 0);
  EXPECT_EQ(s.sb.ranges().size(), n);
  EXPECT_EQ(s.sb.sacked_bytes(), 10u * n);
  EXPECT_EQ(s.sb.detach(), n - SackScoreboard::kMaxRanges);
  EXPECT_EQ(s.sb.capacity(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(s.sb.ranges().size(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(s.sb.sacked_bytes(), 10u * SackScoreboard::kMaxRanges);
  EXPECT_TRUE(s.sb.is_sacked(at(100 + 100 * (SackScoreboard::kMaxRanges - 1))));
  EXPECT_FALSE(s.sb.is_sacked(at(100 + 100 * SackScoreboard::kMaxRanges)));
  EXPECT_EQ(s.sb.detach(), 0u);  // detached already
}

TEST(SackScoreboard, FullBoardForgetsRangesAndNeverInventsThem) {
  Sender s;
  s.max = at(100000);
  std::set<std::uint32_t> reported;  // every offset ever reported as SACKed
  auto report = [&](std::uint32_t lo, std::uint32_t hi) {
    for (std::uint32_t o = lo; o < hi; ++o) reported.insert(o);
    return s.ack({blk(lo, hi)});
  };
  for (std::uint32_t k = 0; k < SackScoreboard::kMaxRanges; ++k) {
    EXPECT_EQ(report(1000 + 100 * k, 1010 + 100 * k).overflow, 0);
  }
  ASSERT_EQ(s.sb.ranges().size(), SackScoreboard::kMaxRanges);
  const Seq32 top = *s.sb.high_sacked();
  // A new lowest range: the highest one goes to make room.
  SackUpdate u = report(500, 510);
  EXPECT_EQ(u.overflow, 1);
  EXPECT_EQ(u.newly_sacked, 10u);
  EXPECT_EQ(s.sb.ranges().size(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(s.sb.sacked_bytes(), 10u * SackScoreboard::kMaxRanges);
  EXPECT_TRUE(seq_lt(*s.sb.high_sacked(), top));
  // A new highest range is itself what is not kept.
  u = report(50000, 50010);
  EXPECT_EQ(u.overflow, 1);
  EXPECT_EQ(u.newly_sacked, 0u);
  EXPECT_FALSE(s.sb.is_sacked(at(50000)));
  // Merging needs no room.
  u = report(1005, 1050);
  EXPECT_EQ(u.overflow, 0);
  EXPECT_EQ(u.newly_sacked, 40u);
  for (std::uint32_t o = 0; o < 60000; ++o) {
    if (s.sb.is_sacked(at(o))) {
      ASSERT_TRUE(reported.count(o)) << "offset " << o << " was never SACKed";
    }
  }
}

TEST(SackScoreboard, HostileBlocksAreCountedAndIgnored) {
  Sender s;
  s.ack({blk(5000, 6000)});
  auto rejected_alone = [&](SackBlock b, SackReject why) {
    // Second place, so the D-SACK rules (first block only) stay out of it.
    const SackUpdate u = s.ack({blk(5000, 6000), b});
    EXPECT_EQ(u.valid, 1);
    EXPECT_EQ(u.rejected_for(why), 1) << static_cast<int>(why);
    EXPECT_EQ(u.newly_sacked, 0u);
    EXPECT_FALSE(u.dsack);
    EXPECT_EQ(s.ranges(), (Rel{{5000, 6000}}));
  };
  rejected_alone(blk(9000, 10001), SackReject::kBeyondSndMax);  // one octet never sent
  rejected_alone(blk(20000, 21000), SackReject::kBeyondSndMax);
  rejected_alone(SackBlock{at(0).value() - 100, at(500).value()}, SackReject::kBelowUna);
  rejected_alone(blk(0, 500), SackReject::kBelowUna);  // SND.UNA itself is never SACKed
  rejected_alone(blk(7000, 7000), SackReject::kEmpty);
  rejected_alone(blk(8000, 7000), SackReject::kEmpty);
  // These two also contain the first block, which must not make it a D-SACK.
  rejected_alone(SackBlock{at(0).value() - 10, at(10010).value()}, SackReject::kTooLong);
  rejected_alone(SackBlock{at(1000).value(), at(1000).value() + 0x7fffffffu}, SackReject::kTooLong);

  // More blocks than an option holds: the first four count, the rest are junk.
  const std::vector<SackBlock> six{blk(100, 200), blk(300, 400),  blk(500, 600),
                                   blk(700, 800), blk(900, 1000), blk(1100, 1200)};
  const SackUpdate u = s.sb.update(s.una, s.max, six);
  EXPECT_EQ(u.valid, 4);
  EXPECT_EQ(u.rejected_for(SackReject::kTooMany), 2);
  EXPECT_EQ(s.ranges(), (Rel{{100, 200}, {300, 400}, {500, 600}, {700, 800}, {5000, 6000}}));
}

TEST(SackScoreboard, DsackFirstBlockBelowTheAck) {
  Sender s;
  s.ack_to(3000);  // SEG.ACK = 3000; [1000, 2000) arrived twice
  const SackUpdate u = s.ack({blk(1000, 2000), blk(5000, 6000)});
  EXPECT_TRUE(u.dsack);
  EXPECT_EQ(u.dsack_range, (SackRange{at(1000), at(2000)}));
  EXPECT_EQ(u.valid, 1);
  EXPECT_EQ(u.rejected_for(SackReject::kBelowUna), 0);
  EXPECT_EQ(s.ranges(), (Rel{{5000, 6000}}));  // the D-SACK is not SACK information
  // Straddling SEG.ACK is neither a D-SACK (RFC 2883 never sends one) nor SACK.
  const SackUpdate v = s.ack({blk(2500, 3500)});
  EXPECT_FALSE(v.dsack);
  EXPECT_EQ(v.rejected_for(SackReject::kBelowUna), 1);
}

TEST(SackScoreboard, DsackFirstBlockInsideTheSecond) {
  Sender s;
  s.ack({blk(3000, 4000)});
  // [3000, 3500) arrived again above SEG.ACK; the second block is the
  // receiver's range that holds it.
  SackUpdate u = s.ack({blk(3000, 3500), blk(3000, 4000), blk(6000, 7000)});
  EXPECT_TRUE(u.dsack);
  EXPECT_EQ(u.dsack_range, (SackRange{at(3000), at(3500)}));
  EXPECT_EQ(u.valid, 2);
  EXPECT_EQ(u.newly_sacked, 1000u);  // [6000, 7000) only
  EXPECT_EQ(s.ranges(), (Rel{{3000, 4000}, {6000, 7000}}));
  // Not inside the second: an ordinary first block.
  u = s.ack({blk(8000, 9000), blk(3000, 4000)});
  EXPECT_FALSE(u.dsack);
  EXPECT_EQ(u.valid, 2);
  EXPECT_EQ(u.newly_sacked, 1000u);
}

TEST(SackScoreboard, IsLostByDiscontiguousRanges) {
  Sender s;
  s.ack({blk(2000, 2001), blk(3000, 3001), blk(4000, 4001)});
  EXPECT_TRUE(s.sb.is_lost(at(1000), kDupThresh, kSmss));   // 3 ranges above, 3 octets
  EXPECT_FALSE(s.sb.is_lost(at(2500), kDupThresh, kSmss));  // 2 ranges
  EXPECT_FALSE(s.sb.is_lost(at(4500), kDupThresh, kSmss));  // none
  EXPECT_TRUE(s.sb.is_lost(at(2500), 2, kSmss));            // DupThresh is a parameter
}

TEST(SackScoreboard, IsLostByOctets) {
  Sender s;
  s.ack({blk(2000, 4000)});  // exactly (DupThresh - 1) * SMSS: not "more than"
  EXPECT_FALSE(s.sb.is_lost(at(1000), kDupThresh, kSmss));
  s.ack({blk(4000, 4001)});
  EXPECT_TRUE(s.sb.is_lost(at(1000), kDupThresh, kSmss));
  EXPECT_TRUE(s.sb.is_lost(at(1999), kDupThresh, kSmss));
  // Only octets after seq count: from inside the range, 2000 are above.
  EXPECT_FALSE(s.sb.is_lost(at(2000), kDupThresh, kSmss));
}

TEST(SackScoreboard, PipeWorkedExample) {
  Sender s;  // [0, 10000) sent, SMSS 1000, DupThresh 3
  s.ack({blk(2000, 3000), blk(4000, 6000), blk(7000, 8000)});
  // Gaps and what lies above each (IsLost: >= 3 ranges or > 2000 octets):
  //   [8000, 10000)  nothing above               not lost  (a) +2000
  //   [6000, 7000)   1 range, 1000 octets        not lost  (a) +1000
  //   [3000, 4000)   2 ranges, 3000 octets       lost      (a) +0
  //   [0, 2000)      3 ranges, 4000 octets       lost      (a) +0
  EXPECT_EQ(s.pipe(), 3000u);
  // The first segment retransmitted (RFC 6675 §5 (4.3)): HighRxt covers
  // [0, 1000), which (b) adds back: 3000 + 1000.
  s.sb.start_recovery(at(1000));
  EXPECT_EQ(s.pipe(), 4000u);
  // HighRxt at 6500: (b) adds [0, 2000) + [3000, 4000) + [6000, 6500), and
  // [6000, 6500) is counted twice, being neither lost nor SACKed:
  // 3000 + 2000 + 1000 + 500.
  s.sb.set_high_rxt(at(6500));
  EXPECT_EQ(s.pipe(), 6500u);
  EXPECT_EQ(SackScoreboard{}.pipe(at(0), at(10000), kDupThresh, kSmss), 10000u);  // no SACK: FlightSize
}

// BBR's loss input without RACK (tcp_sack.cc): IsLost's set is every
// unSACKed octet below an edge, which only rises as ranges arrive; what an
// ACK newly marks lost is what lies unSACKed between the edges before and
// after it.
TEST(SackScoreboard, LostEdgeRisesAndUnsackedOctetsBetweenEdgesAreNewlyLost) {
  Sender s;  // [0, 10000) sent, SMSS 1000, DupThresh 3
  // Nothing SACKed: nothing lost.
  EXPECT_EQ(s.sb.lost_edge(s.una, kDupThresh, kSmss), at(0));
  s.ack({blk(2000, 3000), blk(4000, 6000)});
  // [3000, 4000): 1 range, 2000 octets above: not lost; [0, 2000): 2
  // ranges, 3000 octets: lost.
  const Seq32 before = s.sb.lost_edge(s.una, kDupThresh, kSmss);
  EXPECT_EQ(before, at(2000));
  EXPECT_EQ(s.sb.unsacked(at(0), before), 2000u);
  s.ack({blk(7000, 8000)});  // now [3000, 4000) has 2000 + 1000 above, and [6000, 7000) only 1000
  const Seq32 after = s.sb.lost_edge(s.una, kDupThresh, kSmss);
  EXPECT_EQ(after, at(4000));
  EXPECT_EQ(s.sb.unsacked(before, after), 1000u);  // [3000, 4000) newly lost, not [2000, 3000)
  EXPECT_EQ(s.sb.unsacked(at(0), at(10000)), 6000u);
  EXPECT_EQ(s.sb.unsacked(after, before), 0u);  // an empty interval
  // SND.UNA moves into the lost gap: what is left of it stays lost.
  s.ack_to(3500);
  EXPECT_EQ(s.sb.lost_edge(s.una, kDupThresh, kSmss), at(4000));
  EXPECT_EQ(s.sb.unsacked(s.una, at(4000)), 500u);
}

TEST(SackScoreboard, NextSegRulesInOrderThenOneRescue) {
  Sender s;
  s.ack({blk(2000, 3000), blk(4000, 6000), blk(7000, 8000)});
  s.sb.start_recovery(at(1000));  // [0, 1000) retransmitted on entry
  const Seq32 recovery_point = s.max;

  // (1) lost and after HighRxt, even with new data waiting; stops at the SACKed range.
  SackNext n = s.next(5000);
  expect_seg(n, SackNext::Kind::kRetransmit, 1000, 1000, 1);
  s.sb.on_sent(n, recovery_point);
  EXPECT_EQ(s.sb.high_rxt(), at(2000));
  n = s.next(5000);
  expect_seg(n, SackNext::Kind::kRetransmit, 3000, 1000, 1);  // [2000, 3000) skipped: SACKed
  s.sb.on_sent(n, recovery_point);
  // [6000, 7000) is not lost (one range above): (2) new data comes first...
  expect_seg(s.next(500), SackNext::Kind::kNew, 10000, 500, 2);
  expect_seg(s.next(5000), SackNext::Kind::kNew, 10000, kSmss, 2);
  // ...and (3) sends it when there is none.
  n = s.next(0);
  expect_seg(n, SackNext::Kind::kRetransmit, 6000, 1000, 3);
  s.sb.on_sent(n, recovery_point);
  // (4): nothing unSACKed after HighRxt below the highest SACK. RescueRxt
  // still covers the first retransmission, so no rescue yet.
  EXPECT_EQ(s.next(0).kind, SackNext::Kind::kNone);
  s.ack_to(3000);  // the first retransmissions arrived: HighACK > RescueRxt
  n = s.next(0);
  expect_seg(n, SackNext::Kind::kRescue, 9000, 1000, 4);  // includes the highest unSACKed octet
  s.sb.on_sent(n, recovery_point);
  EXPECT_EQ(s.sb.high_rxt(), at(7000));  // a rescue leaves HighRxt alone
  EXPECT_EQ(s.sb.rescue_rxt(), recovery_point);
  // At most one per recovery: RescueRxt = RecoveryPoint until HighACK passes it.
  EXPECT_EQ(s.next(0).kind, SackNext::Kind::kNone);
  s.ack_to(6000);
  EXPECT_EQ(s.next(0).kind, SackNext::Kind::kNone);
  s.max = at(12000);  // new data sent meanwhile
  s.ack_to(10000);
  EXPECT_EQ(s.next(0).kind, SackNext::Kind::kNone);  // HighACK 9999 == RescueRxt
  s.ack_to(11000);
  EXPECT_EQ(s.sb.rescue_rxt(), std::nullopt);
  expect_seg(s.next(0), SackNext::Kind::kRescue, 11000, 1000, 4);
}

TEST(SackScoreboard, SegmentsRespectSackedEdgesAndSmss) {
  Sender s;
  s.ack({blk(500, 600), blk(700, 800), blk(900, 1000), blk(5000, 9000)});
  // Lost ([0, 500) has 4 ranges above) and capped by the next SACKed range.
  expect_seg(s.sb.next_seg(s.una, s.max, 0, kDupThresh, 1460), SackNext::Kind::kRetransmit, 0, 500, 1);
  s.sb.set_high_rxt(at(1000));
  // [1000, 5000): 4000 octets SACKed above, lost; capped by SMSS.
  expect_seg(s.sb.next_seg(s.una, s.max, 0, kDupThresh, 1460), SackNext::Kind::kRetransmit, 1000, 1460, 1);
  // Rescue: the top gap [9000, 10000), smaller than SMSS.
  s.sb.set_high_rxt(at(9000));
  expect_seg(s.sb.next_seg(s.una, s.max, 0, kDupThresh, 1460), SackNext::Kind::kRescue, 9000, 1000, 4);
  // With the top SACKed, the rescue takes the end of the highest gap below it.
  s.ack({blk(9000, 10000)});
  s.sb.set_high_rxt(at(10000));
  expect_seg(s.next(0), SackNext::Kind::kRescue, 4000, 1000, 4);
}

TEST(SackScoreboard, RenegingEmptiesTheBoard) {
  Sender s;
  s.ack({blk(2000, 3000), blk(5000, 6000)});
  // SEG.ACK stops inside SACKed data: the receiver dropped some of it.
  SackUpdate u = s.ack_to(2500, {blk(5000, 6000)});
  EXPECT_TRUE(u.reneged);
  EXPECT_EQ(s.ranges(), (Rel{{5000, 6000}}));  // this ACK's blocks still count
  EXPECT_EQ(u.newly_sacked, 1000u);
  // At a SACKed range's left edge is the same: that octet was held.
  u = s.ack_to(5000);
  EXPECT_TRUE(u.reneged);
  EXPECT_TRUE(s.sb.empty());
}

TEST(SackScoreboard, ClearForgetsEverythingForAnRto) {
  Sender s;
  s.ack({blk(2000, 3000), blk(4000, 6000), blk(7000, 8000)});
  s.sb.start_recovery(at(1000));
  s.sb.clear();
  EXPECT_TRUE(s.sb.empty());
  EXPECT_EQ(s.sb.sacked_bytes(), 0u);
  EXPECT_EQ(s.sb.high_rxt(), std::nullopt);
  EXPECT_EQ(s.sb.rescue_rxt(), std::nullopt);
  EXPECT_FALSE(s.sb.is_sacked(at(2500)));
  EXPECT_EQ(s.pipe(), 10000u);
  // Nothing SACKed: only a rescue of the tail remains possible.
  expect_seg(s.next(0), SackNext::Kind::kRescue, 9000, 1000, 4);
}

TEST(SackScoreboard, RetransmitMarksLapseOnceSndUnaPassesThem) {
  Sender s;
  s.sb.start_recovery(at(1000));
  s.ack_to(999);
  EXPECT_EQ(s.sb.high_rxt(), at(1000));
  EXPECT_EQ(s.sb.rescue_rxt(), at(1000));
  s.ack_to(1000);
  EXPECT_EQ(s.sb.high_rxt(), std::nullopt);  // nothing above SND.UNA was retransmitted
  EXPECT_EQ(s.sb.rescue_rxt(), at(1000));    // HighACK 999 is not above RescueRxt 999
  s.ack_to(1001);
  EXPECT_EQ(s.sb.rescue_rxt(), std::nullopt);
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

// idle() lets an ACK without blocks skip update(): true only while an
// update without blocks would change and report nothing.
TEST(SackScoreboardIdle, OnlyWithNothingSackedAndNoRetransmissionMark) {
  Sender s;
  EXPECT_TRUE(s.sb.idle());
  s.ack({blk(2000, 3000)});
  EXPECT_FALSE(s.sb.idle());
  s.ack_to(3000);  // the cumulative ACK covers the block
  EXPECT_TRUE(s.sb.empty());
  EXPECT_TRUE(s.sb.idle());
  s.sb.set_high_rxt(at(4000));
  EXPECT_TRUE(s.sb.empty());
  EXPECT_FALSE(s.sb.idle());  // HighRxt above SND.UNA: the next update may clear it
  s.ack_to(5000);
  EXPECT_TRUE(s.sb.idle());
}

}  // namespace
}  // namespace tern
