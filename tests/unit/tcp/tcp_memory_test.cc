// Receive-side memory accounting (docs/architecture.md "Memory model"):
// queues charged at truesize, rcv_buf bounding the charge, collapse of tiny
// segments, pruning of out-of-order data, and the worker's pressure levels.
#include <rte_mbuf.h>

#include <array>

#include "base/mem_account.h"
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

class TcpMemory : public TcpHarness {
 protected:
  // What one mbuf of the harness's pool costs.
  std::uint32_t per_mbuf() const {
    return static_cast<std::uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(pool_);
  }
  // Out of the pool on a queue's or the application's behalf: the stack's
  // stash of reset header mbufs is not counted.
  unsigned mbufs_out() const {
    return rte_mempool_in_use_count(pool_) - baseline_ - (stack_ ? stack_->header_mbufs_held() : 0);
  }
  // Sends 1460-byte segments from `seq` until the window we advertised is
  // full; returns the peer's next sequence number.
  Seq32 fill_window(const Tcb& c, Seq32 seq, Instant at) {
    for (int i = 0; seq_lt(seq, c.rcv_adv); ++i) {
      const auto room = static_cast<std::uint32_t>(c.rcv_adv - seq);
      const std::uint32_t n = std::min<std::uint32_t>(room, 1460);
      recv(seg().seq(seq).ack(iss() + 1).data(n, static_cast<std::uint64_t>(i)), at);
      seq += n;
    }
    return seq;
  }
};

TEST(MemAccount, LevelsWithHysteresis) {
  MemAccount a;
  EXPECT_EQ(a.level(), MemLevel::kNormal);  // no limits: never under pressure
  a.charge(1u << 30);
  EXPECT_EQ(a.level(), MemLevel::kNormal);
  a.uncharge(1u << 30);
  a.set_limits({.low = 100, .pressure = 200, .high = 300});
  a.charge(150);
  EXPECT_EQ(a.level(), MemLevel::kNormal);
  a.charge(50);  // 200: pressure
  EXPECT_EQ(a.level(), MemLevel::kPressure);
  a.uncharge(60);  // 140: still pressure until under low
  EXPECT_EQ(a.level(), MemLevel::kPressure);
  a.charge(160);  // 300: high
  EXPECT_EQ(a.level(), MemLevel::kHigh);
  a.uncharge(201);  // 99: below low, pressure over
  EXPECT_EQ(a.level(), MemLevel::kNormal);
  EXPECT_EQ(a.entered_pressure(), 1u);
  EXPECT_EQ(a.peak(), 1u << 30);
}

// level() answers the usual case from one cached threshold: it must agree,
// call for call, with the rule it caches (the hysteresis as first written),
// through limits changed while under pressure too.
TEST(MemAccount, LevelMatchesTheRule) {
  struct Rule {
    MemLimits l;
    std::uint64_t charged = 0, entered = 0;
    bool in_pressure = false;
    MemLevel level() {
      if (charged < l.pressure && !in_pressure) return MemLevel::kNormal;
      if (charged >= l.pressure) {
        if (!in_pressure) ++entered;
        in_pressure = true;
      } else if (charged < l.low) {
        in_pressure = false;
      }
      if (charged >= l.high) return MemLevel::kHigh;
      return in_pressure ? MemLevel::kPressure : MemLevel::kNormal;
    }
  } rule;
  MemAccount a;
  std::uint64_t x = 0x9e3779b97f4a7c15;  // xorshift64: a fixed, repeatable walk
  const auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::array<int, 3> seen{};
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t r = next();
    if (r % 997 == 0) {  // now and then new limits, within the charge's range (0..8000)
      const std::uint64_t low = r % 4000, pressure = low + (r >> 16) % 2000,
                          high = pressure + (r >> 24) % 2000;
      rule.l = {.low = low, .pressure = pressure, .high = high};
      a.set_limits(rule.l);
    }
    const auto n = static_cast<std::uint32_t>(r % 300);
    if (((r >> 32) % 2 == 0 && rule.charged + n <= 8000) || rule.charged < n) {
      rule.charged += n;
      a.charge(n);
    } else {
      rule.charged -= n;
      a.uncharge(n);
    }
    if ((r >> 40) % 3 != 0) {  // not asked after every change, as the engine
      const MemLevel want = rule.level();
      ASSERT_EQ(a.level(), want) << "step " << i;
      ASSERT_EQ(a.entered_pressure(), rule.entered) << "step " << i;
      ++seen[static_cast<std::size_t>(want)];
    }
  }
  for (const int n : seen) EXPECT_GT(n, 100);  // the walk went through every level, often
  EXPECT_GT(rule.entered, 10u);
}

