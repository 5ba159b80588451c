// Receive-side coalescing of TCP/IPv6 (runtime/rx_coalesce6.h) through
// RxCoalescer::coalesce, as a worker calls it: bursts of hand-built frames,
// and what comes out of one call: which segments merged, in what order, and
// the merged frame's headers and bytes. The frames are built the naive way
// (ipv6_harness.h), not with lib/wire. What the stack makes of a merged
// frame is rx_coalesce_test.cc's (over both families).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "../ip/ipv6_harness.h"
#include "runtime/rx_coalesce.h"

namespace tern::testkit {
namespace {

constexpr std::uint16_t kPeerPort = 40000;
constexpr std::uint16_t kOurPort = 80;
constexpr std::uint32_t kIsn = 0x10000000;
constexpr std::uint32_t kAck = 0x20000000;
constexpr std::uint32_t kSeg = 1000;
constexpr std::uint8_t kAckFlag = 0x10;

struct Seg {
  std::uint32_t off = 0;  // sequence number kIsn + off
  std::uint32_t len = kSeg;
  std::uint8_t flags = kAckFlag;
  std::uint16_t window = 500;
  std::uint32_t ack = kAck;
  std::uint32_t tsval = 7;  // in a timestamps option; 0: no options
  std::uint16_t sport = kPeerPort;
};

Bytes tcp_header_and_data(const Seg& s, const Bytes& stream) {
  Bytes t(s.tsval != 0 ? 32 : 20);
  put16(t, 0, s.sport);
  put16(t, 2, kOurPort);
  put32(t, 4, kIsn + s.off);
  put32(t, 8, s.ack);
  t[12] = static_cast<std::byte>((t.size() / 4) << 4);
  t[13] = static_cast<std::byte>(s.flags);
  put16(t, 14, s.window);
  if (s.tsval != 0) {
    t[20] = t[21] = std::byte{1};  // NOP NOP, then TS (RFC 7323 §3)
    t[22] = std::byte{8};
    t[23] = std::byte{10};
    put32(t, 24, s.tsval);
    put32(t, 28, 99);
  }
  t.insert(t.end(), stream.begin() + s.off, stream.begin() + s.off + s.len);
  return t;
}

// A TCP/IPv6 segment from the peer, its checksum right; `tc_flow` the
// first word's traffic class and flow label bits.
Bytes tcp6(const Seg& s, const Bytes& stream, std::uint32_t tc_flow = 0) {
  Bytes t = tcp_header_and_data(s, stream);
  put16(t, 16, upper_checksum(kPeerG, kOurG, kProtoTcp, t));
  Bytes p = ipv6_packet(kPeerG, kOurG, kProtoTcp, t);
  put32(p, 0, 0x60000000u | tc_flow);
  return frame6(kOurMac, kPeerMac, p);
}

// The same over IPv4, for mixed bursts.
Bytes tcp4(const Seg& s, const Bytes& stream) {
  Bytes t = tcp_header_and_data(s, stream);
  put16(t, 16, upper_checksum(kPeerIp, kOurIp, kProtoTcp, t));
  return ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4(Ip{.protocol = kProtoTcp, .frag = 0x4000}, t));
}

// What came out of one coalesce() call.
struct Frame {
  Bytes bytes;
  std::uint16_t nb_segs;
  std::uint64_t ol_flags;
  bool v6() const { return get16(bytes, 12) == kTypeIpv6; }
  std::size_t l4() const { return v6() ? 54 : 34; }
  std::uint32_t seq() const { return get32(bytes, l4() + 4); }
  std::uint16_t sport() const { return get16(bytes, l4()); }
  std::uint16_t window() const { return get16(bytes, l4() + 14); }
  std::size_t data_len() const { return bytes.size() - l4() - (get8(bytes, l4() + 12) >> 4) * 4u; }
  bool merged() const { return nb_segs > 1; }
};

class RxCoalesce6 : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = make_pool("gro6");
    ASSERT_NE(pool_, nullptr);
    gro_ = std::make_unique<RxCoalescer>(64, SOCKET_ID_ANY);
    stream_ = pattern(64 * 1024 + 4096, 6);
  }
  void TearDown() override {
    gro_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "leaked mbufs";
    rte_mempool_free(pool_);
  }

  std::vector<Frame> coalesce(const std::vector<Bytes>& burst) {
    std::vector<rte_mbuf*> in;
    for (const Bytes& b : burst) {
      in.push_back(to_mbuf(pool_, b).release());
      EXPECT_NE(in.back(), nullptr);
    }
    const std::uint16_t n = gro_->coalesce(in.data(), static_cast<std::uint16_t>(in.size()), counters_);
    std::vector<Frame> out;
    for (std::uint16_t i = 0; i < n; ++i) {
      out.push_back({bytes_of(in[i]), in[i]->nb_segs, in[i]->ol_flags});
      rte_pktmbuf_free(in[i]);
    }
    return out;
  }
  Bytes seg6(Seg s) { return tcp6(s, stream_); }
  std::uint64_t merged() const { return counters_.get(Counter::kGroMerged); }

  rte_mempool* pool_ = nullptr;
  std::unique_ptr<RxCoalescer> gro_;
  Counters counters_;
  Bytes stream_;
};

