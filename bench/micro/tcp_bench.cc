// The TCP engine alone (TcpStack, no IPv4 layer, no NIC) on virtual time:
// nothing reads a clock, `now` is advanced by the benchmark itself.
//
//  - BM_TcpRxDataSegment: one in-order 1448-byte data segment (timestamps
//    on) arriving on an ESTABLISHED connection, ACKed per the delayed-ACK
//    rules (every second full segment), and read by the application with
//    recv(). The peer's frames are built outside the timed region in batches;
//    BM_TcpRxFrameBuild is what building one costs (the baseline to add for
//    "build a frame from a template and inject it"). Arg 0: the NIC verified
//    the checksum (RTE_MBUF_F_RX_L4_CKSUM_GOOD), the ACKs' checksums summed
//    in software; arg 1: the engine verifies it in software too; arg 2: a
//    NIC that offloads both ways, as the in-process link and a veth do (the
//    ACKs leave their checksum to the port: tx_checksum_offload), issue 16's
//    "received and ACKed (checksum offloaded)". BM_TcpRxDataBurst/32: the same, read once every 32
//    segments, as a worker's poll loop delivers a burst.
//  - BM_TcpTxAckProcessing: one pure ACK acknowledging one more MSS on the
//    sending side, plus what it triggers: the freed send-queue mbufs, the
//    next segment sent into the sink, and the application topping the send
//    queue up again (arg 0: send_copy of one MSS; arg 1: zero-copy send of
//    a freshly allocated one-MSS mbuf).
//  - BM_TcpTxPureAck: one pure ACK on the sending side alone (issue 16's
//    60 ns per ACK): it acknowledges one more MSS of a flight sent outside
//    the timed region, frees it from the send queue and advances SND.UNA;
//    the application has nothing more to send, so no segment is built.
//  - BM_TcpTxSegmentChain: one 256 KiB or 1 MiB zero-copy chain handed to
//    send() and cut into MSS segments (header mbuf + indirect slices +
//    checksum) in one go; items = segments, bytes = application bytes.
//  - BM_TcpConnectionLifecycle: one connection from connect() to the
//    client's TIME_WAIT record and the server's TCB freed, between two stacks
//    wired back to back (no link, no delay), seven segments in all. Arg 0:
//    the "link" between them offers checksum offload as the in-process link
//    and a veth do (LinkPort::offer_checksum_offload: the sender leaves the
//    TCP checksum to it, the receiver is told it is good); arg 1: no offload,
//    every checksum summed and verified in software.
//
// BM_TcpRxDataSegment6 and BM_TcpTxAckProcessing6 are the same two over
// IPv6 (issue 15: IPv6's per-segment cost within 10 % of IPv4's): the
// peer's segments come through on_segment6 with the IPv6 pseudo-header
// checksum, the stack's go to send_segment6.
//
// items_per_second is segments (or ACKs, or connections) per second, so ns
// per item = 1e9 / items_per_second. Starts the EAL in memory.
#include <benchmark/benchmark.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "port/link_pair.h"
#include "tcp/tcp_checksum.h"
#include "tcp/tcp_stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern {
namespace {

constexpr std::uint32_t kLocalAddr = 0x0A000001;  // 10.0.0.1: the stack under test
constexpr std::uint32_t kPeerAddr = 0x0A000002;   // 10.0.0.2: the scripted peer
constexpr std::uint16_t kServerPort = 80;
constexpr std::uint16_t kPeerPort = 40000;
constexpr std::uint32_t kPeerIss = 1'000'000;
constexpr std::uint16_t kL4Offset = kSegmentHeadroom;  // as IPv4 delivers it: Ethernet + IPv4 first
constexpr std::uint16_t kPayload = 1448;               // 1500 MTU - 40 - 12 bytes of timestamps
constexpr std::int64_t kBatch = 512;                   // frames built per untimed pause
constexpr Instant kStart = at_ms(1'000);

// The family a benchmark runs over: the two ends' addresses and where the
// IP layer leaves the TCP header.
struct Net {
  IpAddr local;
  IpAddr peer;
  std::uint16_t l4_offset;
  bool v6() const noexcept { return local.is_v6(); }
};
const Net kNet4{IpAddr::v4(kLocalAddr), IpAddr::v4(kPeerAddr), kL4Offset};
const Net kNet6{*IpAddr::parse("2001:db8::1"), *IpAddr::parse("2001:db8::2"), kSegmentHeadroom6};

rte_mempool* make_pool(unsigned n) {
  static int count = 0;
  const std::string name = "tcpb" + std::to_string(count++);
  return rte_pktmbuf_pool_create(name.c_str(), n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
}

TcpStackOptions stack_options(std::uint32_t addr, const Net* v6 = nullptr) {
  TcpStackOptions o;
  o.local_addr = addr;
  if (v6 != nullptr) o.local_addr6 = v6->local;
  o.cfg.max_connections = 4096;  // keeps set-up short; the hot paths do not depend on it
  o.isn_key[0] = 1;
  o.cookie_key[0] = 2;
  o.hash_seed = 3;
  o.port_seed = 4;
  return o;
}

// A segment from the peer as IPv4 (or IPv6, `net`) would hand it over: a
// frame with the TCP header at net.l4_offset (the bytes before it are
// zeros) and a valid checksum.
Mbuf peer_frame(rte_mempool* pool, const TcpFields& f, const TcpOptions& opts, std::uint16_t payload,
                bool checksum_offloaded = false, const Net& net = kNet4) {
  std::array<std::byte, kTcpMaxOptionsLen> ob{};
  const std::size_t olen = write_tcp_options(ob, opts);
  Mbuf m = Mbuf::alloc(pool);
  if (!m) return m;
  const auto l4_len = static_cast<std::uint16_t>(kTcpMinHeaderLen + olen + payload);
  auto frame = m.append(static_cast<std::uint16_t>(net.l4_offset + l4_len));
  if (frame.empty()) return Mbuf{};
  std::memset(frame.data(), 0, net.l4_offset);
  auto tcp = frame.subspan(net.l4_offset);
  const std::size_t hl = write_tcp(tcp, f, std::span<const std::byte>{ob.data(), olen});
  for (std::size_t i = 0; i < payload; ++i) tcp[hl + i] = static_cast<std::byte>(i * 7);
  if (net.v6())
    store_be16(tcp.data() + 16,
               checksum_finish(checksum_partial(tcp, tcp_pseudo_header_sum(net.peer, net.local, l4_len))));
  else
    fill_tcp_checksum(tcp, kPeerAddr, kLocalAddr);
  if (checksum_offloaded) m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  return m;
}

std::uint16_t l4_len_of(const Mbuf& frame, const Net& net = kNet4) {
  return static_cast<std::uint16_t>(frame.pkt_len() - net.l4_offset);
}

// Hands the peer's frame to the stack as the family's IP layer does.
void deliver(TcpStack& stack, const Net& net, Mbuf frame, Instant now) {
  const std::uint16_t l4 = l4_len_of(frame, net);
  if (net.v6())
    stack.on_segment6(net.peer, net.local, std::move(frame), net.l4_offset, l4, now);
  else
    stack.on_segment(kPeerAddr, kLocalAddr, std::move(frame), kL4Offset, l4, now);
}

// What the stack under test sends: counted and freed. The handshake keeps
// the last header so the benchmark can answer it.
class CountingSink final : public SegmentSink {
 public:
  void send_segment6(Mbuf segment, const IpAddr&, const IpAddr&, Instant) override { keep(segment); }
  void send_segment(Mbuf segment, std::uint32_t, std::uint32_t, Instant) override { keep(segment); }
  void keep(const Mbuf& segment) {
    ++segments;
    if (!keep_last) return;
    const auto h = TcpHeader::parse(segment.head());
    if (!h) return;
    last_seq = h->seq();
    last_ack = h->ack();
    last_flags = h->flags().bits;
    const auto o = parse_tcp_options(h->options());
    last_tsval = o && o->timestamps ? o->timestamps->first : 0;
  }
  std::uint64_t segments = 0;
  bool keep_last = true;
  std::uint32_t last_seq = 0, last_ack = 0, last_tsval = 0;
  std::uint8_t last_flags = 0;
};

TcpOptions syn_options(std::uint32_t tsval, std::uint32_t tsecr) {
  TcpOptions o;
  o.mss = 1460;
  o.window_scale = 7;
  o.sack_permitted = true;
  o.timestamps = std::pair{tsval, tsecr};
  return o;
}

TcpOptions ts_option(std::uint32_t tsval, std::uint32_t tsecr) {
  TcpOptions o;
  o.timestamps = std::pair{tsval, tsecr};
  return o;
}

// The peer's clock for TSval: milliseconds, like ours.
std::uint32_t peer_ts(Instant now) { return TcpStack::ts_clock(now) + 0x10000; }

std::string drops_of(const Counters& c) {
  std::string s;
  for (std::size_t i = 0; i < kDropCount; ++i) {
    if (c.drops[i] == 0) continue;
    s += std::string(drop_name(static_cast<Drop>(i))) + "=" + std::to_string(c.drops[i]) + " ";
  }
  return s;
}

// ---- receive side -----------------------------------------------------------

// In-order 1448-byte segments into an ESTABLISHED connection, the
// application taking all it has every `read_every` segments.
void rx_data_segments(benchmark::State& state, bool offloaded, std::int64_t read_every,
                      const Net& net = kNet4, bool tx_offloaded = false) {
  rte_mempool* pool = make_pool(4095);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Counters counters;
    CountingSink sink;
    Instant now = kStart;
    TcpStackOptions so = stack_options(kLocalAddr, &net);
    so.tx_checksum_offload = tx_offloaded;
    TcpStack stack(so, counters, sink, pool, pool, now);
    Listener* l = stack.listen(kServerPort, 16);

    // Passive open: SYN in, SYN-ACK out, ACK in.
    const TcpFields syn{kPeerPort, kServerPort, kPeerIss, 0, kTcpSyn, 65535};
    deliver(stack, net, peer_frame(pool, syn, syn_options(peer_ts(now), 0), 0, false, net), now);
    if (sink.last_flags != (kTcpSyn | kTcpAck)) return state.SkipWithError("no SYN-ACK to the SYN");
    const std::uint32_t iss = sink.last_seq;
    const std::uint32_t our_ts = sink.last_tsval;
    now = now + Duration::us(10);
    const TcpFields ack{kPeerPort, kServerPort, kPeerIss + 1, iss + 1, kTcpAck, 65535};
    deliver(stack, net, peer_frame(pool, ack, ts_option(peer_ts(now), our_ts), 0, false, net), now);
    Tcb* c = stack.accept(*l);
    if (c == nullptr || c->state != TcpState::kEstablished) {
      return state.SkipWithError("handshake did not complete");
    }
    sink.keep_last = false;
    const std::uint64_t sent_before = sink.segments;

    std::vector<Mbuf> frames(kBatch);
    std::uint32_t seq = kPeerIss + 1;
    std::uint64_t bytes = 0;
    std::int64_t unread = 0;
    while (state.KeepRunningBatch(kBatch)) {
      state.PauseTiming();
      for (std::int64_t i = 0; i < kBatch; ++i) {
        const Instant at = now + Duration::us(i + 1);  // ~1.2 us per segment at 10 Gb/s
        const TcpFields d{kPeerPort, kServerPort, seq + static_cast<std::uint32_t>(i) * kPayload,
                          iss + 1,   kTcpAck,     65535};
        frames[i] = peer_frame(pool, d, ts_option(peer_ts(at), TcpStack::ts_clock(at) + c->ts_offset),
                               kPayload, offloaded, net);
      }
      state.ResumeTiming();
      for (auto& fr : frames) {
        now = now + Duration::us(1);
        deliver(stack, net, std::move(fr), now);
        if (++unread < read_every) continue;
        unread = 0;
        Mbuf data = stack.recv(*c, now);
        bytes += data ? data.pkt_len() : 0;
      }
      stack.on_timer(now);
      seq += static_cast<std::uint32_t>(kBatch) * kPayload;
    }
    const std::uint64_t segs = static_cast<std::uint64_t>(state.iterations());
    if (bytes != segs * kPayload || c->rcv_nxt != Seq32{seq}) {
      state.SkipWithError(("data not delivered in order: drops " + drops_of(counters)).c_str());
    } else if (counters.total_drops() != 0) {
      state.SkipWithError(("drops: " + drops_of(counters)).c_str());
    }
    state.counters["acks_per_seg"] =
        static_cast<double>(sink.segments - sent_before) / static_cast<double>(segs ? segs : 1);
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * kPayload);
    state.SetLabel(std::string(tx_offloaded ? "checksums offloaded both ways"
                               : offloaded  ? "checksum offloaded"
                                            : "checksum in software") +
                   (net.v6() ? ", IPv6" : ""));
    stack.close(*c, now);
  }
  rte_mempool_free(pool);
}

void BM_TcpRxDataSegment(benchmark::State& state) {
  rx_data_segments(state, state.range(0) != 1, 1, kNet4, state.range(0) == 2);
}
BENCHMARK(BM_TcpRxDataSegment)->Arg(0)->Arg(1)->Arg(2);
void BM_TcpRxDataSegment6(benchmark::State& state) { rx_data_segments(state, state.range(0) == 0, 1, kNet6); }
BENCHMARK(BM_TcpRxDataSegment6)->Arg(0)->Arg(1);

// As a worker's poll loop delivers them: a burst of segments, then the
// application reads (checksums offloaded). Each segment meets a receive
// queue that already holds data, so the engine checks it against rcv_buf.
void BM_TcpRxDataBurst(benchmark::State& state) { rx_data_segments(state, true, state.range(0)); }
BENCHMARK(BM_TcpRxDataBurst)->Arg(32);

// The baseline: building one 1448-byte peer data segment (mbuf alloc, header
// and options, payload copy, software checksum) and freeing it.
void BM_TcpRxFrameBuild(benchmark::State& state) {
  rte_mempool* pool = make_pool(1023);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  std::uint32_t seq = kPeerIss + 1;
  Instant now = kStart;
  for (auto _ : state) {
    now = now + Duration::us(1);
    const TcpFields d{kPeerPort, kServerPort, seq, 12345, kTcpAck, 65535};
    Mbuf f = peer_frame(pool, d, ts_option(peer_ts(now), 777), kPayload);
    benchmark::DoNotOptimize(f.get());
    seq += kPayload;
  }
  state.SetItemsProcessed(state.iterations());
  rte_mempool_free(pool);
}
BENCHMARK(BM_TcpRxFrameBuild);

// ---- send side ----------------------------------------------------------------

// Active open to the scripted peer: SYN out, SYN-ACK in (window
// 65535 << 7 = 8 MiB), ACK out. The connection, or nullptr with the reason
// given to `state`.
Tcb* active_open(benchmark::State& state, TcpStack& stack, CountingSink& sink, rte_mempool* pool,
                 const Net& net, Instant& now) {
  Tcb* c = stack.connect(net.peer, kServerPort, now);
  if (c == nullptr || sink.last_flags != kTcpSyn) {
    state.SkipWithError("connect sent no SYN");
    return nullptr;
  }
  now = now + Duration::us(10);
  const TcpFields synack{kServerPort, c->tuple.lport, kPeerIss, c->iss.value() + 1, kTcpSyn | kTcpAck, 65535};
  deliver(stack, net, peer_frame(pool, synack, syn_options(peer_ts(now), sink.last_tsval), 0, false, net),
          now);
  if (c->state != TcpState::kEstablished) {
    state.SkipWithError("SYN-ACK did not establish");
    return nullptr;
  }
  sink.keep_last = false;
  return c;
}

// The peer's pure ACK of everything up to `ack`, as the benchmarks' ACKs
// are (window 65535 << 7, the timestamps option echoing ours).
Mbuf peer_ack(rte_mempool* pool, const Tcb& c, std::uint32_t ack, Instant at, const Net& net,
              bool checksum_offloaded = false) {
  const TcpFields a{kServerPort, c.tuple.lport, kPeerIss + 1, ack, kTcpAck, 65535};
  return peer_frame(pool, a, ts_option(peer_ts(at), TcpStack::ts_clock(at) + c.ts_offset), 0,
                    checksum_offloaded, net);
}

void tx_ack_processing(benchmark::State& state, const Net& net) {
  const bool zero_copy = state.range(0) == 1;
  rte_mempool* pool = make_pool(8191);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Counters counters;
    CountingSink sink;
    Instant now = kStart;
    TcpStack stack(stack_options(kLocalAddr, &net), counters, sink, pool, pool, now);
    Tcb* c = active_open(state, stack, sink, pool, net, now);
    if (c == nullptr) return;
    const std::uint32_t iss = c->iss.value();
    const std::uint32_t mss = c->mss;

    std::vector<std::byte> chunk(mss, std::byte{0x5a});
    auto top_up = [&] {
      if (zero_copy) {
        while (stack.send_space(*c) > 0) {
          Mbuf m = Mbuf::alloc(pool);
          if (!m || m.append(static_cast<std::uint16_t>(mss)).empty()) return false;
          if (!stack.send(*c, std::move(m), now)) return false;
        }
        return true;
      }
      while (stack.send_space(*c) > 0) {
        if (stack.send_copy(*c, chunk, now) != mss) return false;
      }
      return true;
    };
    if (!top_up()) return state.SkipWithError("could not fill the send queue");
    const std::uint64_t sent_before = sink.segments;

    std::vector<Mbuf> frames(kBatch);
    std::uint32_t acked = iss + 1;
    while (state.KeepRunningBatch(kBatch)) {
      state.PauseTiming();
      for (std::int64_t i = 0; i < kBatch; ++i) {
        frames[i] = peer_ack(pool, *c, acked + static_cast<std::uint32_t>(i + 1) * mss,
                             now + Duration::us(i + 1), net);
      }
      state.ResumeTiming();
      for (auto& fr : frames) {
        now = now + Duration::us(1);
        deliver(stack, net, std::move(fr), now);
        if (!top_up()) break;
      }
      stack.on_timer(now);
      acked += static_cast<std::uint32_t>(kBatch) * mss;
    }
    if (c->snd_una != Seq32{acked}) {
      state.SkipWithError(("ACKs not all taken: drops " + drops_of(counters)).c_str());
    } else if (counters.total_drops() != 0) {
      state.SkipWithError(("drops: " + drops_of(counters)).c_str());
    }
    const double n = static_cast<double>(state.iterations() ? state.iterations() : 1);
    state.counters["segs_out_per_ack"] = static_cast<double>(sink.segments - sent_before) / n;
    state.counters["flight_segs"] = static_cast<double>(c->flight()) / mss;
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(std::string(zero_copy ? "zero-copy send" : "send_copy") + (net.v6() ? ", IPv6" : ""));
    stack.abort(*c, now);
  }
  rte_mempool_free(pool);
}
void BM_TcpTxAckProcessing(benchmark::State& state) { tx_ack_processing(state, kNet4); }
BENCHMARK(BM_TcpTxAckProcessing)->Arg(0)->Arg(1);
void BM_TcpTxAckProcessing6(benchmark::State& state) { tx_ack_processing(state, kNet6); }
BENCHMARK(BM_TcpTxAckProcessing6)->Arg(0)->Arg(1);

