// lib/udp on frames: an IpLayer with a UdpStack attached, on virtual time.
// Frames go in as bytes, what the stack sends is read back as bytes, and
// checksums are checked by the tests' own RFC 1071 loop (test_frames.h).
#include "udp/udp_stack.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "../ip/ip_harness.h"

namespace tern::testkit {
namespace {

constexpr std::uint16_t kSrv = 5353;
constexpr std::uint16_t kCli = 40000;

enum class Sum { kGood, kBad, kZero };

// A UDP datagram (header + payload) from src to dst, its checksum computed
// over the RFC 768 pseudo header by the reference loop.
Bytes udp_dgram(std::uint16_t sport, std::uint16_t dport, std::span<const std::byte> payload,
                Sum sum = Sum::kGood, std::uint32_t src = kPeerIp, std::uint32_t dst = kOurIp) {
  Bytes d = udp_datagram(sport, dport, payload);
  if (sum == Sum::kZero) return d;
  std::uint16_t ck = upper_checksum(src, dst, kProtoUdp, d);
  if (ck == 0) ck = 0xFFFF;
  if (sum == Sum::kBad) ck = static_cast<std::uint16_t>(ck ^ 0x00F0);
  put16(d, 6, ck);
  return d;
}

Bytes udp_frame(std::span<const std::byte> dgram, Ip h = {}) {
  h.protocol = kProtoUdp;
  return ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4(h, dgram));
}

// The checksum a sent UDP datagram carries verifies over its pseudo header.
bool udp_checksum_ok(const IpView& ip) { return upper_checksum(ip.src, ip.dst, kProtoUdp, ip.payload) == 0; }

class UdpTest : public IpHarness, public UdpEvents {
 protected:
  void TearDown() override {
    udp_.reset();  // frees what its queues hold, before the harness counts mbufs
    IpHarness::TearDown();
  }
  UdpStack& udp() {
    if (!udp_) {
      udp_ = std::make_unique<UdpStack>(opts_, counters_, ip(), out_, pool_);
      udp_->set_events(this);
      udp_->set_mem_account(&mem_);
      ip().set_udp(udp_.get());
    }
    return *udp_;
  }
  // Frames reach the UDP stack even in tests that open no socket.
  void recv(std::span<const std::byte> frame, Instant now) {
    udp();
    IpHarness::recv(frame, now);
  }
  void on_readable(UdpSocketId id) noexcept override { readable_.push_back(id); }

  UdpSocketId open(Endpoint local) {
    UdpSocketId id = kNoUdpSocket;
    EXPECT_EQ(udp().open(local, &id), UdpResult::kOk);
    return id;
  }
  // The oldest datagram queued on `id`, as bytes; nullopt when none.
  std::optional<Bytes> take(UdpSocketId id, Endpoint* from = nullptr) {
    Buffer b;
    Endpoint f;
    if (!udp().pop(id, &b, &f)) return std::nullopt;
    if (from != nullptr) *from = f;
    return bytes_of(b.get());
  }

  UdpStackOptions opts_;
  std::unique_ptr<UdpStack> udp_;
  std::vector<UdpSocketId> readable_;
};

const Endpoint kAnyV4{IpAddr::any_v4(), kSrv};
const Endpoint kPeer{IpAddr::v4(kPeerIp), kCli};

TEST_F(UdpTest, DeliversPayloadWithItsSource) {
  const UdpSocketId s = open(kAnyV4);
  const Bytes data = pattern(100);
  recv(udp_frame(udp_dgram(kCli, kSrv, data)), at_ms(1));
  ASSERT_EQ(readable_.size(), 1u);
  EXPECT_EQ(readable_[0], s);
  EXPECT_EQ(udp().queued(s), 1u);
  EXPECT_GT(mem_.charged(), 0u) << "a queued datagram is charged to the worker";
  Endpoint from;
  const auto got = take(s, &from);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, data);
  EXPECT_EQ(from, kPeer);
  EXPECT_EQ(count(Counter::kUdpInDatagrams), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_nothing_sent();
}

TEST_F(UdpTest, BindAnyOfBothFamiliesAndOurAddressReceive) {
  const UdpSocketId a = open({IpAddr{}, kSrv});
  const UdpSocketId b = open({IpAddr::v4(kOurIp), kSrv + 1});
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(3))), at_ms(1));
  recv(udp_frame(udp_dgram(kCli, kSrv + 1, pattern(4))), at_ms(1));
  EXPECT_EQ(udp().queued(a), 1u);
  EXPECT_EQ(udp().queued(b), 1u);
}