TEST_F(RxCoalesce6, InOrderRunBecomesOneChainWithTheLastWindow) {
  std::vector<Bytes> burst;
  for (std::uint32_t k = 0; k < 4; ++k)
    burst.push_back(seg6({.off = k * kSeg, .window = static_cast<std::uint16_t>(1000 * (k + 1))}));
  burst[0].resize(burst[0].size() + 3);  // a trailer after the datagram: not data
  burst[2].resize(burst[2].size() + 5);
  const auto out = coalesce(burst);
  ASSERT_EQ(out.size(), 1u);
  const Frame& f = out[0];
  EXPECT_EQ(f.nb_segs, 4u) << "one mbuf per wire segment";
  EXPECT_NE(f.ol_flags & RTE_MBUF_F_RX_LRO, 0u);
  EXPECT_EQ(f.ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
  EXPECT_EQ(merged(), 3u);
  const Sent6 s = parse6(f.bytes);
  EXPECT_EQ(s.payload_len, 32 + 4 * kSeg);
  EXPECT_EQ(s.next_header, kProtoTcp);
  EXPECT_EQ(f.seq(), kIsn);
  EXPECT_EQ(get32(s.payload, 8), kAck);
  EXPECT_EQ(f.window(), 4000u) << "the last segment's";
  EXPECT_EQ(get32(s.payload, 24), 7u) << "the options are the first's";
  EXPECT_EQ(Bytes(s.payload.begin() + 32, s.payload.end()),
            Bytes(stream_.begin(), stream_.begin() + 4 * kSeg));
}

// Each case: a second segment that must not join the first, though it
// would follow it in sequence.
struct Breaker {
  const char* name;
  std::function<Bytes(const Bytes& stream)> second;
};

class RxCoalesce6Breaks : public RxCoalesce6, public ::testing::WithParamInterface<Breaker> {};

TEST_P(RxCoalesce6Breaks, SecondSegmentIsNotMerged) {
  // The control: the plain second segment joins the first.
  ASSERT_EQ(coalesce({seg6({.off = 0}), seg6({.off = kSeg})}).size(), 1u);
  ASSERT_EQ(merged(), 1u);
  const auto out = coalesce({seg6({.off = 0}), GetParam().second(stream_)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].merged());
  EXPECT_FALSE(out[1].merged());
  EXPECT_EQ(out[0].seq(), kIsn) << "the order of the burst";
  EXPECT_EQ(merged(), 1u);
}

Bytes with_flags(const Bytes& stream, std::uint8_t flags) {
  return tcp6({.off = kSeg, .flags = flags}, stream);
}

INSTANTIATE_TEST_SUITE_P(
    Gro, RxCoalesce6Breaks,
    ::testing::Values(
        Breaker{"Gap", [](const Bytes& st) { return tcp6({.off = 2 * kSeg}, st); }},
        Breaker{"Overlap", [](const Bytes& st) { return tcp6({.off = kSeg - 1}, st); }},
        Breaker{"OtherAck", [](const Bytes& st) { return tcp6({.off = kSeg, .ack = kAck + 1}, st); }},
        Breaker{"OtherTsval", [](const Bytes& st) { return tcp6({.off = kSeg, .tsval = 8}, st); }},
        Breaker{"NoOptions", [](const Bytes& st) { return tcp6({.off = kSeg, .tsval = 0}, st); }},
        Breaker{"Fin", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x01); }},
        Breaker{"Syn", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x02); }},
        Breaker{"Rst", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x04); }},
        Breaker{"Psh", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x08); }},
        Breaker{"Urg", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x20); }},
        Breaker{"Ece", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x40); }},
        Breaker{"Cwr", [](const Bytes& st) { return with_flags(st, kAckFlag | 0x80); }},
        Breaker{"NoData", [](const Bytes& st) { return tcp6({.off = kSeg, .len = 0}, st); }},
        // ECN CE in the traffic class (RFC 3168 §5), on the second only.
        Breaker{"CongestionExperienced", [](const Bytes& st) { return tcp6({.off = kSeg}, st, 0x3u << 20); }},
        // ECT(0) where the first is Not-ECT: the first word differs.
        Breaker{"OtherEcn", [](const Bytes& st) { return tcp6({.off = kSeg}, st, 0x2u << 20); }},
        Breaker{"OtherFlowLabel", [](const Bytes& st) { return tcp6({.off = kSeg}, st, 0x12345); }},
        Breaker{"OtherHopLimit",
                [](const Bytes& st) {
                  Bytes f = tcp6({.off = kSeg}, st);
                  f[14 + 7] = std::byte{63};
                  return f;
                }},
        Breaker{"BadChecksum",
                [](const Bytes& st) {
                  Bytes f = tcp6({.off = kSeg}, st);
                  f.back() ^= std::byte{0x01};  // a payload bit flipped on the way
                  return f;
                }},
        // A Destination Options header (PadN only) before TCP.
        Breaker{"ExtensionHeader",
                [](const Bytes& st) {
                  Bytes segment = tcp_header_and_data({.off = kSeg}, st);
                  put16(segment, 16, upper_checksum(kPeerG, kOurG, kProtoTcp, segment));
                  Bytes ext(8);
                  ext[0] = std::byte{kProtoTcp};
                  ext[2] = std::byte{1};  // PadN, 4 bytes of padding
                  ext[3] = std::byte{4};
                  append(ext, segment);
                  return frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, kOurG, 60, ext));
                }}),
    [](const auto& i) { return std::string(i.param.name); });