// A pure ACK on the sending side and nothing else: each ACK acknowledges
// one more MSS of a flight of kPureAckBatch segments, frees it from the
// send queue and advances SND.UNA, and the application has nothing more
// to send, so the ACK builds no segment (output() finds everything queued
// already out). Outside the timed region: the application writing the next flight
// (send_copy, which sends it at once: cwnd and the peer's window cover
// it), and building the peer's ACKs. Before the first timed batch, the
// same rounds untimed open cwnd to the whole flight (slow start), so no
// ACK in the timed part clocks a segment out (segs_out_per_ack counts
// them: 0). Arg 0: the NIC verified the ACK's checksum; arg 1: the engine
// verifies it in software.
//
// The flight is 128 segments (kPureAckBatch), and each untimed pause ends
// with the pool's per-lcore cache flushed to its ring, so the timed ACKs'
// 256 frees (each ACK's frame and the send-queue mbuf it acknowledges)
// stay below the cache's flush threshold (1.5 x 256). A worker in an
// ACK-clocked steady state frees and allocates in step (an ACK frees a
// sent mbuf, the application's next write and the driver's RX refill
// allocate), so its frees stay in the cache; with 512 ACKs per batch, all
// 1,024 frees after all the allocations, the cache spilled to the ring
// several times per batch (about 7.5 instructions per ACK, and a ring's
// atomics, that no worker pays; bench/fast_path/rounds_13-14.md, session 30).
void BM_TcpTxPureAck(benchmark::State& state) {
  const bool offloaded = state.range(0) == 0;
  rte_mempool* pool = make_pool(8191);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Counters counters;
    CountingSink sink;
    Instant now = kStart;
    TcpStackOptions so = stack_options(kLocalAddr);
    so.cfg.snd_buf = 4u << 20;  // a whole flight at send_copy's truesize
    TcpStack stack(so, counters, sink, pool, pool, now);
    Tcb* c = active_open(state, stack, sink, pool, kNet4, now);
    if (c == nullptr) return;
    const std::uint32_t mss = c->mss;
    std::vector<std::byte> chunk(mss, std::byte{0x5a});
    constexpr std::int64_t kPureAckBatch = 128;
    std::vector<Mbuf> frames(kPureAckBatch);

    // One flight written and sent (untimed), and its ACKs built. False if
    // the application could not queue it all or it did not all go out.
    auto next_flight = [&] {
      for (std::int64_t i = 0; i < kPureAckBatch; ++i) {
        if (stack.send_copy(*c, chunk, now) != mss) return false;
      }
      if (c->snd_max - c->snd_una != static_cast<std::int32_t>(kPureAckBatch * mss)) return false;
      const std::uint32_t una = c->snd_una.value();
      for (std::int64_t i = 0; i < kPureAckBatch; ++i) {
        frames[i] = peer_ack(pool, *c, una + static_cast<std::uint32_t>(i + 1) * mss,
                             now + Duration::us(i + 1), kNet4, offloaded);
      }
      return true;
    };
    auto take_acks = [&] {
      for (auto& fr : frames) {
        now = now + Duration::us(1);
        deliver(stack, kNet4, std::move(fr), now);
      }
      stack.on_timer(now);
    };

    // Slow start until cwnd holds the whole flight: smaller writes, each
    // acknowledged whole one MSS at a time.
    for (int round = 0; round < 20 && c->cc.cwnd() < kPureAckBatch * mss; ++round) {
      while (stack.send_space(*c) > 0 && c->snd_max - c->snd_una < static_cast<std::int32_t>(c->cc.cwnd())) {
        if (stack.send_copy(*c, chunk, now) == 0) break;
      }
      while (c->snd_una != c->snd_max) {
        now = now + Duration::us(1);
        deliver(stack, kNet4, peer_ack(pool, *c, (c->snd_una + mss).value(), now, kNet4), now);
      }
    }
    if (c->cc.cwnd() < kPureAckBatch * mss || c->sndq.bytes() != 0) {
      return state.SkipWithError("cwnd did not open to the flight");
    }

    // Each batch is checked in the next one's pause (one pause per batch),
    // the last after the loop.
    rte_mempool_cache* cache = rte_mempool_default_cache(pool, rte_lcore_id());
    std::uint64_t segs_in_timed = 0;
    std::uint64_t before = 0;
    bool taken_some = false;
    auto check_batch = [&] {
      segs_in_timed += sink.segments - before;
      if (c->snd_una == c->snd_max && c->sndq.bytes() == 0) return true;
      state.SkipWithError(("ACKs not all taken: drops " + drops_of(counters)).c_str());
      return false;
    };
    while (state.KeepRunningBatch(kPureAckBatch)) {
      state.PauseTiming();
      if (taken_some && !check_batch()) break;
      if (!next_flight()) {
        state.SkipWithError("the flight was not sent whole");
        break;
      }
      if (cache != nullptr) rte_mempool_cache_flush(cache, pool);
      before = sink.segments;
      state.ResumeTiming();
      take_acks();
      taken_some = true;
    }
    if (taken_some && !state.error_occurred()) check_batch();
    if (counters.total_drops() != 0) state.SkipWithError(("drops: " + drops_of(counters)).c_str());
    const double n = static_cast<double>(state.iterations() ? state.iterations() : 1);
    state.counters["segs_out_per_ack"] = static_cast<double>(segs_in_timed) / n;
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(offloaded ? "checksum offloaded" : "checksum in software");
    stack.abort(*c, now);
  }
  rte_mempool_free(pool);
}
BENCHMARK(BM_TcpTxPureAck)->Arg(0)->Arg(1);

