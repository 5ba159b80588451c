// IPv4 input, ICMP echo and Destination Unreachable through the IP layer, and
// every kind of malformed frame, each counted under its named drop reason.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "ip_harness.h"

namespace tern::testkit {
namespace {

using IcmpEcho = IpHarness;

TEST_F(IcmpEcho, RequestGetsReplyWithSameIdSeqAndData) {
  settings_.ip.default_ttl = 77;  // so the reply's TTL visibly comes from config, not the request
  resolve_peer(at_ms(0));
  const Bytes data = pattern(56, 42);
  recv(ping_frame(0x1c2d, 9, data, {.ttl = 64, .id = 0x1111}), at_ms(1));

  const Bytes f = expect_sent();
  const EthView eth = parse_eth(f);
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  ASSERT_EQ(eth.type, kTypeIpv4);
  EXPECT_EQ(f.size(), 14u + 20 + 8 + 56) << "no padding, no trailer";
  const IpView v = parse_ip(eth.payload);
  EXPECT_EQ(v.version, 4);
  EXPECT_EQ(v.ihl, 5);
  EXPECT_TRUE(v.checksum_ok);
  EXPECT_EQ(v.total_length, 20 + 8 + 56);
  EXPECT_EQ(v.ttl, 77);
  EXPECT_EQ(v.protocol, kProtoIcmp);
  EXPECT_EQ(v.src, kOurIp);
  EXPECT_EQ(v.dst, kPeerIp);
  EXPECT_TRUE(v.df());
  EXPECT_EQ(v.offset(), 0u);
  const IcmpView r = parse_icmp(v.payload);
  EXPECT_EQ(r.type, 0);
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(r.checksum_ok);
  EXPECT_EQ(r.id, 0x1c2d);
  EXPECT_EQ(r.seq, 9);
  EXPECT_EQ(r.data, data);
  expect_nothing_sent();

  EXPECT_EQ(count(Counter::kIcmpInEchos), 1u);
  EXPECT_EQ(count(Counter::kIcmpOutEchoReps), 1u);
  EXPECT_EQ(count(Counter::kIpInDelivers), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

// The ICMP checksum of a reply must verify for every request, including the
// corner where the reply's one's-complement sum is zero (RFC 1624 §3).
TEST_F(IcmpEcho, ReplyChecksumVerifiesForEveryIdAndSeqCorner) {
  resolve_peer(at_ms(0));
  struct Case {
    std::uint16_t id, seq;
    Bytes data;
  };
  const Case cases[] = {
      {0, 0, {}},                          // the reply is all zeros but its checksum
      {0, 0, Bytes(4, std::byte{0})},      // same, with zero data
      {0xF7FF, 0, {}},                     // request sum folds to 0xFFFF
      {0xFFFF, 0xFFFF, {}},                // all ones
      {0x0800, 0xFFFF, pattern(1, 5)},     // odd-length data
      {0x1234, 0x5678, pattern(1471, 6)},  // the largest unfragmented ping
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "id " << c.id << " seq " << c.seq << " data " << c.data.size());
    recv(ping_frame(c.id, c.seq, c.data), at_ms(1));
    const Reply r = expect_echo_reply();
    EXPECT_TRUE(r.ip.checksum_ok);
    EXPECT_TRUE(r.icmp.checksum_ok);
    EXPECT_EQ(r.icmp.id, c.id);
    EXPECT_EQ(r.icmp.seq, c.seq);
    EXPECT_EQ(r.icmp.data, c.data);
  }
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(IcmpEcho, RequestWithOptionsIsAnsweredWithoutThem) {
  resolve_peer(at_ms(0));
  // NOP, NOP, NOP, End of list: a 24-byte header
  recv(ping_frame(3, 4, pattern(16), {.options = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{0}}}),
       at_ms(1));
  const Reply r = expect_echo_reply();
  EXPECT_EQ(r.ip.ihl, 5);
  EXPECT_TRUE(r.ip.checksum_ok);
  EXPECT_TRUE(r.icmp.checksum_ok);
  EXPECT_EQ(r.icmp.data, pattern(16));
}

TEST_F(IcmpEcho, EthernetPaddingIsTrimmedAndTheRequestAccepted) {
  resolve_peer(at_ms(0));
  // A 4-byte ping is a 46-byte frame; the NIC pads it to 60 with junk.
  Bytes f = ping_frame(1, 1, pattern(4, 8));
  ASSERT_EQ(f.size(), 46u);
  f.resize(60, std::byte{0xEE});
  recv(f, at_ms(1));
  const Reply r = expect_echo_reply();
  EXPECT_EQ(r.ip.total_length, 32);
  EXPECT_TRUE(r.icmp.checksum_ok);
  EXPECT_EQ(r.icmp.data, pattern(4, 8)) << "the padding is not echoed";
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(IcmpEcho, BadIcmpChecksumIsDropped) {
  resolve_peer(at_ms(0));
  recv(
      ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4({}, icmp(8, 0, 1, 1, pattern(8), /*good_checksum=*/false))),
      at_ms(1));
  expect_nothing_sent();
  expect_only_drop(Drop::kIcmpBadChecksum);
  expect_no_leaks();
}

TEST_F(IcmpEcho, NonEchoTypesAreUnhandled) {
  resolve_peer(at_ms(0));
  // echo reply, time exceeded, timestamp request
  for (std::uint8_t type : {0, 11, 13})
    recv(ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4({}, icmp(type, 0, 1, 1, pattern(8)))), at_ms(1));
  expect_nothing_sent();
  expect_only_drop(Drop::kIcmpUnhandledType, 3);
  expect_no_leaks();
}

TEST_F(IcmpEcho, ReplyIdsAdvance) {
  resolve_peer(at_ms(0));
  recv(ping_frame(1, 1, pattern(8)), at_ms(1));
  recv(ping_frame(1, 2, pattern(8)), at_ms(2));
  const std::uint16_t a = expect_echo_reply().ip.id;
  const std::uint16_t b = expect_echo_reply().ip.id;
  EXPECT_NE(a, b);
}

// ---- malformed frames, table-driven ---------------------------------------

struct BadFrame {
  std::string name;
  std::function<Bytes()> frame;
  Drop expect;
};

Bytes eth_ipv4(const Bytes& l3) { return ethernet(kOurMac, kPeerMac, kTypeIpv4, l3); }
Bytes ping_l3(Ip h = {}) { return ipv4(h, echo_request(1, 1, pattern(16))); }
Bytes with_byte(Bytes b, std::size_t at, std::uint8_t v) {
  b[at] = static_cast<std::byte>(v);
  return b;
}
Bytes truncated(Bytes b, std::size_t n) {
  b.resize(n);
  return b;
}

std::vector<BadFrame> bad_frames() {
  std::vector<BadFrame> v;
  // Cut a valid ping at every length: each prefix fails at the header it ends in.
  const std::size_t full = ping_frame(1, 1, pattern(16)).size();
  for (std::size_t n = 0; n < full; ++n) {
    const Drop d = n < 14 ? Drop::kEthTruncated : n < 34 ? Drop::kIpTruncated : Drop::kIpBadTotalLength;
    v.push_back(
        {"PingCutAt" + std::to_string(n), [n] { return truncated(ping_frame(1, 1, pattern(16)), n); }, d});
  }
  // Cut an ARP request inside the ARP packet (14..41 bytes).
  for (std::size_t n = 14; n < 42; ++n)
    v.push_back({"ArpCutAt" + std::to_string(n),
                 [n] { return truncated(arp_request_frame(kPeerMac, kPeerIp, kOurIp), n); },
                 Drop::kArpMalformed});
  // An ICMP message shorter than its 8-byte header, in a consistent datagram.
  for (std::size_t n = 0; n < 8; ++n)
    v.push_back({"IcmpCutAt" + std::to_string(n),
                 [n] { return eth_ipv4(ipv4({}, truncated(echo_request(1, 1, {}), n))); },
                 Drop::kIcmpTruncated});

  const auto add = [&](std::string name, std::function<Bytes()> f, Drop d) {
    v.push_back({std::move(name), std::move(f), d});
  };
  add(
      "OtherUnicastMac",
      [] {
        return ethernet({{0x02, 0, 0, 0, 0, 0x99}}, kPeerMac, kTypeIpv4, ping_l3());
      },
      Drop::kEthNotForUs);
  add(
      "MulticastMac",
      [] {
        return ethernet({{0x01, 0, 0x5e, 0, 0, 1}}, kPeerMac, kTypeIpv4, ping_l3());
      },
      Drop::kEthNotForUs);
  add(
      "Ipv6NotVersion6",
      [] {
        Bytes p = pattern(40);
        p[0] = std::byte{0x45};  // EtherType 0x86DD carrying an IPv4 header
        return ethernet(kOurMac, kPeerMac, 0x86DD, p);
      },
      Drop::kIp6BadVersion);
  add(
      "VlanTagged", [] { return ethernet(kOurMac, kPeerMac, 0x8100, ping_l3()); }, Drop::kEthUnknownType);
  add(
      "Ieee8023Length", [] { return ethernet(kOurMac, kPeerMac, 0x002E, pattern(46)); },
      Drop::kEthUnknownType);
  add(
      "IpVersion6", [] { return eth_ipv4(ping_l3({.version_ihl = 0x65})); }, Drop::kIpBadVersion);
  add(
      "IpVersion0", [] { return eth_ipv4(ping_l3({.version_ihl = 0x05})); }, Drop::kIpBadVersion);
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl)
    add(
        "Ihl" + std::to_string(ihl),
        [ihl] { return eth_ipv4(ping_l3({.version_ihl = std::uint8_t(0x40 | ihl)})); },
        Drop::kIpBadHeaderLength);
  // IHL 15 (60 bytes) in a 20 + 8 byte datagram: the header runs past the frame.
  add(
      "IhlPastFrame", [] { return eth_ipv4(ipv4({.version_ihl = 0x4F}, pattern(8))); },
      Drop::kIpBadHeaderLength);
  add(
      "TotalLengthPastFrame", [] { return eth_ipv4(ping_l3({.total_length = 20 + 24 + 1})); },
      Drop::kIpBadTotalLength);
  add(
      "TotalLength65535", [] { return eth_ipv4(ping_l3({.total_length = 65535})); }, Drop::kIpBadTotalLength);
  add(
      "TotalLengthBelowIhl", [] { return eth_ipv4(ping_l3({.total_length = 19})); }, Drop::kIpBadTotalLength);
  add(
      "TotalLengthBelowIhlWithOptions",
      [] { return eth_ipv4(ping_l3({.options = Bytes(4, std::byte{1}), .total_length = 20})); },
      Drop::kIpBadTotalLength);
  add(
      "BadHeaderChecksum", [] { return eth_ipv4(ping_l3({.good_checksum = false})); }, Drop::kIpBadChecksum);
  add(
      "ZeroHeaderChecksum", [] { return with_byte(with_byte(eth_ipv4(ping_l3()), 24, 0), 25, 0); },
      Drop::kIpBadChecksum);
  // Option type 7 (record route) claiming 12 bytes in a 4-byte option area.
  add(
      "OptionPastHeader",
      [] {
        return eth_ipv4(ping_l3({.options = {std::byte{7}, std::byte{12}, std::byte{4}, std::byte{0}}}));
      },
      Drop::kIpBadOptions);
  add(
      "OptionLengthBelowTwo",
      [] {
        return eth_ipv4(ping_l3({.options = {std::byte{7}, std::byte{1}, std::byte{0}, std::byte{0}}}));
      },
      Drop::kIpBadOptions);
  add(
      "OptionWithoutLengthOctet",
      [] {
        return eth_ipv4(ping_l3({.options = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{7}}}));
      },
      Drop::kIpBadOptions);
  add(
      "SourceLoopback", [] { return eth_ipv4(ping_l3({.src = ip4(127, 0, 0, 1)})); }, Drop::kIpBadSource);
  add(
      "SourceLoopbackNet", [] { return eth_ipv4(ping_l3({.src = ip4(127, 8, 9, 10)})); }, Drop::kIpBadSource);
  add(
      "SourceMulticast", [] { return eth_ipv4(ping_l3({.src = ip4(224, 0, 0, 1)})); }, Drop::kIpBadSource);
  add(
      "SourceMulticastTop", [] { return eth_ipv4(ping_l3({.src = ip4(239, 255, 255, 250)})); },
      Drop::kIpBadSource);
  add(
      "SourceLimitedBroadcast", [] { return eth_ipv4(ping_l3({.src = ip4(255, 255, 255, 255)})); },
      Drop::kIpBadSource);
  add(
      "SourceSubnetBroadcast", [] { return eth_ipv4(ping_l3({.src = ip4(10, 0, 0, 255)})); },
      Drop::kIpBadSource);
  add(
      "SourceZero", [] { return eth_ipv4(ping_l3({.src = 0})); }, Drop::kIpBadSource);
  add(
      "NotOurAddress", [] { return eth_ipv4(ping_l3({.dst = ip4(10, 0, 0, 9)})); }, Drop::kIpNotForUs);
  add(
      "BroadcastDestination",
      [] {
        return ethernet(MacAddr::broadcast(), kPeerMac, kTypeIpv4, ping_l3({.dst = ip4(10, 0, 0, 255)}));
      },
      Drop::kIpNotForUs);
  add(
      "UnknownProtocolGre", [] { return eth_ipv4(ipv4({.protocol = 47}, pattern(24))); },
      Drop::kIpUnknownProtocol);
  add(
      "UnknownProtocolIgmp", [] { return eth_ipv4(ipv4({.protocol = 2}, pattern(8))); },
      Drop::kIpUnknownProtocol);
  add(
      "Udp", [] { return eth_ipv4(ipv4({.protocol = kProtoUdp}, pattern(8 + 12))); }, Drop::kUdpNoListener);
  add(
      "Tcp", [] { return eth_ipv4(ipv4({.protocol = kProtoTcp}, pattern(20))); }, Drop::kTcpNoStack);
  // Fragments that cannot be part of any datagram (RFC 791 §3.2).
  add(
      "FragmentPast65535",  // offset 65528 + 16 bytes
      [] { return eth_ipv4(ipv4({.frag = 0x1FFF}, pattern(16))); }, Drop::kIpFragMalformed);
  add(
      "FragmentEndsAt65540",  // 20-byte header + offset 65512 + 8 bytes
      [] { return eth_ipv4(ipv4({.frag = 0x1FFD}, pattern(8))); }, Drop::kIpFragMalformed);
  add(
      "NonLastFragmentNotMultipleOf8", [] { return eth_ipv4(ipv4({.frag = 0x2000}, pattern(100))); },
      Drop::kIpFragMalformed);
  add(
      "EmptyFragment", [] { return eth_ipv4(ipv4({.frag = 0x2001}, {})); }, Drop::kIpFragMalformed);
  add(
      "EmptyLastFragment", [] { return eth_ipv4(ipv4({.frag = 0x0001}, {})); }, Drop::kIpFragMalformed);
  return v;
}

