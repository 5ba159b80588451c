// Two Workers sharing one side of an in-process link (one queue each, software
// steering over SPSC rings, wired as lib/runtime/runtime.cc does), and a peer
// on the other side driven by hand. Single-threaded, on virtual time: each
// worker runs one poll_once() when the test says so.
#include "runtime/worker.h"

#include <gtest/gtest.h>
#include <rte_ring.h>

#include <array>
#include <memory>
#include <vector>

#include "../ip/ipv6_harness.h"
#include "../ip/test_frames.h"
#include "port/link_pair.h"
#include "runtime/steering.h"
#include "wire/ipv6.h"
#include "wire/ndp.h"
#include "wire/tcp.h"
#include "worker_settings.h"

namespace tern::testkit {
namespace {

constexpr std::uint16_t kWorkers = 2;

class WorkerPair : public ::testing::Test {
 protected:
  void SetUp() override {
    peer_pool_ = make_pool("wkp");
    ASSERT_NE(peer_pool_, nullptr);
    for (auto& p : pools_) {
      p = make_pool("wkw");
      ASSERT_NE(p, nullptr);
    }
    auto [a, b] = make_link_pair(kWorkers, 256);
    ours_ = std::move(a);
    peer_ = std::move(b);
    IpSettings s = worker_ip_settings(*ours_);
    s.gateway = kGatewayIp;
    WorkerTcpSettings tcp = worker_tcp_settings(s, 64);
    tcp.opts.cfg.max_time_wait = 64;
    if (with_udp6_) {
      our_g_ = global_apart_from(link_local_from_mac(s.mac));
      s.v6.addrs = {Ipv6Prefix{our_g_, 64}};
      s.v6.nd.dad_transmits = 1;  // duplicate address detection as the runtime's default runs it
    }
    for (std::uint16_t w = 0; w < kWorkers; ++w) {
      workers_.push_back(std::make_unique<Worker>(w, kWorkers, *ours_, s, pools_[w], nullptr, 32,
                                                  with_tcp_ ? &tcp : nullptr));
      if (with_udp6_) workers_.back()->enable_udp(UdpStackOptions{});
    }
    // One SPSC ring per ordered pair of workers.
    static std::atomic<unsigned> seq{0};
    for (std::uint16_t from = 0; from < kWorkers; ++from) {
      for (std::uint16_t to = 0; to < kWorkers; ++to) {
        if (from == to) continue;
        const std::string name = "wkt_steer_" + std::to_string(seq.fetch_add(1));
        rte_ring* r = rte_ring_create(name.c_str(), 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_NE(r, nullptr);
        rings_.push_back(r);
        workers_[from]->set_outbox(to, r);
        workers_[to]->set_inbox(from, r);
      }
    }
  }

  void TearDown() override {
    workers_.clear();
    ours_.reset();
    peer_.reset();
    for (rte_ring* r : rings_) {
      rte_mbuf* m = nullptr;
      while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
        ADD_FAILURE() << "frame left in a steering ring";
        rte_pktmbuf_free(m);
      }
      rte_ring_free(r);
    }
    EXPECT_EQ(rte_mempool_in_use_count(peer_pool_), 0u) << "leaked peer mbufs";
    for (rte_mempool* p : pools_) {
      EXPECT_EQ(rte_mempool_in_use_count(p), 0u) << "leaked worker mbufs";
      rte_mempool_free(p);
    }
    rte_mempool_free(peer_pool_);
  }

  // The peer puts a frame on the wire towards our queue `q`.
  void peer_sends(std::uint16_t q, const Bytes& frame) {
    rte_mbuf* m = to_mbuf(peer_pool_, frame).release();
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(peer_->tx_burst(q, &m, 1), 1);
  }
  // Everything our side transmitted on queue `q`.
  std::vector<Bytes> peer_receives(std::uint16_t q) {
    std::vector<Bytes> out;
    std::array<rte_mbuf*, 32> burst{};
    for (std::uint16_t n; (n = peer_->rx_burst(q, burst.data(), 32)) > 0;) {
      for (std::uint16_t i = 0; i < n; ++i) {
        out.push_back(bytes_of(burst[i]));
        rte_pktmbuf_free(burst[i]);
      }
    }
    return out;
  }
  unsigned poll(std::uint16_t w, std::int64_t t_ms) { return workers_[w]->poll_once(at_ms(t_ms)); }
  Worker& worker(std::uint16_t w) { return *workers_[w]; }
  const Counters& counters(std::uint16_t w) { return workers_[w]->counters(); }

  // A neighbour announces itself with a request for our address on queue q;
  // worker q answers, both learn.
  void resolve(const MacAddr& mac, std::uint32_t addr, std::uint16_t q, std::int64_t t_ms) {
    peer_sends(q, arp_request_frame(mac, addr, kOurIp));
    poll(q, t_ms);
    poll(1 - q, t_ms);
    ASSERT_EQ(peer_receives(q).size(), 1u);
    ASSERT_TRUE(peer_receives(1 - q).empty());
  }

