// The public API end to end, sending the application's own memory
// (SendRegion, WorkerContext::wrap): the bytes cross by reference to the
// region, arrive whole, are charged at their size in the send buffer, and
// the region's count comes back to 0 once they are acknowledged, or once
// the connection is aborted. The fixture is in api_harness.h.
#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>

#include "api_harness.h"

namespace tern::api::apitest {
namespace {

constexpr std::uint32_t kMbuf = sizeof(rte_mbuf);

class ApiSendRegion : public ApiPair {
 protected:
  static constexpr std::size_t kSize = 100000;

  // Every payload by slices, none copied into a header mbuf (the last
  // 88 bytes would be, tx_copy_max): the check below can then see them all.
  ApiSendRegion() { tx_copy_max_ = 0; }
  void SetUp() override {
    ApiPair::SetUp();
    establish();
  }
  // Payload bytes the client put on the wire that point into the region at
  // their own offset (the stream starts at the region's first byte).
  std::size_t bytes_in_region(std::uint32_t first_seq) const {
    std::size_t n = 0;
    for (const TxSegment& s : c_port_->sent()) {
      std::uint32_t at = s.seq - first_seq;
      for (const PayloadPiece& p : s.pieces) {
        if (p.data == mem_.data() + at) n += p.len;
        at += p.len;
      }
    }
    return n;
  }
  std::uint32_t first_data_seq() const {
    for (const TxSegment& s : c_port_->sent())
      if (s.len > 0) return s.seq;
    return 0;
  }

  const Bytes image_ = pattern(kSize, 11);
  Bytes mem_ = image_;
  // With an IO address, as a region mapped for a NIC has (never used as
  // one here: the harness's port reads by virtual address, but gathers
  // like a NIC), so segments go as slices by reference; a region without
  // one is copied into each frame on such a port (tcp_send_region_test).
  SendRegion region_{mem_.data(), mem_.size(), rte_iova_t{0x40000000}};
};

TEST_F(ApiSendRegion, BytesCrossByReferenceAndTheCountReturnsAfterTheAck) {
  std::uint32_t space_before = 0, space_after = 0;
  cli_->in_next_poll([&](WorkerContext& w) {
    Connection& c = *cli_->conn;
    ASSERT_EQ(c.set_send_buffer(256 * 1024, 64 * 1024), Error::kOk);  // fixed: no autotuning
    Buffer b = w.wrap(region_, 0, kSize);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->nb_segs, 2u);  // 65,535 + 34,465
    EXPECT_EQ(region_.references(), 2u);
    space_before = c.send_space();
    const SendResult r = c.send(b);
    EXPECT_EQ(r.accepted, kSize);
    EXPECT_EQ(r.error, Error::kOk);
    EXPECT_FALSE(b);
    space_after = c.send_space();
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == kSize; }, Duration::s(2)));
  EXPECT_EQ(srv_->received, image_);
  // Charged in the send buffer at the mbufs plus their bytes.
  EXPECT_EQ(space_before - space_after, 2 * kMbuf + kSize);
  // Every payload byte on the wire sat in the region, at its own offset.
  EXPECT_EQ(bytes_in_region(first_data_seq()), kSize);
  ASSERT_TRUE(run_until([&] { return cli_->conn->send_queued() == 0; }, Duration::s(1)));
  EXPECT_EQ(region_.references(), 0u);
  EXPECT_EQ(mem_, image_);
  abort_server_side_and_check_baseline();
}

// The region is unchanged by a copying send queued right behind it, and
// the peer gets both in order.
TEST_F(ApiSendRegion, ACopyingSendAfterItLeavesTheRegionAlone) {
  const Bytes copied = pattern(3000, 12);
  cli_->in_next_poll([&](WorkerContext& w) {
    Connection& c = *cli_->conn;
    Buffer b = w.wrap(region_, 0, 1000);
    ASSERT_TRUE(b);
    EXPECT_EQ(c.send(b).accepted, 1000u);
    EXPECT_EQ(c.send(std::span<const std::byte>{copied}).accepted, copied.size());
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == 1000 + copied.size(); }, Duration::s(1)));
  Bytes want(image_.begin(), image_.begin() + 1000);
  want.insert(want.end(), copied.begin(), copied.end());
  EXPECT_EQ(srv_->received, want);
  EXPECT_EQ(mem_, image_);
  ASSERT_TRUE(run_until([&] { return region_.references() == 0; }, Duration::s(1)));
  abort_server_side_and_check_baseline();
}

// Aborted with the data unacknowledged (the server does not read): the
// queue's references go with the connection, the slices with the frames.
TEST_F(ApiSendRegion, AbortGivesEveryReferenceBack) {
  ASSERT_EQ(srv_->conn->set_receive_buffer(16 * 1024), Error::kOk);  // the window shuts early
  srv_->conn->pause_reading();
  cli_->in_next_poll([&](WorkerContext& w) {
    Buffer b = w.wrap(region_, 0, kSize);
    ASSERT_TRUE(b);
    EXPECT_GT(cli_->conn->send(b).accepted, 0u);
    EXPECT_GT(region_.references(), 0u);
  });
  run_for(Duration::ms(20));
  EXPECT_GT(region_.references(), 0u);
  cli_->in_next_poll([&](WorkerContext&) {
    cli_->conn->abort();
    cli_->forget();
  });
  ASSERT_TRUE(run_until([&] { return srv_->closed_why.has_value(); }, Duration::s(1)));
  run_for(Duration::s(1));
  EXPECT_EQ(region_.references(), 0u);
  EXPECT_EQ(mem_, image_);
  expect_baseline();
}

class ApiSendRegionTso : public ApiSendRegion {
 protected:
  ApiSendRegionTso() { tso_ = true; }
};

// With TSO the link copies each super-segment into the LRO layout (the
// model of a NIC's DMA): the stream still arrives whole and the count
// returns.
TEST_F(ApiSendRegionTso, SuperSegmentsArriveWholeAndTheCountReturns) {
  cli_->in_next_poll([&](WorkerContext& w) {
    Buffer b = w.wrap(region_, 0, kSize);
    ASSERT_TRUE(b);
    EXPECT_EQ(cli_->conn->send(b).accepted, kSize);
  });
  ASSERT_TRUE(run_until([&] { return srv_->received.size() == kSize; }, Duration::s(2)));
  EXPECT_EQ(srv_->received, image_);
  std::size_t super = 0;
  for (const TxSegment& s : c_port_->sent()) super += s.len > 1448 ? 1 : 0;
  EXPECT_GT(super, 0u);
  ASSERT_TRUE(run_until([&] { return cli_->conn->send_queued() == 0; }, Duration::s(1)));
  EXPECT_EQ(region_.references(), 0u);
  abort_server_side_and_check_baseline();
}

}  // namespace
}  // namespace tern::api::apitest
