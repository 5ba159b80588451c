// The transmit log (lib/tcp/tx_log.{h,cc}) on its own: time order, batches,
// retransmissions carved out of older records, the bounded merge, release,
// the per-ACK walk, send times that wrap; then the engine's use of it
// (lib/tcp/tcp_tx_log.cc) on scripted segments: what the send path records,
// the delivery state it snapshots (draft-cheng-iccrg-delivery-rate-
// estimation §3), and a dry pool.
#include "tcp/tx_log.h"

#include <vector>

#include "sack_script.h"

namespace tern::tcptest {
namespace {

constexpr Seq32 kBase{0xfffff000u};  // ranges that wrap sequence space

TxRecord rec(std::uint32_t from, std::uint32_t to, std::uint32_t sent_us, std::uint32_t delivered = 0) {
  TxRecord r;
  r.start = kBase + from;
  r.end = kBase + to;
  r.sent_us = sent_us;
  r.delivered = delivered;
  return r;
}

struct Range {
  std::uint32_t from, to, sent_us;
  bool operator==(const Range&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Range& r) {
  return os << "[" << r.from << "," << r.to << ")@" << r.sent_us;
}

std::vector<Range> ranges(const TxLog& l) {
  std::vector<Range> v;
  for (std::size_t i = 0; i < l.size(); ++i) {
    const TxRecord& r = l.at(i);
    v.push_back(Range{static_cast<std::uint32_t>(r.start - kBase), static_cast<std::uint32_t>(r.end - kBase),
                      r.sent_us});
  }
  return v;
}

// Sends new data [from, to) at t; SND.MAX is `to` after.
void send_new(TxLog& l, std::uint32_t from, std::uint32_t to, std::uint32_t t, Seq32 una = kBase) {
  l.record(rec(from, to, t), una, kBase + from, {});
}

TEST(TxLog, BatchesAtOneTimeExtendTheNewestRecord) {
  TxLog l;
  send_new(l, 0, 1000, 10);
  send_new(l, 1000, 2000, 10);  // same output() batch
  send_new(l, 2000, 3000, 20);  // next batch
  EXPECT_EQ(ranges(l), (std::vector<Range>{{0, 2000, 10}, {2000, 3000, 20}}));
  TxRecord other = rec(3000, 4000, 20, /*delivered=*/5);  // an ACK came between: another snapshot
  l.record(other, kBase, kBase + 3000, {});
  EXPECT_EQ(l.size(), 3u);
}

// record()'s new-data case (inline) makes room before it tries the merge,
// as the log always did: a full log frees a record even for new data that
// then extends the newest one.
TEST(TxLog, NewDataIntoAFullLogMakesRoomBeforeExtendingTheNewest) {
  TxLog l;
  for (std::uint32_t i = 0; i < TxLog::kCapacity; ++i) send_new(l, i * 100, (i + 1) * 100, i);
  ASSERT_EQ(l.size(), TxLog::kCapacity);
  const std::uint32_t end = TxLog::kCapacity * 100;
  send_new(l, end, end + 100, TxLog::kCapacity - 1);  // the newest's send time and snapshot
  EXPECT_EQ(l.merges(), 1u);
  EXPECT_EQ(l.size(), TxLog::kCapacity - 1);
  EXPECT_EQ(ranges(l).back(), (Range{end - 100, end + 100, TxLog::kCapacity - 1}));
}

// A retransmission is logged as the newest record and carved out of the
// older one, which keeps its place in time order: each octet has one record,
// its latest transmission (what RFC 8985 §6.2 compares).
TEST(TxLog, RetransmissionSplitsTheOlderRecordAndKeepsTimeOrder) {
  TxLog l;
  send_new(l, 0, 5000, 10);
  send_new(l, 5000, 8000, 20);
  l.record(rec(2000, 3000, 30), kBase, kBase + 8000, {});
  EXPECT_EQ(ranges(l),
            (std::vector<Range>{{0, 2000, 10}, {3000, 5000, 10}, {5000, 8000, 20}, {2000, 3000, 30}}));
  EXPECT_NE(l.newest().flags & kTxRetransmit, 0);
  EXPECT_EQ(l.at(0).flags & kTxRetransmit, 0);
  // Its edge: the older record is trimmed; all of it: removed.
  l.record(rec(0, 2000, 40), kBase, kBase + 8000, {});
  l.record(rec(5000, 6000, 40), kBase, kBase + 8000, {});
  EXPECT_EQ(ranges(l),
            (std::vector<Range>{
                {3000, 5000, 10}, {6000, 8000, 20}, {2000, 3000, 30}, {0, 2000, 40}, {5000, 6000, 40}}));
  // A go-back-N send reaching past SND.MAX: the old part is a retransmission,
  // the rest new data.
  TxLog g;
  send_new(g, 0, 1000, 10);
  g.record(rec(0, 1500, 20), kBase, kBase + 1000, {});
  ASSERT_EQ(ranges(g), (std::vector<Range>{{0, 1000, 20}, {1000, 1500, 20}}));
  EXPECT_NE(g.at(0).flags & kTxRetransmit, 0);
  EXPECT_EQ(g.at(1).flags & kTxRetransmit, 0);
}

// Bounded: at kCapacity records, the oldest merges into its sequence
// neighbour, taking the neighbour's (later) send time: octets look sent
// later, never earlier.
TEST(TxLog, WhenFullTheOldestMergesIntoItsSequenceNeighbour) {
  TxLog l;
  for (std::uint32_t i = 0; i < TxLog::kCapacity; ++i) send_new(l, i * 100, (i + 1) * 100, i);
  ASSERT_EQ(l.size(), TxLog::kCapacity);
  EXPECT_EQ(l.merges(), 0u);
  send_new(l, TxLog::kCapacity * 100, TxLog::kCapacity * 100 + 100, 1000);
  EXPECT_EQ(l.size(), TxLog::kCapacity);
  EXPECT_EQ(l.merges(), 1u);
  EXPECT_EQ((ranges(l)[0]), (Range{0, 200, 1}));
  EXPECT_EQ((ranges(l)[1]), (Range{200, 300, 2}));
  // Ranges stay disjoint and cover everything sent.
  std::uint32_t covered = 0;
  for (std::size_t i = 0; i < l.size(); ++i) covered += l.at(i).len();
  EXPECT_EQ(covered, (TxLog::kCapacity + 1) * 100);

  // The neighbour may be the earlier record in sequence: one batch, then
  // retransmissions from its front, leave its tail the oldest record.
  TxLog k;
  const std::uint32_t n = TxLog::kCapacity * 100;
  send_new(k, 0, n, 0);
  for (std::uint32_t i = 0; i + 1 < TxLog::kCapacity; ++i)
    k.record(rec(i * 100, i * 100 + 100, i + 1), kBase, kBase + n, {});
  ASSERT_EQ(k.size(), TxLog::kCapacity);
  ASSERT_EQ((ranges(k)[0]), (Range{n - 100, n, 0}));
  send_new(k, n, n + 100, 1000);
  EXPECT_EQ(k.merges(), 1u);
  EXPECT_EQ((ranges(k).at(k.size() - 2)), (Range{n - 200, n, TxLog::kCapacity - 1}));
  EXPECT_EQ((ranges(k).back()), (Range{n, n + 100, 1000}));
}

// Fills the log to kCapacity with 100-octet batches after what it holds,
// one per microsecond from t; SND.MAX is `from` when called.
void fill(TxLog& l, std::uint32_t from, std::uint32_t t) {
  while (l.size() < TxLog::kCapacity) {
    send_new(l, from, from + 100, t++);
    from += 100;
  }
}

bool lost(const TxRecord& r) { return (r.flags & kTxLost) != 0; }

// The union of a merge carries kTxLost for all its undelivered octets or
// none. A RACK-lost record merged into a neighbour whose undelivered octets
// were not lost used to take the neighbour's flag: its lost octets were
// back in flight, RACK marked them lost again later and counted them again
// as newly lost, BBR's loss input (session 26: in a long recovery with a
// full log, at every send). With a delivered neighbour the union is exact.
TEST(TxLog, AMergeKeepsLostOctetsLost) {
  const auto nothing = [](const TxRecord&, std::uint32_t) {};
  TxLog a;
  send_new(a, 0, 1000, 0);
  send_new(a, 1000, 1100, 1);
  fill(a, 1100, 2);
  a.at(0).flags |= kTxLost;
  std::vector<SackRange> board{{kBase + 1000, kBase + 1100}};
  a.on_ack(kBase, board, board, nothing);
  ASSERT_TRUE(a.at(1).fully_acked());
  send_new(a, TxLog::kCapacity * 100 + 900, TxLog::kCapacity * 100 + 1000, 1000);
  ASSERT_EQ(a.merges(), 1u);
  EXPECT_EQ((ranges(a)[0]), (Range{0, 1100, 1}));
  EXPECT_TRUE(lost(a.at(0)));
  EXPECT_EQ(a.at(0).acked, 100u);
}

// A merge never mixes lost and in-flight undelivered octets while two
// sequence neighbours agree somewhere in the log: when the oldest record's
// neighbour is in the other state, the oldest agreeing pair merges instead
// (session 27 counted 0-43 mixed merges per 10 s simulator run of BBR at
// 10 ms / 1 %, each misstating about one segment; the majority rule of
// session 26 had put the minority in the wrong state).
TEST(TxLog, AMergeNeverMixesLostAndInFlightOctets) {
  // The oldest lost, its neighbour in flight: 1000 lost octets against 100
  // in flight, merged as lost before; now the next pair in flight merges,
  // here before a retransmission of the lost record's head is logged.
  TxLog b;
  send_new(b, 0, 1000, 0);
  fill(b, 1000, 1);
  b.at(0).flags |= kTxLost;
  b.record(rec(0, 100, 500), kBase, kBase + TxLog::kCapacity * 100 + 900, {});
  ASSERT_EQ(b.merges(), 1u);
  EXPECT_EQ((ranges(b)[0]), (Range{100, 1000, 0}));  // less the retransmission
  EXPECT_TRUE(lost(b.at(0)));
  EXPECT_EQ((ranges(b)[1]), (Range{1000, 1200, 2}));  // [1000, 1100)@1 and [1100, 1200)@2
  EXPECT_FALSE(lost(b.at(1)));
  EXPECT_NE(b.at(1).flags & kTxMerged, 0);
  EXPECT_EQ((ranges(b).back()), (Range{0, 100, 500}));
  // The other way round (1000 octets in flight, the neighbour's 100 lost):
  // merged as in flight before, the 100 lost octets marked and counted
  // lost again. Now [1100, 1200)@2 and [1200, 1300)@3 merge.
  TxLog c;
  send_new(c, 0, 1000, 0);
  fill(c, 1000, 1);
  c.at(1).flags |= kTxLost;
  send_new(c, TxLog::kCapacity * 100 + 900, TxLog::kCapacity * 100 + 1000, 1000);
  ASSERT_EQ(c.merges(), 1u);
  ASSERT_EQ(c.size(), TxLog::kCapacity);
  EXPECT_EQ((ranges(c)[0]), (Range{0, 1000, 0}));
  EXPECT_FALSE(lost(c.at(0)));
  EXPECT_EQ((ranges(c)[1]), (Range{1000, 1100, 1}));
  EXPECT_TRUE(lost(c.at(1)));
  EXPECT_EQ((ranges(c)[2]), (Range{1100, 1300, 3}));
  EXPECT_FALSE(lost(c.at(2)));
  // Time order, disjoint ranges, every octet once; no union mixes.
  std::uint32_t covered = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    covered += c.at(i).len();
    if (i > 0) {
      EXPECT_LT(c.at(i - 1).sent_us, c.at(i).sent_us) << i;
    }
  }
  EXPECT_EQ(covered, TxLog::kCapacity * 100 + 1000);

