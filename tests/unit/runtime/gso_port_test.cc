// GsoPort (runtime/gso_port.h, [port] gso): TCP super-segments cut into wire
// frames just before a port without TSO, over an in-process link that
// offers none (so the receiver checks every checksum itself); other frames
// pass as they are, and wire frames the link refuses wait in the port, in
// order, until it takes them.
#include "runtime/gso_port.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "../ip/ipv6_harness.h"
#include "port/link_pair.h"

namespace tern::testkit {
namespace {

constexpr std::uint32_t kSeq = 5000;

struct Wire {
  std::uint32_t seq = 0;
  Bytes payload;
  bool checksums_ok = false;
  std::size_t size = 0;
};

class GsoPortTest : public ::testing::TestWithParam<bool> {
 protected:
  bool v6() const { return GetParam(); }
  // A full segment at MTU 1500 with timestamps.
  std::uint16_t mss() const { return v6() ? 1428 : 1448; }
  void SetUp() override {
    static std::atomic<int> seq{0};
    // Room for a whole super-segment (at most 20 MSS here) in one mbuf, as
    // TCP's copying mode would chain it; the wire frames come from the same pool.
    pool_ = rte_pktmbuf_pool_create(("gso" + std::to_string(seq++)).c_str(), 511, 0, 0,
                                    RTE_PKTMBUF_HEADROOM + 32768, SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "mbufs leaked";
    rte_mempool_free(pool_);
  }

  // A TCP frame of `payload` bytes as TCP hands it to the IP layer's port:
  // with `tso`, a super-segment of mss() wire segments, the TSO request set
  // and the checksums left to the "NIC"; without, complete.
  rte_mbuf* frame(const Bytes& payload, bool tso) {
    Bytes tcp = tcp_segment(80, 40000, kSeq, 1, 0x18 /* ACK, PSH */, 1000, payload);
    if (!tso)
      put16(tcp, 16,
            v6() ? upper_checksum(kOurG, kPeerG, kProtoTcp, tcp)
                 : upper_checksum(kOurIp, kPeerIp, kProtoTcp, tcp));
    Ip ip;
    ip.src = kOurIp;
    ip.dst = kPeerIp;
    ip.protocol = kProtoTcp;
    ip.frag = 0x4000;
    const Bytes f = v6() ? ethernet(kPeerMac, kOurMac, kTypeIpv6, ipv6_packet(kOurG, kPeerG, kProtoTcp, tcp))
                         : ethernet(kPeerMac, kOurMac, kTypeIpv4, ipv4(ip, tcp));
    rte_mbuf* m = to_mbuf(pool_, f).release();
    if (tso) {
      m->l2_len = 14;
      m->l3_len = v6() ? 40 : 20;
      m->l4_len = 20;
      m->tso_segsz = mss();
      m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                     (v6() ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
    }
    return m;
  }

  std::vector<Wire> receive_all(Port& rx) {
    std::vector<Wire> got;
    std::array<rte_mbuf*, 64> pkts{};
    while (const std::uint16_t n = rx.rx_burst(0, pkts.data(), pkts.size())) {
      for (std::uint16_t i = 0; i < n; ++i) {
        const Bytes f = bytes_of(pkts[i]);
        rte_pktmbuf_free(pkts[i]);
        Wire w;
        w.size = f.size();
        const std::size_t l3 = v6() ? 40 : 20;
        if (f.size() < 14 + l3 + 20) {
          got.push_back(w);
          continue;
        }
        const std::span<const std::byte> tcp{f.data() + 14 + l3, f.size() - 14 - l3};
        w.seq = get32(tcp, 4);
        w.payload.assign(tcp.begin() + 20, tcp.end());
        w.checksums_ok = v6() ? upper_checksum(kOurG, kPeerG, kProtoTcp, tcp) == 0
                              : upper_checksum(kOurIp, kPeerIp, kProtoTcp, tcp) == 0 &&
                                    ref_checksum({f.data() + 14, 20}) == 0;
        got.push_back(w);
      }
    }
    return got;
  }

  // The wire frames carry `payload` in order, mss() each, every one whole
  // and summed right.
  void expect_cut(const std::vector<Wire>& got, const Bytes& payload, std::size_t first = 0) {
    ASSERT_EQ(got.size() - first, (payload.size() + mss() - 1) / mss());
    Bytes joined;
    for (std::size_t i = first; i < got.size(); ++i) {
      SCOPED_TRACE("wire frame " + std::to_string(i));
      EXPECT_TRUE(got[i].checksums_ok);
      EXPECT_LE(got[i].size, 1514u) << "fits the MTU";
      EXPECT_EQ(got[i].seq, kSeq + joined.size());
      append(joined, got[i].payload);
    }
    EXPECT_EQ(joined, payload);
  }

  rte_mempool* pool_ = nullptr;
};

TEST_P(GsoPortTest, ASuperSegmentLeavesAsWireFramesAndOtherFramesAsTheyAre) {
  auto [a, b] = make_link_pair(1, 1024);
  GsoPort gso(std::move(a), {pool_});
  Counters counters;
  gso.attach_counters(0, &counters);
  EXPECT_TRUE(gso.info().tx_tso) << "TCP is to send super-segments";
  const Bytes small = pattern(300, 2);
  const Bytes big = pattern(10 * mss() + 100, 3);
  std::array<rte_mbuf*, 2> burst{frame(small, false), frame(big, true)};
  ASSERT_EQ(gso.tx_burst(0, burst.data(), 2), 2);
  const std::vector<Wire> got = receive_all(*b);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].payload, small) << "a frame without TSO passes first, as it is";
  EXPECT_TRUE(got[0].checksums_ok);
  expect_cut(got, big, 1);
  EXPECT_EQ(counters.get(Counter::kGsoSegments), 1u);
  EXPECT_EQ(counters.get(Counter::kGsoFrames), 11u);
  EXPECT_EQ(counters.get(Drop::kGsoNoMbufs), 0u);
}

// A ring of 16 holds 15 frames: of a 20-segment super-segment 15 go, 5 wait
// in the port, which takes nothing new until they have gone (the worker
// keeps its frames meanwhile); an empty call sends them once there is room.
TEST_P(GsoPortTest, WireFramesTheLinkRefusesWaitInOrder) {
  auto [a, b] = make_link_pair(1, 16);
  GsoPort gso(std::move(a), {pool_});
  const Bytes big = pattern(20 * mss(), 4);
  rte_mbuf* m = frame(big, true);
  ASSERT_EQ(gso.tx_burst(0, &m, 1), 1);
  rte_mbuf* next = frame(pattern(100, 5), false);
  EXPECT_EQ(gso.tx_burst(0, &next, 1), 0) << "the ring is full and 5 wait";
  std::vector<Wire> got = receive_all(*b);
  EXPECT_EQ(got.size(), 15u);
  EXPECT_EQ(gso.tx_burst(0, nullptr, 0), 0);  // the 5 go now
  const std::vector<Wire> rest = receive_all(*b);
  got.insert(got.end(), rest.begin(), rest.end());
  expect_cut(got, big);
  ASSERT_EQ(gso.tx_burst(0, &next, 1), 1);
  EXPECT_EQ(receive_all(*b).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Family, GsoPortTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "v6" : "v4"; });

}  // namespace
}  // namespace tern::testkit