TEST_F(RxCoalesce6, OtherFlowsInterleavedKeepEachFlowsOrder) {
  // a0 b0 a1 b1 a2 (a: port 40000, b: 40001); then a3 out of order.
  const auto out = coalesce({seg6({.off = 0}), seg6({.off = 0, .sport = kPeerPort + 1}), seg6({.off = kSeg}),
                             seg6({.off = kSeg, .sport = kPeerPort + 1}), seg6({.off = 2 * kSeg}),
                             seg6({.off = 4 * kSeg})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].sport(), kPeerPort);
  EXPECT_EQ(out[0].nb_segs, 3u);
  EXPECT_EQ(out[1].sport(), kPeerPort + 1);
  EXPECT_EQ(out[1].nb_segs, 2u);
  EXPECT_EQ(out[2].sport(), kPeerPort);
  EXPECT_EQ(out[2].seq(), kIsn + 4 * kSeg) << "after its flow's earlier data";
  EXPECT_FALSE(out[2].merged());
  EXPECT_EQ(merged(), 3u);
}

TEST_F(RxCoalesce6, ASegmentThatCannotFollowStartsItsFlowsNextFrame) {
  // a0 a1 a1 (again) a2: the second a1 cannot follow the first,
  // and a2 follows it, into the flow's second frame.
  const auto out =
      coalesce({seg6({.off = 0}), seg6({.off = kSeg}), seg6({.off = kSeg}), seg6({.off = 2 * kSeg})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq(), kIsn);
  EXPECT_EQ(out[0].nb_segs, 2u);
  EXPECT_EQ(out[1].seq(), kIsn + kSeg);
  EXPECT_EQ(out[1].nb_segs, 2u);
}

TEST_F(RxCoalesce6, MixedFamiliesAndANonCandidateKeepEachFlowsOrder) {
  const auto v4 = [&](Seg s) { return tcp4(s, stream_); };
  // v4 a0, v6 b0, v4 a1, v6 b1 | v4 a2 with PSH | v6 b2, v4 a3
  const auto out = coalesce({v4({.off = 0}), seg6({.off = 0}), v4({.off = kSeg}), seg6({.off = kSeg}),
                             v4({.off = 2 * kSeg, .flags = kAckFlag | 0x08}), seg6({.off = 2 * kSeg}),
                             v4({.off = 3 * kSeg})});
  ASSERT_EQ(out.size(), 5u);
  std::vector<std::pair<std::uint32_t, std::uint16_t>> a, b;  // (seq, wire segments) per flow
  for (const Frame& f : out) (f.v6() ? b : a).push_back({f.seq() - kIsn, f.nb_segs});
  EXPECT_EQ(a, (std::vector<std::pair<std::uint32_t, std::uint16_t>>{{0, 2}, {2 * kSeg, 1}, {3 * kSeg, 1}}));
  EXPECT_EQ(b, (std::vector<std::pair<std::uint32_t, std::uint16_t>>{{0, 2}, {2 * kSeg, 1}}));
  // Nothing crosses the PSH segment: the first two frames come before it.
  EXPECT_EQ(out[2].v6(), false);
  EXPECT_EQ(out[2].seq(), kIsn + 2 * kSeg);
  EXPECT_EQ(merged(), 2u);
}

TEST_F(RxCoalesce6, MergeStopsWherePayloadLengthWouldPass65535) {
  // 46 x 1,400 + 1,103 bytes of data and a 32-byte TCP header: exactly
  // 65,535 (RFC 8200 §3's 16-bit Payload Length). One byte more does not fit.
  std::vector<Bytes> burst;
  std::uint32_t off = 0;
  for (int k = 0; k < 46; ++k, off += 1400) burst.push_back(seg6({.off = off, .len = 1400}));
  burst.push_back(seg6({.off = off, .len = 1103}));
  off += 1103;
  burst.push_back(seg6({.off = off, .len = 1}));
  const auto out = coalesce(burst);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].nb_segs, 47u);
  EXPECT_EQ(get16(out[0].bytes, 18), 65535u);
  EXPECT_EQ(out[0].data_len(), 65535u - 32);
  EXPECT_EQ(out[1].seq(), kIsn + off);
  EXPECT_EQ(merged(), 46u);
}

TEST_F(RxCoalesce6, PortsVerdictsAreTrustedAndABadOneIsNotMerged) {
  // With the port's "good", no software sum: a segment whose checksum field
  // is wrong still merges (the port checked the wire's bytes).
  Bytes a = seg6({.off = 0}), b = seg6({.off = kSeg}), c = seg6({.off = 2 * kSeg});
  put16(a, 54 + 16, 0);
  put16(b, 54 + 16, 0);
  std::vector<rte_mbuf*> in;
  for (const Bytes* f : {&a, &b, &c}) in.push_back(to_mbuf(pool_, *f).release());
  in[0]->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  in[1]->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  in[2]->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;  // intact bytes, but the port said bad: TCP decides
  const std::uint16_t n = gro_->coalesce(in.data(), 3, counters_);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(in[0]->nb_segs, 2u);
  EXPECT_EQ(in[1]->nb_segs, 1u);
  EXPECT_EQ(in[1]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_BAD);
  for (std::uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(in[i]);
}

}  // namespace
}  // namespace tern::testkit
