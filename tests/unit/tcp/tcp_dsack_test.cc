// D-SACK as a receiver (RFC 2883 §4): the ACK that answers a duplicate
// reports it in its first SACK block, once, at once. One test per example of
// RFC 2883 §4.1 (full duplicates) and §4.2 (partial duplicates), §4.3 (PAWS),
// and the rules around them: no D-SACK without SACK, each duplicate reported
// in one ACK only, the option space shared with timestamps.
//
// The peer's sequence numbers are written as in the RFC's tables: R(3000) is
// the RFC's 3000, mapped onto this connection's receive sequence space so
// that the example's first segment starts at RCV.NXT. Segments are 500
// bytes, under our MSS, so the delayed-ACK rules do not count them as full
// (RFC 5681 §4.2): an ACK "at once" below is the D-SACK's doing, not theirs.
// Block lists are compared exactly, in the RFC's numbering.
#include <initializer_list>
#include <utility>
#include <vector>

#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

class Dsack : public TcpHarness {
 protected:
  // A probe (SRTT 0: 2 ms after data) sends RFC 8985 §7.3's one new segment
  // ([tcp] tlp_new_segments), as the scripts that send data were written for.
  Dsack() { cfg().tlp_new_segments = 1; }
  // A passive connection with SACK (and timestamps when `ts`), out of
  // quick-ACK mode, nothing unread; the RFC example's `first` sequence
  // number is RCV.NXT.
  Tcb* open(std::uint32_t first, bool sack = true, bool ts = false) {
    Seg syn = seg().mss(1460);
    if (sack) syn.sack_perm();
    if (ts) syn.ts(tsval_, 0);
    Tcb* c = establish_passive(syn);
    if (c == nullptr) return nullptr;
    EXPECT_EQ(c->sack_ok, sack);
    EXPECT_EQ(c->ts_ok, ts);
    ts_ = ts;
    leave_quickack_mode(irs() + 1, iss() + 1);
    advance_by(cfg().delayed_ack);
    take_all_sent();
    read_all(*c);
    first_ = first;
    origin_ = c->rcv_nxt;
    return c;
  }

  Seq32 R(std::uint32_t rfc) const { return origin_ + (rfc - first_); }
  std::uint32_t rfc(std::uint32_t wire) const { return (Seq32{wire} - origin_) + first_; }

  // The peer's segment [left, right) in the RFC's numbers, 1 ms after the
  // last event, with a newer TSval when timestamps are on (or `tsval`).
  void arrive(std::uint32_t left, std::uint32_t right, std::optional<std::uint32_t> tsval = std::nullopt) {
    Seg s = seg().flags(kTcpAck | kTcpPsh).seq(R(left)).ack(iss() + 1).data(right - left, left);
    if (ts_) s.ts(tsval.value_or(++tsval_), 0);
    recv(s, now() + Duration::ms(1));
  }

  // An in-order arrival whose ACK (delayed or not) the example drops.
  void arrive_ack_dropped(std::uint32_t left, std::uint32_t right) {
    arrive(left, right);
    advance_by(cfg().delayed_ack);
    take_all_sent();
  }

  // The next segment sent is a bare ACK of `ack`, sent at once, carrying
  // exactly `blocks` in this order.
  void expect_ack(std::uint32_t ack, const Blocks& blocks,
                  std::source_location loc = std::source_location::current()) {
    const Sent a = expect_sent(seg().flags(kTcpAck).ack(R(ack)).data(0), loc);
    EXPECT_EQ(a.at, now()) << "sent at once, not delayed; from line " << loc.line();
    EXPECT_EQ(sack_of(a), blocks) << a << "\n  from line " << loc.line();
  }

  Blocks sack_of(const Sent& s) const {
    Blocks b;
    for (const SackBlock& k : s.opts.sack_blocks()) b.emplace_back(rfc(k.left), rfc(k.right));
    return b;
  }

  std::uint32_t first_ = 0;
  Seq32 origin_;
  bool ts_ = false;
  std::uint32_t tsval_ = 1000;
};

// ---- RFC 2883 §4.1: reporting full duplicate segments -----------------------

