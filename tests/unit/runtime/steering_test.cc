// Software steering: which worker owns a frame. Pure byte-span code, no EAL.
#include "runtime/steering.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "../ip/test_frames.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

namespace tern::testkit {
namespace {

// A TCP or UDP datagram from a:pa to b:pb; only the ports of its header matter here.
Bytes l4_frame(std::uint32_t a, std::uint32_t b, std::uint16_t pa, std::uint16_t pb, std::uint8_t proto,
               std::uint64_t seed = 0) {
  Bytes l4 = pattern(proto == kProtoTcp ? 20 : 8, seed);
  put16(l4, 0, pa);
  put16(l4, 2, pb);
  return ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4({.src = a, .dst = b, .protocol = proto}, l4));
}

std::uint16_t steer(const Bytes& f, std::uint16_t workers, std::uint16_t self = 0) {
  return steer_frame(f, workers, self);
}

struct Tuple {
  std::uint32_t a, b;
  std::uint16_t pa, pb;
};
Tuple random_tuple(std::mt19937_64& rng) {
  return {static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
          static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng())};
}

TEST(Steering, BothDirectionsOfAFlowHaveOneOwner) {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 20'000; ++i) {
    const Tuple t = random_tuple(rng);
    for (std::uint8_t proto : {kProtoTcp, kProtoUdp}) {
      const Bytes there = l4_frame(t.a, t.b, t.pa, t.pb, proto, rng());
      const Bytes back = l4_frame(t.b, t.a, t.pb, t.pa, proto, rng());
      for (std::uint16_t workers : {2, 3, 4, 8}) {
        const std::uint16_t owner = steer(there, workers);
        ASSERT_LT(owner, workers);
        ASSERT_EQ(owner, steer(back, workers))
            << "tuple " << i << " proto " << int{proto} << " over " << workers << " workers";
      }
    }
    EXPECT_EQ(symmetric_flow_hash(t.a, t.b, t.pa, t.pb, kProtoTcp),
              symmetric_flow_hash(t.b, t.a, t.pb, t.pa, kProtoTcp));
  }
}

TEST(Steering, PortsAndProtocolTakePart) {
  // Different ports between the same hosts must be able to land on different
  // workers, or one busy host pair would pin a single core.
  std::array<int, 4> seen{};
  for (std::uint16_t port = 40000; port < 40064; ++port)
    ++seen[steer(l4_frame(kPeerIp, kOurIp, port, 80, kProtoTcp), 4)];
  for (int n : seen) EXPECT_GT(n, 0);
}

// A frame GRO merged is a chain: the first segment's span ends before the
// total length its IPv4 header gives. It is steered by its header as the
// segments it merged were, not left on the worker that polled it.
TEST(Steering, AFrameLongerThanItsFirstSegmentIsSteeredByItsHeader) {
  std::mt19937_64 rng(7);
  int moved = 0;
  for (int i = 0; i < 256; ++i) {
    const Tuple t = random_tuple(rng);
    Bytes f = l4_frame(t.a, t.b, t.pa, t.pb, kProtoTcp, rng());
    const std::uint16_t owner = steer(f, 4, 3);
    put16(f, 14 + 2, 9000);  // total length: 8,946 bytes in further segments
    EXPECT_EQ(steer(f, 4, 3), owner) << "tuple " << i;
    moved += owner != 3;
  }
  EXPECT_GT(moved, 0);
}

TEST(Steering, ArpGoesToEveryWorker) {
  EXPECT_EQ(steer(arp_request_frame(kPeerMac, kPeerIp, kOurIp), 4), kAllWorkers);
  EXPECT_EQ(steer(arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp), 2), kAllWorkers);
}