class MalformedFrame : public IpHarness, public ::testing::WithParamInterface<BadFrame> {};

TEST_P(MalformedFrame, IsDroppedUnderItsNamedReason) {
  resolve_peer(at_ms(0));  // so nothing is dropped for want of a MAC
  recv(GetParam().frame(), at_ms(1));
  expect_nothing_sent();
  expect_only_drop(GetParam().expect);
  EXPECT_EQ(count(Counter::kRxPackets), 2u);
  expect_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(All, MalformedFrame, ::testing::ValuesIn(bad_frames()),
                         [](const ::testing::TestParamInfo<BadFrame>& i) { return i.param.name; });

// The same frames again, but each one spread over a two-segment mbuf chain,
// the way a scattered-RX PMD may deliver them.
TEST_F(IpHarness, MalformedFramesInChainsAreDroppedToo) {
  resolve_peer(at_ms(0));
  std::uint64_t expected_drops = 0;
  for (const BadFrame& b : bad_frames()) {
    const Bytes f = b.frame();
    if (f.size() < 16) continue;
    SCOPED_TRACE(b.name);
    const std::uint64_t before = drops(b.expect);
    Mbuf head = to_mbuf(pool_, std::span(f).first(f.size() / 2));
    Mbuf tail = to_mbuf(pool_, std::span(f).subspan(f.size() / 2));
    ASSERT_EQ(rte_pktmbuf_chain(head.get(), tail.release()), 0);
    ip().on_frame(std::move(head), at_ms(1), out_);
    // An Ethernet header split over segments cannot be parsed from the first.
    if (f.size() / 2 >= 14) {
      EXPECT_EQ(drops(b.expect), before + 1);
    }
    ++expected_drops;
    expect_nothing_sent();
  }
  EXPECT_EQ(counters_.total_drops(), expected_drops);
  expect_no_leaks();
}

// ---- Destination Unreachable, handed to TCP --------------------------------

// Records what the IP layer hands the transport.
class RecordingTransport final : public TransportInput {
 public:
  void on_ipv4(const Ipv4Delivery& d, Mbuf m, Instant, FrameQueue&) override {
    ++segments;
    chain_lengths.push_back(m->nb_segs);
    frames.push_back(bytes_of(m.get()));
    deliveries.push_back(d);
  }
  void on_icmp_unreachable(const IcmpUnreachable& u, Instant) override { errors.push_back(u); }
  int segments = 0;
  std::vector<std::uint16_t> chain_lengths;
  std::vector<Bytes> frames;
  std::vector<Ipv4Delivery> deliveries;
  std::vector<IcmpUnreachable> errors;
};

// A router's Destination Unreachable quoting `quoted` (our IPv4 datagram, as
// much of it as the router kept).
// `mtu`: a Fragmentation Needed's next-hop MTU (RFC 1191 §4).
Bytes unreachable(std::uint8_t code, const Bytes& quoted, bool good_checksum = true, std::uint16_t mtu = 0) {
  return ethernet(kOurMac, kRouterMac, kTypeIpv4,
                  ipv4({.src = kGatewayIp}, icmp(3, code, 0, mtu, quoted, good_checksum)));
}
// Our TCP segment 10.0.0.1:40001 > 192.0.2.7:443, seq 0xA1B2C3D4, cut to
// `tcp_bytes` of its header.
Bytes our_segment(std::size_t tcp_bytes, Ip h = {.src = kOurIp, .dst = kRemoteIp, .protocol = kProtoTcp}) {
  Bytes tcp(20);
  put16(tcp, 0, 40001);
  put16(tcp, 2, 443);
  put32(tcp, 4, 0xA1B2C3D4);
  tcp[12] = std::byte{0x50};
  tcp[13] = std::byte{0x02};
  tcp.resize(tcp_bytes);
  if (!h.total_length) h.total_length = static_cast<std::uint16_t>(20 + h.options.size() + 20);
  return ipv4(h, tcp);
}

// A TCP segment from the peer to us: a 20-byte header and `payload` bytes.
Bytes tcp_frame(std::size_t payload) {
  Bytes tcp(20 + payload);
  put16(tcp, 0, 443);
  put16(tcp, 2, 40001);
  tcp[12] = std::byte{0x50};
  tcp[13] = std::byte{0x18};
  for (std::size_t i = 20; i < tcp.size(); ++i) tcp[i] = static_cast<std::byte>(i * 7);
  return ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4({.protocol = kProtoTcp}, tcp));
}