// Send-path segmentation of one large zero-copy write: the application hands
// a chain of `Arg` bytes (2 KiB mbufs) to send() on an ESTABLISHED
// connection whose peer window (8 MiB) and cwnd both exceed it, and the
// engine cuts the whole chain into MSS segments at once: per segment a
// header mbuf with timestamps, indirect mbufs slicing the queued data, the
// software checksum over header and payload, and the hand-over to the sink.
// Outside the timed region: allocating the chain (the application's cost),
// freeing the segments (the NIC's TX completion) and the peer's cumulative
// ACK that empties the send queue, so every iteration starts alike and the
// pool never runs dry. Nagle is off so the short tail goes out with the rest.
// items = segments produced, bytes = application bytes.
class HoldingSink final : public SegmentSink {
 public:
  void send_segment6(Mbuf segment, const IpAddr&, const IpAddr&, Instant) override {
    held.push_back(std::move(segment));
  }
  void send_segment(Mbuf segment, std::uint32_t, std::uint32_t, Instant) override {
    held.push_back(std::move(segment));
  }
  std::vector<Mbuf> held;
};

void BM_TcpTxSegmentChain(benchmark::State& state) {
  const auto chain_bytes = static_cast<std::uint32_t>(state.range(0));
  // The chain's data mbufs, plus per segment a header and up to two
  // indirect mbufs held until the pause, plus the peer's frames.
  const std::uint32_t data_mbufs = (chain_bytes + 2047) / 2048;
  rte_mempool* pool = make_pool(data_mbufs + 3 * (chain_bytes / 1000 + 1) + 1024);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Counters counters;
    HoldingSink sink;
    Instant now = kStart;
    TcpStackOptions so = stack_options(kLocalAddr);
    // send() charges truesize (a 2 KiB mbuf per 1,920 bytes of data and its
    // metadata): room for the whole chain at that rate.
    so.cfg.snd_buf = 2 * chain_bytes;
    TcpStack stack(so, counters, sink, pool, pool, now);

    Tcb* c = stack.connect(kPeerAddr, kServerPort, now);
    if (c == nullptr || sink.held.size() != 1) return state.SkipWithError("connect sent no SYN");
    const std::uint32_t iss = c->iss.value();
    const std::uint16_t lport = c->tuple.lport;
    const std::uint32_t syn_tsval = TcpStack::ts_clock(now) + c->ts_offset;  // what the SYN carried
    sink.held.clear();
    now = now + Duration::us(10);
    const TcpFields synack{kServerPort, lport, kPeerIss, iss + 1, kTcpSyn | kTcpAck, 65535};
    Mbuf f = peer_frame(pool, synack, syn_options(peer_ts(now), syn_tsval), 0);
    std::uint16_t len = l4_len_of(f);
    stack.on_segment(kPeerAddr, kLocalAddr, std::move(f), kL4Offset, len, now);
    if (c->state != TcpState::kEstablished) return state.SkipWithError("SYN-ACK did not establish");
    stack.set_nodelay(*c, true, now);
    sink.held.clear();
    const std::uint32_t mss = c->mss;

    auto make_chain = [&]() -> Mbuf {
      Mbuf head;
      std::uint32_t left = chain_bytes;
      while (left > 0) {
        Mbuf m = Mbuf::alloc(pool);
        if (!m) return Mbuf{};
        const auto n =
            static_cast<std::uint16_t>(std::min<std::uint32_t>(left, rte_pktmbuf_tailroom(m.get())));
        if (m.append(n).empty()) return Mbuf{};
        left -= n;
        if (!head) {
          head = std::move(m);
        } else if (rte_pktmbuf_chain(head.get(), m.get()) == 0) {
          (void)m.release();
        } else {
          return Mbuf{};
        }
      }
      return head;
    };
    // The peer acknowledges up to `to` (window 65535 << 7 = 8 MiB).
    auto ack_to = [&](std::uint32_t to) {
      now = now + Duration::us(1);
      const TcpFields a{kServerPort, lport, kPeerIss + 1, to, kTcpAck, 65535};
      Mbuf fr = peer_frame(pool, a, ts_option(peer_ts(now), TcpStack::ts_clock(now) + c->ts_offset), 0);
      const std::uint16_t l4 = l4_len_of(fr);
      stack.on_segment(kPeerAddr, kLocalAddr, std::move(fr), kL4Offset, l4, now);
    };
    // Slow start until cwnd covers the whole chain: every two segments
    // ACKed separately (RFC 3465 grows cwnd by at most 2 MSS per ACK), the
    // segments freed as they go out.
    for (int round = 0; round < 20 && c->cc.cwnd() < chain_bytes; ++round) {
      Mbuf chain = make_chain();
      if (!chain || !stack.send(*c, std::move(chain), now))
        return state.SkipWithError("warm-up send refused");
      while (c->sndq.bytes() > 0) {
        sink.held.clear();
        const std::uint32_t una = c->snd_una.value();
        const std::uint32_t out = static_cast<std::uint32_t>(c->snd_max - c->snd_una);
        if (out == 0) return state.SkipWithError("warm-up stalled");
        ack_to(una + std::min(out, 2 * mss));
      }
      sink.held.clear();
    }
    if (c->cc.cwnd() < chain_bytes || c->snd_wnd < chain_bytes) {
      return state.SkipWithError("cwnd or peer window did not open to the chain size");
    }

    std::uint64_t segments = 0;
    std::int64_t short_sends = 0;
    for (auto _ : state) {
      state.PauseTiming();
      Mbuf chain = make_chain();
      if (!chain) {
        state.SkipWithError("pool ran dry building the chain");
        break;
      }
      state.ResumeTiming();
      if (!stack.send(*c, std::move(chain), now)) {
        state.SkipWithError("send refused");
        break;
      }
      state.PauseTiming();
      segments += sink.held.size();
      sink.held.clear();
      if (c->snd_max - c->snd_una != static_cast<std::int32_t>(chain_bytes)) ++short_sends;
      ack_to(c->snd_max.value());
      stack.on_timer(now);
      state.ResumeTiming();
    }
    if (short_sends != 0) {
      state.SkipWithError("a send did not put the whole chain on the wire");
    } else if (counters.total_drops() != 0) {
      state.SkipWithError(("drops: " + drops_of(counters)).c_str());
    }
    const double n = static_cast<double>(state.iterations() ? state.iterations() : 1);
    state.counters["segs_per_send"] = static_cast<double>(segments) / n;
    state.SetItemsProcessed(static_cast<std::int64_t>(segments));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(chain_bytes));
    state.SetLabel(std::to_string(chain_bytes / 1024) + " KiB chain, MSS " + std::to_string(mss));
    stack.abort(*c, now);
    sink.held.clear();
  }
  // Every chain, header and slice went back: nothing held by a freed TCB.
  if (rte_mempool_in_use_count(pool) != 0)
    state.SkipWithError("mbufs still in use after the stack went away");
  rte_mempool_free(pool);
}
BENCHMARK(BM_TcpTxSegmentChain)->Arg(256 << 10)->Arg(1 << 20);

