// The in-process link: two LinkPorts joined back to back by rte_rings.
#include "port/link_pair.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "../ip/pool_test.h"
#include "../ip/test_frames.h"

namespace tern::testkit {
namespace {

class LinkPair : public PoolTest {
 protected:
  LinkPair() : PoolTest("lpt") {}

  // A frame whose bytes say which queue and which position it was sent at.
  rte_mbuf* tagged(std::uint16_t queue, std::uint32_t seq) {
    Bytes f = ethernet(kPeerMac, kOurMac, 0x88B5, Bytes(46));  // local experimental EtherType
    put16(f, 14, queue);
    put32(f, 16, seq);
    return to_mbuf(pool_, f).release();
  }
  static std::pair<std::uint16_t, std::uint32_t> tag_of(const rte_mbuf* m) {
    const Bytes f = bytes_of(m);
    return {get16(f, 14), get32(f, 16)};
  }

  // Everything waiting on `port`'s queue `q`, in arrival order (frees it).
  std::vector<std::pair<std::uint16_t, std::uint32_t>> drain(LinkPort& port, std::uint16_t q) {
    std::vector<std::pair<std::uint16_t, std::uint32_t>> tags;
    std::array<rte_mbuf*, 32> burst{};
    for (std::uint16_t n; (n = port.rx_burst(q, burst.data(), 32)) > 0;) {
      for (std::uint16_t i = 0; i < n; ++i) {
        tags.push_back(tag_of(burst[i]));
        rte_pktmbuf_free(burst[i]);
      }
    }
    return tags;
  }
};

TEST_F(LinkPair, DescribesBothEnds) {
  auto [a, b] = make_link_pair(3, 64, 9000);
  EXPECT_EQ(a->info().mac, kOurMac);
  EXPECT_EQ(b->info().mac, kPeerMac);
  EXPECT_EQ(a->info().queues, 3);
  EXPECT_EQ(b->info().mtu, 9000);
  EXPECT_EQ(a->info().steering, Steering::kSoftware);
  EXPECT_NE(a->info().name, b->info().name);
  EXPECT_EQ(a->pending_rx(), 0u);
}

TEST_F(LinkPair, RejectsBadQueueCounts) {
  EXPECT_THROW(make_link_pair(0), std::runtime_error);
  EXPECT_THROW(make_link_pair(17), std::runtime_error);
}

TEST_F(LinkPair, QueueQArrivesOnThePeersQueueQInOrder) {
  auto [a, b] = make_link_pair(4, 256);
  // Interleave the queues so any cross-wiring or reordering shows.
  for (std::uint32_t seq = 0; seq < 50; ++seq) {
    for (std::uint16_t q = 0; q < 4; ++q) {
      rte_mbuf* m = tagged(q, seq);
      ASSERT_EQ(a->tx_burst(q, &m, 1), 1);
    }
  }
  EXPECT_EQ(b->pending_rx(), 200u);
  EXPECT_EQ(a->pending_rx(), 0u) << "a frame looped back to its sender";
  for (std::uint16_t q = 0; q < 4; ++q) {
    const auto tags = drain(*b, q);
    ASSERT_EQ(tags.size(), 50u) << "queue " << q;
    for (std::uint32_t seq = 0; seq < 50; ++seq) {
      EXPECT_EQ(tags[seq].first, q);
      EXPECT_EQ(tags[seq].second, seq);
    }
  }
  EXPECT_EQ(b->pending_rx(), 0u);
}

TEST_F(LinkPair, TheOtherDirectionToo) {
  auto [a, b] = make_link_pair(2, 64);
  std::array<rte_mbuf*, 3> burst{tagged(1, 0), tagged(1, 1), tagged(1, 2)};
  ASSERT_EQ(b->tx_burst(1, burst.data(), 3), 3);
  EXPECT_TRUE(drain(*a, 0).empty());
  const auto tags = drain(*a, 1);
  ASSERT_EQ(tags.size(), 3u);
  for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(tags[i].second, i);
}

TEST_F(LinkPair, FullRingRefusesTheRest) {
  auto [a, b] = make_link_pair(1, 8);  // an rte_ring of 8 holds 7
  std::array<rte_mbuf*, 10> burst{};
  for (std::uint32_t i = 0; i < 10; ++i) burst[i] = tagged(0, i);
  const std::uint16_t sent = a->tx_burst(0, burst.data(), 10);
  EXPECT_EQ(sent, 7);
  // The refused frames still belong to the caller, and another try fails.
  EXPECT_EQ(a->tx_burst(0, burst.data() + sent, 10 - sent), 0);
  for (std::uint16_t i = sent; i < 10; ++i) rte_pktmbuf_free(burst[i]);
  const auto tags = drain(*b, 0);
  ASSERT_EQ(tags.size(), 7u);
  for (std::uint32_t i = 0; i < 7; ++i) EXPECT_EQ(tags[i].second, i);
  // Room again once the peer has polled.
  rte_mbuf* m = tagged(0, 99);
  EXPECT_EQ(a->tx_burst(0, &m, 1), 1);
  EXPECT_EQ(drain(*b, 0).at(0).second, 99u);
}

TEST_F(LinkPair, RxBurstTakesAtMostN) {
  auto [a, b] = make_link_pair(1, 64);
  std::array<rte_mbuf*, 5> burst{};
  for (std::uint32_t i = 0; i < 5; ++i) burst[i] = tagged(0, i);
  ASSERT_EQ(a->tx_burst(0, burst.data(), 5), 5);
  std::array<rte_mbuf*, 5> got{};
  EXPECT_EQ(b->rx_burst(0, got.data(), 2), 2);
  EXPECT_EQ(b->pending_rx(), 3u);
  for (std::uint16_t i = 0; i < 2; ++i) rte_pktmbuf_free(got[i]);
  EXPECT_EQ(drain(*b, 0).size(), 3u);
}

TEST_F(LinkPair, DestructorFreesFramesNobodyPolled) {
  {
    auto [a, b] = make_link_pair(2, 64);
    for (std::uint16_t q = 0; q < 2; ++q) {
      for (std::uint32_t i = 0; i < 20; ++i) {
        rte_mbuf* m = tagged(q, i);
        ASSERT_EQ(a->tx_burst(q, &m, 1), 1);
        m = tagged(q, i);
        ASSERT_EQ(b->tx_burst(q, &m, 1), 1);
      }
    }
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_ + 80);
  }
  EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_);
}

