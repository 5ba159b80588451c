// SoftwareTso (lib/ip/software_tso.h): a TSO frame cut into wire frames as a
// NIC would cut it, checked byte by byte against what the wire needs.
#include "ip/software_tso.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "ipv6_harness.h"
#include "pool_test.h"
#include "test_frames.h"

namespace tern::testkit {
namespace {

constexpr std::uint32_t kSeq = 0x01020304;
constexpr std::uint16_t kSegSize = 1000;
constexpr std::uint8_t kAck = 0x10, kPsh = 0x08, kFin = 0x01, kCwr = 0x80;

class SoftwareTsoTest : public PoolTest {
 protected:
  SoftwareTsoTest() : PoolTest("stso") {}

  // A TCP/IPv4 (or IPv6) frame of `payload` bytes with ACK, PSH and FIN
  // (and CWR over IPv6), as TCP hands a super-segment to the port: in mbufs
  // of at most 1500 bytes, the TSO request set, the checksums left to the
  // "NIC".
  rte_mbuf* tso_frame(std::size_t payload, bool ipv6 = false) {
    ipv6_ = ipv6;
    payload_ = pattern(payload, 9);
    const Bytes tcp = tcp_segment(40000, 80, kSeq, 77, first_flags(), 5000, payload_);
    Ip ip;
    ip.src = kOurIp;
    ip.dst = kPeerIp;
    ip.protocol = kProtoTcp;
    ip.id = 100;
    ip.frag = 0x4000;  // DF
    const Bytes f = ipv6 ? ethernet(kPeerMac, kOurMac, kTypeIpv6, ipv6_packet(kOurG, kPeerG, kProtoTcp, tcp))
                         : ethernet(kPeerMac, kOurMac, kTypeIpv4, ipv4(ip, tcp));
    rte_mbuf* head = nullptr;
    for (std::size_t off = 0; off < f.size(); off += 1500) {
      const std::size_t len = std::min<std::size_t>(1500, f.size() - off);
      rte_mbuf* m = to_mbuf(pool_, std::span<const std::byte>{f}.subspan(off, len)).release();
      if (head == nullptr) {
        head = m;
      } else {
        EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
      }
    }
    head->l2_len = 14;
    head->l3_len = ipv6 ? 40 : 20;
    head->l4_len = 20;
    head->tso_segsz = kSegSize;
    head->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG |
                      (ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
    return head;
  }
  std::uint8_t first_flags() const { return ipv6_ ? kAck | kPsh | kFin | kCwr : kAck | kPsh | kFin; }

  // Frame i of a cut: lengths, IP ID, sequence number, flags, both
  // checksums and the payload it carries.
  void expect_wire_frame(const rte_mbuf* m, std::size_t i, std::size_t count) {
    SCOPED_TRACE("wire frame " + std::to_string(i));
    EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_IP_CKSUM), 0u);
    const Bytes f = bytes_of(m);
    const std::size_t l3 = ipv6_ ? 40 : 20;
    ASSERT_GE(f.size(), 34 + l3);
    const std::size_t off = i * kSegSize;
    const std::size_t part = std::min<std::size_t>(kSegSize, payload_.size() - off);
    ASSERT_EQ(f.size(), 34 + l3 + part);
    const std::span<const std::byte> ip{f.data() + 14, l3};
    if (ipv6_) {
      EXPECT_EQ(get16(ip, 4), 20 + part) << "payload length";
      EXPECT_EQ(get_addr(ip, 8), kOurG);
      EXPECT_EQ(get_addr(ip, 24), kPeerG);
    } else {
      EXPECT_EQ(get16(ip, 2), 40 + part);
      EXPECT_EQ(get16(ip, 4), 100 + i);
      EXPECT_EQ(ref_checksum(ip), 0) << "IPv4 header checksum";
    }
    const std::span<const std::byte> tcp{f.data() + 14 + l3, 20 + part};
    EXPECT_EQ(get32(tcp, 4), kSeq + off);
    const bool last = i + 1 == count;
    std::uint8_t want = last ? first_flags() : kAck | (first_flags() & kCwr);
    if (i > 0) want = static_cast<std::uint8_t>(want & ~kCwr);
    EXPECT_EQ(get8(tcp, 13), want) << "PSH and FIN on the last frame only, CWR on the first";
    EXPECT_EQ(ipv6_ ? upper_checksum(kOurG, kPeerG, kProtoTcp, tcp)
                    : upper_checksum(kOurIp, kPeerIp, kProtoTcp, tcp),
              0)
        << "TCP checksum";
    EXPECT_TRUE(std::equal(tcp.begin() + 20, tcp.end(), payload_.begin() + static_cast<std::ptrdiff_t>(off)));
  }

  Bytes payload_;
  bool ipv6_ = false;
};

// Both families: TCP/IPv4 through rte_gso, TCP/IPv6 cut by SoftwareTso
// itself (DPDK 22.11's rte_gso cuts no TCP/IPv6), each wire frame with its
// own lengths, sequence number and checksums.
class SoftwareTsoFamilies : public SoftwareTsoTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SoftwareTsoFamilies, CutsIntoWireSegmentsWithTheirOwnHeadersAndChecksums) {
  SoftwareTso tso(pool_, pool_);
  std::array<rte_mbuf*, 8> out{};
  const std::uint16_t k = tso.segment(tso_frame(3500, GetParam()), out.data(), out.size());
  ASSERT_EQ(k, 4);
  for (std::uint16_t i = 0; i < k; ++i) expect_wire_frame(out[i], i, k);
  for (std::uint16_t i = 0; i < k; ++i) rte_pktmbuf_free(out[i]);
}

TEST_P(SoftwareTsoFamilies, APayloadOfOneSegmentLeavesAsItIsWithItsChecksums) {
  SoftwareTso tso(pool_, pool_);
  std::array<rte_mbuf*, 8> out{};
  rte_mbuf* m = tso_frame(700, GetParam());
  ASSERT_EQ(tso.segment(m, out.data(), out.size()), 1);
  EXPECT_EQ(out[0], m);
  expect_wire_frame(out[0], 0, 1);
  rte_pktmbuf_free(out[0]);
}

TEST_P(SoftwareTsoFamilies, TooManyWireSegmentsForTheArrayDropsTheFrame) {
  SoftwareTso tso(pool_, pool_);
  std::array<rte_mbuf*, 3> out{};
  EXPECT_EQ(tso.segment(tso_frame(3500, GetParam()), out.data(), out.size()), 0);  // freed: TearDown checks
}

INSTANTIATE_TEST_SUITE_P(Ip, SoftwareTsoFamilies, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "v6" : "v4"; });

}  // namespace
}  // namespace tern::testkit