TEST(Steering, FragmentsSteerByAddressesOnly) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5'000; ++i) {
    const Tuple t = random_tuple(rng);
    for (std::uint8_t proto : {kProtoTcp, kProtoUdp}) {
      Bytes l4 = pattern(64, rng());
      put16(l4, 0, t.pa);
      put16(l4, 2, t.pb);
      // The first fragment carries the ports, a later one only data; both
      // must meet on one worker's reassembly table, in both directions.
      const Ip h{.src = t.a, .dst = t.b, .protocol = proto, .id = 5};
      const Bytes first = fragment_frame(h, l4, 0, 32, true);
      const Bytes later = fragment_frame(h, l4, 32, 32, false);
      const Bytes reverse = fragment_frame({.src = t.b, .dst = t.a, .protocol = proto, .id = 6},
                                           pattern(64, rng()), 0, 32, true);
      for (std::uint16_t workers : {2, 4}) {
        const std::uint16_t owner = steer(first, workers);
        ASSERT_EQ(owner, steer(later, workers)) << "tuple " << i;
        ASSERT_EQ(owner, steer(reverse, workers)) << "tuple " << i;
      }
    }
  }
}

// A router's Destination Unreachable about our segment a:pa > b:pb must reach
// the worker that owns the connection, not the one (router, us) hashes to.
TEST(Steering, DestUnreachableGoesToTheQuotedConnectionsOwner) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5'000; ++i) {
    const Tuple t = random_tuple(rng);
    Bytes tcp = pattern(8, rng());
    put16(tcp, 0, t.pa);
    put16(tcp, 2, t.pb);
    const Bytes quoted = ipv4({.src = t.a, .dst = t.b, .protocol = kProtoTcp, .total_length = 40}, tcp);
    const Bytes error = ethernet(kOurMac, kRouterMac, kTypeIpv4,
                                 ipv4({.src = kGatewayIp, .dst = t.a}, icmp(3, 1, 0, 0, quoted)));
    for (std::uint16_t workers : {2, 3, 4}) {
      ASSERT_EQ(steer(error, workers), steer(l4_frame(t.b, t.a, t.pb, t.pa, kProtoTcp), workers))
          << "tuple " << i;
    }
  }
}

TEST(Steering, ShortOrForeignFramesStayWithTheReceiver) {
  const Bytes ping = ping_frame(1, 1, pattern(8));
  for (std::uint16_t self = 0; self < 4; ++self) {
    for (std::size_t n = 0; n < 14; ++n)
      EXPECT_EQ(steer(Bytes(ping.begin(), ping.begin() + static_cast<std::ptrdiff_t>(n)), 4, self), self)
          << n;
    // Truncated inside the IPv4 header, and not IPv4 at all.
    EXPECT_EQ(steer(Bytes(ping.begin(), ping.begin() + 30), 4, self), self);
    EXPECT_EQ(steer(ethernet(kOurMac, kPeerMac, 0x86DD, pattern(40)), 4, self), self);
    Bytes bad_version = ping;
    bad_version[14] = std::byte{0x65};
    EXPECT_EQ(steer(bad_version, 4, self), self);
  }
}

TEST(Steering, SingleWorkerOwnsEverything) {
  EXPECT_EQ(steer(arp_request_frame(kPeerMac, kPeerIp, kOurIp), 1), 0);
  EXPECT_EQ(steer(Bytes(3), 1, 0), 0);
  EXPECT_EQ(steer(l4_frame(1, 2, 3, 4, kProtoTcp), 1), 0);
}

// Each worker's share stays within 10% of the fair share.
void expect_balanced(const std::vector<int>& counts, int total, const char* what) {
  const double fair = static_cast<double>(total) / static_cast<double>(counts.size());
  for (std::size_t w = 0; w < counts.size(); ++w)
    EXPECT_NEAR(counts[w], fair, fair * 0.10) << what << ": worker " << w << " of " << counts.size();
}

