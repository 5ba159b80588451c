// The runtime's per-packet cost: a Worker answering bursts of 32 ICMP echo
// requests over the in-process link (RX burst, parse, reply, TX flush, and
// the peer draining the replies), and the IP layer alone (on_frame for one
// echo request), and a Worker with TCP receiving bursts of 32 in-order data
// segments on one connection. All report items = packets, so ns/packet =
// 1e9 / items_per_second.
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
#include "tcp/tcp_stack.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

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

// ---- TCP over the link ---------------------------------------------------------

constexpr std::uint16_t kServerPort = 80;
constexpr std::uint16_t kPeerPort = 40000;
constexpr std::uint32_t kPeerIss = 1'000'000;
constexpr std::uint16_t kMss = 1448;  // 1500 MTU - 40 - 12 bytes of timestamps
constexpr int kTcpBatch = 512;        // frames built per untimed pause: 16 bursts

// The peer's TSval clock: milliseconds, like the stack's, but elsewhere.
std::uint32_t peer_ts(Instant now) { return TcpStack::ts_clock(now) + 0x10000; }

// A TCP segment 10.0.0.2:40000 -> 10.0.0.1:80 as one frame in a fresh mbuf,
// checksums filled in; `offloaded` also marks them verified as a NIC would.
rte_mbuf* tcp_frame(rte_mempool* pool, const TcpFields& f, const TcpOptions& o, std::uint16_t payload,
                    bool offloaded) {
  std::array<std::byte, kTcpMaxOptionsLen> ob{};
  const std::size_t olen = write_tcp_options(ob, o);
  const auto l4 = static_cast<std::uint16_t>(kTcpMinHeaderLen + olen + payload);
  const auto len = static_cast<std::uint16_t>(kEthernetHeaderLen + kIpv4MinHeaderLen + l4);
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* p = reinterpret_cast<std::byte*>(rte_pktmbuf_append(m, len));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  const std::span<std::byte> fr{p, len};
  write_ethernet(fr, kOurMac, kPeerMac, kEtherTypeIpv4);
  write_ipv4(fr.subspan(kEthernetHeaderLen),
             Ipv4Fields{.src = kPeerIp, .dst = kOurIp, .protocol = kIpProtoTcp, .payload_len = l4});
  auto tcp = fr.subspan(kEthernetHeaderLen + kIpv4MinHeaderLen);
  const std::size_t hl = write_tcp(tcp, f, std::span<const std::byte>{ob.data(), olen});
  for (std::size_t i = 0; i < payload; ++i) tcp[hl + i] = static_cast<std::byte>(i * 7);
  fill_tcp_checksum(tcp, kPeerIp, kOurIp);
  if (offloaded) m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  return m;
}

// What the peer (this thread) reads back from the worker: TCP frames
// counted, the last header kept (the handshake answers it), all freed.
struct PeerReader {
  unsigned frames = 0;
  std::uint32_t last_seq = 0, last_ack = 0;
  std::uint8_t last_flags = 0;
  unsigned drain(LinkPort& peer) {
    std::array<rte_mbuf*, 2 * kBurst> got{};
    unsigned total = 0;
    for (std::uint16_t n; (n = peer.rx_burst(0, got.data(), got.size())) > 0; total += n) {
      for (std::uint16_t i = 0; i < n; ++i) {
        const std::span<const std::byte> f{rte_pktmbuf_mtod(got[i], const std::byte*),
                                           rte_pktmbuf_data_len(got[i])};
        const auto eth = EthernetHeader::parse(f);
        if (!eth || eth->ether_type() != kEtherTypeIpv4) continue;
        const auto ip = Ipv4Header::parse(eth->payload());
        if (!ip || ip->protocol() != kIpProtoTcp) continue;
        const auto tcp = TcpHeader::parse(ip->payload());
        if (!tcp) continue;
        ++frames;
        last_seq = tcp->seq();
        last_ack = tcp->ack();
        last_flags = tcp->flags().bits;
      }
      rte_pktmbuf_free_bulk(got.data(), n);
    }
    return total;
  }
};

