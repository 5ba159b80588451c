#include "port/impaired_port.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <atomic>
#include <string>
#include <vector>

#include "port/link_pair.h"

namespace tern {
namespace {

class ImpairedPortTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> seq{0};
    pool_ = rte_pktmbuf_pool_create(("imp" + std::to_string(seq++)).c_str(), 4095, 0, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "mbufs leaked";
    rte_mempool_free(pool_);
  }

  // Sends frames numbered 0..n-1 (number in the first 4 bytes) through `tx` in bursts.
  void send_numbered(Port& tx, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; i += 32) {
      std::vector<rte_mbuf*> burst;
      for (std::uint32_t k = i; k < std::min(n, i + 32); ++k) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        auto* p = reinterpret_cast<std::uint32_t*>(rte_pktmbuf_append(m, 64));
        *p = k;
        burst.push_back(m);
      }
      const auto sent = tx.tx_burst(0, burst.data(), static_cast<std::uint16_t>(burst.size()));
      ASSERT_EQ(sent, burst.size());
    }
  }
  std::vector<std::uint32_t> receive_all(Port& rx) {
    std::vector<std::uint32_t> got;
    rte_mbuf* pkts[64];
    for (int idle = 0; idle < 3;) {
      const auto n = rx.rx_burst(0, pkts, 64);
      idle = n == 0 ? idle + 1 : 0;
      for (unsigned i = 0; i < n; ++i) {
        got.push_back(*rte_pktmbuf_mtod(pkts[i], std::uint32_t*));
        rte_pktmbuf_free(pkts[i]);
      }
    }
    return got;
  }

  rte_mempool* pool_ = nullptr;
};

TEST_F(ImpairedPortTest, NoImpairmentPassesEverythingInOrder) {
  auto [a, b] = make_link_pair(1, 4096);
  ImpairedPort ia(std::move(a), ImpairmentConfig{}, {pool_});
  send_numbered(ia, 1000);
  auto got = receive_all(*b);
  ASSERT_EQ(got.size(), 1000u);
  for (std::uint32_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i);
}

TEST_F(ImpairedPortTest, LossOnTransmitIsSeededAndNearItsRate) {
  auto run = [&](std::uint64_t seed) {
    auto [a, b] = make_link_pair(1, 4096);
    ImpairedPort ia(std::move(a), ImpairmentConfig{.loss = 0.1, .seed = seed}, {pool_});
    send_numbered(ia, 2000);
    auto got = receive_all(*b);
    EXPECT_EQ(ia.counts(0).dropped, 2000u - got.size());
    return got;
  };
  auto first = run(7), again = run(7), other = run(8);
  EXPECT_EQ(first, again) << "same seed, same losses";
  EXPECT_NE(first, other);
  EXPECT_GT(first.size(), 1700u);
  EXPECT_LT(first.size(), 1900u);
}

TEST_F(ImpairedPortTest, DuplicationAndReorderingOnReceiveKeepEveryFrame) {
  auto [a, b] = make_link_pair(1, 4096);
  ImpairedPort ib(std::move(b), ImpairmentConfig{.duplicate = 0.05, .reorder = 0.05, .seed = 3}, {pool_});
  send_numbered(*a, 1000);
  auto got = receive_all(ib);
  EXPECT_EQ(got.size(), 1000u + ib.counts(0).duplicated);
  EXPECT_GT(ib.counts(0).duplicated, 20u);
  EXPECT_GT(ib.counts(0).reordered, 20u);
  std::vector<int> seen(1000, 0);
  std::size_t out_of_order = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_LT(got[i], 1000u);
    ++seen[got[i]];
    if (i > 0 && got[i] < got[i - 1]) ++out_of_order;
  }
  for (int s : seen) EXPECT_GE(s, 1);
  EXPECT_GT(out_of_order, 0u);
}

// A frame held back to be overtaken must not wait for the next real
// transmission (a lone retransmission would wait for its RTO): the worker
// calls tx_burst with no frames when it has nothing to send (holds_tx).
TEST_F(ImpairedPortTest, FrameHeldForReorderingLeavesOnAnEmptyTransmit) {
  auto [a, b] = make_link_pair(1, 4096);
  ImpairedPort ia(std::move(a), ImpairmentConfig{.reorder = 1.0, .seed = 1}, {pool_});
  EXPECT_TRUE(ia.info().holds_tx);
  // Always reordering: 0 is held and overtaken by 1; 2 is held with
  // nothing after it in the burst.
  send_numbered(ia, 3);
  EXPECT_EQ(receive_all(*b), (std::vector<std::uint32_t>{1, 0}));
  rte_mbuf* none[1];
  EXPECT_EQ(ia.tx_burst(0, none, 0), 0u);
  EXPECT_EQ(receive_all(*b), std::vector<std::uint32_t>{2});
}

// The inner port's ring fills: what it refuses is kept and sent first on
// the next call, and new frames are refused meanwhile (the worker keeps
// them), so a full ring costs no frame, as without impairment.
TEST_F(ImpairedPortTest, AFullRingPushesBackInsteadOfLosingFrames) {
  auto [a, b] = make_link_pair(1, 16);
  ImpairedPort ia(std::move(a), ImpairmentConfig{.loss = 0.0, .reorder = 0.0, .seed = 1}, {pool_});
  std::vector<rte_mbuf*> burst;
  for (std::uint32_t k = 0; k < 32; ++k) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    *reinterpret_cast<std::uint32_t*>(rte_pktmbuf_append(m, 64)) = k;
    burst.push_back(m);
  }
  EXPECT_EQ(ia.tx_burst(0, burst.data(), 32), 32u);  // what the ring holds, the rest kept
  rte_mbuf* more = rte_pktmbuf_alloc(pool_);
  *reinterpret_cast<std::uint32_t*>(rte_pktmbuf_append(more, 64)) = 32;
  EXPECT_EQ(ia.tx_burst(0, &more, 1), 0u) << "the ring is still full: the caller keeps it";
  // The receiver drains the ring; the kept frames go first, then the new one.
  std::vector<std::uint32_t> got;
  bool taken = false;
  for (int round = 0; round < 8 && !taken; ++round) {
    for (std::uint32_t v : receive_all(*b)) got.push_back(v);
    taken = ia.tx_burst(0, &more, 1) == 1;
  }
  ASSERT_TRUE(taken);
  rte_mbuf* none[1];
  for (int round = 0; round < 8; ++round) {
    for (std::uint32_t v : receive_all(*b)) got.push_back(v);
    ia.tx_burst(0, none, 0);  // the worker's empty call (holds_tx) flushes what is kept
  }
  ASSERT_EQ(got.size(), 33u);
  for (std::uint32_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i);
  EXPECT_EQ(ia.counts(0).dropped, 0u);
}

}  // namespace
}  // namespace tern