// Offered checksum offload, the link marks what the sender left to the "NIC"
// as good and clears the request; frames summed in software arrive unmarked.
TEST_F(LinkPair, OfferedOffloadTurnsChecksumRequestsIntoGoodMarks) {
  auto [a, b] = make_link_pair();
  a->offer_checksum_offload();
  b->offer_checksum_offload();
  EXPECT_TRUE(a->info().tx_l4_checksum_offload);
  EXPECT_TRUE(b->info().rx_l4_checksum_offload);
  std::array<rte_mbuf*, 2> out{tagged(0, 1), tagged(0, 2)};
  out[0]->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
  ASSERT_EQ(a->tx_burst(0, out.data(), 2), 2);
  std::array<rte_mbuf*, 2> in{};
  ASSERT_EQ(b->rx_burst(0, in.data(), 2), 2);
  EXPECT_EQ(in[0]->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, 0u);
  EXPECT_EQ(in[0]->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD);
  EXPECT_EQ(in[0]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  EXPECT_EQ(in[1]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN);
  for (rte_mbuf* m : in) rte_pktmbuf_free(m);
}

// Without the offer (the default), flags pass untouched and no port claims it.
TEST_F(LinkPair, WithoutTheOfferFlagsPassAsTheyAre) {
  auto [a, b] = make_link_pair();
  EXPECT_FALSE(a->info().tx_l4_checksum_offload);
  EXPECT_FALSE(b->info().rx_ip_checksum_offload);
  rte_mbuf* m = tagged(0, 1);
  m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
  ASSERT_EQ(a->tx_burst(0, &m, 1), 1);
  rte_mbuf* got = nullptr;
  ASSERT_EQ(b->rx_burst(0, &got, 1), 1);
  EXPECT_EQ(got->ol_flags & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_TCP_CKSUM);
  EXPECT_EQ(got->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN);
  rte_pktmbuf_free(got);
}

// Offered TSO (offer_tso, as tern-pair's link), a frame sent with
// RTE_MBUF_F_TX_TCP_SEG reaches the peer as the LRO chain a receiving NIC
// builds: headers and the first wire segment in the first mbuf, one mbuf per
// further segment, both checksums good, the bytes unchanged. Frames without
// the request pass as before.
class LinkTso : public LinkPair {
 protected:
  static constexpr std::uint16_t kHdr = 14 + 20 + 20;  // Ethernet, IPv4, TCP without options
  static constexpr std::uint16_t kSeg = 1000;

  // A TSO request over `payload` bytes, split into mbufs of the given sizes
  // (the first holds the headers too).
  rte_mbuf* tso_frame(std::uint32_t payload, std::initializer_list<std::uint16_t> parts) {
    Bytes f(kHdr + payload);
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<std::byte>(i * 7 + 3);
    rte_mbuf* head = nullptr;
    std::size_t off = 0;
    for (const std::uint16_t len : parts) {
      rte_mbuf* m = to_mbuf(pool_, std::span<const std::byte>{f.data() + off, len}).release();
      if (head == nullptr) {
        head = m;
      } else {
        EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
      }
      off += len;
    }
    EXPECT_EQ(off, f.size()) << "parts must cover the frame";
    head->l2_len = 14;
    head->l3_len = 20;
    head->l4_len = 20;
    head->tso_segsz = kSeg;
    head->ol_flags |=
        RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
    sent_ = f;
    return head;
  }
  // What arrived, checked as an LRO chain of `segments` wire segments.
  void expect_lro(rte_mbuf* got, std::uint16_t segments) {
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, 0u);
    EXPECT_NE(got->ol_flags & RTE_MBUF_F_RX_LRO, 0u);
    EXPECT_EQ(got->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD);
    EXPECT_EQ(got->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
    EXPECT_EQ(got->nb_segs, segments);
    std::uint32_t left = got->pkt_len - kHdr;
    bool first = true;
    for (const rte_mbuf* m = got; m != nullptr; m = m->next) {
      const std::uint32_t part = std::min<std::uint32_t>(left, kSeg);
      EXPECT_EQ(m->data_len, (first ? kHdr : 0) + part);
      EXPECT_TRUE(RTE_MBUF_DIRECT(m));
      left -= part;
      first = false;
    }
    EXPECT_EQ(bytes_of(got), sent_);
  }
  Bytes sent_;
};

TEST_F(LinkTso, AChainLaidOutAsLroPassesAsItIs) {
  auto [a, b] = make_link_pair();
  a->offer_tso();
  b->offer_tso();
  EXPECT_TRUE(a->info().tx_tso);
  EXPECT_TRUE(a->info().tx_l4_checksum_offload);  // TSO implies it
  rte_mbuf* m = tso_frame(2500, {kHdr + kSeg, kSeg, 500});
  const rte_mbuf* sent = m;
  ASSERT_EQ(a->tx_burst(0, &m, 1), 1);
  rte_mbuf* got = nullptr;
  ASSERT_EQ(b->rx_burst(0, &got, 1), 1);
  EXPECT_EQ(got, sent) << "copied although already laid out";
  expect_lro(got, 3);
  rte_pktmbuf_free(got);
}

TEST_F(LinkTso, AnyOtherLayoutIsCopiedIntoOne) {
  auto [a, b] = make_link_pair();
  a->offer_tso();
  rte_mbuf* m = tso_frame(3000, {kHdr, 1700, 1300});  // headers alone, then slices across segments
  ASSERT_EQ(a->tx_burst(0, &m, 1), 1);
  rte_mbuf* got = nullptr;
  ASSERT_EQ(b->rx_burst(0, &got, 1), 1);
  expect_lro(got, 3);
  rte_pktmbuf_free(got);  // the sender's chain was freed by the link: TearDown checks no leak
}

TEST_F(LinkTso, FramesWithoutTheRequestPassAsBefore) {
  auto [a, b] = make_link_pair();
  a->offer_tso();
  rte_mbuf* m = tagged(0, 5);
  ASSERT_EQ(a->tx_burst(0, &m, 1), 1);
  rte_mbuf* got = nullptr;
  ASSERT_EQ(b->rx_burst(0, &got, 1), 1);
  EXPECT_EQ(got->ol_flags & RTE_MBUF_F_RX_LRO, 0u);
  EXPECT_EQ(tag_of(got).second, 5u);
  rte_pktmbuf_free(got);
}

}  // namespace
}  // namespace tern::testkit