TEST(Steering, RandomFlowsSpreadEvenly) {
  for (std::uint16_t workers : {2, 4}) {
    std::mt19937_64 rng(workers);
    std::vector<int> counts(workers);
    const int n = 40'000;
    for (int i = 0; i < n; ++i) {
      const Tuple t = random_tuple(rng);
      ++counts[steer(l4_frame(t.a, t.b, t.pa, t.pb, i % 2 ? kProtoTcp : kProtoUdp), workers)];
    }
    expect_balanced(counts, n, "random tuples");
  }
}

TEST(Steering, ManyConnectionsToOneServerSpreadEvenly) {
  // The common server case: one client host, one server port, the client's
  // ephemeral ports in sequence (Linux: 32768..60999).
  for (std::uint16_t workers : {2, 4}) {
    std::vector<int> counts(workers);
    int n = 0;
    for (std::uint32_t port = 32768; port < 61000; ++port, ++n)
      ++counts[steer(l4_frame(kPeerIp, kOurIp, static_cast<std::uint16_t>(port), 80, kProtoTcp), workers)];
    expect_balanced(counts, n, "sequential client ports");
  }
}

TEST(Steering, ManyHostsOnASubnetSpreadEvenly) {
  // Pings (no ports) from every host of a /16 to us.
  for (std::uint16_t workers : {2, 4}) {
    std::vector<int> counts(workers);
    int n = 0;
    for (std::uint32_t host = 1; host < 65535; ++host, ++n)
      ++counts[steer(
          ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4({.src = ip4(172, 16, 0, 0) | host}, pattern(8))),
          workers)];
    expect_balanced(counts, n, "hosts of 172.16/16");
  }
}

// ---- IPv6 (issue 15) ----

Ipv6Addr random_v6(std::mt19937_64& rng) {
  Ipv6Addr a;
  for (auto& byte : a.b) byte = static_cast<std::uint8_t>(rng());
  a.b[0] = 0x20;  // global unicast, never mapped
  return a;
}

// An IPv6 frame from a to b: the fixed header, `ext` (already chained: its
// first byte's Next Header names `proto`), then `upper`.
Bytes v6_frame(const Ipv6Addr& a, const Ipv6Addr& b, std::uint8_t next, std::span<const std::byte> upper) {
  Bytes packet(kIpv6HeaderLen + upper.size());
  write_ipv6(
      packet,
      {.src = a, .dst = b, .next_header = next, .payload_len = static_cast<std::uint16_t>(upper.size())});
  std::copy(upper.begin(), upper.end(), packet.begin() + kIpv6HeaderLen);
  return ethernet(kOurMac, kPeerMac, kEtherTypeIpv6, packet);
}

Bytes v6_l4(const Ipv6Addr& a, const Ipv6Addr& b, std::uint16_t pa, std::uint16_t pb, std::uint8_t proto,
            std::uint64_t seed) {
  Bytes l4 = pattern(proto == kProtoTcp ? 20 : 8, seed);
  put16(l4, 0, pa);
  put16(l4, 2, pb);
  return v6_frame(a, b, proto, l4);
}

TEST(SteeringIpv6, BothDirectionsOfAFlowHaveOneOwner) {
  std::mt19937_64 rng(6);
  for (int i = 0; i < 10'000; ++i) {
    const Ipv6Addr a = random_v6(rng), b = random_v6(rng);
    const auto pa = static_cast<std::uint16_t>(rng()), pb = static_cast<std::uint16_t>(rng());
    for (std::uint8_t proto : {kProtoTcp, kProtoUdp}) {
      const Bytes there = v6_l4(a, b, pa, pb, proto, rng());
      const Bytes back = v6_l4(b, a, pb, pa, proto, rng());
      for (std::uint16_t workers : {2, 3, 4, 8}) {
        const std::uint16_t owner = steer(there, workers, workers - 1);
        ASSERT_LT(owner, workers);
        ASSERT_EQ(owner, steer(back, workers, 0)) << "tuple " << i << " proto " << int{proto};
        // The owner the TCP layer computes from its tuple (Worker::owns_tuple).
        ASSERT_EQ(owner, symmetric_flow_hash(IpAddr::v6(b.b), IpAddr::v6(a.b), pb, pa, proto) % workers);
      }
    }
  }
}