// The default worker (8191 mbufs, rings of 1024, bursts of 32) lends queues
// what is left after the rings, two bursts, the cache and the control reserve.
TEST(MemAccount, LimitsFromThePool) {
  const MemReserve r{.rx_ring = 1024, .tx_ring = 1024, .burst = 32};
  EXPECT_EQ(r.mbufs(), 1024u + 1024 + 64 + 384 + 256);
  const MemLimits l = mem_limits_for_pool(8191, 2304, r);
  EXPECT_EQ(l.high, std::uint64_t{8191 - r.mbufs()} * 2304);
  EXPECT_EQ(l.pressure, l.high * 3 / 4);
  EXPECT_EQ(l.low, l.high / 2);
  // A pool that leaves nothing still gets a token budget, never zero.
  EXPECT_EQ(mem_limits_for_pool(2048, 2304, r).high, std::uint64_t{MemReserve::kMinBudget} * 2304);
}

// Every queue is charged what its mbufs cost, not the payload: a 1-byte
// segment costs a whole mbuf. Reading, acknowledging and closing uncharge.
TEST_F(TcpMemory, QueuesAreChargedAtTruesize) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(stack().mem().charged(), 0u);
  Seq32 seq = irs() + 1;
  for (int i = 0; i < 10; ++i, seq += 1) recv(seg().seq(seq).ack(iss() + 1).data(1, i), at_ms(10 + i));
  EXPECT_EQ(c->rcvq.bytes(), 10u);
  EXPECT_EQ(TcpStack::rcv_charged(*c), 10 * per_mbuf());
  EXPECT_EQ(stack().mem().charged(), 10 * per_mbuf());

  recv(seg().seq(seq + 100).ack(iss() + 1).data(5), at_ms(30));  // beyond a hole
  EXPECT_EQ(TcpStack::rcv_charged(*c), 11 * per_mbuf());
  EXPECT_EQ(read_all(*c).size(), 10u);
  EXPECT_EQ(stack().mem().charged(), per_mbuf());  // the out-of-order segment

  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(40)), 100u);
  EXPECT_EQ(c->sndq.truesize(), per_mbuf());
  EXPECT_EQ(stack().mem().charged(), 2 * per_mbuf());
  take_all_sent();
  recv(seg().seq(seq).ack(iss() + 101), at_ms(50));
  EXPECT_EQ(c->sndq.truesize(), 0u);
  EXPECT_EQ(stack().mem().charged(), per_mbuf());

  stack().abort(*c, at_ms(60));
  EXPECT_EQ(stack().mem().charged(), 0u);
}

