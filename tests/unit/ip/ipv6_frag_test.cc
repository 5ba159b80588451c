// IPv6 fragments (RFC 8200 §4.5) through the IP layer: reassembly in any
// order (21 fragments: the 30,000 bytes), overlaps discarding the
// whole datagram and exact duplicates dropped alone (RFC 5722), the
// fragment-count, table and memory bounds, the timeout
// with Time Exceeded code 1, a first fragment without the whole header
// chain (RFC 7112: Parameter Problem code 3), and fragmentation of a big
// echo reply and a big UDP datagram, checked byte for byte.
#include <gtest/gtest.h>

#include <algorithm>

#include "ip/ip_frag.h"
#include "ipv6_harness.h"
#include "wire/checksum.h"

namespace tern::testkit {
namespace {

constexpr std::uint8_t kNhUdp = 17;

// A fragment we sent, taken apart.
struct SentFragment {
  Sent6 ip;
  std::uint8_t next = 0;
  std::size_t offset = 0;
  bool more = false;
  std::uint32_t id = 0;
  Bytes data;
};

SentFragment parse_fragment(const Bytes& frame) {
  SentFragment f;
  f.ip = parse6(frame);
  EXPECT_EQ(f.ip.next_header, kNhFragment);
  if (f.ip.payload.size() < 8) {
    ADD_FAILURE() << "no fragment header";
    return f;
  }
  f.next = get8(f.ip.payload, 0);
  const std::uint16_t word = get16(f.ip.payload, 2);
  f.offset = word & 0xFFF8;
  f.more = (word & 1) != 0;
  f.id = get32(f.ip.payload, 4);
  f.data = Bytes(f.ip.payload.begin() + 8, f.ip.payload.end());
  return f;
}

class Ipv6Frag : public Ipv6Test {
 protected:
  void SetUp() override {
    Ipv6Test::SetUp();
    with_indirect_pool();
  }
  // Takes every queued frame as a fragment of one datagram: checks that
  // they fit the MTU, share one Identification, and tile the datagram in
  // order (all but the last a multiple of 8, with M set); returns its bytes.
  Bytes expect_fragments(std::size_t n, std::uint8_t next, const Ipv6Addr& dst) {
    EXPECT_EQ(sent_count(), n);
    Bytes whole;
    std::optional<std::uint32_t> id;
    for (std::size_t i = 0; i < n && sent_count() > 0; ++i) {
      const Bytes frame = expect_sent();
      EXPECT_LE(frame.size(), 14u + settings_.mtu);
      const SentFragment f = parse_fragment(frame);
      EXPECT_EQ(f.ip.src, kOurG);
      EXPECT_EQ(f.ip.dst, dst);
      EXPECT_EQ(f.ip.eth_dst, kPeerMac);
      EXPECT_EQ(f.next, next);
      EXPECT_EQ(f.offset, whole.size()) << "fragment " << i;
      EXPECT_EQ(f.more, i + 1 < n) << "fragment " << i;
      if (i + 1 < n) {
        EXPECT_EQ(f.data.size() % 8, 0u);
      }
      if (id) {
        EXPECT_EQ(f.id, *id) << "one Identification per datagram";
      }
      id = f.id;
      append(whole, f.data);
    }
    return whole;
  }
  void expect_delivered_echo_reply(std::uint16_t ident, std::uint16_t seq, const Bytes& data) {
    // 8 + data bytes of ICMPv6: 1448-byte pieces at MTU 1500 (1500 - 40 - 8, rounded down to 8).
    const std::size_t n = (8 + data.size() + 1447) / 1448;
    const Bytes reply = expect_fragments(n, kNhIcmp6, kPeerG);
    // Byte for byte: what an independent builder makes of the same reply.
    EXPECT_EQ(reply, icmp6(129, 0, echo_body(ident, seq, data), kOurG, kPeerG));
  }
};

TEST_F(Ipv6Frag, FragmentedEchoInOrderIsReassembledAndTheReplyFragmented) {
  peer_solicits(at_ms(0));
  const Bytes data = pattern(4000, 3);  // ping -6 -s 4000
  const Bytes msg = icmp6(128, 0, echo_body(0x4242, 9, data), kPeerG, kOurG);
  const auto frags = fragments6(0xCAFE, kNhIcmp6, msg, 1448);
  ASSERT_EQ(frags.size(), 3u);
  recv6(frags[0], at_ms(1));
  recv6(frags[1], at_ms(2));
  expect_nothing_sent();
  expect_frags_held(2);
  recv6(frags[2], at_ms(3));
  expect_delivered_echo_reply(0x4242, 9, data);
  EXPECT_EQ(count(Counter::kIp6ReasmReqds), 3u);
  EXPECT_EQ(count(Counter::kIp6ReasmOKs), 1u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 0u);
  EXPECT_EQ(count(Counter::kIp6FragOKs), 1u);
  EXPECT_EQ(count(Counter::kIp6FragCreates), 3u);
  EXPECT_EQ(count(Counter::kIcmp6OutEchoReplies), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_frags_held(0);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, OutOfOrderFragmentsAreReassembled) {
  peer_solicits(at_ms(0));
  const Bytes data = pattern(3000, 4);
  const auto frags = fragments6(7, kNhIcmp6, icmp6(128, 0, echo_body(1, 2, data), kPeerG, kOurG), 1232);
  ASSERT_EQ(frags.size(), 3u);
  recv6(frags[2], at_ms(1));
  recv6(frags[0], at_ms(1));
  recv6(frags[1], at_ms(1));
  expect_delivered_echo_reply(1, 2, data);
  EXPECT_EQ(count(Counter::kIp6ReasmOKs), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, TcpIsDeliveredAsAChainWithItsOffsets) {
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(2500, 5);
  for (const Bytes& f : fragments6(11, kProtoTcp, segment, 1000)) recv6(f, at_ms(1));
  ASSERT_EQ(transport_.deliveries.size(), 1u);
  const Ipv6Delivery& d = transport_.deliveries[0];
  EXPECT_EQ(d.src, kPeerG);
  EXPECT_EQ(d.dst, kOurG);
  EXPECT_EQ(d.protocol, kProtoTcp);
  EXPECT_EQ(d.l4_offset, 54u);  // the fragment header is gone
  EXPECT_EQ(d.l4_len, segment.size());
  const Bytes& frame = transport_.frames[0];
  ASSERT_EQ(frame.size(), 54u + segment.size());
  EXPECT_EQ(get8(frame, 20), kProtoTcp) << "Next Header from the fragment header";
  EXPECT_EQ(get16(frame, 18), segment.size()) << "payload length of the whole";
  EXPECT_EQ(Bytes(frame.begin() + 54, frame.end()), segment);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, HeadersBeforeTheFragmentHeaderAreCutOut) {
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(1600, 6);
  Bytes dest_opts(8);  // Next Header set by fragment6(), length 0, PadN of 4
  dest_opts[2] = std::byte{1};
  dest_opts[3] = std::byte{4};
  recv6(fragment6(kPeerG, kOurG, 12, kProtoTcp, segment, 0, 800, true, dest_opts), at_ms(1));
  recv6(fragment6(kPeerG, kOurG, 12, kProtoTcp, segment, 800, 800, false, dest_opts), at_ms(1));
  ASSERT_EQ(transport_.deliveries.size(), 1u);
  EXPECT_EQ(transport_.deliveries[0].l4_offset, 54u);
  EXPECT_EQ(Bytes(transport_.frames[0].begin() + 54, transport_.frames[0].end()), segment);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, AtomicFragmentIsNotReassembly) {
  peer_solicits(at_ms(0));
  const Bytes msg = icmp6(128, 0, echo_body(3, 4, pattern(40)), kPeerG, kOurG);
  recv6(fragment6(kPeerG, kOurG, 5, kNhIcmp6, msg, 0, msg.size(), false), at_ms(1));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.type(), 129);
  EXPECT_EQ(count(Counter::kIp6ReasmReqds), 0u);  // RFC 6946: processed on its own
  expect_no_leaks();
}

// RFC 5722 §4 lets a receiver drop an exact copy alone; Linux does.
TEST_F(Ipv6Frag, DuplicateFragmentIsDroppedAlone) {
  peer_solicits(at_ms(0));
  const Bytes data = pattern(3000);
  const auto frags = fragments6(8, kNhIcmp6, icmp6(128, 0, echo_body(1, 1, data), kPeerG, kOurG), 1232);
  recv6(frags[0], at_ms(1));
  recv6(frags[1], at_ms(1));
  recv6(frags[1], at_ms(1));
  recv6(frags[2], at_ms(1));
  expect_delivered_echo_reply(1, 1, data);
  EXPECT_EQ(count(Counter::kIp6ReasmOKs), 1u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 0u);
  expect_only_drop(Drop::kIp6FragDuplicate);
  expect_frags_held(0);
  expect_no_leaks();
}

class Ipv6BigDatagram : public Ipv6Frag, public ::testing::WithParamInterface<Arrival> {};

TEST_P(Ipv6BigDatagram, TwentyOneFragmentsAreReassembledWhateverTheOrder) {
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(30'000, 11);
  const auto frags = fragments6(0x30000, kProtoTcp, segment, 1448);
  ASSERT_EQ(frags.size(), 21u);
  const auto order = arrival_order(frags.size(), GetParam());
  for (std::size_t i = 0; i + 1 < order.size(); ++i) recv6(frags[order[i]], at_ms(1));
  EXPECT_EQ(transport_.deliveries.size(), 0u);
  expect_frags_held(20);
  recv6(frags[order.back()], at_ms(2));
  ASSERT_EQ(transport_.deliveries.size(), 1u);
  EXPECT_EQ(transport_.deliveries[0].l4_len, 30'000);
  const Sent6 s = parse6(transport_.frames[0]);
  EXPECT_EQ(s.next_header, kProtoTcp) << "the fragment header is gone";
  EXPECT_EQ(s.payload_len, 30'000);
  EXPECT_EQ(s.src, kPeerG);
  EXPECT_TRUE(s.payload == segment) << "reassembled bytes differ";
  EXPECT_EQ(count(Counter::kIp6ReasmReqds), 21u);
  EXPECT_EQ(count(Counter::kIp6ReasmOKs), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_frags_held(0);
  expect_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(Orders, Ipv6BigDatagram,
                         ::testing::Values(Arrival::kInOrder, Arrival::kReversed, Arrival::kShuffled),
                         [](const auto& i) { return arrival_name(i.param); });

// 20 of 21 fragments, the first among them: the timer frees all 20 and
// sends one Time Exceeded.
TEST_F(Ipv6Frag, TimeoutFreesEveryFragmentOfABigDatagram) {
  peer_solicits(at_ms(0));
  const auto frags = fragments6(0x30001, kProtoTcp, pattern(30'000, 12), 1448);
  for (std::size_t i = 0; i + 1 < frags.size(); ++i) recv6(frags[i], at_ms(1));
  expect_frags_held(20);
  timer(at_ms(2) + settings_.ip.frag_timeout);
  const Sent6 s = parse6(expect_sent());
  expect_nothing_sent();
  EXPECT_EQ(s.type(), 3);
  EXPECT_EQ(s.code(), 1);
  EXPECT_EQ(count(Counter::kIp6ReasmTimeout), 1u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 1u);
  expect_only_drop(Drop::kIp6FragDiscarded, 20);
  expect_frags_held(0);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, FullTableRefusesANewDatagram) {
  settings_.ip.frag_max_flows = 1;
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(2000, 13);
  recv6(fragment6(kPeerG, kOurG, 31, kProtoTcp, segment, 0, 1000, true), at_ms(1));
  recv6(fragment6(kPeerG, kOurG, 32, kProtoTcp, segment, 0, 1000, true), at_ms(1));  // no room
  expect_only_drop(Drop::kIp6FragDiscarded);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 1u);
  expect_frags_held(1);
  recv6(fragment6(kPeerG, kOurG, 31, kProtoTcp, segment, 1000, 1000, false), at_ms(1));
  ASSERT_EQ(transport_.deliveries.size(), 1u);
  expect_frags_held(0);
}

// RFC 5722: overlapping fragments abandon the whole datagram, the
// fragments already held included; nothing of it is delivered.
TEST_F(Ipv6Frag, OverlappingFragmentsDiscardTheDatagram) {
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(2000, 7);
  recv6(fragment6(kPeerG, kOurG, 9, kProtoTcp, segment, 0, 1232, true), at_ms(1));
  recv6(fragment6(kPeerG, kOurG, 9, kProtoTcp, segment, 1224, 776, false), at_ms(1));  // 8 bytes overlap
  EXPECT_EQ(transport_.deliveries.size(), 0u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 1u);
  expect_only_drop(Drop::kIp6FragDiscarded, 2);
  expect_frags_held(0);
  // An overlap that leaves the sum right but a hole: discarded too.
  counters_ = Counters{};
  recv6(fragment6(kPeerG, kOurG, 10, kProtoTcp, segment, 0, 1000, true), at_ms(2));
  recv6(fragment6(kPeerG, kOurG, 10, kProtoTcp, segment, 992, 8, true), at_ms(2));      // overlaps the first
  recv6(fragment6(kPeerG, kOurG, 10, kProtoTcp, segment, 1008, 992, false), at_ms(2));  // leaves 1000..1008
  EXPECT_EQ(transport_.deliveries.size(), 0u);
  expect_only_drop(Drop::kIp6FragDiscarded, 3);
  expect_frags_held(0);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, MoreFragmentsThanFragMaxFragmentsDiscardTheDatagram) {
  settings_.ip.frag_max_fragments = 8;
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(80, 8);
  const auto frags = fragments6(13, kNhUdp, segment, 8);  // 10 fragments
  for (std::size_t i = 0; i < 9; ++i) recv6(frags[i], at_ms(1));
  EXPECT_EQ(transport_.deliveries.size(), 0u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 1u);
  EXPECT_EQ(count(Counter::kIp6ReasmOKs), 0u);
  expect_only_drop(Drop::kIp6FragTooMany, 9);  // the 8 held and the ninth
  expect_frags_held(0);
  // The tenth belongs to the discarded datagram: dropped, not held.
  recv6(frags[9], at_ms(1));
  EXPECT_EQ(drops(Drop::kIp6FragDiscarded), 1u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 1u);
  expect_frags_held(0);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, MemoryBoundEvictsTheOldestDatagram) {
  settings_.ip.frag_high_thresh = 3 * kTruesize;
  settings_.ip.frag_low_thresh = 2 * kTruesize;
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(2000, 9);
  for (std::uint32_t id = 1; id <= 3; ++id)
    recv6(fragment6(kPeerG, kOurG, id, kProtoTcp, segment, 0, 1000, true), at_ms(id));
  expect_frags_held(3);
  recv6(fragment6(kPeerG, kOurG, 4, kProtoTcp, segment, 0, 1000, true), at_ms(4));
  expect_frags_held(2);  // the oldest two went to make room down to frag_low_thresh
  EXPECT_EQ(drops(Drop::kIp6FragEvicted), 2u);
  // Datagram 4 can still complete; datagram 1 is gone: its last fragment
  // completes nothing.
  recv6(fragment6(kPeerG, kOurG, 4, kProtoTcp, segment, 1000, 1000, false), at_ms(5));
  ASSERT_EQ(transport_.deliveries.size(), 1u);
  EXPECT_EQ(Bytes(transport_.frames[0].begin() + 54, transport_.frames[0].end()), segment);
  recv6(fragment6(kPeerG, kOurG, 1, kProtoTcp, segment, 1000, 1000, false), at_ms(5));
  EXPECT_EQ(transport_.deliveries.size(), 1u);
  expect_frags_held(2);  // datagram 3's first fragment and datagram 1's last
}

TEST_F(Ipv6Frag, TimeoutSendsTimeExceededWhenTheFirstFragmentCame) {
  peer_solicits(at_ms(0));
  const Bytes segment = pattern(2000, 10);
  const Bytes first = fragment6(kPeerG, kOurG, 21, kProtoTcp, segment, 0, 1000, true);
  recv6(first, at_ms(1));
  recv6(fragment6(kPeerG, kOurG, 22, kProtoTcp, segment, 1000, 1000, false), at_ms(1));  // no first fragment
  timer(at_ms(1) + settings_.ip.frag_timeout - Duration::ms(1));
  expect_nothing_sent();
  expect_frags_held(2);
  timer(at_ms(2) + settings_.ip.frag_timeout);
  const Sent6 s = parse6(expect_sent());
  expect_nothing_sent();  // none for datagram 22, whose first fragment never came
  EXPECT_EQ(s.dst, kPeerG);
  EXPECT_EQ(s.type(), 3);
  EXPECT_EQ(s.code(), 1);  // fragment reassembly time exceeded
  EXPECT_TRUE(s.icmp_ok);
  EXPECT_EQ(Bytes(s.payload.begin() + 8, s.payload.end()), Bytes(first.begin() + 14, first.end()));
  EXPECT_EQ(count(Counter::kIp6ReasmTimeout), 2u);
  EXPECT_EQ(count(Counter::kIp6ReasmFails), 2u);
  EXPECT_EQ(drops(Drop::kIp6FragDiscarded), 2u);
  expect_frags_held(0);
  expect_no_leaks();
}

TEST_F(Ipv6Frag, FirstFragmentWithoutTheUpperLayerHeaderGetsParameterProblem3) {
  peer_solicits(at_ms(0));
  // A Destination Options header alone in the first fragment; UDP's header
  // would come in the second.
  Bytes whole(8);
  whole[0] = static_cast<std::byte>(kNhUdp);
  whole[2] = std::byte{1};
  whole[3] = std::byte{4};
  append(whole, pattern(16, 11));
  const Bytes first = fragment6(kPeerG, kOurG, 31, 60, whole, 0, 8, true);
  recv6(first, at_ms(1));
  const Sent6 s = parse6(expect_sent());
  EXPECT_EQ(s.type(), 4);
  EXPECT_EQ(s.code(), 3);
  EXPECT_EQ(get32(s.payload, 4), 0u);
  EXPECT_TRUE(s.icmp_ok);
  EXPECT_EQ(count(Counter::kIp6InHdrErrors), 1u);
  expect_only_drop(Drop::kIp6FragIncompleteChain);
  expect_frags_held(0);
  expect_no_leaks();
}

// What a transport sends larger than the MTU leaves in fragments; an L4
// checksum left to the NIC is finished first (no NIC sums pieces).
TEST_F(Ipv6Frag, BigUdpDatagramLeavesInFragmentsWithItsChecksumFinished) {
  peer_solicits(at_ms(0));
  Bytes datagram(8);
  put16(datagram, 0, 5000);
  put16(datagram, 2, 7);
  append(datagram, pattern(3992, 12));
  put16(datagram, 4, static_cast<std::uint16_t>(datagram.size()));
  Mbuf m = Mbuf::alloc(pool_);
  ASSERT_TRUE(m);
  ASSERT_TRUE(append_chain(m, datagram, pool_));
  // As UDP would ask for offload: the folded pseudo-header sum in the field.
  const std::uint32_t pseudo =
      ipv6_pseudo_header_sum(kOurG, kPeerG, static_cast<std::uint32_t>(datagram.size()), kNhUdp);
  auto* head = rte_pktmbuf_mtod(m.get(), std::byte*);
  store_be16(head + 6, checksum_fold(pseudo));
  m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
  ASSERT_TRUE(ip6().send_ipv6(std::move(m), kPeerG, kNhUdp, at_ms(1), out_));
  const Bytes sent = expect_fragments(3, kNhUdp, kPeerG);
  ASSERT_EQ(sent.size(), datagram.size());
  EXPECT_EQ(upper_checksum(kOurG, kPeerG, kNhUdp, sent), 0) << "checksum finished in software";
  Bytes expected = datagram;
  put16(expected, 6, get16(sent, 6));
  EXPECT_EQ(sent, expected) << "payload byte for byte";
  EXPECT_EQ(count(Counter::kIp6FragOKs), 1u);
  EXPECT_EQ(count(Counter::kIp6FragCreates), 3u);
  expect_no_leaks();
}

// A TCP super-segment for the port to cut (TSO, RTE_MBUF_F_TX_TCP_SEG) is
// longer than the MTU by design: it leaves whole, not in fragments, with
// the offload's version flag and header lengths, its payload length the
// whole segment's (each wire segment's is the port's to write).
TEST_F(Ipv6Frag, ATsoSuperSegmentLeavesWholeForThePortToCut) {
  peer_solicits(at_ms(0));
  Bytes tcp(20);
  tcp[12] = std::byte{0x50};
  append(tcp, pattern(4 * 1440, 3));
  Mbuf m = Mbuf::alloc(pool_);
  ASSERT_TRUE(m);
  ASSERT_TRUE(append_chain(m, tcp, pool_));
  m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM;
  m->l4_len = 20;
  m->tso_segsz = 1440;
  ASSERT_TRUE(ip6().send_ipv6(std::move(m), kPeerG, kProtoTcp, at_ms(1), out_));
  Mbuf f = out_.pop_front();
  ASSERT_TRUE(f);
  EXPECT_TRUE(out_.empty()) << "one frame, no fragments";
  EXPECT_EQ(f->pkt_len, 14u + 40 + tcp.size());
  EXPECT_EQ(f->ol_flags & (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_SEG),
            RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_SEG);
  EXPECT_EQ(f->l2_len, 14u);
  EXPECT_EQ(f->l3_len, 40u);
  const Bytes b = bytes_of(f.get());
  EXPECT_EQ(get16(b, 14 + 4), tcp.size());
  EXPECT_EQ(count(Counter::kIp6FragCreates), 0u);
  f.reset();
  expect_no_leaks();
}

// RFC 8201 §5.2: a Packet Too Big about a UDP datagram of ours lowers the
// path MTU to its destination (one reporting less than 1280 means 1280,
// §4); later UDP datagrams to it are fragmented to fit, TCP is left to its
// own estimate, and [ip] pmtu_expires_s after the decrease the link MTU is
// back.
TEST_F(Ipv6Frag, PacketTooBigAboutUdpLowersThePathMtuForLaterDatagrams) {
  peer_solicits(at_ms(0));
  Bytes quoted(8);
  put16(quoted, 0, 5000);
  put16(quoted, 2, 7);
  put16(quoted, 4, 1408);
  Bytes body(4);
  put32(body, 0, 1000);
  append(body, ipv6_packet(kOurG, kPeerG, kNhUdp, quoted));
  recv6(icmp6_frame(kOurMac, kPeerG, kOurG, 2, 0, body), at_ms(1));
  EXPECT_EQ(count(Counter::kIcmp6InPktTooBigs), 1u);
  EXPECT_EQ(count(Counter::kPmtuLearned), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  EXPECT_EQ(ip6().path_mtu(IpAddr::v6(kPeerG.b), at_ms(2)), 1280);
  const auto send = [&](std::uint8_t next, Instant at) {
    Mbuf m = Mbuf::alloc(pool_);
    ASSERT_TRUE(m);
    ASSERT_TRUE(append_chain(m, pattern(1408, 6), pool_));
    ASSERT_TRUE(ip6().send_ipv6(std::move(m), kPeerG, next, at, out_));
  };
  send(kNhUdp, at_ms(2));
  ASSERT_EQ(sent_count(), 2u);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_LE(rte_pktmbuf_pkt_len(out_.data()[i]), 14u + 1280u);
  EXPECT_EQ(expect_fragments(2, kNhUdp, kPeerG), pattern(1408, 6));
  send(kProtoTcp, at_ms(3));
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(parse6(expect_sent()).next_header, kProtoTcp) << "TCP leaves whole";
  EXPECT_EQ(ip6().path_mtu(IpAddr::v6(kPeerG.b), at_ms(1) + settings_.ip.pmtu_expires), 1500);
  EXPECT_EQ(count(Counter::kPmtuExpired), 1u);
  send(kNhUdp, at_ms(2) + settings_.ip.pmtu_expires);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(parse6(expect_sent()).next_header, kNhUdp) << "whole again";
  expect_no_leaks();
}

TEST_F(Ipv6Frag, IdentificationDiffersBetweenDatagrams) {
  peer_solicits(at_ms(0));
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 4; ++i) {
    Mbuf m = Mbuf::alloc(pool_);
    ASSERT_TRUE(append_chain(m, pattern(2000, i), pool_));
    ASSERT_TRUE(ip6().send_ipv6(std::move(m), kPeerG, kProtoTcp, at_ms(1), out_));
    ids.push_back(parse_fragment(expect_sent()).id);
    out_.clear();
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "RFC 7739: not one per datagram";
  expect_no_leaks();
}

// Fragments are indirect mbufs over the payload: without that pool a
// packet over the MTU cannot leave, and says so.
TEST_F(Ipv6Test, WithoutAnIndirectPoolABigPacketIsDroppedAndCounted) {
  peer_solicits(at_ms(0));
  Mbuf m = Mbuf::alloc(pool_);
  ASSERT_TRUE(append_chain(m, pattern(2000, 13), pool_));
  EXPECT_FALSE(ip6().send_ipv6(std::move(m), kPeerG, kProtoTcp, at_ms(1), out_));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kIp6FragFails), 1u);
  EXPECT_EQ(count(Counter::kIp6FragOKs), 0u);
  expect_only_drop(Drop::kIp6TooBig);
  expect_no_leaks();
}

}  // namespace
}  // namespace tern::testkit
