// Receive-side coalescing (runtime/rx_coalesce.h, rx_coalesce6.h): one
// Worker over an in-process link, with GRO on and off and over IPv4 and IPv6
// (the parameters), and a peer driven by hand. Each test sends one burst and checks what the engine made of
// it: the receive queue's bytes, the ACKs, SACK / D-SACK, timestamps, the window and the counters, the same
// with GRO as without where the wire would not tell them apart. Virtual time; the link delivers a burst in
// one rx_burst.
#include "runtime/rx_coalesce.h"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <vector>

#include "../ip/ipv6_harness.h"
#include "port/link_pair.h"
#include "runtime/worker.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"
#include "worker_settings.h"

namespace tern::testkit {
namespace {

constexpr std::uint16_t kPeerPort = 40000;
constexpr std::uint32_t kPeerIsn = 1000;
constexpr std::uint32_t kPeerTs = 7000;
constexpr std::uint32_t kSeg = 1448;  // a full segment at MTU 1500 with timestamps

struct Ack {
  std::uint32_t ack;
  std::vector<SackBlock> sack;
};

struct Mode {
  bool gro;
  bool v6;
};
void PrintTo(const Mode& m, std::ostream* os) {
  *os << (m.gro ? "GRO on" : "GRO off") << (m.v6 ? ", IPv6" : ", IPv4");
}

class RxCoalesce : public ::testing::TestWithParam<Mode> {
 protected:
  bool gro() const { return GetParam().gro; }
  bool v6() const { return GetParam().v6; }

  void SetUp() override {
    peer_pool_ = make_pool("gro_peer");
    pool_ = make_pool("gro_ours");
    ASSERT_NE(peer_pool_, nullptr);
    ASSERT_NE(pool_, nullptr);
    auto [a, b] = make_link_pair(1, 256);
    ours_ = std::move(a);
    peer_ = std::move(b);
    IpSettings s = worker_ip_settings(*ours_);
    if (v6()) {
      s.v6.addrs = {Ipv6Prefix{kOurG, 64}};
      s.v6.nd.dad_transmits = 0;  // usable at once
    }
    const WorkerTcpSettings tcp = worker_tcp_settings(s, 8);
    worker_ = std::make_unique<Worker>(0, 1, *ours_, s, pool_, nullptr, 32, &tcp);
    if (gro()) worker_->enable_gro(SOCKET_ID_ANY);
    ASSERT_EQ(worker_->gro(), gro());
    Listener* l = worker_->tcp()->listen(80, 8);
    ASSERT_NE(l, nullptr);
    stream_ = pattern(16 * kSeg, 42);

    // The peer makes itself known (its MAC) and learns ours.
    if (v6()) {
      const Ipv6Addr group = solicited_node(kOurG);
      peer_sends({icmp6_frame(multicast_mac(group), kPeerG, group, 135, 0, ns_body(kOurG, kPeerMac), 255)});
    } else {
      peer_sends({arp_request_frame(kPeerMac, kPeerIp, kOurIp)});
    }
    ASSERT_EQ(peer_receives().size(), 1u);
    TcpOptions syn_opts;
    syn_opts.mss = 1460;
    syn_opts.sack_permitted = true;
    syn_opts.timestamps = std::pair{kPeerTs, 0u};
    peer_sends({segment(kPeerIsn, 0, kTcpSyn, 65535, syn_opts)});
    const auto synack = peer_receives();
    ASSERT_EQ(synack.size(), 1u);
    const Bytes seg = tcp_of(synack[0]);  // the view below points into it
    const auto h = TcpHeader::parse(seg);
    ASSERT_TRUE(h);
    ASSERT_EQ(h->flags().bits, kTcpSyn | kTcpAck);
    iss_ = h->seq();
    const auto o = parse_tcp_options(h->options());
    ASSERT_TRUE(o && o->timestamps);
    our_ts_ = o->timestamps->first;
    peer_sends({data(0, 0)});  // the handshake's ACK
    EXPECT_TRUE(peer_receives().empty());
    c_ = worker_->tcp()->accept(*l);
    ASSERT_NE(c_, nullptr);
    in_segs_ = worker_->counters().get(Counter::kInSegs);
  }

  void TearDown() override {
    c_ = nullptr;
    worker_.reset();
    ours_.reset();
    peer_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(peer_pool_), 0u) << "leaked peer mbufs";
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "leaked worker mbufs";
    rte_mempool_free(peer_pool_);
    rte_mempool_free(pool_);
  }