TEST_F(UdpTest, ZeroLengthDatagramIsDelivered) {
  const UdpSocketId s = open(kAnyV4);
  recv(udp_frame(udp_dgram(kCli, kSrv, {})), at_ms(1));
  const auto got = take(s);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
  EXPECT_EQ(count(Counter::kUdpInDatagrams), 1u);
}

TEST_F(UdpTest, ZeroChecksumIsAcceptedOverIpv4) {
  const UdpSocketId s = open(kAnyV4);
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(33), Sum::kZero)), at_ms(1));
  EXPECT_EQ(udp().queued(s), 1u);
}

TEST_F(UdpTest, BadChecksumIsDroppedAndCounted) {
  const UdpSocketId s = open(kAnyV4);
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(33), Sum::kBad)), at_ms(1));
  EXPECT_EQ(udp().queued(s), 0u);
  EXPECT_TRUE(readable_.empty());
  expect_only_drop(Drop::kUdpBadChecksum);
  EXPECT_EQ(count(Counter::kUdpInCsumErrors), 1u);
  EXPECT_EQ(count(Counter::kUdpInErrors), 1u);
  EXPECT_EQ(count(Counter::kUdpInDatagrams), 0u);
  expect_nothing_sent();  // no port unreachable for a corrupt datagram
}

TEST_F(UdpTest, NicVerdictGoodSkipsTheSum) {
  const UdpSocketId s = open(kAnyV4);
  Mbuf m = to_mbuf(pool_, udp_frame(udp_dgram(kCli, kSrv, pattern(33), Sum::kBad)));
  m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  ip().on_frame(std::move(m), at_ms(1), out_);
  EXPECT_EQ(udp().queued(s), 1u) << "trusts the NIC's good verdict, as TCP does";
}

TEST_F(UdpTest, LengthFieldRules) {
  const UdpSocketId s = open(kAnyV4);
  // Length past the IP payload: malformed.
  Bytes d = udp_dgram(kCli, kSrv, pattern(20), Sum::kZero);
  put16(d, 4, 29);
  recv(udp_frame(d), at_ms(1));
  // Under 8: malformed.
  put16(d, 4, 7);
  recv(udp_frame(d), at_ms(1));
  // IP payload under a UDP header.
  recv(udp_frame(Bytes(5)), at_ms(1));
  expect_only_drop(Drop::kUdpMalformed, 3);
  EXPECT_EQ(count(Counter::kUdpInErrors), 3u);
  // Shorter than the IP payload: the bytes past the length are not the datagram's.
  Bytes ok = udp_dgram(kCli, kSrv, pattern(10), Sum::kGood);
  const Bytes padded = [&] {
    Bytes p = ok;
    append(p, pattern(6, 9));
    return p;
  }();
  recv(udp_frame(padded), at_ms(1));
  const auto got = take(s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, pattern(10));
}

TEST_F(UdpTest, ClosedPortAnswersPortUnreachableQuotingTheDatagram) {
  resolve_peer(at_ms(0));
  const Bytes dgram = udp_dgram(kCli, 9999, pattern(40));
  const Bytes ip_dgram = ipv4({.protocol = kProtoUdp}, dgram);
  recv(ethernet(kOurMac, kPeerMac, kTypeIpv4, ip_dgram), at_ms(1));
  expect_only_drop(Drop::kUdpNoPort);
  EXPECT_EQ(count(Counter::kUdpNoPorts), 1u);
  EXPECT_EQ(count(Counter::kUdpInErrors), 0u) << "Linux counts no-port datagrams apart from errors";
  ASSERT_EQ(sent_count(), 1u);
  const EthView eth = parse_eth(expect_sent());
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.type, kTypeIpv4);
  const IpView ip = parse_ip(eth.payload);
  EXPECT_TRUE(ip.checksum_ok);
  EXPECT_EQ(ip.protocol, kProtoIcmp);
  EXPECT_EQ(ip.src, kOurIp);
  EXPECT_EQ(ip.dst, kPeerIp);
  ASSERT_EQ(ip.payload.size(), 8u + ip_dgram.size());
  EXPECT_EQ(get8(ip.payload, 0), 3);  // Destination Unreachable
  EXPECT_EQ(get8(ip.payload, 1), 3);  // port unreachable
  EXPECT_EQ(get32(ip.payload, 4), 0u) << "unused word";
  EXPECT_EQ(ref_checksum(ip.payload), 0) << "ICMP checksum";
  EXPECT_EQ(Bytes(ip.payload.begin() + 8, ip.payload.end()), ip_dgram) << "the whole datagram is quoted";
  EXPECT_EQ(count(Counter::kIcmpOutDestUnreachs), 1u);
  EXPECT_EQ(count(Counter::kIcmpOutMsgs), 1u);
}