// ---- two stacks back to back ----------------------------------------------------

// Segments one stack sends, held until the pump hands them to the other
// stack: delivering from inside send_segment would re-enter a stack that is
// still in the middle of its own input.
class QueueSink final : public SegmentSink {
 public:
  // offload: frames sent with checksum offload requests arrive marked good
  // (link_checksum_offload_to_rx), as over LinkPort::offer_checksum_offload.
  explicit QueueSink(bool offload = false) : offload_(offload) {}
  void send_segment6(Mbuf, const IpAddr&, const IpAddr&, Instant) override {}  // IPv4 benchmarks
  void send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant) override {
    q_.push_back({std::move(segment), src, dst});
  }
  // Hands everything queued to `to` as IPv4 would: a 34-byte L2/L3 prefix
  // in the headroom the engine leaves. Returns how many segments moved.
  std::size_t deliver(TcpStack& to, Instant now) {
    if (q_.empty()) return 0;
    std::swap(q_, scratch_);
    for (auto& p : scratch_) {
      auto pre = p.seg.prepend(kL4Offset);
      std::memset(pre.data(), 0, kL4Offset);
      if (offload_) link_checksum_offload_to_rx(p.seg.get());
      const std::uint16_t l4 = l4_len_of(p.seg);
      to.on_segment(p.src, p.dst, std::move(p.seg), kL4Offset, l4, now);
    }
    const std::size_t n = scratch_.size();
    scratch_.clear();
    return n;
  }

 private:
  struct Pending {
    Mbuf seg;
    std::uint32_t src, dst;
  };
  std::vector<Pending> q_, scratch_;
  bool offload_;
};