  // After a first poll at 0 ms (DAD probes sent): one RetransTimer later DAD
  // is over; the peer resolves our global address and both workers learn
  // its MAC. What we sent (DAD probes, the advertisement) is discarded.
  void end_dad_and_meet_peer6() {
    for (std::uint16_t w = 0; w < kWorkers; ++w) poll(w, 1000);
    const Ipv6Addr group = solicited_node(our_g_);
    peer_sends(0, icmp6_frame(multicast_mac(group), kPeerG, group, 135, 0, ns_body(our_g_, kPeerMac), 255));
    for (std::uint16_t w = 0; w < kWorkers; ++w) poll(w, 1001);
    for (std::uint16_t q = 0; q < kWorkers; ++q) (void)peer_receives(q);
  }

  // A SYN (ISN 1000) from the peer's `sport` reached the listener on
  // `owner` only: its SYN-ACK is the one frame sent, and the connection is
  // there.
  void expect_syn_ack_from(std::uint16_t owner, std::uint16_t sport, bool v6) {
    EXPECT_TRUE(peer_receives(1 - owner).empty()) << "the reassembling worker must not answer";
    const auto out = peer_receives(owner);
    ASSERT_EQ(out.size(), 1u);
    const Bytes segment = v6 ? parse6(out[0]).payload : parse_ip(parse_eth(out[0]).payload).payload;
    const auto seg = TcpHeader::parse(segment);
    ASSERT_TRUE(seg);
    EXPECT_EQ(seg->flags().bits, kTcpSyn | kTcpAck);
    EXPECT_EQ(seg->dst_port(), sport);
    EXPECT_EQ(seg->ack(), 1001u);
    EXPECT_EQ(worker(owner).tcp()->connections(), 1u);
  }

  rte_mempool* peer_pool_ = nullptr;
  std::array<rte_mempool*, kWorkers> pools_{};
  std::unique_ptr<LinkPort> ours_, peer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<rte_ring*> rings_;
  bool with_tcp_ = false;
  bool with_udp6_ = false;  // UDP on each worker, and a global IPv6 address under DAD
  Ipv6Addr our_g_;          // that address