class TcpDelivery : public IpHarness {
 protected:
  void SetUp() override {
    IpHarness::SetUp();
    ip().set_tcp(&tcp_);
  }
  // `f` as a chain of two mbufs, cut after `first` bytes.
  Mbuf chain(const Bytes& f, std::size_t first) {
    Mbuf head = to_mbuf(pool_, std::span(f).first(first));
    Mbuf tail = to_mbuf(pool_, std::span(f).subspan(first));
    EXPECT_EQ(rte_pktmbuf_chain(head.get(), tail.release()), 0);
    return head;
  }
  RecordingTransport tcp_;
};

// A chained TCP frame (a scattered-RX PMD's, or the in-process link's: a
// sender's header mbuf and payload slices) reaches TCP in one segment,
// whole, wherever it was cut.
TEST_F(TcpDelivery, ChainedFrameIsLinearisedWholeWhereverItWasCut) {
  const Bytes f = tcp_frame(1000);
  for (std::size_t cut : {30u, 14u + 20u + 10u, 14u + 20u + 20u})
    ip().on_frame(chain(f, cut), at_ms(1), out_);
  ASSERT_EQ(tcp_.segments, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tcp_.chain_lengths[i], 1);
    EXPECT_EQ(tcp_.frames[i], f);
    EXPECT_EQ(tcp_.deliveries[i].l4_len, 1020);
  }
  EXPECT_EQ(counters_.total_drops(), 0u);
}