TEST_F(UdpTest, PortUnreachableQuotesAtMost576Bytes) {
  resolve_peer(at_ms(0));
  const Bytes ip_dgram = ipv4({.protocol = kProtoUdp}, udp_dgram(kCli, 9999, pattern(1000)));
  recv(ethernet(kOurMac, kPeerMac, kTypeIpv4, ip_dgram), at_ms(1));
  const IpView ip = parse_ip(parse_eth(expect_sent()).payload);
  EXPECT_EQ(ip.total_length, 576);
  EXPECT_EQ(Bytes(ip.payload.begin() + 8, ip.payload.end()), Bytes(ip_dgram.begin(), ip_dgram.begin() + 548));
}

TEST_F(UdpTest, PortUnreachableIsRateLimited) {
  opts_.cfg.unreach_burst = 2;
  opts_.cfg.unreach_per_sec = 10;  // one token per 100 ms
  resolve_peer(at_ms(0));
  for (int i = 0; i < 5; ++i) recv(udp_frame(udp_dgram(kCli, 9999, pattern(8))), at_ms(1));
  EXPECT_EQ(sent_count(), 2u) << "the burst";
  EXPECT_EQ(count(Counter::kIcmpOutRateLimitGlobal), 3u);
  out_.clear();
  recv(udp_frame(udp_dgram(kCli, 9999, pattern(8))), at_ms(50));
  EXPECT_EQ(sent_count(), 0u) << "no token earned yet";
  recv(udp_frame(udp_dgram(kCli, 9999, pattern(8))), at_ms(101));
  EXPECT_EQ(sent_count(), 1u) << "one token after 100 ms";
  out_.clear();
  EXPECT_EQ(count(Counter::kUdpNoPorts), 7u) << "every one is counted, answered or not";
}

TEST_F(UdpTest, NoPortUnreachableWhenTurnedOff) {
  opts_.cfg.unreach_per_sec = 0;
  resolve_peer(at_ms(0));
  recv(udp_frame(udp_dgram(kCli, 9999, pattern(8))), at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kUdpNoPorts), 1u);
}

TEST_F(UdpTest, ReceiveQueueBoundInDatagrams) {
  opts_.cfg.rcv_queue = 2;
  const UdpSocketId s = open(kAnyV4);
  for (int i = 0; i < 3; ++i) recv(udp_frame(udp_dgram(kCli, kSrv, pattern(10, i))), at_ms(1));
  EXPECT_EQ(udp().queued(s), 2u);
  expect_only_drop(Drop::kUdpRcvQueueFull);
  EXPECT_EQ(count(Counter::kUdpRcvbufErrors), 1u);
  EXPECT_EQ(count(Counter::kUdpInErrors), 1u);
  EXPECT_EQ(readable_.size(), 1u) << "one event while the queue stays non-empty";
  EXPECT_EQ(*take(s), pattern(10, 0)) << "in order";
  EXPECT_EQ(*take(s), pattern(10, 1));
  EXPECT_FALSE(take(s));
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(10, 3))), at_ms(2));
  EXPECT_EQ(readable_.size(), 2u) << "empty again: a new event";
}

TEST_F(UdpTest, ReceiveQueueBoundInBytes) {
  opts_.cfg.rcv_buf = 2304;  // one test mbuf's truesize
  const UdpSocketId s = open(kAnyV4);
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(10))), at_ms(1));
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(10))), at_ms(1));
  EXPECT_EQ(udp().queued(s), 1u);
  EXPECT_EQ(count(Counter::kUdpRcvbufErrors), 1u);
}

