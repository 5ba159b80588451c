// The stash of reset header mbufs a TcpStack keeps between calls
// (TcpStack::new_header_mbuf, tcp_output.cc; docs/architecture.md "Memory
// model"): bounded by kHeaderMbufsKept, shown by the gauge
// TCPHeaderMbufsHeld, given back when the worker leaves its normal level,
// when the pool runs low (and no batch taken while it is) and when the
// stack goes, and never a leak.
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/mbuf.h"
#include "base/mem_account.h"
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

class HeaderStash : public TcpHarness {
 protected:
  std::uint32_t held() { return stack().header_mbufs_held(); }
  unsigned pool_in_use() const { return rte_mempool_in_use_count(pool_) - baseline_; }
  // The gauge says what the stack holds, and the stack holds no more than
  // its bound.
  void expect_gauge() {
    EXPECT_LE(held(), TcpStack::kHeaderMbufsKept);
    EXPECT_EQ(count(Counter::kTCPHeaderMbufsHeld), held());
  }
  // An active open closed both ways, to TIME_WAIT; every segment checked.
  void connection(Seq32 irs, Instant at) {
    set_irs(irs);
    advance_to(at);
    Tcb* c = establish_active();
    ASSERT_NE(c, nullptr);
    expect_gauge();
    stack().close(*c, now_);
    expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1).ack(irs + 1).data(0));
    recv(seg().seq(irs + 1).ack(iss() + 2), now_);
    recv(seg().flags(kTcpFin | kTcpAck).seq(irs + 1).ack(iss() + 2), now_);
    expect_sent(seg().flags(kTcpAck).seq(iss() + 2).ack(irs + 2));
    EXPECT_EQ(state(), TcpState::kTimeWait);
    expect_gauge();
  }
  // Four small sends and their ACKs: each takes one mbuf alone and the
  // stash stays empty.
  void sends_keep_nothing(Tcb& c) {
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(stack().send_copy(c, pattern(100), now()), 100u);
      EXPECT_EQ(take_all_sent().size(), 1u);
      EXPECT_EQ(held(), 0u);
      recv(seg().seq(irs() + 1).ack(c.snd_nxt), now());
      EXPECT_EQ(held(), 0u);
    }
  }
  // Takes mbufs out of the pool until `left` are free.
  void hog(unsigned left) {
    while (rte_mempool_avail_count(pool_) > left) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (m == nullptr) break;
      hogged_.push_back(m);
    }
  }
  void TearDown() override {
    for (rte_mbuf* m : hogged_) rte_pktmbuf_free(m);
    hogged_.clear();
    TcpHarness::TearDown();
  }
  std::vector<rte_mbuf*> hogged_;
};

// The first segment takes a batch; the segments after it come from the
// stash, which between calls never holds more than its bound.
TEST_F(HeaderStash, ABatchServesTheNextSegmentsAndStaysBounded) {
  EXPECT_EQ(held(), 0u);
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(held(), TcpStack::kHeaderMbufsKept - 1);  // the SYN took the first of a batch
  expect_gauge();
  expect_pool_in_use(0);  // the harness counts the stash as out of the pool
  EXPECT_EQ(pool_in_use(), TcpStack::kHeaderMbufsKept - 1);
  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460), at_ms(1));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(held(), TcpStack::kHeaderMbufsKept - 2);
  expect_gauge();
  // A burst that reserves more than the stash holds: what it leaves goes
  // back but for the bound.
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(65535), at_ms(2));
  ASSERT_EQ(stack().send_copy(*c, pattern(40 * 1460), at_ms(3)), 40u * 1460);
  EXPECT_GE(take_all_sent().size(), 2u);
  expect_gauge();
  for (int i = 0; i < 20; ++i) {
    recv(seg().seq(irs() + 1).ack(c->snd_nxt).win(65535), at_ms(4 + i));
    take_all_sent();
    expect_gauge();
  }
  EXPECT_TRUE(c->sndq.empty());
  expect_pool_in_use(0);
  stack().abort(*c, now());
  take_all_sent();
  expect_pool_in_use(0);
}