  // Only when no two neighbours agree (lost and in flight alternate
  // through the whole log) does the oldest merge as before, into the
  // neighbour that misstates fewer octets, the union taking the state of
  // most of its undelivered octets.
  TxLog d;
  send_new(d, 0, 1000, 0);
  fill(d, 1000, 1);
  for (std::size_t i = 0; i < d.size(); i += 2) d.at(i).flags |= kTxLost;
  d.record(rec(TxLog::kCapacity * 100 + 900, TxLog::kCapacity * 100 + 1000, 1000), kBase,
           kBase + TxLog::kCapacity * 100 + 900, {});
  ASSERT_EQ(d.merges(), 1u);
  EXPECT_EQ((ranges(d)[0]), (Range{0, 1100, 1}));
  EXPECT_TRUE(lost(d.at(0)));
}

// RACK's walk splits record i with a live index (tcp_rack.cc): a full log
// first frees a record, which is no longer always the oldest, and i must
// still name the record it named, never the one freed.
TEST(TxLog, SplitFollowsItsRecordWhateverMergeMakesRoom) {
  // The freed record lies after i in time: lost and in flight alternate
  // but for the newest pair, both lost.
  TxLog l;
  send_new(l, 0, 100, 0);
  send_new(l, 100, 600, 1);
  fill(l, 600, 2);
  for (std::size_t i = 0; i < l.size(); i += 2) l.at(i).flags |= kTxLost;
  l.at(l.size() - 1).flags |= kTxLost;  // the newest two lost: the one pair that agrees
  const std::uint32_t n = static_cast<std::uint32_t>(TxLog::kCapacity - 2) * 100 + 600;
  ASSERT_EQ((ranges(l).back()), (Range{n - 100, n, TxLog::kCapacity - 1}));
  std::size_t i = 1;
  ASSERT_TRUE(l.split(i, kBase + 300, kBase, {}));
  EXPECT_EQ(i, 1u);
  EXPECT_EQ((ranges(l)[0]), (Range{0, 100, 0}));
  EXPECT_TRUE(lost(l.at(0)));
  EXPECT_EQ((ranges(l)[1]), (Range{100, 300, 1}));
  EXPECT_EQ((ranges(l)[2]), (Range{300, 600, 1}));
  EXPECT_EQ((ranges(l).back()), (Range{n - 200, n, TxLog::kCapacity - 1}));
  EXPECT_EQ(l.size(), TxLog::kCapacity);

  // The freed record lies before i: i moves down with it.
  TxLog m;
  send_new(m, 0, 100, 0);
  send_new(m, 100, 200, 1);
  send_new(m, 200, 300, 2);
  send_new(m, 300, 800, 3);
  fill(m, 800, 4);
  m.at(0).flags |= kTxLost;  // its neighbour in flight: [100, 200) and [200, 300) merge
  i = 3;
  ASSERT_TRUE(m.split(i, kBase + 500, kBase, {}));
  EXPECT_EQ(i, 2u);
  EXPECT_EQ((ranges(m)[1]), (Range{100, 300, 2}));
  EXPECT_EQ((ranges(m)[2]), (Range{300, 500, 3}));
  EXPECT_EQ((ranges(m)[3]), (Range{500, 800, 3}));
  EXPECT_TRUE(lost(m.at(0)));

  // Record i is the oldest: another pair merges (it failed before).
  TxLog o;
  send_new(o, 0, 500, 0);
  fill(o, 500, 1);
  i = 0;
  ASSERT_TRUE(o.split(i, kBase + 200, kBase, {}));
  EXPECT_EQ(i, 0u);
  EXPECT_EQ((ranges(o)[0]), (Range{0, 200, 0}));
  EXPECT_EQ((ranges(o)[1]), (Range{200, 500, 0}));
  EXPECT_EQ((ranges(o)[2]), (Range{500, 700, 2}));
}

// Of two neighbours, the one that misstates fewer octets takes the merge,
// even when it is the later one in time.
TEST(TxLog, AMergePrefersTheNeighbourThatAgrees) {
  TxLog l;
  send_new(l, 0, 1100, 0);
  l.record(rec(0, 1000, 1), kBase, kBase + 1100, {});  // [1000, 1100)@0 is now the oldest
  send_new(l, 1100, 1200, 2);
  fill(l, 1200, 3);
  ASSERT_EQ((ranges(l)[0]), (Range{1000, 1100, 0}));
  ASSERT_EQ((ranges(l)[1]), (Range{0, 1000, 1}));
  l.at(0).flags |= kTxLost;
  std::vector<SackRange> board{{kBase + 1100, kBase + 1200}};
  l.on_ack(kBase, board, board, [](const TxRecord&, std::uint32_t) {});
  send_new(l, TxLog::kCapacity * 100 + 900, TxLog::kCapacity * 100 + 1000, 1000);
  ASSERT_EQ(l.merges(), 1u);
  // Not [0, 1000)@1, in flight: the SACKed [1100, 1200)@2.
  EXPECT_EQ((ranges(l)[0]), (Range{0, 1000, 1}));
  EXPECT_FALSE(lost(l.at(0)));
  EXPECT_EQ((ranges(l)[1]), (Range{1000, 1200, 2}));
  EXPECT_TRUE(lost(l.at(1)));
}

TEST(TxLog, ReleaseDropsWhatSndUnaCoversEvenBehindANewerRecord) {
  TxLog l;
  send_new(l, 0, 1000, 10);
  send_new(l, 1000, 2000, 20);
  l.record(rec(1500, 2000, 30), kBase, kBase + 2000, {});
  l.release(kBase + 999);
  EXPECT_EQ(l.size(), 3u);  // [0, 1000) is not wholly below
  l.release(kBase + 1000);
  EXPECT_EQ(ranges(l), (std::vector<Range>{{1000, 1500, 20}, {1500, 2000, 30}}));
  l.release(kBase + 2000);
  EXPECT_TRUE(l.empty());
}

// The per-ACK walk hands on exactly the records whose delivered octets
// grew, oldest first, with how many; SACK blocks repeated by later ACKs
// hand nothing on again.
TEST(TxLog, TheWalkVisitsNewlyDeliveredRecordsOnceInTimeOrder) {
  TxLog l;
  send_new(l, 0, 1000, 10);
  send_new(l, 1000, 2000, 20);
  send_new(l, 2000, 3000, 30);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> seen;  // sent_us, newly
  auto visit = [&](const TxRecord& r, std::uint32_t n) { seen.emplace_back(r.sent_us, n); };
  std::vector<SackRange> board{{kBase + 2000, kBase + 2500}};
  l.on_ack(kBase, board, board, visit);
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{30, 500}}));
  seen.clear();
  l.on_ack(kBase, board, board, visit);  // the same block again
  EXPECT_TRUE(seen.empty());
  board = {{kBase + 1500, kBase + 2500}};
  std::vector<SackRange> blocks{{kBase + 1500, kBase + 2000}};
  l.on_ack(kBase + 500, board, blocks, visit);  // cumulative 500 and a new block
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{10, 500}, {20, 500}}));
  seen.clear();
  l.on_ack(kBase + 2500, {}, {}, visit);  // SACKed octets cumulatively ACKed are not new
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{10, 500}, {20, 500}}));
  EXPECT_EQ(ranges(l), (std::vector<Range>{{2000, 3000, 30}}));
}