TEST_F(UdpTest, ConnectedSocketTakesOnlyItsPeer) {
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  ASSERT_EQ(udp().connect(s, kPeer, at_ms(0)), UdpResult::kOk);
  recv(udp_frame(udp_dgram(kCli + 1, kSrv, pattern(5))), at_ms(1));
  EXPECT_EQ(udp().queued(s), 0u);
  EXPECT_EQ(count(Counter::kUdpNoPorts), 1u);
  out_.clear();  // its port unreachable
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(5))), at_ms(1));
  EXPECT_EQ(udp().queued(s), 1u);
  // Disconnecting takes every peer again.
  ASSERT_EQ(udp().connect(s, Endpoint{}, at_ms(0)), UdpResult::kOk);
  recv(udp_frame(udp_dgram(kCli + 1, kSrv, pattern(5))), at_ms(1));
  EXPECT_EQ(udp().queued(s), 2u);
}

TEST_F(UdpTest, BindRules) {
  UdpSocketId id = kNoUdpSocket;
  ASSERT_EQ(udp().open(kAnyV4, &id), UdpResult::kOk);
  EXPECT_EQ(udp().open(kAnyV4, &id), UdpResult::kInUse);
  EXPECT_EQ(udp().open({IpAddr{}, kSrv}, &id), UdpResult::kInUse) << ":: overlaps 0.0.0.0";
  EXPECT_EQ(udp().open({IpAddr::v4(kOurIp), kSrv}, &id), UdpResult::kInUse);
  EXPECT_EQ(udp().open({IpAddr::v4(kPeerIp), 1}, &id), UdpResult::kInvalid) << "not our address";
  EXPECT_EQ(udp().open({IpAddr::v4(kOurIp), kSrv + 1}, &id), UdpResult::kOk);
  UdpSocketId other = kNoUdpSocket;
  EXPECT_EQ(udp().open({IpAddr{}, kSrv + 1}, &other), UdpResult::kInUse);
  udp().close(id);
  EXPECT_EQ(udp().open({IpAddr{}, kSrv + 1}, &other), UdpResult::kOk) << "closing frees the port";
}

TEST_F(UdpTest, SocketTableIsBounded) {
  opts_.cfg.max_sockets = 2;
  UdpSocketId id = kNoUdpSocket;
  ASSERT_EQ(udp().open({IpAddr{}, 1}, &id), UdpResult::kOk);
  ASSERT_EQ(udp().open({IpAddr{}, 2}, &id), UdpResult::kOk);
  EXPECT_EQ(udp().open({IpAddr{}, 3}, &id), UdpResult::kNoMemory);
  udp().close(id);
  EXPECT_EQ(udp().open({IpAddr{}, 3}, &id), UdpResult::kOk);
  EXPECT_EQ(udp().open_sockets(), 2u);
}

TEST_F(UdpTest, CloseFreesWhatTheQueueHolds) {
  const UdpSocketId s = open(kAnyV4);
  for (int i = 0; i < 3; ++i) recv(udp_frame(udp_dgram(kCli, kSrv, pattern(10, i))), at_ms(1));
  udp().close(s);
  expect_no_leaks();
  EXPECT_EQ(mem_.charged(), 0u);
}

TEST_F(UdpTest, PoppedBufferCarriesTheCharge) {
  const UdpSocketId s = open(kAnyV4);
  recv(udp_frame(udp_dgram(kCli, kSrv, pattern(10))), at_ms(1));
  const std::uint64_t charged = mem_.charged();
  {
    Buffer b;
    Endpoint from;
    ASSERT_TRUE(udp().pop(s, &b, &from));
    EXPECT_EQ(mem_.charged(), charged);
    EXPECT_EQ(b.charged(), charged);
  }
  EXPECT_EQ(mem_.charged(), 0u);
}

TEST_F(UdpTest, SendToBuildsHeadersAndChecksum) {
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  const Bytes data = pattern(123);
  ASSERT_EQ(udp().send_to(s, udp().copy_payload(data), kPeer, at_ms(1)), UdpResult::kOk);
  const EthView eth = parse_eth(expect_sent());
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  const IpView ip = parse_ip(eth.payload);
  EXPECT_TRUE(ip.checksum_ok);
  EXPECT_EQ(ip.protocol, kProtoUdp);
  EXPECT_EQ(ip.src, kOurIp);
  EXPECT_EQ(ip.dst, kPeerIp);
  ASSERT_EQ(ip.payload.size(), 8u + data.size());
  EXPECT_EQ(get16(ip.payload, 0), kSrv);
  EXPECT_EQ(get16(ip.payload, 2), kCli);
  EXPECT_EQ(get16(ip.payload, 4), 8 + data.size());
  EXPECT_NE(get16(ip.payload, 6), 0);
  EXPECT_TRUE(udp_checksum_ok(ip));
  EXPECT_EQ(Bytes(ip.payload.begin() + 8, ip.payload.end()), data);
  EXPECT_EQ(count(Counter::kUdpOutDatagrams), 1u);
}