// Many connections, each through to TIME_WAIT: the pool ends where it
// began but for the stash, and flushing the stash gives all of it back.
TEST_F(HeaderStash, ConnectionsLeakNothing) {
  for (std::uint32_t i = 0; i < 50; ++i) {
    ASSERT_NO_FATAL_FAILURE(connection(Seq32{1'000'000 + 100'000 * i}, at_ms(10 * i)));
    expect_pool_in_use(0);
  }
  stack().flush_header_mbufs();
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  EXPECT_EQ(pool_in_use(), 0u);
}

// Destroying the stack gives the stash back (the harness's TearDown checks
// the same after every test).
TEST_F(HeaderStash, FlushedWhenTheStackGoes) {
  ASSERT_NO_FATAL_FAILURE(connection(Seq32{1'000'000}, at_ms(0)));
  ASSERT_GT(held(), 0u);
  EXPECT_EQ(pool_in_use(), held());
  stack_.reset();
  EXPECT_EQ(pool_in_use(), 0u);
}

// Out of the normal level the stash goes back at the next timer pass and
// is not refilled: each segment takes one mbuf alone, as before the stash.
// Back at the normal level it refills.
TEST_F(HeaderStash, FlushedUnderPressure) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_GT(held(), 0u);
  MemLimits l{.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20};
  l.min_free_mbufs = 16;
  stack().mem().set_limits(l);
  advance_by(Duration::ms(1));
  EXPECT_GT(held(), 0u);           // normal: kept
  stack().mem().charge(3u << 20);  // other connections hold this much: pressure
  advance_by(Duration::ms(1));
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  EXPECT_EQ(pool_in_use(), 0u);
  sends_keep_nothing(*c);
  expect_gauge();
  stack().mem().uncharge(3u << 20);
  EXPECT_EQ(stack().mem().level(), MemLevel::kNormal);  // as the next queue to ask finds it
  ASSERT_EQ(stack().send_copy(*c, pattern(100), now()), 100u);
  take_all_sent();
  EXPECT_EQ(held(), TcpStack::kHeaderMbufsKept - 1);
  expect_gauge();
}

// Pressure reached between timer passes: output() keeps nothing of the
// stash once it is done (at the normal level the rest would stay).
TEST_F(HeaderStash, OutputKeepsNothingUnderPressure) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(held(), TcpStack::kHeaderMbufsKept - 1);  // the SYN-ACK's batch
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  stack().mem().charge(3u << 20);
  ASSERT_EQ(stack().send_copy(*c, pattern(2 * 1460), now()), 2u * 1460);
  EXPECT_EQ(take_all_sent().size(), 2u);
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  stack().mem().uncharge(3u << 20);
}

// The pool nearly dry at the normal level: the last resort gives the stash
// back before it judges the pool, and aborts nothing when that is enough.
TEST_F(HeaderStash, FlushedWhenThePoolRunsLow) {
  set_irs(Seq32{1'000'000});
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  for (std::uint32_t i = 0; i < 30; ++i)
    recv(seg().seq(irs() + 1 + 100 * i).ack(iss() + 1).data(100, i), at_ms(10));
  take_all_sent();
  // A full stash: given back, then one segment takes a batch.
  stack().flush_header_mbufs();
  ASSERT_EQ(stack().send_copy(*c, pattern(10), now()), 10u);
  take_all_sent();
  const std::uint32_t stash = held();
  ASSERT_EQ(stash, TcpStack::kHeaderMbufsKept - 1);
  MemLimits l;
  l.min_free_mbufs = 16;
  stack().mem().set_limits(l);
  hog(16 - 4);  // under the floor, but not with the stash given back
  advance_by(Duration::ms(1));
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 0u);
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(rte_mempool_avail_count(pool_), 16 - 4 + stash);
  // The charges still say normal, but the pool is short: the next segment
  // takes one mbuf, not a batch that would leave it under its floor again.
  ASSERT_TRUE(stack().mem().surely_normal());
  c->nodelay = true;  // the first 10 bytes are still in flight
  ASSERT_EQ(stack().send_copy(*c, pattern(10), now()), 10u);
  EXPECT_EQ(take_all_sent().size(), 1u);
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  for (rte_mbuf* m : hogged_) rte_pktmbuf_free(m);
  hogged_.clear();
  stack().abort(*c, now());
  take_all_sent();
}