// The application's read loop (recv_charged until it comes back empty): the
// chain moves from the queue's charge to the Buffer's, the worker's account
// unchanged, and the call that finds nothing queued (recv_charged's inline
// case) hands back an empty, uncharged Buffer and changes nothing.
TEST_F(TcpMemory, ReadLoopMovesTheChargeToTheBufferAndEndsEmpty) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  Seq32 seq = irs() + 1;
  for (int i = 0; i < 3; ++i, seq += 64) recv(seg().seq(seq).ack(iss() + 1).data(64, i), at_ms(10 + i));
  ASSERT_EQ(c->rcvq.bytes(), 192u);
  const std::uint64_t held = stack().mem().charged();
  EXPECT_EQ(held, 3 * per_mbuf());
  {
    Buffer b = stack().recv_charged(*c, at_ms(20));
    ASSERT_TRUE(b);
    EXPECT_EQ(b.pkt_len(), 192u);
    EXPECT_EQ(b.charged(), held);
    EXPECT_EQ(stack().mem().charged(), held);
    EXPECT_FALSE(c->rcvq.holds_chain());
    Buffer none = stack().recv_charged(*c, at_ms(20));
    EXPECT_FALSE(none);
    EXPECT_EQ(none.charged(), 0u);
    EXPECT_EQ(stack().mem().charged(), held);
  }
  EXPECT_EQ(stack().mem().charged(), 0u);
  // The next segment is read as the first was.
  recv(seg().seq(seq).ack(iss() + 1).data(64, 9), at_ms(30));
  Buffer b = stack().recv_charged(*c, at_ms(31));
  ASSERT_TRUE(b);
  EXPECT_EQ(b.pkt_len(), 64u);
  EXPECT_EQ(b.charged(), per_mbuf());
}

// The window is offered in proportion to the truesize a full segment costs,
// so that a peer filling it with full segments stays within rcv_buf.
TEST_F(TcpMemory, WindowHonoursRcvBufAtFullSegmentTruesize) {
  cfg().rcv_buf = 32768;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  const auto offered = static_cast<std::uint32_t>(c->rcv_adv - c->rcv_nxt);
  EXPECT_EQ(offered, 32768u / per_mbuf() * 1460);
  fill_window(*c, irs() + 1, at_ms(10));
  EXPECT_EQ(drops(Drop::kTcpRcvQueueFull), 0u);
  EXPECT_LE(TcpStack::rcv_charged(*c), 32768u);
  EXPECT_EQ(c->rcvq.bytes(), offered);
}

// A peer that trickles 1-byte segments to a connection that never reads
// (issue 11's attack) pins at most rcv_buf of truesize: runs of tiny
// segments are copied into full mbufs, and the byte stream stays intact.
TEST_F(TcpMemory, OneByteSegmentsAreCollapsedWithinRcvBuf) {
  cfg().rcv_buf = 65536;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  Bytes sent;
  Seq32 seq = irs() + 1;
  unsigned most_out = 0;
  for (int i = 0; i < 3000; ++i) {
    const Seg s = seg().seq(seq).ack(iss() + 1).data(1, static_cast<std::uint64_t>(i));
    recv(s, at_ms(10 + i));
    if (c->rcv_nxt == seq + 1) {
      sent.push_back(s.payload_bytes()[0]);
      seq += 1;
    }
    ASSERT_LE(TcpStack::rcv_charged(*c), 65536u);
    most_out = std::max(most_out, mbufs_out());
  }
  EXPECT_EQ(sent.size(), 3000u);  // the window allowed all of it: none was refused
  EXPECT_GT(count(Counter::kTCPRcvCollapsed), 2500u);
  EXPECT_LE(most_out, 65536 / per_mbuf() + 2);  // the queue and at most one mbuf in flight
  EXPECT_EQ(read_all(*c), sent);
  EXPECT_EQ(stack().mem().charged(), 0u);
}

// Segments more than half full are not worth copying: when the peer sends
// them smaller than the MSS the window promised, the queue refuses in-window
// data rather than exceed rcv_buf (TcpRcvQueueFull; the peer retransmits).
TEST_F(TcpMemory, RefusesRatherThanExceedRcvBuf) {
  cfg().rcv_buf = 16384;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  const std::uint32_t fit = 16384 / per_mbuf();
  const Seq32 base = irs() + 1;
  Seq32 seq = base;
  ASSERT_GT(static_cast<std::uint32_t>(c->rcv_adv - base), (fit + 1) * 1100);  // more than fits
  for (std::uint32_t i = 0; i <= fit; ++i) {
    recv(seg().seq(seq).ack(iss() + 1).data(1100, i), at_ms(10 + i));
    if (c->rcv_nxt == seq + 1100) seq += 1100;
    ASSERT_LE(TcpStack::rcv_charged(*c), 16384u);
  }
  EXPECT_GT(drops(Drop::kTcpRcvQueueFull), 0u);
  EXPECT_EQ(c->rcvq.bytes(), fit * 1100);
  EXPECT_EQ(count(Counter::kTCPRcvCollapsed), 0u);
  EXPECT_EQ(read_all(*c).size(), fit * 1100);
  recv(seg().seq(seq).ack(iss() + 1).data(1100, fit), at_ms(100));  // the retransmission
  EXPECT_EQ(c->rcv_nxt, seq + 1100);
  take_all_sent();
}