// Until a retransmission the records are in sequence order too, and a
// cumulative ACK's walk stops at the first record above SND.UNA; after one,
// a retransmitted record newer than higher ones is still found, and the
// order flag comes back only when the log is cleared (lent again).
TEST(TxLog, SequenceOrderLastsUntilARetransmissionAndTheWalkStillFindsIt) {
  TxLog l;
  send_new(l, 0, 1000, 10);
  send_new(l, 1000, 2000, 20);
  send_new(l, 2000, 3000, 30);
  EXPECT_TRUE(l.seq_ordered());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> seen;  // sent_us, newly
  auto visit = [&](const TxRecord& r, std::uint32_t n) { seen.emplace_back(r.sent_us, n); };
  l.on_ack(kBase + 1500, {}, {}, visit);
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{10, 1000}, {20, 500}}));
  EXPECT_EQ(ranges(l), (std::vector<Range>{{1000, 2000, 20}, {2000, 3000, 30}}));

  l.record(rec(1500, 2000, 40), kBase + 1500, kBase + 3000, {});  // a retransmission
  EXPECT_FALSE(l.seq_ordered());
  EXPECT_EQ(ranges(l), (std::vector<Range>{{1000, 1500, 20}, {2000, 3000, 30}, {1500, 2000, 40}}));
  seen.clear();
  l.on_ack(kBase + 2000, {}, {}, visit);  // covers the newest record, behind a higher one
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{40, 500}}));
  EXPECT_EQ(ranges(l), (std::vector<Range>{{2000, 3000, 30}}));
  l.clear();
  EXPECT_TRUE(l.seq_ordered());
  EXPECT_FALSE(l.may_hold_lost());
}

