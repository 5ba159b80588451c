// Software steering: which worker owns a frame. Pure byte-span code, no EAL.
#include "runtime/steering.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "../ip/test_frames.h"

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

}  // namespace
}  // namespace tern::testkit