// Out-of-order data beyond a hole is bounded the same way. Newer arrivals
// closer to RCV.NXT push out the highest held data (Linux's
// tcp_prune_ofo_queue); farther ones are refused; what is kept is delivered
// intact once the hole fills.
TEST_F(TcpMemory, OutOfOrderFloodPrunedNewestFirst) {
  cfg().rcv_buf = 65536;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  const Seq32 base = irs() + 1;  // the hole: nothing at base
  for (int i = 200; i >= 1; --i) {
    recv(
        seg().seq(base + static_cast<std::uint32_t>(i)).ack(iss() + 1).data(1, static_cast<std::uint64_t>(i)),
        at_ms(210 - i));
    ASSERT_LE(TcpStack::rcv_charged(*c), 65536u);
  }
  const std::uint32_t kept = 65536 / per_mbuf();
  ASSERT_NE(c->ooo, nullptr);
  EXPECT_EQ(c->ooo->segments(), kept);
  EXPECT_EQ(drops(Drop::kTcpOfoPruned), 200 - kept);
  EXPECT_EQ(count(Counter::kOfoPruned), 200 - kept);

  // Farther data is refused now, not let in by pruning nearer data.
  recv(seg().seq(base + 500).ack(iss() + 1).data(1), at_ms(300));
  EXPECT_EQ(drops(Drop::kTcpOfoOverLimit), 1u);

  recv(seg().seq(base).ack(iss() + 1).data(1, 0), at_ms(310));  // fill the hole
  EXPECT_EQ(c->rcv_nxt, base + kept + 1);
  Bytes want;
  for (std::uint32_t i = 0; i <= kept; ++i) want.push_back(pattern(1, i)[0]);
  EXPECT_EQ(read_all(*c), want);
  take_all_sent();
}

// Under pressure the window offered after a read is clamped to four full
// segments (Linux's tcp_clamp_window); without it the full buffer reopens.
class TcpMemoryPressure : public TcpMemory, public ::testing::WithParamInterface<bool> {};

TEST_P(TcpMemoryPressure, ClampsTheReopenedWindow) {
  const bool pressure = GetParam();
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 8u << 20});
  if (pressure) stack().mem().charge(3u << 20);  // other connections hold this much
  fill_window(*c, irs() + 1, at_ms(10));
  EXPECT_EQ(drops(Drop::kTcpMemPressure), 0u);  // in-window data is still taken
  take_all_sent();
  read_all(*c);
  const std::vector<Sent> out = take_all_sent();
  ASSERT_FALSE(out.empty());  // the window update
  if (pressure) {
    EXPECT_LE(out.back().win, 4u * 1460);
    EXPECT_GT(out.back().win, 0u);
    advance_by(Duration::ms(2));
    EXPECT_EQ(count(Counter::kTCPMemoryPressures), 1u);
    stack().mem().uncharge(3u << 20);
  } else {
    EXPECT_GT(out.back().win, 8u * 1460);
  }
}
INSTANTIATE_TEST_SUITE_P(Levels, TcpMemoryPressure, ::testing::Bool());