// The runtime loop per TCP packet: a Worker with a TcpStack receiving bursts
// of 32 in-order 1448-byte data segments (timestamps on) on one ESTABLISHED
// connection over the in-process link: RX burst, Ethernet/IPv4 input, TCP
// input with delayed ACKs (one per two segments), the application taking the
// data with recv() after each poll, the ACKs transmitted, and the peer
// draining them. The peer's frames are built outside the timed region (512 at
// a time; runtime_bench's BM_WorkerEchoBurstFreshMbufs and tcp_bench's
// BM_TcpRxFrameBuild show what building costs). Arg 0: the NIC verified the
// IPv4 and TCP checksums (ol_flags); arg 1: the stack verifies them.
// items = data segments.
void BM_WorkerTcpRxBurst(benchmark::State& state) {
  const bool offloaded = state.range(0) == 0;
  rte_mempool* worker_pool = make_pool("rtb_tcp_worker", 4095);
  rte_mempool* peer_pool = make_pool("rtb_tcp_peer", 2047);
  if (worker_pool == nullptr || peer_pool == nullptr) return state.SkipWithError("no mempool");
  {
    auto [ours, peer] = make_link_pair(1, 1024);
    IpSettings ip = our_settings();
    ip.rx_ip_checksum_offload = offloaded;
    WorkerTcpSettings tcp;
    tcp.opts.local_addr = kOurIp;
    tcp.opts.cfg.max_connections = 1024;  // keeps set-up short; the hot path does not depend on it
    tcp.opts.isn_key[0] = 1;
    tcp.opts.cookie_key[0] = 2;
    tcp.opts.hash_seed = 3;
    tcp.opts.port_seed = 4;
    Instant now = at_ms(1);
    tcp.start = now;
    Worker w(0, 1, *ours, ip, worker_pool, nullptr, kBurst, &tcp);
    TcpStack& stack = *w.tcp();
    Listener* l = stack.listen(kServerPort, 16);
    PeerReader reader;

    // Resolve the peer first, so every ACK goes straight out.
    rte_mbuf* arp = to_mbuf(peer_pool, arp_request_frame());
    peer->tx_burst(0, &arp, 1);
    w.poll_once(now);
    reader.drain(*peer);

    // Passive open: SYN in, SYN-ACK out, ACK in.
    TcpOptions so;
    so.mss = 1460;
    so.window_scale = 7;
    so.sack_permitted = true;
    so.timestamps = std::pair{peer_ts(now), 0u};
    rte_mbuf* m =
        tcp_frame(peer_pool, TcpFields{kPeerPort, kServerPort, kPeerIss, 0, kTcpSyn, 65535}, so, 0, false);
    peer->tx_burst(0, &m, 1);
    w.poll_once(now);
    reader.drain(*peer);
    if (reader.last_flags != (kTcpSyn | kTcpAck)) return state.SkipWithError("no SYN-ACK to the SYN");
    const std::uint32_t iss = reader.last_seq;
    now = now + Duration::us(10);
    TcpOptions ts;
    ts.timestamps = std::pair{peer_ts(now), 0u};
    m = tcp_frame(peer_pool, TcpFields{kPeerPort, kServerPort, kPeerIss + 1, iss + 1, kTcpAck, 65535}, ts, 0,
                  false);
    peer->tx_burst(0, &m, 1);
    w.poll_once(now);
    Tcb* c = stack.accept(*l);
    if (c == nullptr || c->state != TcpState::kEstablished)
      return state.SkipWithError("handshake did not complete");
    const unsigned acks_before = reader.frames;

    std::array<rte_mbuf*, kTcpBatch> frames{};
    std::uint32_t seq = kPeerIss + 1;
    std::uint64_t bytes = 0;
    bool failed = false;
    while (!failed && state.KeepRunningBatch(kTcpBatch)) {
      state.PauseTiming();
      for (int i = 0; i < kTcpBatch; ++i) {
        // ~1.2 us per segment at 10 Gb/s: a burst of 32 every ~37 us.
        const Instant at = now + Duration::us(1 + i / kBurst * 37);
        ts.timestamps = std::pair{peer_ts(at), TcpStack::ts_clock(at) + c->ts_offset};
        const TcpFields d{kPeerPort, kServerPort, seq + static_cast<std::uint32_t>(i) * kMss,
                          iss + 1,   kTcpAck,     65535};
        frames[i] = tcp_frame(peer_pool, d, ts, kMss, offloaded);
        if (frames[i] == nullptr) failed = true;
      }
      state.ResumeTiming();
      if (failed) {
        state.SkipWithError("peer pool ran dry");
        break;
      }
      for (int b = 0; b < kTcpBatch; b += kBurst) {
        now = now + Duration::us(37);
        if (peer->tx_burst(0, &frames[b], kBurst) != kBurst) {
          state.SkipWithError("link refused a burst");
          failed = true;
          break;
        }
        w.poll_once(now);
        Mbuf data = stack.recv(*c, now);
        bytes += data ? data.pkt_len() : 0;
        reader.drain(*peer);
      }
      seq += static_cast<std::uint32_t>(kTcpBatch) * kMss;
    }
    const auto segs = static_cast<std::uint64_t>(state.iterations());
    if (!failed && (bytes != segs * kMss || c->rcv_nxt != Seq32{seq})) {
      state.SkipWithError("data not delivered in order");
    } else if (!failed && w.counters().total_drops() != 0) {
      state.SkipWithError("the worker dropped frames");
    }
    state.counters["acks_per_seg"] =
        static_cast<double>(reader.frames - acks_before) / static_cast<double>(segs ? segs : 1);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * kMss);
    state.SetLabel(offloaded ? "checksums offloaded" : "checksums in software");
    stack.abort(*c, now);
    w.flush();
    reader.drain(*peer);
  }
  if (rte_mempool_in_use_count(worker_pool) + rte_mempool_in_use_count(peer_pool) != 0) {
    state.SkipWithError("mbufs still in use after the worker went away");
  }
  rte_mempool_free(worker_pool);
  rte_mempool_free(peer_pool);
}
BENCHMARK(BM_WorkerTcpRxBurst)->Arg(0)->Arg(1);

}  // namespace
}  // namespace tern
