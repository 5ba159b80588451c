// TCP engine fuzzer: one TcpStack (a listener on port 80 and one active
// connection opened at start) driven by a sequence of records on virtual
// time, with real mbufs from an in-memory EAL. The application side keeps
// to the API's rules: it touches only Tcbs from connect()/accept() that it
// has not closed or aborted, and closes those that report kTcpEvClosed.
//
// Input: one configuration byte (MTU, buffer sizes, which options the stack
// offers, Nagle, challenge-ACK budget, clone pool), then records until the
// input runs out. The first byte of a record picks its kind (mod 3):
//
//   advance  a:u8    virtual time moves on by (a >> 2) units of 1 ms, 37 ms,
//                    1 s or 17 s (a & 3), stopping at every deadline on the
//                    way: RTO, SYN-ACK, persist, keepalive, delayed ACK,
//                    FIN_WAIT_2, TIME_WAIT
//   segment  sel flags:u8 dseq:i16 dack:i16 win:u16 opt len misc [more]
//                    a segment from the peer. sel picks the tuple: a
//                    connection in the table (its RCV.NXT / SND.UNA are the
//                    bases, so seq = base + dseq passes the sequence check
//                    often), a client port to the listener (or to a closed
//                    port), a tuple the engine sent to before (TIME_WAIT,
//                    cookies), or an active-open tuple. opt picks options
//                    (timestamps echoing our TSval, a SYN's set, SACK blocks
//                    around SND.UNA, raw bytes, MSS); len the payload; misc
//                    bits: 01 bad checksum, 02 two mbufs, 04/08 other bases
//                    (RCV.ADV or IRS, SND.MAX), 10 raw segment bytes from
//                    the input, 20 checksum marked good by the NIC, 40 keep
//                    the raw ports, 80 Ethernet padding after the segment
//   app      which arg
//                    accept, connect (ephemeral or explicit port, or to
//                    ourselves: those segments loop back in), listener off
//                    and on (with or without a window clamp), handler mode
//                    (read / close / accept from inside the events), and on
//                    a Tcb the application holds: send_copy, zero-copy send
//                    of a chain, read, recv, shutdown_write, close, abort,
//                    nodelay, cork, keepalive, user timeout, window clamp
//
// Checked after every record: each segment the engine emits parses as TCP
// with a correct checksum and options, comes from our address with headroom
// for the IPv4 header and fits the MTU; RSTs carry the numbers RFC 9293
// §3.10.7.1 / §3.10.4 give them; ACKs and the window's right edge never move
// back; each connection's send variables are ordered and its queues within
// their buffers; every deadline is on the timer wheel and every TCB nobody
// holds has one; no indirect mbuf outlives the emitted segments; the mbufs
// the engine holds are bounded by the bytes it queues; no TERN_CHECK fired.
// After the input: destroying the stack returns every mbuf to its pool.
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "fuzz_check.h"
#include "runtime/eal_in_memory.h"
#include "tcp/tcp_stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace {

using namespace tern;

constexpr std::uint32_t kLocalIp = 0x0A000001;  // 10.0.0.1
constexpr std::uint32_t kPeerIp = 0x0A000002;   // 10.0.0.2
constexpr std::uint16_t kListenPort = 80;
constexpr std::uint16_t kClosedPort = 81;
constexpr std::uint16_t kPeerServerPort = 8080;  // connect() targets 8080..8083
constexpr std::uint16_t kPeerClientPort = 1000;  // SYNs to the listener from 1000..1007
constexpr std::uint32_t kMaxHeld = 16;
constexpr std::uint32_t kHistory = 16;

rte_mempool* g_pool = nullptr;
rte_mempool* g_indirect = nullptr;
// TCP_ENGINE_FUZZ_TRACE=1 prints each record's effect, for reading a crash.
bool g_trace = false;

enum Kind : std::uint8_t { kAdvance, kSegment, kApp };