// At the high level a queue that already holds data takes no more
// (TcpMemPressure), while an empty one still takes a segment, so every
// connection keeps moving.
TEST_F(TcpMemory, HighLevelRefusesQueuesThatHoldData) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  stack().mem().charge(5u << 20);
  Seq32 seq = irs() + 1;
  recv(seg().seq(seq).ack(iss() + 1).data(1000, 1), at_ms(10));
  EXPECT_EQ(c->rcv_nxt, seq + 1000);  // empty queue: taken
  recv(seg().seq(seq + 1000).ack(iss() + 1).data(1000, 2), at_ms(11));
  EXPECT_EQ(c->rcv_nxt, seq + 1000);  // refused
  EXPECT_EQ(drops(Drop::kTcpMemPressure), 1u);
  EXPECT_EQ(read_all(*c).size(), 1000u);
  recv(seg().seq(seq + 1000).ack(iss() + 1).data(1000, 2), at_ms(12));  // the retransmission
  EXPECT_EQ(c->rcv_nxt, seq + 2000);
  stack().mem().uncharge(5u << 20);
  take_all_sent();
}

}  // namespace
}  // namespace tern::tcptest

namespace tern::tcptest {
namespace {

// Two established active opens (peer port 80) and what is needed to talk to
// each: the tests below pick between them.
struct Peer {
  Tcb* tcb;
  std::uint16_t port;  // our local port
  Seq32 iss, irs;
};

class TcpLastResort : public TcpMemory {
 protected:
  Peer open(Seq32 irs) {
    set_irs(irs);
    Tcb* c = establish_active();
    return Peer{c, local_port(), iss(), irs};
  }
  // `n` in-order segments of `len` bytes from p's peer, never read.
  void feed(const Peer& p, int n, std::uint32_t len, Instant at) {
    for (int i = 0; i < n; ++i) {
      recv(seg()
               .sport(80)
               .dport(p.port)
               .seq(p.irs + 1 + len * static_cast<std::uint32_t>(i))
               .ack(p.iss + 1)
               .data(len),
           at);
    }
  }
  // Takes mbufs out of the pool until `left` are free; give them back with
  // release(). The stack's header stash goes back first (as the last resort
  // gives it back before it judges the pool), so that `left` are free with
  // it counted.
  void hog(unsigned left) {
    stack().flush_header_mbufs();
    while (rte_mempool_avail_count(pool_) > left) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (m == nullptr) break;
      hogged_.push_back(m);
    }
  }
  void release() {
    for (rte_mbuf* m : hogged_) rte_pktmbuf_free(m);
    hogged_.clear();
  }
  void TearDown() override {
    release();
    TcpMemory::TearDown();
  }
  std::vector<rte_mbuf*> hogged_;
};

// The pool nearly dry: the connection holding the most is aborted (RST,
// kAborted, TCPAbortOnMemory), as many as it takes to bring the pool back to
// twice its floor; the others live on.
TEST_F(TcpLastResort, AbortsTheBiggestHolderWhenThePoolIsNearlyDry) {
  const Peer a = open(Seq32{1'000'000});
  const Peer b = open(Seq32{5'000'000});
  ASSERT_NE(a.tcb, nullptr);
  ASSERT_NE(b.tcb, nullptr);
  feed(a, 30, 100, at_ms(10));
  feed(b, 2, 100, at_ms(11));
  take_all_sent();
  MemLimits l;
  l.min_free_mbufs = 16;
  stack().mem().set_limits(l);
  advance_by(Duration::ms(3));
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 0u);  // plenty free: nothing happens

  hog(12);  // 20 short of twice the floor: a alone (30 mbufs) makes up for it
  advance_by(Duration::ms(1));
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 1u);
  EXPECT_EQ(handler_.closed_with(a.tcb), TcpError::kAborted);
  EXPECT_EQ(handler_.closed_with(b.tcb), std::nullopt);
  expect_sent(seg().flags(kTcpRst | kTcpAck).sport(a.port).dport(80).seq(a.iss + 1));

  release();
  advance_by(Duration::ms(5));
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 1u);
  EXPECT_EQ(b.tcb->state, TcpState::kEstablished);
  stack().close(*a.tcb, now());
}