// fast_ack's walk (on_cumulative_ack; in sequence order its
// on_cumulative_ack_ordered, which fast_ack calls) against on_ack without blocks on
// the same log and ACKs: the same visits (record, newly delivered octets),
// the same records left with the same delivered counts. ACKs inside a
// record, on a boundary, over several records and repeated; then after a
// retransmission (the log out of sequence order, where it is on_ack).
TEST(TxLog, TheCumulativeWalkIsOnAckWithoutBlocks) {
  using Seen = std::vector<std::pair<std::uint32_t, std::uint32_t>>;  // sent_us, newly
  TxLog a, b;
  for (TxLog* l : {&a, &b}) {
    send_new(*l, 0, 1000, 10);
    send_new(*l, 1000, 2000, 20);
    send_new(*l, 2000, 2500, 30);
    send_new(*l, 2500, 4000, 40);
  }
  auto acked = [](const TxLog& l) {
    std::vector<std::uint32_t> v;
    for (std::size_t i = 0; i < l.size(); ++i) v.push_back(l.at(i).acked);
    return v;
  };
  auto step = [&](std::uint32_t una) {
    Seen sa, sb;
    a.on_ack(kBase + una, {}, {}, [&](const TxRecord& r, std::uint32_t n) { sa.emplace_back(r.sent_us, n); });
    b.on_cumulative_ack(kBase + una,
                        [&](const TxRecord& r, std::uint32_t n) { sb.emplace_back(r.sent_us, n); });
    EXPECT_EQ(sa, sb) << "ACK of " << una;
    EXPECT_EQ(ranges(a), ranges(b)) << "ACK of " << una;
    EXPECT_EQ(acked(a), acked(b)) << "ACK of " << una;
    return sb;
  };
  EXPECT_EQ(step(300), (Seen{{10, 300}}));                          // inside the first record
  EXPECT_EQ(step(300), Seen{});                                     // the same ACK again
  EXPECT_EQ(step(1000), (Seen{{10, 700}}));                         // on a boundary: released
  EXPECT_EQ(step(2700), (Seen{{20, 1000}, {30, 500}, {40, 200}}));  // over three records
  EXPECT_EQ(ranges(b), (std::vector<Range>{{2500, 4000, 40}}));
  for (TxLog* l : {&a, &b}) {
    send_new(*l, 4000, 5000, 50);
    l->record(rec(3000, 3500, 60), kBase + 2700, kBase + 5000, {});  // a retransmission
    EXPECT_FALSE(l->seq_ordered());
  }
  EXPECT_EQ(step(3500), (Seen{{40, 300}, {60, 500}}));
  EXPECT_EQ(step(5000), (Seen{{40, 500}, {50, 1000}}));
  EXPECT_TRUE(b.empty());
}