TEST_F(UdpTest, SendToWritesTheHeaderIntoThePayloadsHeadroom) {
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  Mbuf m = udp().copy_payload(pattern(64));
  const rte_mbuf* payload = m.get();
  ASSERT_EQ(udp().send_to(s, std::move(m), kPeer, at_ms(1)), UdpResult::kOk);
  Mbuf f = out_.pop_front();
  ASSERT_TRUE(f);
  EXPECT_EQ(f.get(), payload) << "zero copy: the frame is the payload mbuf";
  EXPECT_EQ(f->nb_segs, 1);
}

TEST_F(UdpTest, SendToWithoutHeadroomPutsAHeaderMbufInFront) {
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  Mbuf m = Mbuf::alloc(pool_);
  m->data_off = 0;  // no headroom at all
  const Bytes data = pattern(7);
  std::memcpy(m.append(7).data(), data.data(), 7);
  const rte_mbuf* payload = m.get();
  ASSERT_EQ(udp().send_to(s, std::move(m), kPeer, at_ms(1)), UdpResult::kOk);
  Mbuf f = out_.pop_front();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->nb_segs, 2);
  EXPECT_EQ(f->next, payload) << "the payload mbuf follows, not copied";
  const IpView ip = parse_ip(parse_eth(bytes_of(f.get())).payload);
  EXPECT_TRUE(udp_checksum_ok(ip));
  EXPECT_EQ(Bytes(ip.payload.begin() + 8, ip.payload.end()), data);
}

TEST_F(UdpTest, SendZeroLength) {
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  ASSERT_EQ(udp().send_to(s, Mbuf{}, kPeer, at_ms(1)), UdpResult::kOk);
  const IpView ip = parse_ip(parse_eth(expect_sent()).payload);
  EXPECT_EQ(ip.payload.size(), 8u);
  EXPECT_EQ(get16(ip.payload, 4), 8);
  EXPECT_TRUE(udp_checksum_ok(ip));
}

TEST_F(UdpTest, ChecksumOffloadLeavesThePseudoHeaderSum) {
  opts_.tx_checksum_offload = true;
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  ASSERT_EQ(udp().send_to(s, udp().copy_payload(pattern(20)), kPeer, at_ms(1)), UdpResult::kOk);
  Mbuf f = out_.pop_front();
  ASSERT_TRUE(f);
  EXPECT_NE(f->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM, 0u);
  EXPECT_EQ(f->l4_len, 8);
  const IpView ip = parse_ip(parse_eth(bytes_of(f.get())).payload);
  // The field holds the folded pseudo-header sum (not complemented).
  Bytes pseudo(12);
  put32(pseudo, 0, kOurIp);
  put32(pseudo, 4, kPeerIp);
  put16(pseudo, 8, kProtoUdp);
  put16(pseudo, 10, 28);
  EXPECT_EQ(get16(ip.payload, 6), static_cast<std::uint16_t>(~ref_checksum(pseudo)));
}

TEST_F(UdpTest, SendErrors) {
  settings_.gateway.reset();
  const UdpSocketId s = open(kAnyV4);
  EXPECT_EQ(udp().send_to(s, udp().copy_payload(pattern(4)), std::nullopt, at_ms(1)),
            UdpResult::kNotConnected);
  EXPECT_EQ(udp().send_to(s, udp().copy_payload(pattern(4)), Endpoint{IpAddr::v4(kRemoteIp), 9}, at_ms(1)),
            UdpResult::kUnreachable);
  EXPECT_EQ(udp().send_to(s, udp().copy_payload(pattern(4)), Endpoint{IpAddr::v4(kPeerIp), 0}, at_ms(1)),
            UdpResult::kInvalid);
  EXPECT_EQ(udp().send_to(s, udp().copy_payload(Bytes(65508)), kPeer, at_ms(1)), UdpResult::kTooBig);
  EXPECT_EQ(count(Counter::kUdpOutDatagrams), 0u);
  expect_no_leaks();
}