// One pass aborts as many of the biggest holders as the deficit needs, not
// one per pass: thousands of connections each holding a little must not
// keep the pool dry for seconds.
TEST_F(TcpLastResort, AbortsAsManyAsTheDeficitNeedsInOnePass) {
  const Peer a = open(Seq32{1'000'000});
  const Peer b = open(Seq32{5'000'000});
  const Peer c = open(Seq32{9'000'000});
  ASSERT_NE(c.tcb, nullptr);
  feed(a, 20, 100, at_ms(10));
  feed(b, 12, 100, at_ms(11));
  feed(c, 2, 100, at_ms(12));
  take_all_sent();
  MemLimits l;
  l.min_free_mbufs = 16;
  stack().mem().set_limits(l);
  hog(4);  // 28 short: a (20) and b (12) together
  advance_by(Duration::ms(1));
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 2u);
  EXPECT_EQ(handler_.closed_with(a.tcb), TcpError::kAborted);
  EXPECT_EQ(handler_.closed_with(b.tcb), TcpError::kAborted);
  EXPECT_EQ(handler_.closed_with(c.tcb), std::nullopt);
  release();
  take_all_sent();
  stack().close(*a.tcb, now());
  stack().close(*b.tcb, now());
}

// Connections that cannot make progress go first, even holding less: here
// one whose peer shut its window while our data waits.
TEST_F(TcpLastResort, PrefersZeroWindowConnections) {
  const Peer a = open(Seq32{1'000'000});
  const Peer b = open(Seq32{5'000'000});
  ASSERT_NE(b.tcb, nullptr);
  feed(a, 30, 100, at_ms(10));
  recv(seg().sport(80).dport(b.port).seq(b.irs + 1).ack(b.iss + 1).win(0), at_ms(11));
  ASSERT_EQ(stack().send_copy(*b.tcb, pattern(40000), at_ms(12)), 40000u);
  take_all_sent();
  ASSERT_LT(b.tcb->sndq.truesize(), TcpStack::rcv_charged(*a.tcb));
  MemLimits l;
  l.min_free_mbufs = 8;
  stack().mem().set_limits(l);
  hog(4);  // 12 short: b's 20 mbufs are enough
  advance_by(Duration::ms(1));
  EXPECT_EQ(handler_.closed_with(b.tcb), TcpError::kAborted);
  EXPECT_EQ(handler_.closed_with(a.tcb), std::nullopt);
  release();
  take_all_sent();
  stack().close(*b.tcb, now());
}

// At the high level a connection with data queued may queue no more (only
// the free room of its last copied mbuf, which costs nothing); an empty
// send queue takes one full segment (each connection keeps moving).
TEST_F(TcpMemory, HighLevelStopsSendQueuesThatHoldData) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));  // nothing leaves: the queue stays
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  stack().mem().charge(5u << 20);
  EXPECT_GT(stack().send_space(*c), 0u);
  EXPECT_EQ(stack().send_copy(*c, pattern(5000), at_ms(11)),
            rte_pktmbuf_data_room_size(pool_) - RTE_PKTMBUF_HEADROOM);
  EXPECT_EQ(c->sndq.truesize(), per_mbuf());
  EXPECT_EQ(stack().send_space(*c), 0u);
  EXPECT_EQ(stack().send_copy(*c, pattern(100), at_ms(12)), 0u);
  EXPECT_EQ(c->sndq.truesize(), per_mbuf());
  stack().mem().uncharge(5u << 20);
  EXPECT_GT(stack().send_space(*c), 0u);
  take_all_sent();
}

// A dry pool counts MbufExhausted once per timer pass, however many
// allocations fail in it.
TEST_F(TcpLastResort, MbufExhaustedCountedOncePerPoll) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  hog(0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(stack().send_copy(*c, pattern(10), now()), 0u);
  EXPECT_EQ(drops(Drop::kMbufExhausted), 1u);
  advance_by(Duration::ms(1));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(stack().send_copy(*c, pattern(10), now()), 0u);
  EXPECT_EQ(drops(Drop::kMbufExhausted), 2u);
  release();
}

}  // namespace
}  // namespace tern::tcptest