  Bytes segment(std::uint32_t seq, std::uint32_t len, std::uint8_t flags, std::uint16_t window,
                const TcpOptions& o, std::uint32_t payload_at = 0) {
    std::array<std::byte, kTcpMaxOptionsLen> opt{};
    const std::size_t ol = write_tcp_options(opt, o);
    Bytes tcp(20 + ol + len);
    EXPECT_EQ(write_tcp(tcp, TcpFields{kPeerPort, 80, seq, seq == kPeerIsn ? 0 : iss_ + 1, flags, window},
                        std::span{opt}.first(ol)),
              20 + ol);
    for (std::uint32_t i = 0; i < len; ++i) tcp[20 + ol + i] = stream_[payload_at + i];
    if (v6()) {
      put16(tcp, 16, upper_checksum(kPeerG, kOurG, kProtoTcp, tcp));
      return frame6(ours_->info().mac, kPeerMac, ipv6_packet(kPeerG, kOurG, kProtoTcp, tcp));
    }
    fill_tcp_checksum(tcp, kPeerIp, kOurIp);
    return ethernet(ours_->info().mac, kPeerMac, kEtherTypeIpv4,
                    ipv4(Ip{.protocol = kProtoTcp, .frag = 0x4000}, tcp));
  }
  // The TCP segment a frame we sent carries.
  Bytes tcp_of(const Bytes& f) const {
    return v6() ? parse6(f).payload : parse_ip(parse_eth(f).payload).payload;
  }
  // The peer's data from stream offset `off`, `len` bytes, its TSval `ts`.
  Bytes data(std::uint32_t off, std::uint32_t len, std::uint8_t flags = kTcpAck, std::uint16_t window = 65535,
             std::uint32_t ts = kPeerTs + 1) {
    TcpOptions o;
    o.timestamps = std::pair{ts, our_ts_};
    return segment(kPeerIsn + 1 + off, len, flags, window, o, off);
  }

  // The frames go onto the link first, then one poll takes them as one burst.
  void peer_sends(const std::vector<Bytes>& frames) {
    for (const Bytes& f : frames) {
      rte_mbuf* m = to_mbuf(peer_pool_, f).release();
      ASSERT_NE(m, nullptr);
      ASSERT_EQ(peer_->tx_burst(0, &m, 1), 1);
    }
    worker_->poll_once(at_ms(++t_ms_));
  }
  std::vector<Bytes> peer_receives() {
    std::vector<Bytes> out;
    std::array<rte_mbuf*, 32> burst{};
    for (std::uint16_t n; (n = peer_->rx_burst(0, burst.data(), 32)) > 0;) {
      for (std::uint16_t i = 0; i < n; ++i) {
        out.push_back(bytes_of(burst[i]));
        rte_pktmbuf_free(burst[i]);
      }
    }
    return out;
  }
  std::vector<Ack> acks() {
    std::vector<Ack> out;
    for (const Bytes& f : peer_receives()) {
      const Bytes seg = tcp_of(f);
      const auto h = TcpHeader::parse(seg);
      EXPECT_TRUE(h);
      if (!h) continue;
      EXPECT_EQ(h->flags().bits, kTcpAck);
      const auto o = parse_tcp_options(h->options());
      EXPECT_TRUE(o);
      Ack a{h->ack(), {}};
      if (o) a.sack.assign(o->sack_blocks().begin(), o->sack_blocks().end());
      out.push_back(a);
    }
    return out;
  }
  Bytes read_all() {
    Bytes out(stream_.size());
    const std::size_t n = worker_->tcp()->read(*c_, out, at_ms(t_ms_));
    out.resize(n);
    return out;
  }
  Bytes stream(std::uint32_t from, std::uint32_t to) {
    return Bytes(stream_.begin() + from, stream_.begin() + to);
  }
  std::uint64_t merged() const { return worker_->counters().get(Counter::kGroMerged); }
  std::uint64_t in_segs() const { return worker_->counters().get(Counter::kInSegs) - in_segs_; }
  std::uint32_t rel(std::uint32_t ack) const { return ack - (kPeerIsn + 1); }