 private:
  // An address in kPeerG's /64 whose flows with kPeerG the other worker owns
  // than the same flows from `ll`. For two workers the owner is a bit of
  // the addresses' part of symmetric_flow_hash XOR one of the ports' part,
  // so swapping one address for another moves every flow or none: a test
  // of a flow placed for one address and carried by the other needs a pair
  // that moves them.
  static Ipv6Addr global_apart_from(const Ipv6Addr& ll) {
    const auto owner = [](const Ipv6Addr& a) {
      return symmetric_flow_hash(IpAddr::v6(a.b), IpAddr::v6(kPeerG.b), 40000, 7007, kProtoUdp) % kWorkers;
    };
    Ipv6Addr a = kOurG;
    while (owner(a) == owner(ll) || a == kPeerG) ++a.b[15];
    return a;
  }
};

// The same pair, each worker running a TCP engine.
class WorkerPairTcp : public WorkerPair {
 protected:
  WorkerPairTcp() { with_tcp_ = true; }
};

// The same pair with UDP and a global IPv6 address (our_g_).
class WorkerPairUdp6 : public WorkerPair {
 protected:
  WorkerPairUdp6() { with_udp6_ = true; }
};

// TCP and UDP on each worker, over both families.
class WorkerPairDual : public WorkerPair {
 protected:
  WorkerPairDual() {
    with_tcp_ = true;
    with_udp6_ = true;
  }
  // Both families ready: DAD over, the peer known over IPv6 and IPv4.
  void meet_peer() {
    for (std::uint16_t w = 0; w < kWorkers; ++w) poll(w, 0);
    end_dad_and_meet_peer6();
    resolve(kPeerMac, kPeerIp, 0, 1002);
  }
  // `l4` from the peer to us in fragments of `piece` bytes (a multiple of 8).
  std::vector<Bytes> fragments_from_peer(bool v6, std::uint8_t protocol, const Bytes& l4, std::size_t piece) {
    if (v6) return fragments6(0x5150, protocol, l4, piece, kPeerG, our_g_);
    return fragments(Ip{.protocol = protocol, .id = 0x5150}, l4, piece);
  }
};

class ArpOnQueue : public WorkerPair, public ::testing::WithParamInterface<std::uint16_t> {};

TEST_P(ArpOnQueue, IsAnsweredOnceAndLearnedByBothWorkers) {
  const std::uint16_t q = GetParam(), other = 1 - GetParam();
  peer_sends(q, arp_request_frame(kPeerMac, kPeerIp, kOurIp));

  // The receiving worker answers at once and hands a copy to its sibling.
  EXPECT_EQ(poll(q, 0), 1u);
  const auto replies = peer_receives(q);
  ASSERT_EQ(replies.size(), 1u);
  const EthView eth = parse_eth(replies[0]);
  EXPECT_EQ(eth.dst, kPeerMac);
  EXPECT_EQ(eth.src, kOurMac);
  ASSERT_EQ(eth.type, kTypeArp);
  const ArpView a = parse_arp(eth.payload);
  EXPECT_EQ(a.op, 2);
  EXPECT_EQ(a.spa, kOurIp);
  EXPECT_EQ(a.tpa, kPeerIp);
  EXPECT_EQ(counters(q).get(Counter::kSteeredOut), 1u);

  // The sibling only learns from its copy.
  EXPECT_EQ(poll(other, 0), 1u);
  EXPECT_TRUE(peer_receives(other).empty());
  EXPECT_TRUE(peer_receives(q).empty());
  EXPECT_EQ(counters(other).get(Counter::kSteeredIn), 1u);
  EXPECT_EQ(counters(q).get(Counter::kArpOutReplies) + counters(other).get(Counter::kArpOutReplies), 1u);

  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    const MacAddr* mac = worker(w).ip().arp().lookup(kPeerIp, at_ms(1));
    ASSERT_NE(mac, nullptr) << "worker " << w << " did not learn 10.0.0.2";
    EXPECT_EQ(*mac, kPeerMac);
    EXPECT_EQ(counters(w).total_drops(), 0u);
  }
  // Quiet afterwards.
  EXPECT_EQ(poll(0, 1) + poll(1, 1), 0u);
  EXPECT_TRUE(peer_receives(0).empty());
  EXPECT_TRUE(peer_receives(1).empty());
}

INSTANTIATE_TEST_SUITE_P(Queues, ArpOnQueue, ::testing::Values(0, 1));

// IPv6 neighbour discovery is steered like ARP (issue 15): a peer's
// solicitation for our link-local address is answered once, by the worker
// whose queue it arrived on, and both workers' caches learn the peer.
class NdOnQueue : public WorkerPair, public ::testing::WithParamInterface<std::uint16_t> {};

TEST_P(NdOnQueue, SolicitationIsAnsweredOnceAndLearnedByBothWorkers) {
  const std::uint16_t q = GetParam(), other = 1 - GetParam();
  const Ipv6Addr ours = link_local_from_mac(ours_->info().mac);
  const Ipv6Addr peer = link_local_from_mac(kPeerMac);
  const Ipv6Addr group = solicited_node(ours);
  Bytes packet(kIpv6HeaderLen + 32);
  const std::size_t n =
      write_neighbor_solicit(std::span(packet).subspan(kIpv6HeaderLen), ours, kPeerMac, peer, group);
  ASSERT_GT(n, 0u);
  packet.resize(kIpv6HeaderLen + n);
  write_ipv6(packet, {.src = peer,
                      .dst = group,
                      .next_header = kIpProtoIcmpv6,
                      .hop_limit = 255,
                      .payload_len = static_cast<std::uint16_t>(n)});
  peer_sends(q, ethernet(multicast_mac(group), kPeerMac, kEtherTypeIpv6, packet));

  EXPECT_EQ(poll(q, 0), 1u);
  const auto replies = peer_receives(q);
  ASSERT_EQ(replies.size(), 1u);
  const EthView eth = parse_eth(replies[0]);
  EXPECT_EQ(eth.dst, kPeerMac);
  ASSERT_EQ(eth.type, kEtherTypeIpv6);
  EXPECT_EQ(get8(eth.payload, kIpv6HeaderLen), kIcmpv6NeighborAdvert);
  EXPECT_EQ(counters(q).get(Counter::kSteeredOut), 1u);

  EXPECT_EQ(poll(other, 0), 1u);
  EXPECT_TRUE(peer_receives(other).empty()) << "the sibling answered its copy too";
  EXPECT_TRUE(peer_receives(q).empty());
  EXPECT_EQ(counters(other).get(Counter::kSteeredIn), 1u);
  EXPECT_EQ(counters(q).get(Counter::kIcmp6OutNeighborAdvertisements) +
                counters(other).get(Counter::kIcmp6OutNeighborAdvertisements),
            1u);
  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    const MacAddr* mac = worker(w).ip().v6().neighbors().cached_mac(peer);
    ASSERT_NE(mac, nullptr) << "worker " << w << " did not learn the peer";
    EXPECT_EQ(*mac, kPeerMac);
    EXPECT_EQ(counters(w).total_drops(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Queues, NdOnQueue, ::testing::Values(0, 1));

TEST_F(WorkerPair, PingOnTheWrongQueueIsSteeredToItsOwnerAndAnswered) {
  // Neighbours 10.0.0.2 .. 10.0.0.9; pings carry no ports, so each source
  // address has one owner. Make sure both workers own some.
  std::array<int, kWorkers> owners{};
  for (std::uint8_t host = 2; host < 10; ++host) {
    const MacAddr mac{{0x02, 0, 0, 0, 1, host}};
    const std::uint32_t src = ip4(10, 0, 0, host);
    resolve(mac, src, host % 2, host);

    const Bytes ping = ping_frame(host, 1, pattern(32, host), {.src = src}, mac);
    const std::uint16_t owner = steer_frame(ping, kWorkers, 0);
    ASSERT_LT(owner, kWorkers);
    ++owners[owner];
    const std::uint16_t wrong = 1 - owner;
    const Counters before_wrong = counters(wrong), before_owner = counters(owner);

    peer_sends(wrong, ping);
    EXPECT_EQ(poll(wrong, 100 + host), 1u);
    EXPECT_TRUE(peer_receives(wrong).empty())
        << "the receiving worker must not answer a flow it does not own";
    EXPECT_EQ(counters(wrong).get(Counter::kSteeredOut), before_wrong.get(Counter::kSteeredOut) + 1);
    EXPECT_EQ(counters(wrong).get(Counter::kIcmpInEchos), before_wrong.get(Counter::kIcmpInEchos));

    EXPECT_EQ(poll(owner, 100 + host), 1u);
    EXPECT_EQ(counters(owner).get(Counter::kSteeredIn), before_owner.get(Counter::kSteeredIn) + 1);
    const auto out = peer_receives(owner);
    ASSERT_EQ(out.size(), 1u) << "host " << int{host};
    const EthView eth = parse_eth(out[0]);
    EXPECT_EQ(eth.dst, mac);
    const IpView v = parse_ip(eth.payload);
    EXPECT_EQ(v.dst, src);
    EXPECT_TRUE(v.checksum_ok);
    const IcmpView r = parse_icmp(v.payload);
    EXPECT_EQ(r.type, 0);
    EXPECT_TRUE(r.checksum_ok);
    EXPECT_EQ(r.id, host);
    EXPECT_EQ(r.data, pattern(32, host));

    // The same ping on the owner's own queue is answered without a detour.
    peer_sends(owner, ping);
    EXPECT_EQ(poll(owner, 200 + host), 1u);
    EXPECT_EQ(peer_receives(owner).size(), 1u);
    EXPECT_EQ(counters(owner).get(Counter::kSteeredOut), before_owner.get(Counter::kSteeredOut));
  }
  EXPECT_GT(owners[0], 0);
  EXPECT_GT(owners[1], 0);
  for (std::uint16_t w = 0; w < kWorkers; ++w) EXPECT_EQ(counters(w).total_drops(), 0u);
}

TEST_F(WorkerPair, TcpSegmentIsDroppedByItsOwnerOnly) {
  // Without a TCP engine the owner counts TcpNoStack; the receiver counts nothing.
  for (std::uint16_t port = 40000; port < 40016; ++port) {
    Bytes tcp = pattern(20, port);
    put16(tcp, 0, port);
    put16(tcp, 2, 80);
    const Bytes f = ethernet(kOurMac, kPeerMac, kTypeIpv4, ipv4({.protocol = kProtoTcp}, tcp));
    const std::uint16_t owner = steer_frame(f, kWorkers, 0), wrong = 1 - owner;
    const std::uint64_t before = counters(owner).get(Drop::kTcpNoStack);
    const std::uint64_t before_wrong = counters(wrong).get(Drop::kTcpNoStack);
    peer_sends(wrong, f);
    poll(wrong, 1);
    EXPECT_EQ(counters(wrong).get(Drop::kTcpNoStack), before_wrong);
    poll(owner, 1);
    EXPECT_EQ(counters(owner).get(Drop::kTcpNoStack), before + 1) << "port " << port;
  }
  EXPECT_EQ(counters(0).total_drops() + counters(1).total_drops(), 16u);
}

// Fragments are steered by addresses only, so a TCP datagram can be
// reassembled on a worker that does not own its connection. That worker must
// hand it to the owner (whose listener answers), not answer it with a RST.
TEST_F(WorkerPairTcp, ReassembledSynReachesTheOwningWorker) {
  for (std::uint16_t w = 0; w < kWorkers; ++w) ASSERT_NE(worker(w).tcp()->listen(80, 8), nullptr);
  resolve(kPeerMac, kPeerIp, 0, 0);
  const Ip h{.protocol = kProtoTcp};
  const std::uint16_t frag_owner = steer_frame(fragments(h, pattern(24), 16)[0], kWorkers, 0);
  // A source port whose connection another worker owns.
  std::uint16_t sport = 40000;
  while (symmetric_flow_hash(kPeerIp, kOurIp, sport, 80, kProtoTcp) % kWorkers == frag_owner) ++sport;
  const std::uint16_t owner = 1 - frag_owner;
  Bytes syn(24);  // a SYN with a 4-byte MSS option, cut into 16 + 8 bytes
  const std::array<std::byte, 4> mss{std::byte{2}, std::byte{4}, std::byte{0x05}, std::byte{0xb4}};
  ASSERT_EQ(write_tcp(syn, TcpFields{sport, 80, 1000, 0, kTcpSyn, 65535}, mss), 24u);
  fill_tcp_checksum(syn, kPeerIp, kOurIp);
  for (const Bytes& f : fragments(h, syn, 16)) peer_sends(frag_owner, f);
  poll(frag_owner, 1);
  poll(owner, 1);
  expect_syn_ack_from(owner, sport, /*v6=*/false);
  EXPECT_EQ(counters(frag_owner).get(Drop::kTcpNoSocket), 0u);
}

// A UDP datagram of `payload` from the peer's port `from` to our port `to`,
// checksummed over IPv6's pseudo-header (mandatory there) and without a
// checksum over IPv4 (RFC 768 allows 0).
Bytes udp_from_peer(bool v6, const Ipv6Addr& ours, std::uint16_t from, std::uint16_t to,
                    const Bytes& payload) {
  Bytes d = udp_datagram(from, to, payload);
  if (v6) {
    const std::uint16_t sum = upper_checksum(kPeerG, ours, kProtoUdp, d);
    put16(d, 6, sum == 0 ? 0xFFFF : sum);
  }
  return d;
}

// The fragments of a reply to a connected UDP socket are steered by their
// addresses alone (no ports past the first fragment), here to the worker
// that does not own the socket. Reassembled there, the datagram goes on to
// the socket's worker, as it would have come whole; before, it reached no
// socket (UdpNoPorts and a Port Unreachable). Both families; the parameter
// is IPv6.
class ReassembledUdpReply : public WorkerPairDual, public ::testing::WithParamInterface<bool> {};

TEST_P(ReassembledUdpReply, ReachesTheConnectedSocketsWorker) {
  const bool v6 = GetParam();
  constexpr std::uint16_t kServer = 7007;
  meet_peer();
  const Bytes payload = pattern(4000, 9);  // 3 fragments
  const std::uint16_t frag_owner =
      steer_frame(fragments_from_peer(v6, kProtoUdp, payload, 1448)[0], kWorkers, 0);
  const std::uint16_t owner = 1 - frag_owner;
  const Endpoint server{v6 ? IpAddr::v6(kPeerG.b) : IpAddr::v4(kPeerIp), kServer};
  UdpStack& udp = *worker(owner).udp();
  UdpSocketId id = kNoUdpSocket;
  ASSERT_EQ(udp.open({IpAddr{}, 0}, &id), UdpResult::kOk);
  ASSERT_EQ(udp.connect(id, server, at_ms(1003)), UdpResult::kOk);
  const std::uint16_t port = udp.local(id).port;
  const IpAddr ours = v6 ? IpAddr::v6(our_g_.b) : IpAddr::v4(kOurIp);
  ASSERT_EQ(symmetric_flow_hash(server.addr, ours, kServer, port, kProtoUdp) % kWorkers, owner);

  const auto frags =
      fragments_from_peer(v6, kProtoUdp, udp_from_peer(v6, our_g_, kServer, port, payload), 1448);
  ASSERT_EQ(frags.size(), 3u);
  for (const Bytes& f : frags) {
    ASSERT_EQ(steer_frame(f, kWorkers, owner), frag_owner);
    peer_sends(frag_owner, f);
  }
  poll(frag_owner, 1004);  // reassembled, then steered on
  poll(owner, 1004);
  ASSERT_EQ(udp.queued(id), 1u);
  Buffer b;
  Endpoint from;
  ASSERT_TRUE(udp.pop(id, &b, &from));
  EXPECT_EQ(bytes_of(b.get()), payload);
  EXPECT_EQ(from, server);
  EXPECT_EQ(counters(frag_owner).get(Counter::kReasmSteered), 1u);
  EXPECT_EQ(counters(frag_owner).get(Counter::kUdpNoPorts) + counters(frag_owner).get(Counter::kUdp6NoPorts),
            0u);
  EXPECT_EQ(counters(owner).get(v6 ? Counter::kUdp6InDatagrams : Counter::kUdpInDatagrams), 1u);
  for (std::uint16_t q = 0; q < kWorkers; ++q) EXPECT_TRUE(peer_receives(q).empty()) << "no Port Unreachable";
}

INSTANTIATE_TEST_SUITE_P(Families, ReassembledUdpReply, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "Ipv6" : "Ipv4"; });

// The owner's ring full: the reassembled datagram is dropped and counted
// (ReasmSteerRingFull), nothing leaks, and it is not delivered where it is
// not owned.
TEST_F(WorkerPairDual, ReassembledDatagramForAFullRingIsCounted) {
  meet_peer();
  const Bytes payload = pattern(2000, 4);
  const std::uint16_t frag_owner =
      steer_frame(fragments_from_peer(false, kProtoUdp, payload, 1448)[0], kWorkers, 0);
  const std::uint16_t owner = 1 - frag_owner;
  UdpSocketId id = kNoUdpSocket;
  ASSERT_EQ(worker(owner).udp()->open({IpAddr{}, 0}, &id), UdpResult::kOk);
  ASSERT_EQ(worker(owner).udp()->connect(id, {IpAddr::v4(kPeerIp), 7007}, at_ms(1003)), UdpResult::kOk);
  const std::uint16_t port = worker(owner).udp()->local(id).port;
  rte_ring* ring = rings_[frag_owner];  // frag_owner -> owner (rings are made in (from, to) order)
  std::vector<rte_mbuf*> filler;
  for (rte_mbuf* m = rte_pktmbuf_alloc(peer_pool_); m != nullptr; m = rte_pktmbuf_alloc(peer_pool_)) {
    if (rte_ring_enqueue(ring, m) != 0) {
      rte_pktmbuf_free(m);
      break;
    }
    filler.push_back(m);
  }
  ASSERT_FALSE(filler.empty());
  for (const Bytes& f :
       fragments_from_peer(false, kProtoUdp, udp_from_peer(false, our_g_, 7007, port, payload), 1448))
    peer_sends(frag_owner, f);
  poll(frag_owner, 1004);
  EXPECT_EQ(counters(frag_owner).get(Drop::kReasmSteerRingFull), 1u);
  EXPECT_EQ(counters(frag_owner).get(Counter::kReasmSteered), 0u);
  EXPECT_EQ(counters(frag_owner).get(Counter::kUdpNoPorts), 0u) << "not delivered on the wrong worker";
  for (rte_mbuf* m = nullptr; rte_ring_dequeue(ring, reinterpret_cast<void**>(&m)) == 0;) rte_pktmbuf_free(m);
}

// The same for TCP over IPv6: a SYN in fragments (a 28-byte header cut at
// 24, so the first fragment holds it whole, RFC 7112) reaches the owner's
// listener, which answers; the reassembling worker sends nothing.
TEST_F(WorkerPairDual, ReassembledIpv6SynReachesTheOwningWorker) {
  for (std::uint16_t w = 0; w < kWorkers; ++w) ASSERT_NE(worker(w).tcp()->listen(80, 8), nullptr);
  meet_peer();
  const std::uint16_t frag_owner =
      steer_frame(fragments_from_peer(true, kProtoTcp, pattern(32), 24)[0], kWorkers, 0);
  const IpAddr peer = IpAddr::v6(kPeerG.b), ours = IpAddr::v6(our_g_.b);
  std::uint16_t sport = 40000;
  while (symmetric_flow_hash(peer, ours, sport, 80, kProtoTcp) % kWorkers == frag_owner) ++sport;
  const std::uint16_t owner = 1 - frag_owner;
  Bytes syn(28);
  const std::array<std::byte, 8> opts{std::byte{2}, std::byte{4}, std::byte{0x05}, std::byte{0xa0},
                                      std::byte{1}, std::byte{1}, std::byte{1},    std::byte{1}};
  ASSERT_EQ(write_tcp(syn, TcpFields{sport, 80, 1000, 0, kTcpSyn, 65535}, opts), 28u);
  put16(syn, 16, upper_checksum(kPeerG, our_g_, kProtoTcp, syn));
  for (const Bytes& f : fragments_from_peer(true, kProtoTcp, syn, 24)) peer_sends(frag_owner, f);
  poll(frag_owner, 1003);
  poll(owner, 1003);
  expect_syn_ack_from(owner, sport, /*v6=*/true);
  EXPECT_EQ(counters(frag_owner).get(Counter::kReasmSteered), 1u);
}

// A TCP/IPv6 burst GRO merged (runtime/rx_coalesce6.h) on the worker that
// polled it is one chain whose Payload Length runs past its first segment;
// it is steered to the connection's owner, which takes every byte and ACKs
// it. (Steered by the first segment alone as a whole datagram, it stayed
// with the poller, which has no such connection.)
TEST_F(WorkerPairDual, Ipv6SegmentsMergedByGroReachTheOwningWorker) {
  std::array<Listener*, kWorkers> listeners{};
  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    worker(w).enable_gro(SOCKET_ID_ANY);
    listeners[w] = worker(w).tcp()->listen(80, 8);
    ASSERT_NE(listeners[w], nullptr);
  }
  meet_peer();
  const IpAddr peer = IpAddr::v6(kPeerG.b), ours = IpAddr::v6(our_g_.b);
  std::uint16_t sport = 40000;
  while (symmetric_flow_hash(peer, ours, sport, 80, kProtoTcp) % kWorkers != 1) ++sport;
  // Everything arrives on queue 0; worker 1 owns the connection.
  const auto segment = [&](std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                           std::span<const std::byte> opts, std::span<const std::byte> data) {
    Bytes t(20 + opts.size());
    EXPECT_EQ(write_tcp(t, TcpFields{sport, 80, seq, ack, flags, 65535}, opts), t.size());
    append(t, data);
    put16(t, 16, upper_checksum(kPeerG, our_g_, kProtoTcp, t));
    return frame6(kOurMac, kPeerMac, ipv6_packet(kPeerG, our_g_, kProtoTcp, t));
  };
  const std::array<std::byte, 4> mss{std::byte{2}, std::byte{4}, std::byte{0x05}, std::byte{0xa0}};
  peer_sends(0, segment(1000, 0, kTcpSyn, mss, {}));
  poll(0, 1003);
  poll(1, 1003);
  EXPECT_TRUE(peer_receives(0).empty());
  const auto synack = peer_receives(1);
  ASSERT_EQ(synack.size(), 1u);
  const Bytes synack_tcp = parse6(synack[0]).payload;
  ASSERT_EQ(get8(synack_tcp, 13), kTcpSyn | kTcpAck);
  const std::uint32_t iss = get32(synack_tcp, 4);
  peer_sends(0, segment(1001, iss + 1, kTcpAck, {}, {}));
  poll(0, 1005);
  poll(1, 1005);
  Tcb* c = worker(1).tcp()->accept(*listeners[1]);
  ASSERT_NE(c, nullptr);

  const Bytes data = pattern(3000, 16);
  for (std::uint32_t off = 0; off < data.size(); off += 1000)
    peer_sends(0, segment(1001 + off, iss + 1, kTcpAck, {}, std::span{data}.subspan(off, 1000)));
  poll(0, 1006);
  EXPECT_EQ(counters(0).get(Counter::kGroMerged), 2u) << "one chain of three";
  poll(1, 1006);
  poll(1, 1600);  // past any delayed ACK
  Bytes got(4000);
  got.resize(worker(1).tcp()->read(*c, got, at_ms(1600)));
  EXPECT_EQ(got, data);
  const auto acks = peer_receives(1);
  ASSERT_FALSE(acks.empty());
  EXPECT_EQ(get32(parse6(acks.back()).payload, 8), 1001u + 3000u);
  EXPECT_TRUE(peer_receives(0).empty()) << "the poller has no such connection and must not answer (RST)";
  EXPECT_EQ(counters(0).get(Counter::kOutRsts), 0u);
}

// Fragments waiting in reassembly are charged to the worker's one account,
// the one its TCP engine reads, and leave it when their datagram completes.
TEST_F(WorkerPairTcp, FragmentsInReassemblyAreChargedToTheTcpAccount) {
  constexpr std::uint64_t kTruesize = sizeof(rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE;
  resolve(kPeerMac, kPeerIp, 0, 0);
  const auto frags = fragments({.id = 0x99}, echo_request(1, 1, pattern(100, 3)), 56);
  ASSERT_EQ(frags.size(), 2u);
  const std::uint16_t w = steer_frame(frags[0], kWorkers, 0);
  const MemAccount& mem = worker(w).tcp()->mem();
  peer_sends(w, frags[0]);
  poll(w, 1);
  EXPECT_EQ(worker(w).ip().frag_held(), kTruesize);
  EXPECT_EQ(mem.charged(), kTruesize);
  peer_sends(w, frags[1]);
  poll(w, 2);
  EXPECT_EQ(peer_receives(w).size(), 1u);  // the echo reply
  EXPECT_EQ(mem.charged(), 0u);
  EXPECT_EQ(mem.peak(), 2 * kTruesize);
  // One left held: the worker hands its charge back before its TCP engine,
  // which owns the account, is destroyed (TearDown).
  peer_sends(w, frags[0]);
  poll(w, 3);
  EXPECT_EQ(mem.charged(), kTruesize);
}

// Connected UDP sockets over IPv6 on both workers, opened while duplicate
// address detection runs, as a client does at start-up: every reply comes
// back to its socket's own worker, whichever queue it lands on (issue 15:
// software steering brings a connected flow home). While DAD runs the only
// address on offer, the link-local one, is tentative too (RFC 4862 §5.4: no
// source), so connect() waits for DAD: connected from the link-local
// address, the peer answers from its own link-local address and the reply
// matches no socket; with a port chosen for that flow but datagrams sent
// from the global address once usable, the replies hash to the other
// worker (our_g_ is chosen so: global_apart_from).
TEST_F(WorkerPairUdp6, ConnectedSocketsGetTheirRepliesOnTheirOwnWorker) {
  constexpr std::uint16_t kServer = 7007;
  constexpr int kPerWorker = 8;
  const Endpoint server{IpAddr::v6(kPeerG.b), kServer};
  for (std::uint16_t w = 0; w < kWorkers; ++w) poll(w, 0);  // DAD probes: every address tentative
  std::array<std::vector<UdpSocketId>, kWorkers> socks;
  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    for (int i = 0; i < kPerWorker; ++i) {
      UdpSocketId id = kNoUdpSocket;
      ASSERT_EQ(worker(w).udp()->open({IpAddr{}, 0}, &id), UdpResult::kOk);
      EXPECT_EQ(worker(w).udp()->connect(id, server, at_ms(1)), UdpResult::kNoSource) << "no source yet";
      socks[w].push_back(id);
    }
  }
  end_dad_and_meet_peer6();

  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    for (const UdpSocketId id : socks[w]) {
      if (!worker(w).udp()->remote(id)) {
        ASSERT_EQ(worker(w).udp()->connect(id, server, at_ms(1002)), UdpResult::kOk);
      }
      ASSERT_EQ(worker(w).udp()->send_to(id, worker(w).udp()->copy_payload(pattern(16, id)), std::nullopt,
                                         at_ms(1002)),
                UdpResult::kOk);
    }
    worker(w).flush();
  }
  // The peer echoes each datagram as a Linux server does, from the address
  // it selects for the destination (its link-local one for a link-local
  // destination), on the other worker's queue.
  int datagrams = 0;
  for (std::uint16_t q = 0; q < kWorkers; ++q) {
    for (const Bytes& f : peer_receives(q)) {
      if (f.size() < 54 || get16(f, 12) != kTypeIpv6) continue;
      const Sent6 d = parse6(f);
      if (d.next_header != kProtoUdp) continue;
      ++datagrams;
      EXPECT_EQ(d.src, our_g_) << "a global destination, from the global address";
      const Ipv6Addr from = d.src.is_link_local() ? link_local_from_mac(kPeerMac) : d.dst;
      Bytes echo = d.payload;
      put16(echo, 0, get16(d.payload, 2));
      put16(echo, 2, get16(d.payload, 0));
      put16(echo, 6, 0);
      std::uint16_t sum = upper_checksum(from, d.src, kProtoUdp, echo);
      put16(echo, 6, sum == 0 ? 0xFFFF : sum);
      peer_sends(1 - q, frame6(ours_->info().mac, kPeerMac, ipv6_packet(from, d.src, kProtoUdp, echo)));
    }
  }
  EXPECT_EQ(datagrams, kWorkers * kPerWorker);
  for (int round = 0; round < 2; ++round)  // received, then steered to the owner and delivered
    for (std::uint16_t w = 0; w < kWorkers; ++w) poll(w, 1003 + round);
  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    for (const UdpSocketId id : socks[w]) {
      EXPECT_EQ(worker(w).udp()->queued(id), 1u)
          << "worker " << w << " port " << worker(w).udp()->local(id).port;
      Buffer b;
      Endpoint from;
      if (worker(w).udp()->pop(id, &b, &from)) {
        EXPECT_EQ(bytes_of(b.get()), pattern(16, id));
        EXPECT_EQ(from, server);
      }
    }
    EXPECT_EQ(counters(w).get(Counter::kUdp6NoPorts), 0u) << "worker " << w;
    EXPECT_EQ(counters(w).get(Counter::kUdp6InDatagrams), static_cast<std::uint64_t>(kPerWorker));
  }
  for (std::uint16_t q = 0; q < kWorkers; ++q) EXPECT_TRUE(peer_receives(q).empty()) << "no Port Unreachable";
}

TEST_F(WorkerPair, UnresolvedReplyTriggersOneArpRequestFromTheOwner) {
  const Bytes ping = ping_frame(1, 1, pattern(8));
  const std::uint16_t owner = steer_frame(ping, kWorkers, 0);
  peer_sends(1 - owner, ping);
  poll(1 - owner, 0);
  poll(owner, 0);
  const auto out = peer_receives(owner);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parse_eth(out[0]).type, kTypeArp);
  EXPECT_TRUE(peer_receives(1 - owner).empty());
  // The neighbour answers on the other queue; the owner learns from the copy
  // and releases the parked echo reply.
  peer_sends(1 - owner, arp_reply_frame(kPeerMac, kPeerIp, kOurMac, kOurIp));
  poll(1 - owner, 1);
  poll(owner, 1);
  const auto replies = peer_receives(owner);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(parse_icmp(parse_ip(parse_eth(replies[0]).payload).payload).type, 0);
}

}  // namespace
}  // namespace tern::testkit
