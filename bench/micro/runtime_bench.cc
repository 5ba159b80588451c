// The runtime's per-packet cost: a Worker answering bursts of 32 ICMP echo
// requests over the in-process link (RX burst, parse, reply, TX flush, and
// the peer draining the replies), and the IP layer alone (on_frame for one
// echo request). Both report items = packets, so ns/packet = 1e9 / items_per_second.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/counters.h"
#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "port/link_pair.h"
#include "runtime/worker.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

constexpr std::uint32_t kOurIp = 0x0A000001;     // 10.0.0.1
constexpr std::uint32_t kPeerIp = 0x0A000002;    // 10.0.0.2
constexpr MacAddr kOurMac{{2, 0, 0, 0, 0, 1}};   // make_link_pair()'s first end
constexpr MacAddr kPeerMac{{2, 0, 0, 0, 0, 2}};  // and its second
constexpr std::uint16_t kBurst = 32;

rte_mempool* make_pool(const char* name, unsigned n) {
  rte_mempool* p = rte_pktmbuf_pool_create(name, n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (p == nullptr) std::fprintf(stderr, "cannot create pool %s\n", name);
  return p;
}

// "ping -s <data> 10.0.0.1" from 10.0.0.2, as one frame.
std::vector<std::byte> echo_request_frame(std::uint16_t seq, std::size_t data) {
  std::vector<std::byte> f(kEthernetHeaderLen + kIpv4MinHeaderLen + kIcmpHeaderLen + data);
  write_ethernet(f, kOurMac, kPeerMac, kEtherTypeIpv4);
  Ipv4Fields ip{};
  ip.src = kPeerIp;
  ip.dst = kOurIp;
  ip.protocol = kIpProtoIcmp;
  ip.id = seq;
  ip.payload_len = static_cast<std::uint16_t>(kIcmpHeaderLen + data);
  write_ipv4(std::span(f).subspan(kEthernetHeaderLen), ip);
  auto icmp = std::span(f).subspan(kEthernetHeaderLen + kIpv4MinHeaderLen);
  store_u8(icmp.data(), kIcmpEchoRequest);
  store_be16(icmp.data() + 4, 0x7E57);
  store_be16(icmp.data() + 6, seq);
  for (std::size_t i = 0; i < data; ++i) icmp[kIcmpHeaderLen + i] = static_cast<std::byte>(i);
  store_be16(icmp.data() + 2, internet_checksum(icmp));
  return f;
}

std::vector<std::byte> arp_request_frame() {
  std::vector<std::byte> f(60);
  write_ethernet(f, MacAddr::broadcast(), kPeerMac, kEtherTypeArp);
  write_arp(std::span(f).subspan(kEthernetHeaderLen), ArpOp::kRequest, kPeerMac, kPeerIp, MacAddr{}, kOurIp);
  return f;
}

rte_mbuf* to_mbuf(rte_mempool* pool, std::span<const std::byte> frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(), frame.size());
  return m;
}

IpSettings our_settings() {
  IpSettings s;
  s.mac = kOurMac;
  s.addr = kOurIp;
  s.prefix_len = 24;
  return s;
}

// One worker on one side of the link; the peer is this thread.
struct LinkBench {
  rte_mempool* worker_pool = make_pool("rtb_worker", 4095);
  rte_mempool* peer_pool = make_pool("rtb_peer", 4095);
  std::unique_ptr<LinkPort> ours, peer;
  std::unique_ptr<Worker> worker;
  std::array<rte_mbuf*, kBurst> requests{};
  std::vector<std::vector<std::byte>> frames;