  rte_mempool* peer_pool_ = nullptr;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<LinkPort> ours_, peer_;
  std::unique_ptr<Worker> worker_;
  Tcb* c_ = nullptr;
  Bytes stream_;
  std::uint32_t iss_ = 0;
  std::uint32_t our_ts_ = 0;
  std::int64_t t_ms_ = 0;
  std::uint64_t in_segs_ = 0;
};

TEST_P(RxCoalesce, InOrderBurstGivesTheSameBytesOneAckAndTheLastWindow) {
  peer_sends({data(0, kSeg, kTcpAck, 1000), data(kSeg, kSeg, kTcpAck, 2000),
              data(2 * kSeg, kSeg, kTcpAck, 3000), data(3 * kSeg, kSeg, kTcpAck, 4000)});
  EXPECT_EQ(merged(), gro() ? 3u : 0u);
  // InSegs and tcpi_segs_in count wire segments either way.
  EXPECT_EQ(in_segs(), 4u);
  EXPECT_EQ(c_->segs_in, 5u);  // and the handshake's ACK
  const auto a = acks();
  ASSERT_EQ(a.size(), 1u) << "one ACK for the burst (RFC 5681 §4.2: at least every second full segment)";
  EXPECT_EQ(rel(a[0].ack), 4 * kSeg);
  EXPECT_TRUE(a[0].sack.empty());
  EXPECT_EQ(c_->snd_wnd, 4000u) << "the window of the last segment";
  EXPECT_EQ(c_->ts_recent, kPeerTs + 1);
  EXPECT_EQ(read_all(), stream(0, 4 * kSeg));
}

TEST_P(RxCoalesce, PushSegmentIsNotMergedAndOrderIsKept) {
  // rte_gro (22.11) takes ACK-only segments; the PUSH one goes up alone,
  // after the one before it and before those after it.
  peer_sends(
      {data(0, kSeg), data(kSeg, kSeg, kTcpAck | kTcpPsh), data(2 * kSeg, kSeg), data(3 * kSeg, kSeg)});
  EXPECT_EQ(merged(), gro() ? 1u : 0u);
  EXPECT_EQ(in_segs(), 4u);
  const auto a = acks();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(rel(a[0].ack), 4 * kSeg);
  EXPECT_TRUE(a[0].sack.empty()) << "nothing arrived out of order";
  EXPECT_EQ(worker_->counters().get(Counter::kTCPOFOQueue), 0u);
  EXPECT_EQ(read_all(), stream(0, 4 * kSeg));
}

TEST_P(RxCoalesce, SegmentsAfterAHoleAreSackedAndNotMergedAcrossIt) {
  peer_sends({data(0, kSeg), data(2 * kSeg, kSeg), data(3 * kSeg, kSeg)});
  EXPECT_EQ(merged(), gro() ? 1u : 0u) << "the two after the hole merge with each other only";
  EXPECT_EQ(in_segs(), 3u);
  const auto a = acks();
  // Each out-of-order segment is answered at once: two ACKs on the wire, one
  // for the merged segment (as Linux answers a GRO skb).
  ASSERT_EQ(a.size(), gro() ? 1u : 2u);
  EXPECT_EQ(rel(a.back().ack), kSeg);
  ASSERT_EQ(a.back().sack.size(), 1u);
  EXPECT_EQ(rel(a.back().sack[0].left), 2 * kSeg);
  EXPECT_EQ(rel(a.back().sack[0].right), 4 * kSeg);
  EXPECT_EQ(read_all(), stream(0, kSeg));
  // The hole filled: everything is delivered, in order.
  peer_sends({data(kSeg, kSeg)});
  const auto b = acks();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(rel(b[0].ack), 4 * kSeg);
  EXPECT_EQ(read_all(), stream(kSeg, 4 * kSeg));
}

TEST_P(RxCoalesce, DuplicateIsNotMergedAndGetsItsDsack) {
  peer_sends({data(0, kSeg), data(kSeg, kSeg), data(kSeg, kSeg)});
  EXPECT_EQ(merged(), gro() ? 1u : 0u);
  const auto a = acks();
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(rel(a.back().ack), 2 * kSeg);
  ASSERT_EQ(a.back().sack.size(), 1u) << "RFC 2883 §4: the duplicate is reported";
  EXPECT_EQ(rel(a.back().sack[0].left), kSeg);
  EXPECT_EQ(rel(a.back().sack[0].right), 2 * kSeg);
  EXPECT_EQ(read_all(), stream(0, 2 * kSeg));
}

TEST_P(RxCoalesce, SegmentsWithDifferentTimestampsAreNotMerged) {
  peer_sends({data(0, kSeg, kTcpAck, 65535, kPeerTs + 1), data(kSeg, kSeg, kTcpAck, 65535, kPeerTs + 2),
              data(2 * kSeg, kSeg, kTcpAck, 65535, kPeerTs + 2)});
  EXPECT_EQ(merged(), gro() ? 1u : 0u) << "only the two with the same TSval";
  // RFC 7323 §4.3: TS.Recent is the TSval of the segment covering
  // Last.ACK.sent, the first here, with GRO as without.
  EXPECT_EQ(c_->ts_recent, kPeerTs + 1);
  ASSERT_EQ(acks().size(), 1u);
  EXPECT_EQ(read_all(), stream(0, 3 * kSeg));
}

// A retransmission that fills a hole, sent between new segments with the
// same TSval (one output pass of the sender), is taken before the new data
// that came after it, merged or not. rte_gro alone merged the segments after
// it into the frame before it, so the receiver SACKed them while the hole
// still looked open, and the sender's RACK (RFC 8985 §6.2) called the
// retransmission lost and sent it again (rx_coalesce.cc, chain_len_with).
TEST_P(RxCoalesce, RetransmissionIsNotOvertakenByTheDataAfterIt) {
  peer_sends({data(0, kSeg), data(2 * kSeg, kSeg), data(3 * kSeg, kSeg)});  // a hole at kSeg
  (void)acks();
  // On the wire: two new segments, the retransmission, two new segments.
  peer_sends({data(4 * kSeg, kSeg), data(5 * kSeg, kSeg), data(kSeg, kSeg), data(6 * kSeg, kSeg),
              data(7 * kSeg, kSeg)});
  EXPECT_EQ(merged(), gro() ? 1u + 2u : 0u) << "each pair either side of the retransmission, not across it";
  const auto a = acks();
  ASSERT_FALSE(a.empty());
  for (const Ack& x : a) {
    if (rel(x.ack) != kSeg) continue;  // the hole is filled
    for (const SackBlock& b : x.sack)
      EXPECT_LE(rel(b.right), 6 * kSeg) << "data sent after the retransmission SACKed before it";
  }
  EXPECT_EQ(rel(a.back().ack), 8 * kSeg);
  EXPECT_TRUE(a.back().sack.empty());
  EXPECT_EQ(read_all(), stream(0, 8 * kSeg));
}

TEST_P(RxCoalesce, SegmentWithABadChecksumIsNeitherMergedNorAccepted) {
  Bytes bad = data(kSeg, kSeg);
  bad[bad.size() - 1] ^= std::byte{0x01};  // a payload bit flipped on the way
  peer_sends({data(0, kSeg), bad});
  EXPECT_EQ(merged(), 0u);
  EXPECT_EQ(worker_->counters().get(Drop::kTcpBadChecksum), 1u);
  EXPECT_EQ(read_all(), stream(0, kSeg));
  peer_sends({data(kSeg, kSeg)});  // the retransmission
  EXPECT_EQ(read_all(), stream(kSeg, 2 * kSeg));
}

TEST_P(RxCoalesce, CongestionExperiencedSegmentIsNotMerged) {
  Bytes ce = data(kSeg, kSeg);
  if (v6()) {
    ce[14 + 1] |= std::byte{0x30};  // ECN CE: the traffic class's low bits (RFC 3168 §5)
  } else {
    ce[14 + 1] = std::byte{0x03};  // ECN CE (RFC 3168 §5); the header checksum again
    put16(ce, 14 + 10, 0);
    put16(ce, 14 + 10, ref_checksum(std::span{ce}.subspan(14, 20)));
  }
  peer_sends({data(0, kSeg), ce, data(2 * kSeg, kSeg), data(3 * kSeg, kSeg)});
  EXPECT_EQ(merged(), gro() ? 1u : 0u) << "only the two after the CE one";
  EXPECT_EQ(read_all(), stream(0, 4 * kSeg));
}

INSTANTIATE_TEST_SUITE_P(Gro, RxCoalesce,
                         ::testing::Values(Mode{true, false}, Mode{false, false}, Mode{true, true},
                                           Mode{false, true}),
                         [](const auto& i) {
                           return std::string(i.param.gro ? "on" : "off") + (i.param.v6 ? "_v6" : "_v4");
                         });

}  // namespace
}  // namespace tern::testkit