// Send times are microseconds mod 2^32 (some 71 minutes): compared by
// signed difference, 0x00000010 is after 0xfffffff0.
TEST(TxLog, SendTimesCompareAcrossTheWrap) {
  EXPECT_TRUE(us_after(0x10u, 0xfffffff0u));
  EXPECT_FALSE(us_after(0xfffffff0u, 0x10u));
  EXPECT_FALSE(us_after(5u, 5u));
  TxLog l;
  send_new(l, 0, 1000, 0xfffffff0u);
  send_new(l, 1000, 2000, 0x10u);
  EXPECT_EQ(ranges(l), (std::vector<Range>{{0, 1000, 0xfffffff0u}, {1000, 2000, 0x10u}}));
  EXPECT_TRUE(us_after(l.at(1).sent_us, l.at(0).sent_us));
}

// ---- the engine --------------------------------------------------------------

constexpr std::uint32_t kMss = 1460;

class TxLogEngine : public SackScript {
 protected:
  // SRTT is 0 on these connections: the probe timeout's floor (2 ms by
  // default) would fire inside the scripts, which are about the log.
  TxLogEngine() { cfg().tlp_min = Duration::ms(10); }
  Tcb* open_sack() {
    Tcb* c = establish_active(seg().mss(1460).sack_perm());
    if (c == nullptr) return nullptr;
    stack().set_nodelay(*c, true, now());
    return c;
  }
};