// Reads the input front to back; past the end every read is 0.
class Reader {
 public:
  Reader(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return at_ >= n_; }
  std::size_t left() const { return at_ < n_ ? n_ - at_ : 0; }
  std::uint8_t u8() { return at_ < n_ ? d_[at_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(u16()) << 16 | u16(); }
  std::span<const std::byte> bytes(std::size_t n) {
    n = std::min(n, left());
    auto s = fuzz::as_bytes(d_ + at_, n);
    at_ += n;
    return s;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t at_ = 0;
};

// What the peer knows of a tuple from the segments the engine sent it: the
// sequence number to send next, what to acknowledge, the TSval to echo.
struct PeerView {
  std::uint16_t lport = 0;  // ours
  std::uint16_t rport = 0;  // the peer's
  Seq32 next_seq;
  Seq32 next_ack;
  std::uint32_t tsecr = 0;
  bool valid = false;
  // The engine's side of this incarnation (since its SYN): the highest ACK
  // and right window edge it sent, neither of which may move back.
  Seq32 max_ack;
  Seq32 max_edge;
  bool have_ack = false;
  bool have_edge = false;
};

// One emitted segment, copied out of its mbufs.
struct Emitted {
  std::uint32_t src = 0, dst = 0;
  std::vector<std::byte> bytes;
  std::uint16_t headroom = 0;
  bool chained_ok = true;
};

class CaptureSink : public SegmentSink {
 public:
  void send_segment(Mbuf segment, std::uint32_t src, std::uint32_t dst, Instant) override {
    FUZZ_CHECK(segment);
    Emitted e;
    e.src = src;
    e.dst = dst;
    e.headroom = rte_pktmbuf_headroom(segment.get());
    const std::uint32_t len = rte_pktmbuf_pkt_len(segment.get());
    e.bytes.resize(len);
    // Walk the chain by hand: pkt_len must equal the sum of data_len.
    std::uint32_t at = 0;
    for (const rte_mbuf* m = segment.get(); m != nullptr; m = m->next) {
      if (at + m->data_len > len) {
        e.chained_ok = false;
        break;
      }
      std::memcpy(e.bytes.data() + at, rte_pktmbuf_mtod(m, const void*), m->data_len);
      at += m->data_len;
    }
    if (at != len) e.chained_ok = false;
    out.push_back(std::move(e));
  }
  // The driver opens IPv4 connections only: an IPv6 segment is a bug.
  void send_segment6(Mbuf segment, const IpAddr&, const IpAddr&, Instant) override { FUZZ_CHECK(!segment); }
  std::vector<Emitted> out;
};

// Send variables of a connection before the record, for judging RSTs.
struct Snapshot {
  FourTuple tuple;
  Seq32 snd_una, snd_max;
  std::uint32_t snd_buf = 0;
  Seq32 rcv_nxt;
};

class Driver : public TcpHandler {
 public:
  Driver(std::uint8_t cfg_byte) : cfg_(cfg_byte) {
    TcpStackOptions o;
    o.local_addr = kLocalIp;
    o.mtu = (cfg_ & 0x01) ? 576 : 1500;
    TcpConfig& c = o.cfg;
    c.max_connections = 16;
    c.syn_backlog = 2;
    c.max_backlog = 2;
    c.ofo_max_segments = 8;
    c.max_time_wait = 8;
    c.rcv_buf = (cfg_ & 0x02) ? 262144 : 4096;  // the large one needs window scaling
    c.snd_buf = (cfg_ & 0x04) ? 16384 : 4096;
    c.timestamps = (cfg_ & 0x08) == 0;
    c.sack = (cfg_ & 0x10) == 0;
    c.window_scaling = (cfg_ & 0x20) == 0;
    c.nodelay = (cfg_ & 0x40) != 0;
    c.keepalive = true;
    c.keepalive_idle = Duration::s(5);
    c.keepalive_interval = Duration::s(1);
    c.keepalive_probes = 3;
    c.rto_max = Duration::s(4);
    c.retries = 4;
    c.syn_retries = 2;
    c.synack_retries = 2;
    c.fin_timeout = Duration::s(3);
    c.time_wait = Duration::s(2);
    c.challenge_ack_limit = (cfg_ & 0x80) ? 2 : 100;
    c.ephemeral_first = 40000;
    c.ephemeral_last = 40007;
    for (std::size_t i = 0; i < 16; ++i) {
      o.isn_key[i] = static_cast<std::uint8_t>(i + 1);
      o.cookie_key[i] = static_cast<std::uint8_t>(0xA0 + i);
    }
    o.hash_seed = 7;
    o.port_seed = 11;
    mtu_ = o.mtu;
    stack_ =
        std::make_unique<TcpStack>(o, counters_, sink_, g_pool, (cfg_ & 0x80) ? g_pool : g_indirect, now_);
    stack_->set_handler(this);
    listener_ = stack_->listen(kListenPort, 2);
    FUZZ_CHECK(listener_ != nullptr);
    Tcb* t = stack_->connect(kPeerIp, kPeerServerPort, now_);
    FUZZ_CHECK(t != nullptr);
    held_.push_back(t);
    after_record();
  }

  ~Driver() override { stack_.reset(); }

  void run(Reader& r) {
    while (!r.empty()) {
      snapshot();
      seg_ = std::nullopt;
      const std::uint8_t kind = r.u8() % 3;
      if (g_trace) std::fprintf(stderr, "t=%lldms record %u\n", static_cast<long long>(now_ms()), kind);
      switch (kind) {
        case kAdvance:
          advance(r.u8());
          break;
        case kSegment:
          segment(r);
          break;
        case kApp:
          app(r);
          break;
      }
      after_record();
    }
    // Let the timers run out: retransmissions give up, TIME_WAIT expires.
    for (int i = 0; i < 16; ++i) {
      snapshot();
      const Instant next = next_deadline();
      if (next == Instant::max() && stack_->time_wait().size() == 0) break;
      timer(next == Instant::max() ? now_ + Duration::s(3) : next + Duration::ms(1));
      after_record();
    }
  }

  // ---- TcpHandler: optionally act from inside the event (re-entrancy) ----
  void on_event(Tcb& c, std::uint8_t ev) override {
    FUZZ_CHECK(c.app_owned && !c.app_closed);
    // accept() dispatches the news about its child before it returns it.
    if (!held(&c)) {
      FUZZ_CHECK(accepting_);
      return;
    }
    if ((ev & kTcpEvReadable) && (handler_mode_ & 1)) {
      std::array<std::byte, 512> buf;
      (void)stack_->read(c, buf, now_);
    }
    if ((ev & (kTcpEvClosed | kTcpEvPeerFin)) && (handler_mode_ & 2)) {
      drop_held(&c);
      stack_->close(c, now_);
    }
  }
  void on_acceptable(Listener& l) override {
    FUZZ_CHECK(&l == listener_);
    if ((handler_mode_ & 4) && held_.size() < kMaxHeld) {
      if (Tcb* t = accept(l)) held_.push_back(t);
    }
  }

 private:
  Tcb* accept(Listener& l) {
    const bool outer = std::exchange(accepting_, true);
    Tcb* t = stack_->accept(l);
    accepting_ = outer;
    return t;
  }

  bool held(const Tcb* t) const { return std::find(held_.begin(), held_.end(), t) != held_.end(); }
  void drop_held(const Tcb* t) { std::erase(held_, t); }

  std::vector<const Tcb*> connections() const {
    std::vector<const Tcb*> v;
    stack_->for_each_connection([&](const Tcb& t) { v.push_back(&t); });
    // The table's iteration order is the hash map's: sort so an input replays.
    std::sort(v.begin(), v.end(), [](const Tcb* a, const Tcb* b) {
      return std::pair{a->tuple.lport, a->tuple.rport} < std::pair{b->tuple.lport, b->tuple.rport};
    });
    return v;
  }

  void snapshot() {
    before_.clear();
    for (const Tcb* t : connections())
      before_.push_back({t->tuple, t->snd_una, t->snd_max, t->snd_buf, t->rcv_nxt});
  }

  void timer(Instant t) {
    now_ = t;
    stack_->on_timer(now_);
  }

  Instant next_deadline() const {
    Instant next = Instant::max();
    for (const Tcb* t : connections()) {
      for (Instant d : {t->rtx_deadline, t->delack_deadline, t->linger_deadline})
        if (d > now_) next = std::min(next, d);
    }
    return next;
  }

  // a: unit in the low two bits, count in the rest. Steps through each
  // deadline on the way so timers fire when due, as with a 1 ms tick.
  void advance(std::uint8_t a) {
    static constexpr std::array<Duration, 4> kUnits = {Duration::ms(1), Duration::ms(37), Duration::s(1),
                                                       Duration::s(17)};
    const Instant target = now_ + kUnits[a & 3] * (a >> 2);
    for (int step = 0; step < 64; ++step) {
      const Instant next = next_deadline();
      if (next == Instant::max() || next + Duration::ms(1) > target) break;
      timer(next + Duration::ms(1));
      drain();
    }
    if (target > now_) timer(target);
  }

  // ---- segments from the peer ----

  PeerView* find_view(std::uint16_t lport, std::uint16_t rport) {
    for (auto& v : history_)
      if (v.valid && v.lport == lport && v.rport == rport) return &v;
    return nullptr;
  }
  PeerView& view_for(std::uint16_t lport, std::uint16_t rport) {
    if (PeerView* v = find_view(lport, rport)) return *v;
    PeerView& v = history_[history_next_++ % kHistory];
    v = PeerView{lport, rport, Seq32{0x10000000u + rport * 0x1000u}, Seq32{0}, 0, true};
    return v;
  }

  void segment(Reader& r) {
    const std::uint8_t sel = r.u8();
    const std::uint8_t flags = r.u8();
    const auto dseq = static_cast<std::int16_t>(r.u16());
    const auto dack = static_cast<std::int16_t>(r.u16());
    const std::uint16_t win = r.u16();
    const std::uint8_t opt = r.u8();
    const std::uint8_t len_byte = r.u8();
    const std::uint8_t misc = r.u8();

    // The tuple (ports, from the peer's side) and the numbers it expects.
    std::uint16_t lport = kListenPort, rport = kPeerClientPort;
    Seq32 seq_base{0}, ack_base{0};
    std::uint32_t tsecr = 0;
    const auto conns = connections();
    switch ((sel >> 4) & 3) {
      case 0:  // a connection in the table
        if (!conns.empty()) {
          const Tcb& t = *conns[(sel & 0x0F) % conns.size()];
          lport = t.tuple.lport;
          rport = t.tuple.rport;
          seq_base = (misc & 0x04) ? t.rcv_adv : t.rcv_nxt;
          ack_base = (misc & 0x08) ? t.snd_max : t.snd_una;
          if (t.state == TcpState::kSynReceived && (misc & 0x04)) seq_base = t.irs;
          if (const PeerView* v = find_view(lport, rport)) {
            tsecr = v->tsecr;
            if (t.state == TcpState::kSynSent) seq_base = v->next_seq;  // no RCV.NXT yet
          }
          break;
        }
        [[fallthrough]];
      case 1: {  // the listener, from one of a few client ports
        rport = static_cast<std::uint16_t>(kPeerClientPort + (sel & 7));
        lport = (sel & 8) ? kClosedPort : kListenPort;
        const PeerView& v = view_for(lport, rport);
        seq_base = v.next_seq;
        ack_base = v.next_ack;
        tsecr = v.tsecr;
        break;
      }
      case 2: {  // a tuple seen before: TIME_WAIT, cookies, closed connections
        std::vector<const PeerView*> seen;
        for (const PeerView& v : history_)
          if (v.valid) seen.push_back(&v);
        if (!seen.empty()) {
          const PeerView& v = *seen[(sel & 0x0F) % seen.size()];
          lport = v.lport;
          rport = v.rport;
          seq_base = v.next_seq;
          ack_base = v.next_ack;
          tsecr = v.tsecr;
        }
        break;
      }
      default:  // the active side's tuples: every ephemeral port, four server ports
        lport = static_cast<std::uint16_t>(40000 + (sel & 7));
        rport = static_cast<std::uint16_t>(kPeerServerPort + ((sel >> 3) & 1) + ((sel >> 5) & 2));
        if (const PeerView* v = find_view(lport, rport)) {
          seq_base = v->next_seq;
          ack_base = v->next_ack;
          tsecr = v->tsecr;
        }
        break;
    }

    std::vector<std::byte> tcp;
    if (misc & 0x10) {
      // Raw: the bytes are the segment; ports repaired unless asked not to.
      auto raw = r.bytes(len_byte);
      tcp.assign(raw.begin(), raw.end());
      if (tcp.size() >= 4 && (misc & 0x40) == 0) {
        store_be16(tcp.data(), rport);
        store_be16(tcp.data() + 2, lport);
      }
    } else {
      std::vector<std::byte> opts = options(r, opt, tsecr, ack_base);
      const std::size_t payload = len_byte < 200 ? len_byte : std::size_t{len_byte - 200u} * 32u;
      tcp.resize(kTcpMinHeaderLen + opts.size() + payload);
      const TcpFields f{.sport = rport,
                        .dport = lport,
                        .seq = (seq_base + static_cast<std::uint32_t>(std::int32_t{dseq})).value(),
                        .ack = (ack_base + static_cast<std::uint32_t>(std::int32_t{dack})).value(),
                        .flags = flags,
                        .window = win,
                        .urgent = static_cast<std::uint16_t>((flags & kTcpUrg) ? len_byte : 0)};
      const std::size_t hl = write_tcp(tcp, f, opts);
      FUZZ_CHECK(hl == kTcpMinHeaderLen + opts.size());
      for (std::size_t i = hl; i < tcp.size(); ++i)
        tcp[i] = std::byte{static_cast<std::uint8_t>(i * 7 + dseq)};
    }
    if (tcp.size() >= kTcpMinHeaderLen) {
      if (misc & 0x01) {
        store_be16(tcp.data() + 16, static_cast<std::uint16_t>(load_be16(tcp.data() + 16) ^ 0x5A5A));
      } else {
        fill_tcp_checksum(tcp, kPeerIp, kLocalIp);
      }
    }
    if (tcp.size() >= 20) seg_ = load_seg(tcp);
    deliver(tcp, (misc & 0x80) ? 6 : 0, (misc & 0x02) != 0, (misc & 0x20) != 0);
  }

  // Options per `opt`'s low bits; a few take more input bytes.
  std::vector<std::byte> options(Reader& r, std::uint8_t opt, std::uint32_t tsecr, Seq32 ack_base) {
    std::vector<std::byte> out;
    TcpOptions o;
    peer_ts_ += 1 + (opt >> 6);
    const auto tsval = static_cast<std::uint32_t>(TcpStack::ts_clock(now_) + peer_ts_) +
                       ((opt & 0x20) ? 0x80000000u : 0u);  // far in the past for PAWS
    switch (opt & 7) {
      case 0:
        return out;
      case 1:
        o.timestamps = {tsval, tsecr};
        break;
      case 2:  // a SYN's
        o.mss = static_cast<std::uint16_t>(r.u16() % 2048);
        o.window_scale = static_cast<std::uint8_t>(r.u8() % 16);
        o.sack_permitted = true;
        o.timestamps = {tsval, tsecr};
        break;
      case 3: {  // SACK blocks around SND.UNA
        o.timestamps = {tsval, tsecr};
        const std::uint8_t n = 1 + r.u8() % 3;
        for (std::uint8_t i = 0; i < n; ++i) {
          const Seq32 left =
              ack_base + static_cast<std::uint32_t>(std::int32_t{static_cast<std::int16_t>(r.u16())});
          o.sack[i] = SackBlock{left.value(), (left + r.u8() * 16u).value()};
        }
        o.sack_count = n;
        break;
      }
      case 4: {  // raw option bytes
        auto raw = r.bytes((opt >> 3 & 7) * 4 + 4);
        out.assign(raw.begin(), raw.end());
        while (out.size() % 4 != 0) out.push_back(std::byte{kTcpOptNop});
        return out;
      }
      case 5:
        o.mss = static_cast<std::uint16_t>(r.u16());
        break;
      default:
        return out;
    }
    std::array<std::byte, kTcpMaxOptionsLen> buf{};
    const std::size_t n = write_tcp_options(buf, o);
    out.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }

  struct SegInfo {
    std::uint16_t sport, dport;
    Seq32 seq, ack;
    std::uint8_t flags;
    std::uint32_t seg_len;
  };
  static std::optional<SegInfo> load_seg(std::span<const std::byte> tcp) {
    auto h = TcpHeader::parse(tcp);
    if (!h) return std::nullopt;
    const std::uint32_t len = static_cast<std::uint32_t>(h->payload().size()) + (h->flags().syn() ? 1u : 0u) +
                              (h->flags().fin() ? 1u : 0u);
    return SegInfo{h->src_port(), h->dst_port(), Seq32{h->seq()}, Seq32{h->ack()}, h->flags().bits, len};
  }

  // As IPv4 hands it over: l4 at offset 34 of the frame, maybe followed by
  // Ethernet padding beyond l4_len, maybe as two mbufs split inside the
  // segment, maybe with the checksum marked verified by the NIC.
  void deliver(std::span<const std::byte> tcp, std::size_t pad, bool split, bool hw_csum,
               std::uint32_t src = kPeerIp) {
    constexpr std::uint16_t kOff = 34;
    std::vector<std::byte> frame(kOff + tcp.size() + pad);
    if (!tcp.empty()) std::memcpy(frame.data() + kOff, tcp.data(), tcp.size());
    std::size_t first = frame.size();
    if (split && tcp.size() > 1)
      first = std::min(first, kOff + 20 + (tcp.size() > 20 ? (tcp.size() - 20) / 2 : 0));
    Mbuf head = Mbuf::alloc(g_pool);
    if (!head) return;
    auto h = head.append(static_cast<std::uint16_t>(first));
    if (h.empty()) return;
    std::memcpy(h.data(), frame.data(), first);
    if (first < frame.size()) {
      Mbuf tail = Mbuf::alloc(g_pool);
      if (!tail) return;
      auto t = tail.append(static_cast<std::uint16_t>(frame.size() - first));
      if (t.empty()) return;
      std::memcpy(t.data(), frame.data() + first, frame.size() - first);
      FUZZ_CHECK(rte_pktmbuf_chain(head.get(), tail.release()) == 0);
    }
    if (hw_csum) head->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    stack_->on_segment(src, kLocalIp, std::move(head), kOff, static_cast<std::uint16_t>(tcp.size()), now_);
  }

  // ---- the application ----

  void app(Reader& r) {
    const std::uint8_t which = r.u8();
    const std::uint8_t arg = r.u8();
    const std::uint8_t op = which & 0x0F;
    if (op == 0) {  // accept
      if (held_.size() < kMaxHeld && listener_ != nullptr) {
        if (Tcb* t = accept(*listener_)) held_.push_back(t);
      }
      return;
    }
    if (op == 1) {  // connect
      if (held_.size() >= kMaxHeld) return;
      ConnectError err;
      const std::uint16_t rport = static_cast<std::uint16_t>(kPeerServerPort + (arg & 3));
      const std::uint16_t lport = (arg & 4) ? static_cast<std::uint16_t>(40000 + (arg >> 3 & 3)) : 0;
      const std::uint32_t raddr = (arg & 0x80) ? kLocalIp : kPeerIp;
      Tcb* t = stack_->connect(raddr, (arg & 0x40) ? lport : rport, now_, &err, lport);
      FUZZ_CHECK((t == nullptr) == (err != ConnectError::kNone));
      if (t != nullptr) held_.push_back(t);
      return;
    }
    if (op == 2) {  // listener off and on again
      if (listener_ != nullptr) {
        stack_->unlisten(listener_, now_);
        listener_ = nullptr;
      } else {
        listener_ = stack_->listen(kListenPort, 1 + arg % 4);
        FUZZ_CHECK(listener_ != nullptr);
        stack_->set_defer_accept(*listener_, (arg & 0x10) != 0);
        stack_->set_window_clamp(*listener_, (arg & 0x20) ? 20000 : 0);  // the SYN-ACK's scale follows it
      }
      return;
    }
    if (op == 3) {
      handler_mode_ = arg;
      return;
    }
    if (held_.empty()) return;
    Tcb& c = *held_[(which >> 4) % held_.size()];
    switch (op) {
      case 4: {
        static const std::array<std::byte, 16384> kData{};
        const std::size_t n = std::size_t{arg} * 64;
        const std::size_t done = stack_->send_copy(c, std::span(kData).first(n), now_);
        FUZZ_CHECK(done <= n);
        break;
      }
      case 5: {  // zero-copy: a chain of up to three mbufs
        Mbuf chain;
        for (int i = 0; i <= (arg & 3); ++i) {
          Mbuf m = Mbuf::alloc(g_pool);
          if (!m) break;
          const auto n = static_cast<std::uint16_t>(std::min<std::uint32_t>(1 + (arg >> 2) * 31u, 2000));
          auto s = m.append(n);
          if (s.empty()) break;
          std::memset(s.data(), 'z', n);
          if (!chain) {
            chain = std::move(m);
          } else {
            FUZZ_CHECK(rte_pktmbuf_chain(chain.get(), m.release()) == 0);
          }
        }
        if (chain) (void)stack_->send(c, std::move(chain), now_);
        break;
      }
      case 6: {
        std::array<std::byte, 4096> buf;
        const std::size_t want = std::size_t{arg} * 16 + 1;
        FUZZ_CHECK(stack_->read(c, std::span(buf).first(std::min(want, buf.size())), now_) <= want);
        break;
      }
      case 7:
        (void)stack_->recv(c, now_);  // the Mbuf frees the chain
        break;
      case 8:
        stack_->shutdown_write(c, now_);
        break;
      case 9:
        drop_held(&c);
        stack_->close(c, now_);
        break;
      case 10:
        drop_held(&c);
        stack_->abort(c, now_);
        break;
      case 11:
        stack_->set_nodelay(c, arg & 1, now_);
        break;
      case 12:
        stack_->set_cork(c, arg & 1, now_);
        break;
      case 13:
        stack_->set_keepalive(c, arg & 1, now_);
        break;
      case 14:  // TCP_USER_TIMEOUT, 0 (off) to 2 s
        stack_->set_user_timeout(c, Duration::ms(std::int64_t{arg} * 8), now_);
        break;
      case 15:  // TCP_WINDOW_CLAMP, raised to its floor when small
        stack_->set_window_clamp(c, std::uint32_t{arg} << 8 | 1, now_);
        break;
      default:
        break;
    }
  }

  // ---- checks ----

  // Checks what the engine sent. Segments to our own address (connect() to
  // ourselves) come back in, one at a time, so that each answer is judged
  // against the segment it answers.
  void drain() {
    int budget = 32;
    for (;;) {
      std::vector<Emitted> batch = std::move(sink_.out);
      sink_.out.clear();
      for (const Emitted& e : batch) {
        check_emitted(e);
        if (e.dst == kLocalIp) loopback_.push_back(e.bytes);
      }
      if (loopback_.empty() || budget-- <= 0) break;
      const std::vector<std::byte> b = std::move(loopback_.front());
      loopback_.erase(loopback_.begin());
      seg_ = load_seg(b);
      deliver(b, 0, false, false, kLocalIp);
    }
    loopback_.clear();
  }

  void after_record() {
    // A RST may come from a connection the record created and ended.
    for (const Tcb* t : connections())
      before_.push_back({t->tuple, t->snd_una, t->snd_max, t->snd_buf, t->rcv_nxt});
    drain();
    if (g_trace) trace_state();
    // The emitted segments were the only holders of indirect mbufs.
    if ((cfg_ & 0x80) == 0) FUZZ_CHECK(rte_mempool_in_use_count(g_indirect) == 0);
    // The stack's stash of reset header mbufs (at most
    // TcpStack::kHeaderMbufsKept between calls) is out of the pool too.
    FUZZ_CHECK(stack_->header_mbufs_held() <= TcpStack::kHeaderMbufsKept);
    std::uint64_t bound = 64 + stack_->header_mbufs_held();
    for (const Tcb* t : connections()) {
      FUZZ_CHECK(t->snd_nxt - t->snd_una >= 0);
      // The wheel fires no later than the earliest deadline; a deadline
      // the wheel does not know about is a timer lost.
      const Instant due = std::min({t->rtx_deadline, t->delack_deadline, t->linger_deadline});
      if (due != Instant::max()) FUZZ_CHECK(TimerWheel::armed(*t) && TimerWheel::deadline(*t) <= due);
      // A TCB nobody holds (the application let go, or never had it) must
      // have a timer that ends it, or it stays until the worker dies.
      if ((!t->app_owned || t->app_closed) && !t->in_accept_queue) FUZZ_CHECK(due != Instant::max());
      FUZZ_CHECK(t->snd_max - t->snd_nxt >= 0);
      // In flight: queued data plus SYN and FIN.
      FUZZ_CHECK(static_cast<std::uint32_t>(t->snd_max - t->snd_una) <= t->sndq.bytes() + 2);
      FUZZ_CHECK(t->sndq.bytes() <= t->snd_buf);
      FUZZ_CHECK(t->rcvq.bytes() <= t->rcv_buf);
      // Every held mbuf carries at least one byte (a received payload may sit
      // behind its emptied header mbuf).
      bound += 2ull * t->rcvq.bytes() + t->sndq.bytes() + 4;
      if (t->ooo != nullptr) bound += 2ull * t->ooo->bytes() + 2 * t->ooo->segments();
    }
    // CLOSED TCBs the application still holds keep their unread data.
    for (const Tcb* t : held_)
      if (t->removed) bound += 2ull * t->rcvq.bytes();
    FUZZ_CHECK(rte_mempool_in_use_count(g_pool) <= base_ + bound);
    FUZZ_CHECK(stack_->tcbs_in_use() <= 16);
    FUZZ_CHECK(stack_->time_wait().size() <= 8);
    FUZZ_CHECK(invariant_violations() == violations_);
  }

  long long now_ms() const { return static_cast<long long>(now_.ns_since_epoch() / 1'000'000); }

  void trace_state() {
    for (std::size_t i = 0; i < counters_.drops.size(); ++i) {
      if (counters_.drops[i] == traced_drops_[i]) continue;
      std::fprintf(stderr, "  drop %s\n", std::string(drop_name(static_cast<Drop>(i))).c_str());
      traced_drops_[i] = counters_.drops[i];
    }
    for (const Tcb* t : connections())
      std::fprintf(stderr, "  %u>%u %s una=%u nxt=%u max=%u rcv_nxt=%u sndq=%u rcvq=%u wnd=%u%s\n",
                   t->tuple.lport, t->tuple.rport, std::string(to_string(t->state)).c_str(),
                   t->snd_una.value(), t->snd_nxt.value(), t->snd_max.value(), t->rcv_nxt.value(),
                   t->sndq.bytes(), t->rcvq.bytes(), t->snd_wnd, held(t) ? " held" : "");
  }

  void check_emitted(const Emitted& e) {
    if (g_trace) {
      if (auto h = TcpHeader::parse(e.bytes))
        std::fprintf(stderr, "  out %u>%u [%s] seq %u ack %u win %u len %zu\n", h->src_port(), h->dst_port(),
                     h->flags().to_string().c_str(), h->seq(), h->ack(), h->window(), h->payload().size());
    }
    FUZZ_CHECK(e.chained_ok);
    FUZZ_CHECK(e.headroom >= kSegmentHeadroom);
    FUZZ_CHECK(e.src == kLocalIp && (e.dst == kPeerIp || e.dst == kLocalIp));
    FUZZ_CHECK(e.bytes.size() + 20 <= mtu_);
    auto h = TcpHeader::parse(e.bytes);
    FUZZ_CHECK(h);
    FUZZ_CHECK(h->checksum_ok(e.src, e.dst));
    auto o = parse_tcp_options(h->options());
    FUZZ_CHECK(o);
    const TcpFlags f = h->flags();
    FUZZ_CHECK(h->src_port() != 0 && h->dst_port() != 0);
    FUZZ_CHECK(!(f.syn() && f.rst()) && !(f.syn() && f.fin()));
    if (f.syn() || f.rst()) FUZZ_CHECK(h->payload().empty());
    if (!f.rst()) FUZZ_CHECK(f.ack() || f.syn());  // only a SYN goes out without ACK
    if (f.rst()) check_rst(*h);

    // What the peer learns: next sequence number, what to acknowledge, TSval.
    PeerView& v = view_for(h->src_port(), h->dst_port());
    if (f.ack()) v.next_seq = Seq32{h->ack()};
    const std::uint32_t seg_len =
        static_cast<std::uint32_t>(h->payload().size()) + (f.syn() ? 1u : 0u) + (f.fin() ? 1u : 0u);
    const Seq32 end = Seq32{h->seq()} + seg_len;
    if (f.syn() || end - v.next_ack > 0 || v.next_ack == Seq32{0}) v.next_ack = end;
    if (o->timestamps) v.tsecr = o->timestamps->first;
    check_monotonic(v, *h);
  }

  // RFC 9293 §3.10.7.4: RCV.NXT only advances, so neither do our ACKs; RFC
  // 9293 §3.8.6 / RFC 7323 §2.4: the right edge of the window offered never
  // moves left (a shrinking window is what the engine promises to avoid).
  void check_monotonic(PeerView& v, const TcpHeader& h) {
    const TcpFlags f = h.flags();
    const Seq32 ack{h.ack()};
    if (f.syn()) {
      v.have_ack = f.ack();
      v.max_ack = ack;
      v.have_edge = false;  // a SYN's window is not scaled
      return;
    }
    if (f.rst() || !f.ack()) return;
    if (v.have_ack) FUZZ_CHECK(ack - v.max_ack >= 0);
    v.have_ack = true;
    v.max_ack = ack;
    // The scale is the connection's: judge only segments a live TCB sent.
    for (const Tcb* t : connections()) {
      if (t->tuple.lport != h.src_port() || t->tuple.rport != h.dst_port() || !synchronized(t->state))
        continue;
      const Seq32 edge = ack + (std::uint32_t{h.window()} << t->rcv_wscale);
      if (v.have_edge) FUZZ_CHECK(edge - v.max_edge >= 0);
      if (!v.have_edge || edge - v.max_edge > 0) v.max_edge = edge;
      v.have_edge = true;
    }
  }

  // RFC 9293 §3.10.7.1: a RST answering a segment takes its SEQ from that
  // segment's ACK, or (no ACK) SEQ 0 and ACK SEG.SEQ + SEG.LEN; a RST from a
  // connection (abort, close with unread data, a timeout) is R. (Linux's
  // active reset, RFC 7323 §3.2): SND.NXT, and ACK = RCV.NXT.
  void check_rst(const TcpHeader& h) {
    const Seq32 seq{h.seq()};
    const bool answers_seg = seg_ && h.src_port() == seg_->dport && h.dst_port() == seg_->sport;
    if (h.flags().ack() && answers_seg && !(seg_->flags & kTcpAck) && !(seg_->flags & kTcpRst) &&
        seq == Seq32{0} && Seq32{h.ack()} == seg_->seq + seg_->seg_len)
      return;
    if (!h.flags().ack()) {
      FUZZ_CHECK(h.ack() == 0);
      FUZZ_CHECK(answers_seg && (seg_->flags & kTcpAck) && seq == seg_->ack);
      return;
    }
    // SND.NXT lies in [SND.UNA, SND.MAX]; the record may have sent more.
    // RCV.NXT may have moved over what the record took.
    for (const Snapshot& s : before_) {
      if (s.tuple.lport != h.src_port() || s.tuple.rport != h.dst_port()) continue;
      const std::int32_t d = seq - s.snd_una;
      const std::int32_t a = Seq32{h.ack()} - s.rcv_nxt;
      if (d >= 0 &&
          static_cast<std::uint32_t>(d) <=
              static_cast<std::uint32_t>(s.snd_max - s.snd_una) + s.snd_buf + 2 &&
          a >= 0)
        return;
    }
    FUZZ_CHECK(false);  // a RST with a sequence number from nowhere
  }

  const std::uint8_t cfg_;
  const unsigned base_ = rte_mempool_in_use_count(g_pool);
  const std::uint64_t violations_ = invariant_violations();
  Counters counters_;
  decltype(Counters::drops) traced_drops_{};
  CaptureSink sink_;
  Instant now_ = Instant::from_ns(1'000'000'000);
  std::uint16_t mtu_ = 1500;
  std::unique_ptr<TcpStack> stack_;
  Listener* listener_ = nullptr;
  std::vector<Tcb*> held_;
  std::array<PeerView, kHistory> history_{};
  std::uint32_t history_next_ = 0;
  std::vector<Snapshot> before_;
  std::optional<SegInfo> seg_;  // the segment this record delivered
  std::vector<std::vector<std::byte>> loopback_;
  std::uint32_t peer_ts_ = 0;
  std::uint8_t handler_mode_ = 0;
  bool accepting_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!tern::start_eal_in_memory("ternfuzz", "crit")) std::abort();
  g_trace = std::getenv("TCP_ENGINE_FUZZ_TRACE") != nullptr;
  // No per-lcore cache, so in-use counts are exact.
  g_pool = rte_pktmbuf_pool_create("tcp_engine_fuzz", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  g_indirect = rte_pktmbuf_pool_create("tcp_engine_fuzz_ind", 4095, 0, 0, 0, SOCKET_ID_ANY);
  if (g_pool == nullptr || g_indirect == nullptr) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned base = rte_mempool_in_use_count(g_pool);
  {
    Reader r(data, size);
    Driver d(r.u8());
    d.run(r);
  }
  // Destroying the stack freed every TCB and all it held.
  FUZZ_CHECK(rte_mempool_in_use_count(g_pool) == base);
  FUZZ_CHECK(rte_mempool_in_use_count(g_indirect) == 0);
  return 0;
}
