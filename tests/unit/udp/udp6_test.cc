// lib/udp over IPv6 on frames: delivery to "::" and IPv6-bound sockets,
// the mandatory checksum (RFC 8200 §8.1: zero is dropped), ICMPv6 Port
// Unreachable (RFC 4443 §3.1 code 4) and the send path's header and
// pseudo-header sum. Checksums are checked with the naive RFC 1071 loop;
// the IPv6 frame builders are the IP layer tests' (ipv6_harness.h).
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "../ip/ipv6_harness.h"
#include "udp/udp_stack.h"
#include "wire/ipv6.h"

namespace tern::testkit {
namespace {

constexpr std::uint16_t kSrv = 5353;
constexpr std::uint16_t kCli = 40000;

IpAddr addr(const Ipv6Addr& a) { return IpAddr::v6(a.b); }

enum class Sum { kGood, kBad, kZero };

Bytes udp6(std::uint16_t sport, std::uint16_t dport, std::span<const std::byte> payload,
           Sum sum = Sum::kGood) {
  Bytes d = udp_datagram(sport, dport, payload);
  if (sum == Sum::kZero) return d;
  std::uint16_t ck = upper_checksum(kPeerG, kOurG, kProtoUdp, d);
  if (ck == 0) ck = 0xFFFF;
  if (sum == Sum::kBad) ck = static_cast<std::uint16_t>(ck ^ 0x0F00);
  put16(d, 6, ck);
  return d;
}

Bytes udp6_frame(std::span<const std::byte> dgram) {
  return ethernet(kOurMac, kPeerMac, kTypeIpv6, ipv6_packet(kPeerG, kOurG, kProtoUdp, dgram));
}

// The peer's neighbour solicitation for our address, with its MAC.
Bytes solicitation() {
  const Ipv6Addr sn = solicited_node(kOurG);
  return icmp6_frame(multicast_mac(sn), kPeerG, sn, 135, 0, ns_body(kOurG, kPeerMac), 255);
}

class Udp6Test : public IpHarness {
 protected:
  void SetUp() override {
    IpHarness::SetUp();
    settings_.v6.addrs = {Ipv6Prefix{kOurG, 64}};
  }
  void TearDown() override {
    udp_.reset();
    IpHarness::TearDown();
  }
  UdpStack& udp() {
    if (!udp_) {
      udp_ = std::make_unique<UdpStack>(UdpStackOptions{}, counters_, ip(), out_, pool_);
      ip().set_udp(udp_.get());
    }
    return *udp_;
  }
  void recv(std::span<const std::byte> f, Instant now) {
    udp();
    IpHarness::recv(f, now);
  }
  // Our neighbour entry for the peer, from its solicitation; the answer discarded.
  void peer_known() {
    recv(solicitation(), at_ms(0));
    ASSERT_EQ(sent_count(), 1u);
    out_.clear();
  }
  UdpSocketId open(Endpoint local) {
    UdpSocketId id = kNoUdpSocket;
    EXPECT_EQ(udp().open(local, &id), UdpResult::kOk);
    return id;
  }
  std::optional<Bytes> take(UdpSocketId id, Endpoint* from = nullptr) {
    Buffer b;
    Endpoint f;
    if (!udp().pop(id, &b, &f)) return std::nullopt;
    if (from != nullptr) *from = f;
    return bytes_of(b.get());
  }
  std::unique_ptr<UdpStack> udp_;
};

TEST_F(Udp6Test, DeliversToADualStackSocketWithTheIpv6Source) {
  const UdpSocketId s = open({IpAddr{}, kSrv});
  recv(udp6_frame(udp6(kCli, kSrv, pattern(200))), at_ms(1));
  Endpoint from;
  const auto got = take(s, &from);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, pattern(200));
  EXPECT_EQ(from, (Endpoint{addr(kPeerG), kCli}));
  EXPECT_EQ(count(Counter::kUdp6InDatagrams), 1u);
  EXPECT_EQ(count(Counter::kUdpInDatagrams), 0u) << "Linux's Udp MIB is IPv4's; IPv6 has Udp6";
  EXPECT_EQ(counters_.total_drops(), 0u);
}

TEST_F(Udp6Test, SocketBoundToOurIpv6AddressReceives) {
  const UdpSocketId s = open({addr(kOurG), kSrv});
  recv(udp6_frame(udp6(kCli, kSrv, pattern(3))), at_ms(1));
  EXPECT_EQ(udp().queued(s), 1u);
  UdpSocketId other = kNoUdpSocket;
  EXPECT_EQ(udp().open({addr(v6("2001:db8:1::99")), 1}, &other), UdpResult::kInvalid) << "not ours";
}

TEST_F(Udp6Test, ZeroChecksumIsDroppedOverIpv6) {
  const UdpSocketId s = open({IpAddr{}, kSrv});
  recv(udp6_frame(udp6(kCli, kSrv, pattern(20), Sum::kZero)), at_ms(1));
  EXPECT_EQ(udp().queued(s), 0u);
  expect_only_drop(Drop::kUdpZeroChecksum6);
  EXPECT_EQ(count(Counter::kUdp6InCsumErrors), 1u);
  EXPECT_EQ(count(Counter::kUdp6InErrors), 1u);
  EXPECT_EQ(count(Counter::kUdpInErrors), 0u);
}

TEST_F(Udp6Test, BadChecksumIsDropped) {
  const UdpSocketId s = open({IpAddr{}, kSrv});
  recv(udp6_frame(udp6(kCli, kSrv, pattern(20), Sum::kBad)), at_ms(1));
  EXPECT_EQ(udp().queued(s), 0u);
  expect_only_drop(Drop::kUdpBadChecksum);
}

TEST_F(Udp6Test, Ipv4OnlySocketDoesNotTakeIpv6AndThePortIsUnreachable) {
  peer_known();
  open({IpAddr::any_v4(), kSrv});
  const Bytes packet = ipv6_packet(kPeerG, kOurG, kProtoUdp, udp6(kCli, kSrv, pattern(30)));
  recv(ethernet(kOurMac, kPeerMac, kTypeIpv6, packet), at_ms(1));
  EXPECT_EQ(count(Counter::kUdp6NoPorts), 1u);
  EXPECT_EQ(count(Counter::kUdpNoPorts), 0u);
  ASSERT_EQ(sent_count(), 1u);
  const Bytes f = expect_sent();
  ASSERT_GE(f.size(), 54u + 8u);
  EXPECT_EQ(get_mac(f, 0), kPeerMac);
  EXPECT_EQ(get16(f, 12), kTypeIpv6);
  EXPECT_EQ(get8(f, 20), 58);
  EXPECT_EQ(get_addr(f, 22), kOurG);
  EXPECT_EQ(get_addr(f, 38), kPeerG);
  const Bytes icmp(f.begin() + 54, f.end());
  EXPECT_EQ(get8(icmp, 0), 1);  // Destination Unreachable
  EXPECT_EQ(get8(icmp, 1), 4);  // port unreachable
  EXPECT_EQ(upper_checksum(kOurG, kPeerG, 58, icmp), 0);
  EXPECT_EQ(Bytes(icmp.begin() + 8, icmp.end()), packet) << "the whole packet quoted";
  EXPECT_EQ(count(Counter::kIcmp6OutDestUnreachs), 1u);
}

TEST_F(Udp6Test, SendToBuildsTheHeaderAndTheIpv6Checksum) {
  peer_known();
  const UdpSocketId s = open({IpAddr{}, kSrv});
  const Bytes data = pattern(77);
  ASSERT_EQ(udp().send_to(s, udp().copy_payload(data), Endpoint{addr(kPeerG), kCli}, at_ms(1)),
            UdpResult::kOk);
  const Bytes f = expect_sent();
  ASSERT_EQ(f.size(), 54u + 8u + data.size());
  EXPECT_EQ(get_mac(f, 0), kPeerMac);
  EXPECT_EQ(get8(f, 20), kProtoUdp);
  EXPECT_EQ(get_addr(f, 22), kOurG);
  EXPECT_EQ(get_addr(f, 38), kPeerG);
  const Bytes d(f.begin() + 54, f.end());
  EXPECT_EQ(get16(d, 0), kSrv);
  EXPECT_EQ(get16(d, 2), kCli);
  EXPECT_EQ(get16(d, 4), 8 + data.size());
  EXPECT_NE(get16(d, 6), 0);
  EXPECT_EQ(upper_checksum(kOurG, kPeerG, kProtoUdp, d), 0);
  EXPECT_EQ(Bytes(d.begin() + 8, d.end()), data);
  EXPECT_EQ(count(Counter::kUdp6OutDatagrams), 1u);
  EXPECT_EQ(count(Counter::kUdpOutDatagrams), 0u);
}

TEST_F(Udp6Test, ABoundSocketSendsFromItsAddress) {
  const Ipv6Addr second = v6("2001:db8:2::1");
  settings_.v6.addrs.push_back(Ipv6Prefix{second, 64});
  peer_known();
  const UdpSocketId s = open({addr(second), kSrv});
  ASSERT_EQ(udp().send_to(s, udp().copy_payload(pattern(9)), Endpoint{addr(kPeerG), kCli}, at_ms(1)),
            UdpResult::kOk);
  const Bytes f = expect_sent();
  ASSERT_EQ(f.size(), 54u + 8u + 9u);
  EXPECT_EQ(get_addr(f, 22), second) << "the bound address, not the one IP picks for the peer's prefix";
  EXPECT_EQ(upper_checksum(second, kPeerG, kProtoUdp, Bytes(f.begin() + 54, f.end())), 0);
}

// RFC 4862 §5.4: while duplicate address detection runs, the link-local
// and the global address are tentative, not assigned, so neither is a
// source. A wildcard socket neither connects nor sends then (Linux:
// EADDRNOTAVAIL) and binds no port: a flow placed on this worker from the
// link-local address would hash elsewhere once the global one is usable,
// and the peer's answers to the link-local address match no socket. After
// DAD it connects from the global address and keeps it.
TEST_F(Udp6Test, NoSourceWhileDuplicateAddressDetectionRuns) {
  settings_.v6.nd.dad_transmits = 1;
  timer(at_ms(0));  // DAD probes for the link-local and the global address
  out_.clear();
  const UdpSocketId s = open({IpAddr{}, 0});
  EXPECT_EQ(udp().connect(s, Endpoint{addr(kPeerG), kCli}, at_ms(1)), UdpResult::kNoSource);
  Mbuf p = udp().copy_payload(pattern(5));
  EXPECT_EQ(udp().send_to(s, p, Endpoint{addr(kPeerG), kCli}, at_ms(1)), UdpResult::kNoSource);
  EXPECT_TRUE(p) << "refused before the stack took it: the payload stays the caller's";
  EXPECT_EQ(udp().local(s).port, 0) << "no ephemeral port bound";
  EXPECT_FALSE(udp().remote(s).has_value());
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kUdp6OutDatagrams), 0u);

  timer(at_ms(1000));  // one RetransTimer after the last probe: no longer tentative
  peer_known();
  ASSERT_EQ(udp().connect(s, Endpoint{addr(kPeerG), kCli}, at_ms(1001)), UdpResult::kOk);
  EXPECT_NE(udp().local(s).port, 0);
  ASSERT_EQ(udp().send_to(s, std::move(p), std::nullopt, at_ms(1001)), UdpResult::kOk);
  const Bytes f = expect_sent();
  ASSERT_EQ(f.size(), 54u + 8u + 5u);
  EXPECT_EQ(get_addr(f, 22), kOurG);
  EXPECT_EQ(upper_checksum(kOurG, kPeerG, kProtoUdp, Bytes(f.begin() + 54, f.end())), 0);
}