TEST_F(UdpTest, ConnectedSendGoesToThePeer) {
  resolve_peer(at_ms(0));
  const UdpSocketId s = open({IpAddr::any_v4(), 0});
  ASSERT_EQ(udp().connect(s, kPeer, at_ms(0)), UdpResult::kOk);
  const std::uint16_t port = udp().local(s).port;
  EXPECT_GE(port, 32768);
  EXPECT_LE(port, 60999);
  ASSERT_EQ(udp().send_to(s, udp().copy_payload(pattern(4)), std::nullopt, at_ms(1)), UdpResult::kOk);
  const IpView ip = parse_ip(parse_eth(expect_sent()).payload);
  EXPECT_EQ(ip.dst, kPeerIp);
  EXPECT_EQ(get16(ip.payload, 0), port);
  EXPECT_EQ(get16(ip.payload, 2), kCli);
  // The reply reaches it.
  recv(udp_frame(udp_dgram(kCli, port, pattern(6))), at_ms(2));
  EXPECT_EQ(udp().queued(s), 1u);
}

TEST_F(UdpTest, EphemeralPortHonoursThePortFilter) {
  resolve_peer(at_ms(0));
  udp().set_port_filter([](void*, const Endpoint& local,
                           const Endpoint& remote) { return local.port % 7 == 3 && remote.port == kCli; },
                        nullptr);
  const UdpSocketId a = open({IpAddr{}, 0});
  ASSERT_EQ(udp().connect(a, kPeer, at_ms(0)), UdpResult::kOk);
  EXPECT_EQ(udp().local(a).port % 7, 3);
  const UdpSocketId b = open({IpAddr{}, 0});
  ASSERT_EQ(udp().send_to(b, udp().copy_payload(pattern(1)), kPeer, at_ms(1)), UdpResult::kOk);
  EXPECT_EQ(udp().local(b).port % 7, 3) << "the first send binds with the filter too";
  EXPECT_NE(udp().local(a).port, udp().local(b).port);
}

TEST_F(UdpTest, FragmentedDatagramIsReassembledBeforeDelivery) {
  const UdpSocketId s = open(kAnyV4);
  const Bytes data = pattern(3000);
  const Bytes dgram = udp_dgram(kCli, kSrv, data);
  for (const Bytes& f : fragments({.protocol = kProtoUdp, .id = 77}, dgram, 1480)) recv(f, at_ms(1));
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  const auto got = take(s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, data);
}

TEST_F(UdpTest, FragmentedDatagramToAClosedPortQuotesItsFirstBytes) {
  resolve_peer(at_ms(0));
  const Bytes dgram = udp_dgram(kCli, 9999, pattern(3000));
  for (const Bytes& f : fragments({.protocol = kProtoUdp, .id = 78}, dgram, 1480)) recv(f, at_ms(1));
  ASSERT_EQ(sent_count(), 1u);
  const IpView ip = parse_ip(parse_eth(expect_sent()).payload);
  ASSERT_EQ(ip.payload.size(), 8u + 548u);
  EXPECT_EQ(ref_checksum(ip.payload), 0);
  const Bytes quote(ip.payload.begin() + 8, ip.payload.end());
  EXPECT_EQ(ref_checksum(std::span<const std::byte>(quote).first(20)), 0) << "quoted header made valid";
  EXPECT_EQ(Bytes(quote.begin() + 20, quote.end()), Bytes(dgram.begin(), dgram.begin() + 528));
}

TEST_F(UdpTest, LargeSendIsFragmented) {
  with_indirect_pool();
  opts_.tx_checksum_offload = true;  // not for fragments: summed in software
  resolve_peer(at_ms(0));
  const UdpSocketId s = open(kAnyV4);
  const Bytes data = pattern(4000);
  ASSERT_EQ(udp().send_to(s, udp().copy_payload(data), kPeer, at_ms(1)), UdpResult::kOk);
  Bytes l4;
  while (sent_count() > 0) {
    const IpView ip = parse_ip(parse_eth(expect_sent()).payload);
    ASSERT_EQ(ip.offset(), l4.size());
    append(l4, ip.payload);
  }
  ASSERT_EQ(l4.size(), 8u + data.size());
  IpView whole{};
  whole.src = kOurIp;
  whole.dst = kPeerIp;
  whole.payload = l4;
  EXPECT_TRUE(udp_checksum_ok(whole));
  EXPECT_EQ(Bytes(l4.begin() + 8, l4.end()), data);
}

}  // namespace
}  // namespace tern::testkit