// One output() batch is one record, stamped with the send time and the
// delivery state (draft-cheng §3.2: an empty pipe starts the interval, so
// first_sent_us = delivered_us = now); the next ACK's walk delivers it and
// the log goes back to the pool once nothing is in flight.
TEST_F(TxLogEngine, SendPathRecordsBatchesAndAcksDeliverThem) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->txlog, nullptr);  // lent only while data is in flight
  const std::uint32_t delivered0 = c->delivered;
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * kMss), at_ms(10)), 4 * kMss);
  take_all_sent();
  ASSERT_NE(c->txlog, nullptr);
  ASSERT_EQ(c->txlog->size(), 1u);
  const TxRecord r = c->txlog->at(0);
  EXPECT_EQ(r.start, S(1));
  EXPECT_EQ(r.end, S(5));
  EXPECT_EQ(r.sent_us, 10'000u);
  EXPECT_EQ(r.delivered_us, 10'000u);
  EXPECT_EQ(r.first_sent_us, 10'000u);
  EXPECT_EQ(r.delivered, delivered0);

  // S4 SACKed at 12 ms: delivered grows, the record is handed on. RACK
  // (tcp_rack.cc) then finds S1..S3 lost (sent in the same batch below the
  // octets delivered, and reo_wnd is 0: SRTT is 0 here) and resends S1 at
  // once: the retransmission is a record of its own, flagged, newest, with
  // the snapshot taken after this ACK.
  recv(ack_with(S(1), {{S(4), S(5)}}), at_ms(12));
  EXPECT_EQ(c->delivered, delivered0 + kMss);
  EXPECT_EQ(c->delivered_us, 12'000u);
  EXPECT_EQ(c->txlog->at(0).acked, kMss);
  expect_sent(seg().seq(S(1)).data(kMss));
  expect_sent(seg().seq(S(2)).data(kMss));  // PRR's room: one record with S1's resend
  EXPECT_NE(c->txlog->newest().flags & kTxRetransmit, 0);
  EXPECT_EQ(c->txlog->newest().start, S(1));
  EXPECT_EQ(c->txlog->newest().sent_us, 12'000u);
  EXPECT_EQ(c->txlog->newest().delivered, delivered0 + kMss);  // the snapshot
  EXPECT_EQ(c->txlog->newest().end, S(3));
  EXPECT_EQ(c->txlog->at(0).start, S(3));  // carved out of the batch

  recv(ack_with(S(5)), at_ms(14));  // before the probe timeout
  EXPECT_EQ(c->delivered, delivered0 + 4 * kMss);
  EXPECT_EQ(c->first_sent_us, 12'000u);  // the most recently sent record delivered
  EXPECT_EQ(c->txlog, nullptr);          // nothing in flight: back to the pool
  EXPECT_EQ(count(Counter::kTCPTxLogUnavailable), 0u);
}

// RTT samples come from the log's send time, in microseconds, where TSecr
// counts milliseconds (RFC 7323 §4.1's clock here is 1 ms): an ACK 350 us
// after the data gives a 350 us sample, not 0 (RFC 6298 §2.3: SRTT = 7/8 *
// 0 from the handshake + 1/8 * 350 us). Karn (RFC 6298 §3): when the newest
// batch an ACK delivers is a retransmission there is no sample, and TSecr
// is not asked instead: after a spurious timeout the receiver echoes the
// original's TSval (RFC 7323 §4.3), which would time the lost ACKs and the
// whole RTO. The backed-off RTO stays until new data is timed.
TEST_F(TxLogEngine, RttSamplesAreMicrosecondsFromTheLogAndNoneForARetransmission) {
  Tcb* c = establish_active(seg().mss(1460).sack_perm().ts(7000, 0));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->ts_ok);
  stack().set_nodelay(*c, true, now());
  EXPECT_EQ(c->rto.srtt(), Duration{});  // the handshake's sample: 0 ms
  const std::uint32_t mss = c->mss;      // 1448: timestamps take 12 bytes
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * mss), at_ms(10)), 2 * mss);
  EXPECT_EQ(take_all_sent().size(), 2u);
  const std::uint32_t echo = our_tsval(*c);
  recv(seg().seq(irs() + 1).ack(iss() + 1 + 2 * mss).ts(7001, echo), at_ms(10) + Duration::us(350));
  const Duration srtt = Duration::ns(350'000 / 8);
  EXPECT_EQ(c->rto.srtt(), srtt);

  // One segment again, resent by the RTO (its 200 ms floor; the probe,
  // which adds 200 ms for a lone segment, comes later). The data had
  // arrived and its ACK was lost: the ACK of the resend echoes the
  // original's TSval, 203 ms before it. No sample, and the RTO stays backed
  // off.
  const Seq32 s3 = iss() + 1 + 2 * mss;
  ASSERT_EQ(stack().send_copy(*c, pattern(mss), at_ms(20)), mss);
  EXPECT_EQ(take_all_sent().size(), 1u);
  const std::uint32_t original = our_tsval(*c);
  const Duration rto = c->rto.rto();
  advance_to(at_ms(20) + rto);
  expect_sent(seg().seq(s3).data(mss));
  EXPECT_EQ(c->rto.rto(), rto * 2);
  recv(seg().seq(irs() + 1).ack(s3 + mss).ts(7002, original), now() + Duration::ms(3));
  EXPECT_EQ(c->rto.srtt(), srtt);
  EXPECT_EQ(c->rto.rto(), rto * 2);

  // New data, timed from the log: a 500 us sample, and the backoff ends.
  const Instant t = now() + Duration::ms(1);
  ASSERT_EQ(stack().send_copy(*c, pattern(mss), t), mss);
  EXPECT_EQ(take_all_sent().size(), 1u);
  recv(seg().seq(irs() + 1).ack(s3 + 2 * mss).ts(7003, our_tsval(*c)), t + Duration::us(500));
  EXPECT_EQ(c->rto.srtt(), srtt * 7 / 8 + Duration::us(500) / 8);
  EXPECT_EQ(c->rto.rto(), rto);
}

// An ACK that covers several batches is timed from the newest of them
// (RACK's RTT, RFC 8985 §6.2 step 2): a receiver that ACKs once per read,
// or an ACK lost before it, holds the oldest octets for longer than the
// path takes, and SRTT from them would stretch the probe timeout
// (2 * SRTT) by what the receiver held. Batch A leaves at 10 ms, batch B at
// 11 ms; one ACK for both at 11.2 ms is a 200 us sample, not 1.2 ms.
TEST_F(TxLogEngine, AnAckOverSeveralBatchesIsTimedFromTheNewest) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rto.srtt(), Duration{});  // the handshake's sample: 0 ms
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * kMss), at_ms(10)), 2 * kMss);
  EXPECT_EQ(take_all_sent().size(), 2u);
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * kMss), at_ms(11)), 2 * kMss);
  EXPECT_EQ(take_all_sent().size(), 2u);
  ASSERT_NE(c->txlog, nullptr);
  EXPECT_EQ(c->txlog->size(), 2u);
  recv(ack_with(S(5)), at_ms(11) + Duration::us(200));
  EXPECT_EQ(c->rto.srtt(), Duration::us(200) / 8);
}