TEST_F(Udp6Test, FamiliesMustFit) {
  peer_known();
  const UdpSocketId v4only = open({IpAddr::any_v4(), kSrv});
  EXPECT_EQ(udp().send_to(v4only, udp().copy_payload(pattern(4)), Endpoint{addr(kPeerG), kCli}, at_ms(1)),
            UdpResult::kInvalid);
  const UdpSocketId v6only = open({addr(kOurG), kSrv + 1});
  EXPECT_EQ(udp().connect(v6only, Endpoint{IpAddr::v4(kPeerIp), kCli}, at_ms(1)), UdpResult::kInvalid);
  const UdpSocketId any = open({IpAddr{}, 0});
  ASSERT_EQ(udp().connect(any, Endpoint{addr(kPeerG), kCli}, at_ms(1)), UdpResult::kOk);
  EXPECT_NE(udp().local(any).port, 0);
  ASSERT_EQ(udp().send_to(any, udp().copy_payload(pattern(4)), std::nullopt, at_ms(1)), UdpResult::kOk);
  EXPECT_EQ(sent_count(), 1u);
  out_.clear();
  expect_no_leaks();
}

TEST_F(Udp6Test, TooBigForTheLinkIsRefused) {
  peer_known();
  const UdpSocketId s = open({IpAddr{}, kSrv});
  EXPECT_EQ(udp().send_to(s, udp().copy_payload(pattern(1453)), Endpoint{addr(kPeerG), kCli}, at_ms(1)),
            UdpResult::kTooBig)
      << "IPv6 does not fragment what Tern sends yet";
  EXPECT_EQ(udp().send_to(s, udp().copy_payload(pattern(1452)), Endpoint{addr(kPeerG), kCli}, at_ms(1)),
            UdpResult::kOk);
}

}  // namespace
}  // namespace tern::testkit