  explicit LinkBench(std::size_t data) {
    auto [a, b] = make_link_pair(1, 1024);
    ours = std::move(a);
    peer = std::move(b);
    worker = std::make_unique<Worker>(0, 1, *ours, our_settings(), worker_pool, nullptr, kBurst);
    // Resolve the peer first, so every reply goes straight out.
    rte_mbuf* arp = to_mbuf(peer_pool, arp_request_frame());
    peer->tx_burst(0, &arp, 1);
    worker->poll_once(at_ms(1));
    drain_peer();
    for (std::uint16_t i = 0; i < kBurst; ++i) {
      frames.push_back(echo_request_frame(i, data));
      requests[i] = to_mbuf(peer_pool, frames.back());
    }
  }
  ~LinkBench() {
    for (rte_mbuf* m : requests) rte_pktmbuf_free(m);
    worker.reset();
    ours.reset();
    peer.reset();
    rte_mempool_free(worker_pool);
    rte_mempool_free(peer_pool);
  }
  unsigned drain_peer() {
    std::array<rte_mbuf*, 2 * kBurst> got{};
    unsigned total = 0;
    for (std::uint16_t n; (n = peer->rx_burst(0, got.data(), got.size())) > 0; total += n)
      rte_pktmbuf_free_bulk(got.data(), n);
    return total;
  }
};

// The pre-built requests are sent again and again: a reference taken before
// each burst is what the stack drops when it is done with a request, so no
// copy or allocation on the peer side is measured.
void BM_WorkerEchoBurst(benchmark::State& state) {
  LinkBench b(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    for (rte_mbuf* m : b.requests) rte_mbuf_refcnt_update(m, 1);
    if (b.peer->tx_burst(0, b.requests.data(), kBurst) != kBurst) state.SkipWithError("link refused a burst");
    b.worker->poll_once(at_ms(2));
    if (b.drain_peer() != kBurst) state.SkipWithError("not every request was answered");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBurst);
  state.counters["drops"] = static_cast<double>(b.worker->counters().total_drops());
}
BENCHMARK(BM_WorkerEchoBurst)->Arg(56)->Arg(1400);

// The same, with each request in a freshly allocated and filled mbuf, as a
// PMD hands them over (the allocation and 98-byte copy are part of the cost).
void BM_WorkerEchoBurstFreshMbufs(benchmark::State& state) {
  LinkBench b(static_cast<std::size_t>(state.range(0)));
  std::array<rte_mbuf*, kBurst> fresh{};
  for (auto _ : state) {
    if (rte_pktmbuf_alloc_bulk(b.peer_pool, fresh.data(), kBurst) != 0)
      state.SkipWithError("peer pool empty");
    for (std::uint16_t i = 0; i < kBurst; ++i) {
      const auto& f = b.frames[i];
      std::memcpy(rte_pktmbuf_append(fresh[i], static_cast<std::uint16_t>(f.size())), f.data(), f.size());
    }
    if (b.peer->tx_burst(0, fresh.data(), kBurst) != kBurst) state.SkipWithError("link refused a burst");
    b.worker->poll_once(at_ms(2));
    if (b.drain_peer() != kBurst) state.SkipWithError("not every request was answered");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBurst);
}
BENCHMARK(BM_WorkerEchoBurstFreshMbufs)->Arg(56)->Arg(1400);

// The IP layer alone: one echo request in, one reply queued, reply freed.
void BM_IpLayerEcho(benchmark::State& state) {
  rte_mempool* pool = make_pool("rtb_ip", 1023);
  {
    Counters counters;
    FrameQueue out;
    IpLayer ip(our_settings(), counters, pool);
    ip.on_frame(Mbuf{to_mbuf(pool, arp_request_frame())}, at_ms(1), out);
    out.clear();
    rte_mbuf* request = to_mbuf(pool, echo_request_frame(1, static_cast<std::size_t>(state.range(0))));
    for (auto _ : state) {
      rte_mbuf_refcnt_update(request, 1);
      ip.on_frame(Mbuf{request}, at_ms(2), out);
      if (out.size() != 1) state.SkipWithError("no reply");
      out.clear();
    }
    rte_pktmbuf_free(request);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["drops"] = static_cast<double>(counters.total_drops());
  }
  rte_mempool_free(pool);
}
BENCHMARK(BM_IpLayerEcho)->Arg(56)->Arg(1400);

}  // namespace
}  // namespace tern