// Karn (RFC 6298 §3) still holds: when the newest batch an ACK covers is a
// retransmission, the log gives no sample, however old its other octets.
TEST_F(TxLogEngine, AnAckWhoseNewestBatchIsARetransmissionIsNotTimedFromTheLog) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(kMss), at_ms(10)), kMss);
  take_all_sent();
  advance_to(at_ms(10) + c->rto.rto());  // the RTO resends it
  expect_sent(seg().seq(S(1)).data(kMss));
  const Duration before = c->rto.srtt();
  recv(ack_with(S(2)), now() + Duration::ms(3));
  EXPECT_EQ(c->rto.srtt(), before);  // no timestamps here: no sample at all
}

// While a flight holds a log its scoreboard keeps its ranges in the log's
// room (SackScoreboard::kLentRanges), and the SACKed octets go back inline
// with it when the flight is over.
TEST_F(TxLogEngine, TheScoreboardUsesTheLogsRoomWhileTheLogIsLent) {
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->sb.capacity(), SackScoreboard::kMaxRanges);
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * kMss), at_ms(10)), 4 * kMss);
  take_all_sent();
  ASSERT_NE(c->txlog, nullptr);
  EXPECT_EQ(c->sb.capacity(), SackScoreboard::kLentRanges);
  recv(ack_with(S(2), {{S(3), S(4)}}), at_ms(11));
  EXPECT_EQ(c->sb.ranges().size(), 1u);
  take_all_sent();
  recv(ack_with(S(5)), at_ms(12));
  EXPECT_EQ(c->txlog, nullptr);
  EXPECT_EQ(c->sb.capacity(), SackScoreboard::kMaxRanges);
  EXPECT_TRUE(c->sb.empty());
  EXPECT_EQ(count(Counter::kTCPSACKOverflow), 0u);
}

// With the pool dry a flight runs without a log, counted once per flight;
// the transfer itself is unaffected.
TEST_F(TxLogEngine, DryPoolRunsWithoutALogAndCountsIt) {
  options_.tx_logs = 0;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * kMss), at_ms(10)), 2 * kMss);
  EXPECT_EQ(take_all_sent().size(), 2u);
  EXPECT_EQ(c->txlog, nullptr);
  EXPECT_EQ(count(Counter::kTCPTxLogUnavailable), 1u);
  recv(ack_with(S(3)), at_ms(15));  // before the probe timeout
  EXPECT_EQ(c->snd_una, S(3));
  stack().send_copy(*c, pattern(kMss), at_ms(30));
  EXPECT_EQ(take_all_sent().size(), 1u);
  EXPECT_EQ(count(Counter::kTCPTxLogUnavailable), 2u);
}