void BM_TcpConnectionLifecycle(benchmark::State& state) {
  // 60 s of TIME_WAIT and 5 ms of virtual time per connection: about 12k
  // records in the client's table in steady state, inserted and expired.
  constexpr Duration kStep = Duration::ms(5);
  const bool offload = state.range(0) == 0;
  rte_mempool* pool = make_pool(4095);
  if (pool == nullptr) return state.SkipWithError("no mempool");
  {
    Counters cc, sc;
    QueueSink to_server(offload), to_client(offload);
    Instant now = kStart;
    TcpStackOptions co = stack_options(kLocalAddr), so = stack_options(kPeerAddr);
    co.tx_checksum_offload = so.tx_checksum_offload = offload;
    TcpStack client(co, cc, to_server, pool, pool, now);
    TcpStack server(so, sc, to_client, pool, pool, now);
    Listener* l = server.listen(kServerPort, 128);
    std::uint64_t segments = 0;
    auto pump = [&] {
      for (;;) {
        const std::size_t n = to_server.deliver(server, now) + to_client.deliver(client, now);
        if (n == 0) break;
        segments += n;
      }
    };
    std::int64_t failed = 0;
    for (auto _ : state) {
      now = now + kStep;
      client.on_timer(now);
      server.on_timer(now);
      Tcb* c = client.connect(kPeerAddr, kServerPort, now);
      if (c == nullptr) {
        ++failed;
        break;
      }
      pump();
      Tcb* s = server.accept(*l);
      if (s == nullptr) {
        ++failed;
        client.abort(*c, now);
        break;
      }
      client.close(*c, now);
      pump();
      server.close(*s, now);
      pump();
    }
    const auto n = static_cast<std::uint64_t>(state.iterations());
    if (failed != 0) {
      state.SkipWithError(
          ("connect/accept failed: client drops " + drops_of(cc) + "server drops " + drops_of(sc)).c_str());
    } else if (client.tcbs_in_use() != 0 || server.tcbs_in_use() != 0) {
      state.SkipWithError("TCBs left over: a side did not reach TIME_WAIT / CLOSED");
    } else if (cc.get(Counter::kTCPTimeWaitOverflow) != 0 || client.time_wait().size() == 0) {
      state.SkipWithError("the client's tuples did not go to TIME_WAIT");
    } else if (cc.total_drops() + sc.total_drops() != 0) {
      state.SkipWithError(("drops: client " + drops_of(cc) + "server " + drops_of(sc)).c_str());
    }
    state.counters["segs_per_conn"] = static_cast<double>(segments) / static_cast<double>(n ? n : 1);
    state.counters["time_wait"] = static_cast<double>(client.time_wait().size());
    state.SetItemsProcessed(state.iterations());
  }
  rte_mempool_free(pool);
}
BENCHMARK(BM_TcpConnectionLifecycle)->Arg(0)->Arg(1);

}  // namespace
}  // namespace tern