// The charges normal, the pool above its floor but not by a batch (what
// the TX ring, clones and parked frames hold is charged to no queue): from
// the timer pass that finds it so, each segment takes one mbuf alone and
// the stash keeps none; a pass that finds the pool full enough again lets
// it take a batch.
TEST_F(HeaderStash, NoBatchWhileThePoolIsNearItsFloor) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_GT(held(), 0u);
  MemLimits l;
  l.min_free_mbufs = 16;
  stack().mem().set_limits(l);
  stack().flush_header_mbufs();
  hog(16 + 4);
  advance_by(Duration::ms(1));
  ASSERT_TRUE(stack().mem().surely_normal());
  sends_keep_nothing(*c);
  expect_gauge();
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 0u);
  EXPECT_EQ(rte_mempool_avail_count(pool_), 16u + 4);
  for (rte_mbuf* m : hogged_) rte_pktmbuf_free(m);
  hogged_.clear();
  advance_by(Duration::ms(1));
  ASSERT_EQ(stack().send_copy(*c, pattern(100), now()), 100u);
  take_all_sent();
  EXPECT_EQ(held(), TcpStack::kHeaderMbufsKept - 1);
  expect_gauge();
}

// Without a floor (min_free_mbufs 0: no last resort) the stash still goes
// back at the next timer pass once the worker leaves its normal level.
TEST_F(HeaderStash, FlushedUnderPressureWithoutAFloor) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_GT(held(), 0u);
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  ASSERT_EQ(stack().mem().limits().min_free_mbufs, 0u);
  advance_by(Duration::ms(1));
  EXPECT_GT(held(), 0u);  // normal: kept
  stack().mem().charge(3u << 20);
  advance_by(Duration::ms(1));
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  EXPECT_EQ(pool_in_use(), 0u);
  stack().mem().uncharge(3u << 20);
}

// A pool too short for a batch: one mbuf alone, and the stash stays empty.
TEST_F(HeaderStash, AShortPoolGivesOneAtATime) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().flush_header_mbufs();
  hog(TcpStack::kHeaderMbufsKept - 1);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), now()), 100u);
  EXPECT_EQ(take_all_sent().size(), 1u);
  EXPECT_EQ(held(), 0u);
  expect_gauge();
  for (rte_mbuf* m : hogged_) rte_pktmbuf_free(m);
  hogged_.clear();
}

// The stash's resets (mbuf_reset_from with the pool's template) leave an
// mbuf as rte_pktmbuf_alloc would: rte_pktmbuf_reset and a reference count
// of 1, every other byte as it was, whatever the mbuf held before.
TEST_F(HeaderStash, ResetsAsRtePktmbufAllocWould) {
  const std::uint64_t rearm = mbuf_rearm_template(pool_);
  rte_mbuf* real = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(real, nullptr);
  for (std::uint64_t junk : {0x0ull, 0x5a5a5a5a5a5a5a5aull, ~0x0ull}) {
    alignas(RTE_CACHE_LINE_SIZE) rte_mbuf a;
    std::memcpy(&a, real, sizeof a);
    // Everything rte_pktmbuf_reset and refcnt touch, and their neighbours.
    std::memset(&a.data_off, static_cast<int>(junk & 0xff), 8);
    a.ol_flags = junk & ~RTE_MBUF_F_EXTERNAL;
    a.packet_type = static_cast<std::uint32_t>(junk);
    a.pkt_len = static_cast<std::uint32_t>(junk >> 3);
    a.data_len = static_cast<std::uint16_t>(junk);
    a.vlan_tci = static_cast<std::uint16_t>(junk >> 5);
    a.hash.rss = static_cast<std::uint32_t>(junk >> 7);
    a.vlan_tci_outer = static_cast<std::uint16_t>(junk);
    a.tx_offload = junk;
    a.next = reinterpret_cast<rte_mbuf*>(junk | 8);
    alignas(RTE_CACHE_LINE_SIZE) rte_mbuf b;
    std::memcpy(&b, &a, sizeof b);
    rte_pktmbuf_reset(&a);
    rte_mbuf_refcnt_set(&a, 1);
    mbuf_reset_from(&b, rearm);
    EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "junk " << junk;
    EXPECT_EQ(b.data_off, std::min<std::uint16_t>(RTE_PKTMBUF_HEADROOM, real->buf_len));
    EXPECT_EQ(b.nb_segs, 1);
    EXPECT_EQ(b.port, RTE_MBUF_PORT_INVALID);
    EXPECT_EQ(rte_mbuf_refcnt_read(&b), 1);
  }
  rte_pktmbuf_free(real);
}

}  // namespace
}  // namespace tern::tcptest