// With the pool dry, a FIN sent behind data in flight has no log record,
// like that data, and is alone once the data's ACK comes: from there it is
// treated as a bare FIN is (tcp_sack.cc, sack_on_ack: duplicates start no
// recovery, which would resend nothing, a FIN carrying no queued bytes,
// and cut cwnd for it), and its timers resend it.
TEST_F(TxLogEngine, DryPoolFinLeftAloneIsResentByItsTimers) {
  options_.tx_logs = 0;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * kMss), at_ms(10)), 2 * kMss);
  stack().close(*c, at_ms(10) + Duration::us(100));
  std::vector<Sent> sent = take_all_sent();
  ASSERT_FALSE(sent.empty());
  EXPECT_NE(sent.back().flags & kTcpFin, 0);
  EXPECT_EQ(c->txlog, nullptr);
  recv(ack_with(S(3)), at_ms(11));  // the data, not the FIN
  take_all_sent();
  ASSERT_EQ(c->snd_una, S(3));
  for (int i = 0; i < 3; ++i) recv(ack_with(S(3)), at_ms(11) + Duration::us(10 * (i + 1)));
  EXPECT_TRUE(take_all_sent().empty());
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 0u);
  EXPECT_FALSE(c->sack_recovery);
  ASSERT_TRUE(run_until_sent(at_ms(2000)).has_value());
  sent = take_all_sent();
  ASSERT_FALSE(sent.empty());
  EXPECT_NE(sent.front().flags & kTcpFin, 0);
  EXPECT_EQ(sent.front().seq, S(3));
}

// A log goes back to the pool cleared (return_tx_log), and is lent as it
// is (borrow_tx_log): with one log in the pool, a flight that retransmitted
// (the log out of sequence order) and had RACK mark a loss hands the next
// flight the same log with none of it: one record, in sequence order,
// nothing marked lost or merged. Fails with return_tx_log's clear left out.
TEST_F(TxLogEngine, TheNextFlightBorrowsTheLogCleared) {
  options_.tx_logs = 1;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * kMss), at_ms(10)), 2 * kMss);
  take_all_sent();
  TxLog* const log = c->txlog;
  ASSERT_NE(log, nullptr);
  // S2 SACKed: RACK finds S1 lost (SRTT 0, reo_wnd 0) and resends it.
  recv(ack_with(S(1), {{S(2), S(3)}}), at_ms(12));
  expect_sent(seg().seq(S(1)).data(kMss));
  ASSERT_NE(c->txlog, nullptr);
  EXPECT_FALSE(c->txlog->seq_ordered());
  EXPECT_TRUE(c->txlog->may_hold_lost());
  recv(ack_with(S(3)), at_ms(13));
  EXPECT_EQ(c->txlog, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(kMss), at_ms(30)), kMss);
  take_all_sent();
  ASSERT_EQ(c->txlog, log);
  EXPECT_EQ(log->size(), 1u);
  EXPECT_EQ(log->at(0).start, S(3));
  EXPECT_TRUE(log->seq_ordered());
  EXPECT_FALSE(log->may_hold_lost());
  EXPECT_EQ(log->merges(), 0u);
  EXPECT_EQ(count(Counter::kTCPTxLogUnavailable), 0u);
}

// The same when the log goes back with SACKed ranges still on the
// scoreboard (the connection aborted mid-flight: return_tx_log_sacked): the
// next connection to borrow it finds it clear.
TEST_F(TxLogEngine, ALogReturnedWithSackedRangesIsLentCleared) {
  options_.tx_logs = 1;
  Tcb* c = open_sack();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * kMss), at_ms(10)), 4 * kMss);
  take_all_sent();
  TxLog* const log = c->txlog;
  ASSERT_NE(log, nullptr);
  recv(ack_with(S(1), {{S(4), S(5)}}), at_ms(12));  // RACK resends: out of sequence order
  take_all_sent();
  ASSERT_EQ(c->txlog, log);
  EXPECT_FALSE(log->seq_ordered());
  EXPECT_FALSE(c->sb.empty());
  stack().abort(*c, at_ms(13));
  stack().close(*c, at_ms(13));
  take_all_sent();
  Tcb* d = open_sack();
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(stack().send_copy(*d, pattern(kMss), at_ms(30)), kMss);
  take_all_sent();
  ASSERT_EQ(d->txlog, log);
  EXPECT_EQ(log->size(), 1u);
  EXPECT_TRUE(log->seq_ordered());
  EXPECT_FALSE(log->may_hold_lost());
  EXPECT_EQ(count(Counter::kTCPTxLogUnavailable), 0u);
}

}  // namespace
}  // namespace tern::tcptest