TEST(SteeringIpv6, MappedAddressesHashAsIpv4) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 1'000; ++i) {
    const Tuple t = random_tuple(rng);
    EXPECT_EQ(symmetric_flow_hash(IpAddr::v4(t.a), IpAddr::v4(t.b), t.pa, t.pb, kProtoTcp),
              symmetric_flow_hash(t.a, t.b, t.pa, t.pb, kProtoTcp));
  }
}

TEST(SteeringIpv6, ExtensionHeadersAreWalkedToThePorts) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 2'000; ++i) {
    const Ipv6Addr a = random_v6(rng), b = random_v6(rng);
    const auto pa = static_cast<std::uint16_t>(rng()), pb = static_cast<std::uint16_t>(rng());
    // Destination Options (8 bytes: Next Header TCP, length 0, PadN of 4... as 6 bytes of PadN).
    Bytes with_opts = {std::byte{kProtoTcp}, std::byte{0}, std::byte{1}, std::byte{4},
                       std::byte{0},         std::byte{0}, std::byte{0}, std::byte{0}};
    Bytes tcp = pattern(20, rng());
    put16(tcp, 0, pa);
    put16(tcp, 2, pb);
    with_opts.insert(with_opts.end(), tcp.begin(), tcp.end());
    const Bytes plain = v6_l4(a, b, pa, pb, kProtoTcp, rng());
    const Bytes opts = v6_frame(a, b, kIpv6NextDestOpts, with_opts);
    for (std::uint16_t workers : {2, 4}) ASSERT_EQ(steer(plain, workers), steer(opts, workers, 1)) << i;
  }
}

TEST(SteeringIpv6, FragmentsSteerByAddressesOnly) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 2'000; ++i) {
    const Ipv6Addr a = random_v6(rng), b = random_v6(rng);
    // A first fragment (offset 0, M set) carries the ports after its
    // fragment header; a later one only data. Both meet on one worker.
    auto fragment = [&](std::uint16_t offset, bool more) {
      Bytes f = {std::byte{kProtoUdp},
                 std::byte{0},
                 static_cast<std::byte>(offset >> 8),
                 static_cast<std::byte>((offset & 0xF8) | (more ? 1 : 0)),
                 std::byte{0},
                 std::byte{0},
                 std::byte{0x12},
                 std::byte{0x34}};
      const Bytes data = pattern(16, rng());
      f.insert(f.end(), data.begin(), data.end());
      return v6_frame(a, b, kIpv6NextFragment, f);
    };
    for (std::uint16_t workers : {2, 4})
      ASSERT_EQ(steer(fragment(0, true), workers), steer(fragment(16, false), workers, 1)) << i;
  }
}

TEST(SteeringIpv6, NeighbourDiscoveryGoesToEveryWorker) {
  for (std::uint8_t type = kIcmpv6RouterSolicit; type <= kIcmpv6NeighborAdvert; ++type) {
    Bytes icmp = pattern(24);
    icmp[0] = std::byte{type};
    EXPECT_EQ(steer(v6_frame(Ipv6Addr::all_nodes(), Ipv6Addr::all_routers(), kIpProtoIcmpv6, icmp), 4),
              kAllWorkers)
        << int{type};
  }
  Bytes echo = pattern(16);
  echo[0] = std::byte{kIcmpv6EchoRequest};
  EXPECT_NE(steer(v6_frame(Ipv6Addr::all_nodes(), Ipv6Addr::all_routers(), kIpProtoIcmpv6, echo), 4),
            kAllWorkers);
}

