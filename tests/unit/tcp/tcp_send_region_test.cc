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