class DestUnreachable : public IpHarness {
 protected:
  void SetUp() override {
    IpHarness::SetUp();
    ip().set_tcp(&tcp_);
  }
  RecordingTransport tcp_;
};

// RFC 1122 §3.2.2.1: reported to the transport with what identifies the
// connection: the quoted addresses, ports and sequence number, and the code.
TEST_F(DestUnreachable, QuotedTupleSeqAndCodeReachTcp) {
  recv(unreachable(3, our_segment(8)), at_ms(1));
  ASSERT_EQ(tcp_.errors.size(), 1u);
  const IcmpUnreachable& u = tcp_.errors[0];
  EXPECT_EQ(u.src, kOurIp);
  EXPECT_EQ(u.dst, kRemoteIp);
  EXPECT_EQ(u.sport, 40001);
  EXPECT_EQ(u.dport, 443);
  EXPECT_EQ(u.seq, 0xA1B2C3D4u);
  EXPECT_EQ(u.code, 3);
  EXPECT_EQ(count(Counter::kIcmpInMsgs), 1u);
  EXPECT_EQ(count(Counter::kIcmpInDestUnreachs), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  EXPECT_EQ(tcp_.segments, 0);
  expect_nothing_sent();
  expect_no_leaks();
}

// The quoted header may carry options (IHL > 5), and a router may quote the
// whole segment (RFC 1812 §4.3.2.3 asks for as much as fits in 576 bytes).
TEST_F(DestUnreachable, QuoteWithOptionsOrLongerIsAccepted) {
  recv(unreachable(1, our_segment(8, {.src = kOurIp,
                                      .dst = kRemoteIp,
                                      .protocol = kProtoTcp,
                                      .options = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{0}}})),
       at_ms(1));
  Bytes whole = our_segment(20);
  append(whole, pattern(100));
  recv(unreachable(13, whole), at_ms(2));
  ASSERT_EQ(tcp_.errors.size(), 2u);
  EXPECT_EQ(tcp_.errors[0].sport, 40001);
  EXPECT_EQ(tcp_.errors[0].seq, 0xA1B2C3D4u);
  EXPECT_EQ(tcp_.errors[0].code, 1);
  EXPECT_EQ(tcp_.errors[1].dport, 443);
  EXPECT_EQ(tcp_.errors[1].code, 13);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(DestUnreachable, ShortQuoteIsDropped) {
  recv(unreachable(3, our_segment(7)), at_ms(1));                 // 56 bits of TCP, not 64
  recv(unreachable(3, truncated(our_segment(8), 19)), at_ms(1));  // not even an IPv4 header
  recv(unreachable(3, {}), at_ms(1));                             // nothing quoted at all
  recv(unreachable(3, with_byte(our_segment(8), 0, 0x46)),
       at_ms(1));  // IHL 6: header runs into the TCP bytes
  EXPECT_TRUE(tcp_.errors.empty());
  EXPECT_EQ(count(Counter::kIcmpInDestUnreachs), 4u);
  expect_only_drop(Drop::kIcmpBadQuote, 4);
  expect_no_leaks();
}

TEST_F(DestUnreachable, QuoteThatIsNotOurFirstFragmentIsDropped) {
  recv(unreachable(3, our_segment(8, {.src = kPeerIp, .dst = kRemoteIp, .protocol = kProtoTcp})), at_ms(1));
  recv(unreachable(3,
                   our_segment(8, {.src = kOurIp, .dst = kRemoteIp, .protocol = kProtoTcp, .frag = 0x0010})),
       at_ms(1));
  recv(unreachable(3, with_byte(our_segment(8), 0, 0x65)), at_ms(1));  // version 6
  EXPECT_TRUE(tcp_.errors.empty());
  expect_only_drop(Drop::kIcmpBadQuote, 3);
  expect_no_leaks();
}

TEST_F(DestUnreachable, BadChecksumIsDropped) {
  recv(unreachable(3, our_segment(8), /*good_checksum=*/false), at_ms(1));
  EXPECT_TRUE(tcp_.errors.empty());
  EXPECT_EQ(count(Counter::kIcmpInDestUnreachs), 0u);
  expect_only_drop(Drop::kIcmpBadChecksum);
  expect_no_leaks();
}

TEST_F(DestUnreachable, TruncatedMessageIsDropped) {
  recv(ethernet(kOurMac, kRouterMac, kTypeIpv4, ipv4({.src = kGatewayIp}, Bytes{std::byte{3}, std::byte{3}})),
       at_ms(1));
  EXPECT_TRUE(tcp_.errors.empty());
  expect_only_drop(Drop::kIcmpTruncated);
  expect_no_leaks();
}

TEST_F(DestUnreachable, NonTcpQuoteAndUnknownCodeAreDropped) {
  recv(unreachable(3, our_segment(8, {.src = kOurIp, .dst = kRemoteIp, .protocol = kProtoUdp})), at_ms(1));
  EXPECT_EQ(drops(Drop::kIcmpUnreachNotTcp), 1u);
  recv(unreachable(16, our_segment(8)), at_ms(1));  // RFC 1812 §5.2.7.1 ends at 15
  EXPECT_EQ(drops(Drop::kIcmpUnhandledType), 1u);
  EXPECT_TRUE(tcp_.errors.empty());
  EXPECT_EQ(counters_.total_drops(), 2u);
  expect_no_leaks();
}

// RFC 1191 §6.3: a Fragmentation Needed about a UDP datagram of ours lowers
// the path MTU to its destination (PathMtuCache); later UDP datagrams to it
// leave in fragments that fit, TCP segments are left to TCP's own estimate
// (they leave whole, with DF), and [ip] pmtu_expires_s after the decrease
// the link MTU is back. An RFC 1191 §5 report of 0 means 552.
TEST_F(IpHarness, FragNeededAboutUdpLowersThePathMtuForLaterDatagrams) {
  with_indirect_pool();
  resolve_peer(at_ms(0));
  const Ip udp_to_peer{.src = kOurIp, .dst = kPeerIp, .protocol = kProtoUdp};
  recv(unreachable(4, our_segment(8, udp_to_peer), true, 1000), at_ms(1));
  recv(unreachable(4, our_segment(8, {.src = kOurIp, .dst = kRemoteIp, .protocol = kProtoUdp})), at_ms(1));
  EXPECT_EQ(count(Counter::kPmtuLearned), 2u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  EXPECT_EQ(ip().path_mtu(IpAddr::v4(kPeerIp), at_ms(2)), 1000);
  EXPECT_EQ(ip().path_mtu(IpAddr::v4(kRemoteIp), at_ms(2)), 552);
  EXPECT_EQ(ip().path_mtu(IpAddr::v4(kGatewayIp), at_ms(2)), 1500);
  const auto send = [&](std::uint8_t protocol, Instant at) {
    Mbuf m = Mbuf::alloc(pool_);
    ASSERT_TRUE(m);
    ASSERT_TRUE(append_chain(m, pattern(1200, 5), pool_));
    ASSERT_TRUE(ip().send(std::move(m), kPeerIp, protocol, at, out_));
  };
  send(kProtoUdp, at_ms(2));
  ASSERT_EQ(sent_count(), 2u);
  std::size_t carried = 0;
  for (int i = 0; i < 2; ++i) {
    const IpView f = parse_ip(parse_eth(expect_sent()).payload);
    EXPECT_LE(f.total_length, 1000u);
    EXPECT_EQ(f.mf(), i == 0);
    EXPECT_EQ(f.offset(), carried);
    carried += f.payload.size();
  }
  EXPECT_EQ(carried, 1200u);
  send(kProtoTcp, at_ms(3));
  ASSERT_EQ(sent_count(), 1u);
  const IpView whole = parse_ip(parse_eth(expect_sent()).payload);
  EXPECT_EQ(whole.total_length, 1220u);
  EXPECT_TRUE(whole.df());
  // RFC 1191 §6.3 / RFC 8201 §4: the estimate ages out (10 minutes by default).
  EXPECT_EQ(ip().path_mtu(IpAddr::v4(kPeerIp), at_ms(1) + settings_.ip.pmtu_expires), 1500);
  EXPECT_EQ(count(Counter::kPmtuExpired), 1u);
  resolve_peer(at_ms(2) + settings_.ip.pmtu_expires);  // the ARP entry has aged too
  send(kProtoUdp, at_ms(2) + settings_.ip.pmtu_expires);
  ASSERT_EQ(sent_count(), 1u);
  const IpView again = parse_ip(parse_eth(expect_sent()).payload);
  EXPECT_EQ(again.total_length, 1220u) << "whole again";
  EXPECT_EQ(again.protocol, kProtoUdp);
  expect_no_leaks();
}

TEST_F(IpHarness, DestUnreachableWithoutTcpIsDropped) {
  recv(unreachable(3, our_segment(8)), at_ms(1));
  expect_only_drop(Drop::kTcpNoStack);
  expect_no_leaks();
}

}  // namespace
}  // namespace tern::testkit