// §4.1.1, example 1: both ACKs are lost, the sender retransmits 3000-3499;
// "4000, SACK=3000-3500", the D-SACK below the cumulative ACK.
TEST_F(Dsack, Rfc2883_4_1_1_ReportingADuplicateSegment) {
  Tcb* c = open(3000);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  arrive_ack_dropped(3500, 4000);
  arrive(3000, 3500);
  expect_ack(4000, {{3000, 3500}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
  EXPECT_EQ(count(Counter::kTCPDSACKOfoSent), 0u);
  EXPECT_EQ(read_all(*c).size(), 1000u) << "the duplicate is not delivered twice";
}

// §4.1.2, example 2: 4000-4499 is lost, 4500-4999 is held out of order, and
// the retransmitted 3000-3499 is reported ahead of the ordinary SACK block:
// "4000, SACK=3000-3500, 4500-5000".
TEST_F(Dsack, Rfc2883_4_1_2_ReportingAnOutOfOrderSegmentAndADuplicateSegment) {
  Tcb* c = open(3000);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  arrive_ack_dropped(3500, 4000);
  arrive(4500, 5000);
  expect_ack(4000, {{4500, 5000}});  // RFC 2018 only; this ACK is lost in the example
  arrive(3000, 3500);
  expect_ack(4000, {{3000, 3500}, {4500, 5000}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
}

// §4.1.3, example 3: the network duplicates the out-of-order 5000-5499; the
// D-SACK is followed by the block that holds it: "4000, SACK=5000-5500,
// 4500-5500".
TEST_F(Dsack, Rfc2883_4_1_3_ReportingADuplicateOfAnOutOfOrderSegment) {
  Tcb* c = open(3000);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  arrive_ack_dropped(3500, 4000);
  arrive(4500, 5000);
  expect_ack(4000, {{4500, 5000}});
  arrive(5000, 5500);
  expect_ack(4000, {{4500, 5500}});
  arrive(5000, 5500);
  expect_ack(4000, {{5000, 5500}, {4500, 5500}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOfoSent), 1u);
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 0u);
}

// ---- RFC 2883 §4.2: reporting partial duplicate segments --------------------

// §4.2.1, example 4: the sender's segments grow from 500 to 1000 bytes;
// 1000-1499 was only delayed, so the retransmitted 1000-1999 holds one old
// and one new half. Only the old half is reported: "2500, SACK=1000-1500".
TEST_F(Dsack, Rfc2883_4_2_1_ReportingASingleDuplicateSubsegment) {
  Tcb* c = open(500);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(500, 1000);
  arrive(2000, 2500);  // 1000-1499 delayed, 1500-1999 lost
  expect_ack(1000, {{2000, 2500}});
  arrive(1000, 1500);  // the delayed one
  expect_ack(1500, {{2000, 2500}});
  arrive(1000, 2000);
  expect_ack(2500, {{1000, 1500}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
  EXPECT_EQ(read_all(*c).size(), 2000u);
}

// §4.2.2, example 5: two non-contiguous duplicate subsegments that the
// cumulative ACK covers; only the first is reported: "2500, SACK=1000-1500,
// 3000-3500".
TEST_F(Dsack, Rfc2883_4_2_2_TwoNonContiguousDuplicateSubsegmentsCoveredByTheCumulativeAck) {
  Tcb* c = open(500);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(500, 1000);
  arrive(3000, 3500);  // 1000-1499 and 2000-2499 delayed, 1500-1999 and 2500-2999 lost
  expect_ack(1000, {{3000, 3500}});
  arrive(1000, 1500);
  expect_ack(1500, {{3000, 3500}});
  arrive(2000, 2500);
  expect_ack(1500, {{2000, 2500}, {3000, 3500}});
  arrive(1000, 2500);
  expect_ack(2500, {{1000, 1500}, {3000, 3500}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
  EXPECT_EQ(count(Counter::kTCPDSACKOfoSent), 0u);
  EXPECT_EQ(read_all(*c).size(), 2000u);
}

// §4.2.3, example 6: two non-contiguous duplicate subsegments above the
// cumulative ACK; the first is reported, then the block that now holds it:
// "1000, SACK=1500-2000, 1500-3000, 3500-4000".
TEST_F(Dsack, Rfc2883_4_2_3_TwoNonContiguousDuplicateSubsegmentsNotCoveredByTheCumulativeAck) {
  Tcb* c = open(500);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(500, 1000);
  arrive(3500, 4000);  // 1000-1499, 2000-2499, 3000-3499 lost; 1500-1999, 2500-2999 delayed
  expect_ack(1000, {{3500, 4000}});
  arrive(1500, 2000);  // (the retransmitted 1000-1499 is lost again)
  expect_ack(1000, {{1500, 2000}, {3500, 4000}});
  arrive(2500, 3000);
  expect_ack(1000, {{2500, 3000}, {1500, 2000}, {3500, 4000}});
  arrive(1500, 3000);
  expect_ack(1000, {{1500, 2000}, {1500, 3000}, {3500, 4000}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOfoSent), 1u);
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 0u);
  EXPECT_EQ(read_all(*c).size(), 500u) << "500-999 only: the hole at 1000 remains";
}

// ---- RFC 2883 §4.3: interaction between D-SACK and PAWS ----------------------

// §4.3: PAWS (RFC 7323 §5.3) drops a segment with an old TSval but still
// ACKs it, and "the D-SACK block can be included in the SACK option of the
// ACK ... independently of the determination by PAWS".
TEST_F(Dsack, Rfc2883_4_3_PawsRejectedDuplicateIsReported) {
  Tcb* c = open(3000, true, true);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  const std::uint32_t old_tsval = tsval_;
  arrive_ack_dropped(3500, 4000);
  ASSERT_EQ(c->ts_recent, tsval_);
  arrive(3000, 3500, old_tsval);  // a copy the network delayed: TSval older than TS.Recent
  EXPECT_EQ(drops(Drop::kTcpPawsRejected), 1u);
  expect_ack(4000, {{3000, 3500}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
}

// ---- the rules around the examples ----------------------------------------

// RFC 2018 §2 / RFC 2883 §4: D-SACK is part of the SACK option, so a
// connection without SACK-permitted only ACKs the duplicate.
TEST_F(Dsack, NoDsackWithoutSack) {
  Tcb* c = open(3000, false);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  arrive_ack_dropped(3500, 4000);
  arrive(3000, 3500);
  expect_ack(4000, {});
  arrive(4500, 5000);
  expect_ack(4000, {});
  arrive(4500, 5000);
  expect_ack(4000, {});
  arrive(3500, 4500);  // partly old, fills the hole
  expect_ack(5000, {});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 0u);
  EXPECT_EQ(count(Counter::kTCPDSACKOfoSent), 0u);
  EXPECT_EQ(c->dsack_len, 0u);
}

// RFC 2883 §4: "each duplicate contiguous sequence of data received is
// reported in at most one D-SACK block": the ACKs after the one that
// reported it carry only the ordinary blocks, below and above RCV.NXT.
TEST_F(Dsack, EachDuplicateIsReportedOnce) {
  Tcb* c = open(3000);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  arrive(3000, 3500);
  expect_ack(3500, {{3000, 3500}});
  arrive(3500, 4000);  // in order: its ACK is delayed, and has no D-SACK
  expect_nothing_sent();
  advance_by(cfg().delayed_ack);
  EXPECT_EQ(sack_of(expect_sent(seg().flags(kTcpAck).ack(R(4000)))), Blocks{});

  arrive(4500, 5000);
  expect_ack(4000, {{4500, 5000}});
  arrive(4500, 5000);
  expect_ack(4000, {{4500, 5000}, {4500, 5000}});
  arrive(5500, 6000);
  expect_ack(4000, {{5500, 6000}, {4500, 5000}});
  // A second copy is a second duplicate, reported again (in its own ACK).
  arrive(4500, 5000);
  expect_ack(4000, {{4500, 5000}, {4500, 5000}, {5500, 6000}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
  EXPECT_EQ(count(Counter::kTCPDSACKOfoSent), 2u);
}

// Every old duplicate is answered with its own D-SACK, even within
// invalid_ratelimit_ms, which still limits ACKs to other unacceptable
// segments (a retransmitted window after a spurious timeout is one D-SACK
// per segment, as Linux answers it).
TEST_F(Dsack, EveryOldDuplicateIsAnsweredDespiteTheOutOfWindowRateLimit) {
  Tcb* c = open(3000);
  ASSERT_NE(c, nullptr);
  arrive_ack_dropped(3000, 3500);
  arrive_ack_dropped(3500, 4000);
  arrive(3000, 3500);
  expect_ack(4000, {{3000, 3500}});
  arrive(3500, 4000);
  expect_ack(4000, {{3500, 4000}});
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 2u);
  EXPECT_EQ(count(Counter::kTCPACKSkippedInvalid), 0u);
  // Beyond the window: the first is ACKed, the next within 500 ms is not.
  const Seq32 far = R(4000) + 5'000'000;
  recv(seg().flags(kTcpAck).seq(far).ack(iss() + 1).data(10), now() + Duration::ms(1));
  expect_ack(4000, {});
  recv(seg().flags(kTcpAck).seq(far + 10).ack(iss() + 1).data(10), now() + Duration::ms(1));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPACKSkippedInvalid), 1u);
}

// With timestamps the option space holds three SACK blocks (RFC 2018 §3),
// and the D-SACK takes one of them: the duplicate, the block holding it,
// then the most recent other block.
TEST_F(Dsack, WithTimestampsTheDsackIsOneOfThreeBlocks) {
  Tcb* c = open(1000, true, true);
  ASSERT_NE(c, nullptr);
  arrive(2000, 2500);
  arrive(3000, 3500);
  arrive(4000, 4500);
  take_all_sent();
  arrive(3000, 3500);
  const Sent a = expect_sent(seg().flags(kTcpAck).ack(R(1000)).data(0));
  ASSERT_TRUE(a.opts.timestamps.has_value()) << a;
  EXPECT_EQ(sack_of(a), (Blocks{{3000, 3500}, {3000, 3500}, {4000, 4500}})) << a;
}

// Without timestamps, four blocks: the D-SACK and three ordinary ones.
TEST_F(Dsack, WithoutTimestampsTheDsackIsOneOfFourBlocks) {
  Tcb* c = open(1000);
  ASSERT_NE(c, nullptr);
  arrive(2000, 2500);
  arrive(3000, 3500);
  arrive(4000, 4500);
  arrive(5000, 5500);
  take_all_sent();
  arrive(3000, 3500);
  const Sent a = expect_sent(seg().flags(kTcpAck).ack(R(1000)).data(0));
  EXPECT_EQ(sack_of(a), (Blocks{{3000, 3500}, {3000, 3500}, {5000, 5500}, {4000, 4500}})) << a;
}

// A segment that fills the hole and repeats data held beyond it reports the
// repeated part; the ACK covers it, so it counts as below RCV.NXT (as Linux
// counts it).
TEST_F(Dsack, InOrderSegmentOverlappingHeldDataReportsTheOverlap) {
  Tcb* c = open(1000);
  ASSERT_NE(c, nullptr);
  arrive(1500, 2000);
  expect_ack(1000, {{1500, 2000}});
  arrive(1000, 2000);
  expect_ack(2000, {{1500, 2000}});
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
  EXPECT_EQ(read_all(*c).size(), 1000u);
}

// A full-sized data segment has no room for SACK blocks (RFC 2018 §3; our
// data plus options stay within the MSS): the D-SACK then goes in a bare
// ACK right after the data, rather than waiting for a later ACK.
TEST_F(Dsack, DsackThatDoesNotFitADataSegmentGoesInABareAck) {
  Tcb* c = open(3000);
  ASSERT_NE(c, nullptr);
  stack().set_nodelay(*c, true, now());
  const std::uint32_t mss = c->mss;
  // The initial window (10 segments) goes out; two more wait for the ACK.
  ASSERT_EQ(stack().send_copy(*c, pattern(12 * mss), now()), 12u * mss);
  ASSERT_EQ(take_all_sent().size(), 10u);
  arrive_ack_dropped(3000, 3500);
  // A partly old segment that also ACKs our first segment: slow start opens
  // the window and full segments go out, each with no room for a block.
  recv(seg().flags(kTcpAck).seq(R(3000)).ack(iss() + 1 + mss).data(1000, 3000), now() + Duration::ms(1));
  const std::vector<Sent> out = take_all_sent();
  ASSERT_GE(out.size(), 2u);
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    EXPECT_EQ(out[i].len(), mss) << out[i];
    EXPECT_EQ(out[i].opts.sack_count, 0) << out[i];
  }
  const Sent& a = out.back();
  EXPECT_EQ(a.len(), 0u) << a;
  EXPECT_EQ(a.ack, R(4000)) << a;
  EXPECT_EQ(sack_of(a), (Blocks{{3000, 3500}})) << a;
  EXPECT_EQ(count(Counter::kTCPDSACKOldSent), 1u);
}

}  // namespace
}  // namespace tern::tcptest