namespace tern::tcptest {
namespace {

// In-order data that needs the room out-of-order data held prunes all of
// it; the emptied queue goes back to the stack's store (a connection must
// not keep one it does not use: there is one per eight connections).
TEST_F(TcpMemory, PrunedToEmptyOutOfOrderQueueIsReturned) {
  cfg().rcv_buf = 16384;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  const std::uint32_t fit = 16384 / per_mbuf();
  Seq32 seq = irs() + 1;
  // In-order data the application does not read fills all but one mbuf of
  // the buffer, one segment beyond a hole takes the last.
  for (std::uint32_t i = 0; i + 1 < fit; ++i, seq += 1100)
    recv(seg().seq(seq).ack(iss() + 1).data(1100, i), at_ms(10 + i));
  recv(seg().seq(seq + 1100).ack(iss() + 1).data(1100, 99), at_ms(30));
  ASSERT_NE(c->ooo, nullptr);
  ASSERT_EQ(c->ooo->segments(), 1u);
  // The next in-order segment needs that room: the out-of-order one goes.
  recv(seg().seq(seq).ack(iss() + 1).data(1100, 98), at_ms(31));
  EXPECT_EQ(c->rcv_nxt, seq + 1100);
  EXPECT_EQ(drops(Drop::kTcpOfoPruned), 1u);
  EXPECT_EQ(c->ooo, nullptr);
  take_all_sent();
}

}  // namespace
}  // namespace tern::tcptest

namespace tern::tcptest {
namespace {

// snd_buf bounds the send queue's truesize, not its payload: zero-copy
// sends of 1-byte mbufs cost a whole mbuf each, while copying sends fill
// the last mbuf they allocated before taking another.
TEST_F(TcpMemory, SndBufBoundsTruesize) {
  cfg().snd_buf = cfg().snd_buf_max = 8 * per_mbuf();  // fixed: no autotuning
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));  // nothing leaves
  int taken = 0;
  for (int i = 0; i < 20; ++i) {
    Mbuf m = Mbuf::alloc(pool_);
    ASSERT_TRUE(m);
    m.append(1)[0] = std::byte{0x41};
    if (!stack().send(*c, std::move(m), at_ms(11))) break;
    ++taken;
  }
  EXPECT_EQ(taken, 8);
  EXPECT_EQ(c->sndq.bytes(), 8u);
  EXPECT_EQ(c->sndq.truesize(), 8 * per_mbuf());
  EXPECT_EQ(stack().send_space(*c), 0u);
  stack().abort(*c, at_ms(12));
  take_all_sent();

  Tcb* d = establish_passive();
  ASSERT_NE(d, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(20));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(stack().send_copy(*d, pattern(1, i), at_ms(21)), 1u);
  EXPECT_EQ(d->sndq.bytes(), 1000u);
  EXPECT_EQ(d->sndq.truesize(), per_mbuf());
  take_all_sent();
}

// At the high level, the persist timer aborts a zero-window connection that
// holds send data (TCPAbortOnMemory, RST) instead of probing it again:
// Linux's tcp_out_of_resources, extended from orphans to the non-readers
// that would otherwise hold the pool until persist_timeout.
TEST_F(TcpMemory, HighLevelAbortsZeroWindowConnectionOnPersist) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(11)), 3000u);
  take_all_sent();
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  ASSERT_TRUE(run_until_sent(at_ms(5000)));  // at the normal level: a probe
  EXPECT_EQ(count(Counter::kTCPWinProbe), 1u);
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 0u);
  take_all_sent();
  stack().mem().charge(5u << 20);
  ASSERT_TRUE(run_until_sent(at_ms(20000)));
  EXPECT_EQ(count(Counter::kTCPWinProbe), 1u);
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 1u);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kAborted);
  expect_sent(seg().flags(kTcpRst | kTcpAck));
  stack().mem().uncharge(5u << 20);
  EXPECT_EQ(stack().mem().charged(), 0u);
  stack().close(*c, now());
}

