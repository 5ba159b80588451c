// The engine with external-buffer mbufs in its send queue (SendRegion,
// tern/send_region.h): segments, retransmissions and TSO super-segments
// read the region's bytes by reference; the queue charges each wrapped
// mbuf sizeof(rte_mbuf) plus its bytes; acknowledgement, abort and a
// copying send behind them give every reference back and never write into
// the region.
#include <cstring>
#include <vector>

#include "tcp_harness.h"
#include "tern/send_region.h"

namespace tern::tcptest {
namespace {

constexpr std::uint32_t kMbuf = sizeof(rte_mbuf);

class SendRegionTest : public TcpHarness {
 protected:
  // The region's memory: a pattern, checked unchanged at the end.
  const Bytes image_ = pattern(12000, 7);
  Bytes mem_ = image_;
  SendRegion region_{mem_.data(), mem_.size()};

  Bytes slice_of(std::size_t off, std::size_t len) const {
    return Bytes(image_.begin() + static_cast<std::ptrdiff_t>(off),
                 image_.begin() + static_cast<std::ptrdiff_t>(off + len));
  }
  Tcb* open() {
    Tcb* c = establish_active();
    if (c != nullptr) stack().set_nodelay(*c, true, now());
    return c;
  }
  // Every payload byte sent since the last call, in sequence order from `first`.
  Bytes sent_stream(Seq32 first) {
    Bytes out;
    for (const Sent& s : take_all_sent()) {
      if (s.payload.empty()) continue;
      const std::size_t at = static_cast<std::size_t>(s.seq - first);
      if (out.size() < at + s.payload.size()) out.resize(at + s.payload.size());
      std::memcpy(out.data() + at, s.payload.data(), s.payload.size());
    }
    return out;
  }
};

TEST_F(SendRegionTest, WrapMakesOneReferencePerMbufOfItsOwnBytes) {
  Mbuf b = region_.wrap(clone_pool_, 100, 10000, 4000);
  ASSERT_TRUE(b);
  EXPECT_EQ(region_.references(), 3u);
  EXPECT_EQ(b->nb_segs, 3u);
  EXPECT_EQ(b.pkt_len(), 10000u);
  std::vector<std::uint16_t> lens;
  for (const rte_mbuf* m = b.get(); m != nullptr; m = m->next) {
    lens.push_back(m->data_len);
    EXPECT_TRUE(RTE_MBUF_HAS_EXTBUF(m));
    EXPECT_EQ(m->buf_len, m->data_len) << "no room to write into";
    EXPECT_EQ(rte_pktmbuf_tailroom(m), 0u);
    EXPECT_EQ(rte_pktmbuf_headroom(m), 0u);
  }
  EXPECT_EQ(lens, (std::vector<std::uint16_t>{4000, 4000, 2000}));
  EXPECT_EQ(rte_pktmbuf_mtod(b.get(), const std::byte*), mem_.data() + 100);
  EXPECT_EQ(mbuf_truesize(b.get()), 3 * kMbuf + 10000);
  EXPECT_FALSE(region_.wrap(clone_pool_, 11000, 1001));  // past the end
  EXPECT_FALSE(region_.wrap(clone_pool_, 0, 0));
  b.reset();
  EXPECT_EQ(region_.references(), 0u);
  expect_pool_in_use(0);
}

// wrap() refuses a pool with a data room (each mbuf would hide an unused
// buffer from the accounting), and leaves a quarter of its pool for the
// engine's slices.
TEST_F(SendRegionTest, WrapRefusesADataRoomAndKeepsTheSlicesReserve) {
  EXPECT_FALSE(region_.wrap(pool_, 0, 1000));
  std::vector<rte_mbuf*> held(clone_pool_->size - clone_pool_->size / SendRegion::kPoolReserveDiv);
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(clone_pool_, held.data(), static_cast<unsigned>(held.size())), 0);
  EXPECT_FALSE(region_.wrap(clone_pool_, 0, 1000)) << "one more would eat into the reserve";
  EXPECT_EQ(region_.references(), 0u);
  for (rte_mbuf* m : held) rte_pktmbuf_free(m);
  Mbuf b = region_.wrap(clone_pool_, 0, 1000);
  EXPECT_TRUE(b);
  b.reset();
  EXPECT_EQ(region_.references(), 0u);
  expect_pool_in_use(0);
}

// The 16-bit count: wrap() takes it (the region's own reference
// included) up to kMaxWrapped, no further, and a refused wrap leaves it as
// it was.
TEST_F(SendRegionTest, WrapStopsAtTheCountsLimit) {
  rte_mempool* big = testkit::make_pool("srbig", 65535, 0);
  ASSERT_NE(big, nullptr);
  Bytes mem(40000);
  constexpr std::uint32_t kMost = SendRegion::kMaxWrapped - 1u - 8u;
  {
    SendRegion r{mem.data(), mem.size()};
    Mbuf most = r.wrap(big, 0, kMost, 1);
    ASSERT_TRUE(most);
    EXPECT_EQ(r.references(), kMost);
    EXPECT_FALSE(r.wrap(big, 0, 9, 1));
    EXPECT_EQ(r.references(), kMost);
    Mbuf rest = r.wrap(big, 0, 8, 1);
    EXPECT_TRUE(rest);
    EXPECT_EQ(r.references(), SendRegion::kMaxWrapped - 1u);
    most.reset();
    rest.reset();
    EXPECT_EQ(r.references(), 0u);
  }
  EXPECT_EQ(rte_mempool_in_use_count(big), 0u);
  rte_mempool_free(big);
}

// A port that gathers by DMA (TcpStackOptions' default tx_copy_max) is
// never handed a region without an IO address: the NIC would read
// RTE_BAD_IOVA. Its segments are copied into their frames (one mbuf
// each); a region with an IO address goes as slices, as any queued mbuf.
TEST_F(SendRegionTest, WithoutAnIoAddressItIsCopiedOnAPortThatGathers) {
  ASSERT_LT(options_.tx_copy_max, 1000u);
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  Mbuf b = region_.wrap(clone_pool_, 0, 3000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  EXPECT_TRUE(c->sndq.holds_unmapped_external());
  std::vector<Sent> sent = take_all_sent();
  Bytes got;
  for (const Sent& s : sent) {
    if (s.payload.empty()) continue;
    EXPECT_EQ(s.mbufs, 1u) << "payload copied into the header mbuf";
    testkit::append(got, s.payload);
  }
  EXPECT_EQ(got, slice_of(0, 3000));
  recv(seg().seq(irs() + 1).ack(iss() + 3001), at_ms(50));
  take_all_sent();
  EXPECT_FALSE(c->sndq.holds_unmapped_external()) << "cleared with the queue";
  EXPECT_EQ(region_.references(), 0u);

  SendRegion mapped{mem_.data(), mem_.size(), rte_iova_t{0x40000000}};
  b = mapped.wrap(clone_pool_, 3000, 3000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  EXPECT_FALSE(c->sndq.holds_unmapped_external());
  sent = take_all_sent();
  got.clear();
  bool sliced = false;
  for (const Sent& s : sent) {
    if (s.payload.empty()) continue;
    sliced |= s.mbufs > 1;
    testkit::append(got, s.payload);
  }
  EXPECT_TRUE(sliced);
  EXPECT_EQ(got, slice_of(3000, 3000));
  recv(seg().seq(irs() + 1).ack(iss() + 6001), at_ms(100));
  take_all_sent();
  EXPECT_EQ(mapped.references(), 0u);
  expect_pool_in_use(0);
}

// Sent by reference, charged at its bytes, retransmitted from the region,
// and every reference back once acknowledged.
TEST_F(SendRegionTest, SentRetransmittedAndReleasedByAcknowledgement) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  const std::uint64_t charged = stack().mem().charged();
  Mbuf b = region_.wrap(clone_pool_, 0, 10000, 4000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  EXPECT_EQ(c->sndq.truesize(), 3 * kMbuf + 10000);
  EXPECT_EQ(stack().mem().charged(), charged + 3 * kMbuf + 10000);
  EXPECT_EQ(sent_stream(iss() + 1), slice_of(0, 10000));  // the initial window holds it all
  EXPECT_EQ(region_.references(), 3u) << "the queue's mbufs; the segments' slices are freed";

  // The first 5000 bytes acknowledged: the first mbuf (4000) goes.
  recv(seg().seq(irs() + 1).ack(iss() + 5001), at_ms(50));
  take_all_sent();
  EXPECT_EQ(region_.references(), 2u);
  EXPECT_EQ(c->sndq.truesize(), 2 * kMbuf + 6000);
  EXPECT_EQ(stack().mem().charged(), charged + 2 * kMbuf + 6000);

  // The rest is lost: probes and the RTO resend it, read from the region
  // again, until the hole's first byte went out once more.
  bool resent_front = false;
  for (int i = 0; i < 8 && !resent_front; ++i) {
    ASSERT_TRUE(run_until_sent(now() + Duration::s(5)));
    for (const Sent& s : take_all_sent()) {
      const auto at = static_cast<std::size_t>(s.seq - (iss() + 1));
      EXPECT_EQ(s.payload, slice_of(at, s.payload.size())) << s;
      resent_front |= at == 5000 && !s.payload.empty();
    }
  }
  EXPECT_TRUE(resent_front);
  EXPECT_GT(count(Counter::kRetransSegs), 0u);
  EXPECT_EQ(region_.references(), 2u);

  recv(seg().seq(irs() + 1).ack(iss() + 10001), now() + Duration::ms(1));
  take_all_sent();
  EXPECT_EQ(region_.references(), 0u);
  EXPECT_EQ(c->sndq.truesize(), 0u);
  EXPECT_EQ(stack().mem().charged(), charged);
  EXPECT_EQ(mem_, image_);
  expect_pool_in_use(0);
}

TEST_F(SendRegionTest, AbortDropsEveryReference) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  const std::uint64_t charged = stack().mem().charged();
  Mbuf b = region_.wrap(clone_pool_, 0, 12000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  EXPECT_EQ(region_.references(), 1u);
  stack().abort(*c, now());
  take_all_sent();
  EXPECT_EQ(region_.references(), 0u);
  EXPECT_EQ(stack().mem().charged(), charged);
  expect_pool_in_use(0);
}

// A copying send behind a region's mbuf takes a fresh mbuf: the region,
// whose bytes follow the wrapped range in memory, is never written.
TEST_F(SendRegionTest, ACopyingSendBehindItNeverWritesIntoTheRegion) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  const Bytes copied = pattern(500, 9);
  Mbuf b = region_.wrap(clone_pool_, 1000, 1000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  ASSERT_EQ(stack().send_copy(*c, copied, now()), copied.size());
  ASSERT_EQ(stack().send_copy(*c, copied, now()), copied.size());  // into the copy's tailroom
  EXPECT_EQ(mem_, image_);
  EXPECT_EQ(c->sndq.truesize(), kMbuf + 1000 + kMbuf + rte_pktmbuf_data_room_size(pool_));
  Bytes want = slice_of(1000, 1000);
  testkit::append(want, copied);
  testkit::append(want, copied);
  EXPECT_EQ(sent_stream(iss() + 1), want);
  recv(seg().seq(irs() + 1).ack(iss() + 2001), at_ms(50));
  take_all_sent();
  EXPECT_EQ(region_.references(), 0u);
  EXPECT_EQ(mem_, image_);
}

class SendRegionTso : public SendRegionTest {
 protected:
  SendRegionTso() {
    options_.tx_checksum_offload = true;
    options_.tso_max = TcpStackOptions::kTsoMaxPayload;
  }
};

// A super-segment spanning two wrapped mbufs carries the region's bytes.
TEST_F(SendRegionTso, SuperSegmentsCarryTheRegionsBytes) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  Mbuf b = region_.wrap(clone_pool_, 0, 12000, 5000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  const std::vector<Sent> sent = take_all_sent();
  Bytes got;
  bool super = false;
  for (const Sent& s : sent) {
    super |= s.tso_segsz != 0;
    testkit::append(got, s.payload);
  }
  EXPECT_TRUE(super);
  EXPECT_EQ(got, slice_of(0, 12000));
  recv(seg().seq(irs() + 1).ack(iss() + 12001), at_ms(50));
  take_all_sent();
  EXPECT_EQ(region_.references(), 0u);
  expect_pool_in_use(0);
}

// A region destroyed while the queue still holds its mbufs: the count
// lives on in its control block until the last of them is freed (the
// memory, here the fixture's, stays valid, as the contract asks).
TEST_F(SendRegionTest, DestroyedWhileQueuedTheCountOutlivesIt) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  {
    SendRegion early{mem_.data(), mem_.size()};
    Mbuf b = early.wrap(clone_pool_, 0, 3000);
    ASSERT_TRUE(b);
    ASSERT_TRUE(stack().send(*c, std::move(b), now()));
  }
  EXPECT_EQ(sent_stream(iss() + 1), slice_of(0, 3000));
  recv(seg().seq(irs() + 1).ack(iss() + 3001), at_ms(50));
  take_all_sent();
  expect_pool_in_use(0);
}

}  // namespace
}  // namespace tern::tcptest