TEST(SteeringIpv6, ErrorsGoToTheQuotedConnectionsOwner) {
  std::mt19937_64 rng(14);
  const Ipv6Addr router = random_v6(rng);
  for (int i = 0; i < 2'000; ++i) {
    const Ipv6Addr us = random_v6(rng), peer = random_v6(rng);
    const auto pu = static_cast<std::uint16_t>(rng()), pp = static_cast<std::uint16_t>(rng());
    // Packet Too Big quoting our segment us:pu > peer:pp.
    Bytes quoted(kIpv6HeaderLen + 8);
    write_ipv6(quoted, {.src = us, .dst = peer, .next_header = kProtoTcp, .payload_len = 1400});
    store_be16(quoted.data() + kIpv6HeaderLen, pu);
    store_be16(quoted.data() + kIpv6HeaderLen + 2, pp);
    Bytes icmp(kIcmpv6HeaderLen);
    icmp[0] = std::byte{kIcmpv6PacketTooBig};
    icmp.insert(icmp.end(), quoted.begin(), quoted.end());
    const Bytes error = v6_frame(router, us, kIpProtoIcmpv6, icmp);
    for (std::uint16_t workers : {2, 3, 4})
      ASSERT_EQ(steer(error, workers), steer(v6_l4(peer, us, pp, pu, kProtoTcp, 1), workers)) << i;
  }
}

// As for IPv4: a frame GRO merged (runtime/rx_coalesce6.h) is a chain whose
// Payload Length runs past its first segment; it goes to its connection's
// owner, not to the worker that polled it.
TEST(SteeringIpv6, AFrameLongerThanItsFirstSegmentIsSteeredByItsHeader) {
  std::mt19937_64 rng(17);
  int moved = 0;
  for (int i = 0; i < 256; ++i) {
    Bytes f = v6_l4(random_v6(rng), random_v6(rng), static_cast<std::uint16_t>(rng()),
                    static_cast<std::uint16_t>(rng()), kProtoTcp, rng());
    const std::uint16_t owner = steer(f, 4, 3);
    put16(f, 14 + 4, 9000);  // payload length: 8,980 bytes in further segments
    EXPECT_EQ(steer(f, 4, 3), owner) << "tuple " << i;
    moved += owner != 3;
  }
  EXPECT_GT(moved, 0);
}

TEST(SteeringIpv6, TruncatedOrMalformedStaysWithTheReceiver) {
  std::mt19937_64 rng(15);
  const Bytes good = v6_l4(random_v6(rng), random_v6(rng), 1, 2, kProtoTcp, 3);
  for (std::uint16_t self = 0; self < 4; ++self) {
    EXPECT_EQ(steer(Bytes(good.begin(), good.begin() + 14 + 39), 4, self), self);
    Bytes bad_version = good;
    bad_version[14] = std::byte{0x45};
    EXPECT_EQ(steer(bad_version, 4, self), self);
  }
}

TEST(SteeringIpv6, ManyClientsOfAPrefixSpreadEvenly) {
  // Clients of one /64 with random interface identifiers, and one client's
  // sequential ports, against our one server port.
  std::mt19937_64 rng(16);
  const Ipv6Addr server = random_v6(rng);
  Ipv6Addr client = random_v6(rng);
  for (std::uint16_t workers : {2, 4}) {
    std::vector<int> hosts(workers), ports(workers);
    const int n = 20'000;
    for (int i = 0; i < n; ++i) {
      Ipv6Addr c = client;
      for (std::size_t k = 8; k < 16; ++k) c.b[k] = static_cast<std::uint8_t>(rng());
      ++hosts[steer(v6_l4(c, server, 50000, 443, kProtoTcp, 0), workers)];
      ++ports[steer(v6_l4(client, server, static_cast<std::uint16_t>(32768 + i), 443, kProtoTcp, 0),
                    workers)];
    }
    expect_balanced(hosts, n, "hosts of a /64");
    expect_balanced(ports, n, "one host's ports");
  }
}

}  // namespace
}  // namespace tern::testkit