// The same for an orphan still retransmitting at the high level; at the
// normal level it retransmits.
TEST_F(TcpMemory, HighLevelAbortsRetransmittingOrphan) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(1000), at_ms(10)), 1000u);
  stack().close(*c, at_ms(11));  // an orphan with data in flight, never acknowledged
  take_all_sent();
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  ASSERT_TRUE(run_until_sent(at_ms(5000)));
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
  take_all_sent();
  stack().mem().charge(5u << 20);
  ASSERT_TRUE(run_until_sent(at_ms(20000)));
  EXPECT_EQ(count(Counter::kTCPAbortOnMemory), 1u);
  EXPECT_EQ(count(Counter::kRetransSegs), 1u);
  expect_sent(seg().flags(kTcpRst | kTcpAck));
  EXPECT_EQ(state(), std::nullopt);
  stack().mem().uncharge(5u << 20);
  EXPECT_EQ(stack().mem().charged(), 0u);
}

// At the high level out-of-order data is not taken at all, even into empty
// queues (thousands of holes cannot hold a segment each); in-order data
// into an empty queue still is.
TEST_F(TcpMemory, HighLevelRefusesOutOfOrderData) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  stack().mem().set_limits({.low = 1u << 20, .pressure = 2u << 20, .high = 4u << 20});
  stack().mem().charge(5u << 20);
  const Seq32 seq = irs() + 1;
  recv(seg().seq(seq + 1000).ack(iss() + 1).data(1000, 2), at_ms(10));
  EXPECT_EQ(c->ooo, nullptr);
  EXPECT_EQ(drops(Drop::kTcpMemPressure), 1u);
  EXPECT_EQ(TcpStack::rcv_charged(*c), 0u);
  recv(seg().seq(seq).ack(iss() + 1).data(1000, 1), at_ms(11));
  EXPECT_EQ(c->rcv_nxt, seq + 1000);
  stack().mem().uncharge(5u << 20);
  recv(seg().seq(seq + 1000).ack(iss() + 1).data(1000, 2), at_ms(12));
  EXPECT_EQ(c->rcv_nxt, seq + 2000);
  EXPECT_EQ(read_all(*c).size(), 2000u);
  take_all_sent();
}

}  // namespace
}  // namespace tern::tcptest

namespace tern::tcptest {
namespace {

// With software steering a frame can arrive in a sibling worker's pool
// (adopt_foreign_frames): data about to be queued, in order or not, is
// copied into this worker's pool, so the sibling's pool is not held by
// queues its account cannot see; without the option it is queued as is.
class TcpForeignFrames : public TcpMemory, public ::testing::WithParamInterface<bool> {};

TEST_P(TcpForeignFrames, QueuedDataIsCopiedIntoTheWorkersPool) {
  const bool adopt = GetParam();
  options_.adopt_foreign_frames = adopt;
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  rte_mempool* sibling = testkit::make_pool("tcps", 255);
  ASSERT_NE(sibling, nullptr);
  rx_pool_ = sibling;
  const Seq32 seq = irs() + 1;
  Instant at = at_ms(10);
  for (std::uint32_t i : {0u, 1u, 3u, 2u}) {  // 3 is held out of order until 2 comes
    recv(seg().seq(seq + 100 * i).ack(iss() + 1).data(100, i), at);
    at = at + Duration::ms(1);
  }
  Bytes want;
  for (std::uint32_t i = 0; i < 4; ++i) {
    const Bytes p = seg().data(100, i).payload_bytes();
    want.insert(want.end(), p.begin(), p.end());
  }
  ASSERT_EQ(c->rcv_nxt, seq + 400);
  EXPECT_EQ(rte_mempool_in_use_count(sibling), adopt ? 0u : 4u);
  EXPECT_EQ(count(Counter::kTCPRcvForeignCopied), adopt ? 4u : 0u);
  Mbuf got = stack().recv(*c, at_ms(21));
  ASSERT_TRUE(got);
  for (const rte_mbuf* m = got.get(); m != nullptr; m = m->next) EXPECT_EQ(m->pool, adopt ? pool_ : sibling);
  EXPECT_EQ(testkit::bytes_of(got.get()), want);
  got.reset();
  rx_pool_ = nullptr;
  take_all_sent();
  EXPECT_EQ(rte_mempool_in_use_count(sibling), 0u);
  rte_mempool_free(sibling);
}
INSTANTIATE_TEST_SUITE_P(Adopt, TcpForeignFrames, ::testing::Bool());

}  // namespace
}  // namespace tern::tcptest
