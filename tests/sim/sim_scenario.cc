#include "sim_scenario.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace tern::sim {

namespace {

constexpr std::uint16_t kPort = 80;
constexpr std::size_t kChunk = 64 * 1024;

// The byte at position i of a stream is byte i % 8 of splitmix64's output
// for counter i / 8: any range can be regenerated without keeping the stream.
class Stream {
 public:
  explicit Stream(std::uint64_t seed) noexcept : seed_(seed) {}
  void fill(std::uint64_t pos, std::span<std::byte> out) const noexcept {
    std::size_t i = 0;
    while (i < out.size()) {
      const std::uint64_t word = at(pos / 8);
      for (std::uint64_t k = pos % 8; k < 8 && i < out.size(); ++k, ++i, ++pos)
        out[i] = static_cast<std::byte>(word >> (8 * k));
    }
  }

 private:
  std::uint64_t at(std::uint64_t idx) const noexcept {
    std::uint64_t z = seed_ + (idx + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t seed_;
};

constexpr std::uint64_t kFnvBasis = 0xCBF29CE484222325ull;
std::uint64_t fnv1a(std::uint64_t h, std::span<const std::byte> b) noexcept {
  for (std::byte x : b) h = (h ^ std::to_integer<std::uint64_t>(x)) * 0x100000001B3ull;
  return h;
}

std::uint64_t stream_seed(std::uint64_t seed, Side from) {
  SimRng r(seed * 2 + (from == Side::kA ? 0 : 1));
  return r.next();
}

// One application endpoint: a single connection that sends `to_send` bytes
// and expects `to_recv`.
struct Peer {
  Side side;
  SimHost* host = nullptr;
  Tcb* conn = nullptr;
  bool released = false;  // close() called: conn is no longer ours
  Stream out_stream{0}, in_stream{0};
  std::uint64_t to_send = 0, sent = 0, fnv_sent = kFnvBasis;
  std::uint64_t to_recv = 0, received = 0, fnv_recv = kFnvBasis;
  std::uint64_t first_mismatch = UINT64_MAX;
  bool connected = false, shut = false, peer_fin = false, eof = false, closed_event = false;
  TcpError error = TcpError::kNone;
  std::uint8_t pending = 0;
  std::uint64_t events_seen = 0;
  std::string problems;
};

class Apps final {
 public:
  Apps(const Scenario& s, TcpSim& sim) : s_(s), sim_(sim) {
    a_.side = Side::kA;
    b_.side = Side::kB;
    a_.host = &sim.a();
    b_.host = &sim.b();
    a_.out_stream = b_.in_stream = Stream(stream_seed(s.seed, Side::kA));
    b_.out_stream = a_.in_stream = Stream(stream_seed(s.seed, Side::kB));
    a_.to_send = b_.to_recv = s.bytes_ab;
    b_.to_send = a_.to_recv = s.bytes_ba;
    handler_a_.apps = handler_b_.apps = this;
    handler_a_.p = &a_;
    handler_b_.p = &b_;
    sim.a().tcp.set_handler(&handler_a_);
    sim.b().tcp.set_handler(&handler_b_);
    budget_ = s.read_per_tick;
  }

  bool listen() {
    listener_ = sim_.b().tcp.listen(kPort, 16);
    return listener_ != nullptr || fail(b_, "listen() failed");
  }
  bool connect() {
    const Instant now = sim_.now();
    ConnectError err = ConnectError::kNone;
    a_.conn = s_.a.ipv6 ? sim_.a().tcp.connect(kAddr6B, kPort, now, &err)
                        : sim_.a().tcp.connect(kAddrB, kPort, now, &err);
    if (a_.conn == nullptr)
      return fail(a_, "connect() failed: error " + std::to_string(static_cast<int>(err)));
    a_.conn->user = &a_;
    if (s_.send_before_connected) pump(a_);
    return true;
  }

  // Once per step: the deferred events, the read budget, anything left to do.
  void on_step(Instant) {
    budget_a_ = budget_b_ = s_.read_per_tick;
    for (Peer* p : {&a_, &b_}) {
      if (p->pending != 0) {
        const std::uint8_t ev = std::exchange(p->pending, 0);
        handle(*p, ev);
      }
      if (s_.read_per_tick > 0 && p->conn != nullptr && !p->released) {
        read_some(*p);
        advance(*p);
      }
    }
    if (s_.deferred_app && accept_pending_) {
      accept_pending_ = false;
      do_accept();
    }
  }

  // Both applications have let go (their connections may still be closing).
  bool released() const {
    return a_.released && (b_.released || (b_.conn == nullptr && a_.error != TcpError::kNone));
  }

  bool done() const {
    // B never got a connection when A's attempt failed (the report says why).
    const bool b_done = b_.released || (b_.conn == nullptr && a_.released && a_.error != TcpError::kNone);
    return a_.released && b_done && sim_.a().tcp.connections() == 0 && sim_.b().tcp.connections() == 0;
  }

  // gave_up: a side aborted unheard (GiveUpWatch): the streams could not
  // complete and the connection ended with an error on both sides, so those
  // checks are left out; what was delivered must still be right.
  void report(std::string& out, bool gave_up = false) const {
    for (const Peer* p : {&a_, &b_}) {
      const char* n = p->side == Side::kA ? "A" : "B";
      out += p->problems;
      if (gave_up) {
        if (p->first_mismatch != UINT64_MAX)
          out += std::string(n) + ": received stream differs from the sent one at offset " +
                 std::to_string(p->first_mismatch) + "\n";
        if (!p->released) out += std::string(n) + ": application never closed\n";
        continue;
      }
      if (p->sent != p->to_send)
        out +=
            std::string(n) + ": sent " + std::to_string(p->sent) + " of " + std::to_string(p->to_send) + "\n";
      if (p->received != p->to_recv)
        out += std::string(n) + ": received " + std::to_string(p->received) + " of " +
               std::to_string(p->to_recv) + " bytes\n";
      if (p->first_mismatch != UINT64_MAX)
        out += std::string(n) + ": received stream differs from the sent one at offset " +
               std::to_string(p->first_mismatch) + "\n";
      const Peer& sender = p->side == Side::kA ? b_ : a_;
      if (p->received == p->to_recv && sender.sent == sender.to_send && p->fnv_recv != sender.fnv_sent)
        out += std::string(n) + ": received stream digest differs from the sender's\n";
      if (p->error != TcpError::kNone)
        out += std::string(n) + ": connection ended with error " + std::string(to_string(p->error)) + "\n";
      if (!p->released) {
        out += std::string(n) + ": application never closed (connected=" + std::to_string(p->connected) +
               " shut=" + std::to_string(p->shut) + " peer_fin=" + std::to_string(p->peer_fin) +
               " eof=" + std::to_string(p->eof) + " closed_event=" + std::to_string(p->closed_event);
        if (p->conn != nullptr)
          out += " state=" + std::string(to_string(p->conn->state)) +
                 " send_queue=" + std::to_string(p->conn->sndq.truesize()) +
                 " flight=" + std::to_string(p->conn->flight()) +
                 " snd_wnd=" + std::to_string(p->conn->snd_wnd);
        out += ")\n";
      }
    }
    if (extra_accepts_ > 0)
      out += "B: accepted " + std::to_string(extra_accepts_) + " unexpected connections\n";
  }

 private:
  struct Handler final : TcpHandler {
    Apps* apps = nullptr;
    Peer* p = nullptr;
    void on_event(Tcb& c, std::uint8_t ev) override { apps->on_event(*p, c, ev); }
    void on_acceptable(Listener&) override { apps->on_acceptable(); }
  };

  Instant now() const { return sim_.now(); }

  bool fail(Peer& p, const std::string& what) {
    p.problems += std::string(p.side == Side::kA ? "A: " : "B: ") + what + "\n";
    return false;
  }

  void on_event(Peer& p, Tcb& c, std::uint8_t ev) {
    if (c.user == nullptr) {  // a child with events before accept(): kept for then
      pre_accept_ |= ev;
      return;
    }
    if (c.user != &p || p.released) {
      fail(p, "event " + std::to_string(ev) + " for a connection that is not ours");
      return;
    }
    ++p.events_seen;
    if (s_.deferred_app) {
      p.pending |= ev;
    } else {
      handle(p, ev);
    }
  }

  void on_acceptable() {
    if (s_.deferred_app) {
      accept_pending_ = true;
    } else {
      do_accept();
    }
  }

  void do_accept() {
    while (Tcb* c = sim_.b().tcp.accept(*listener_)) {
      if (b_.conn != nullptr) {
        ++extra_accepts_;
        sim_.b().tcp.abort(*c, now());
        continue;
      }
      b_.conn = c;
      c->user = &b_;
      b_.connected = true;
      handle(b_, std::exchange(pre_accept_, 0));
    }
  }

  void handle(Peer& p, std::uint8_t ev) {
    if (p.conn == nullptr || p.released) return;
    if ((ev & kTcpEvConnected) != 0) {
      p.connected = true;
      if (p.side == Side::kA) {
        // ARP and the handshake are done: corruption may start (ARP has no checksum).
        sim_.link().set_params(Side::kA, s_.ab);
        sim_.link().set_params(Side::kB, s_.ba);
      }
    }
    if ((ev & kTcpEvPeerFin) != 0) p.peer_fin = true;
    if ((ev & kTcpEvClosed) != 0) {
      p.closed_event = true;
      p.error = p.conn->error;
      p.peer_fin = true;  // nothing more will come
    }
    read_some(p);
    advance(p);
  }

  bool may_send(const Peer& p) const {
    if (p.side == Side::kB && s_.close == CloseOrder::kHalfClose) return p.eof;
    return p.connected || (p.side == Side::kA && s_.send_before_connected);
  }
  bool may_shutdown(const Peer& p) const {
    switch (s_.close) {
      case CloseOrder::kTogether:
      case CloseOrder::kHalfClose:
        return true;
      case CloseOrder::kAFirst:
        return p.side == Side::kA || p.eof;
      case CloseOrder::kBFirst:
        return p.side == Side::kB || p.eof;
    }
    return true;
  }

  void advance(Peer& p) {
    if (p.conn == nullptr || p.released) return;
    if (!p.closed_event) {
      if (may_send(p)) pump(p);
      if (p.sent == p.to_send && !p.shut && p.connected && may_shutdown(p)) {
        if (s_.close_directly && p.to_recv == 0) {
          // Nothing to read: let go at once; the engine finishes the close.
          p.shut = p.eof = p.released = true;
          p.host->tcp.close(*p.conn, now());
          return;
        }
        p.shut = true;
        p.host->tcp.shutdown_write(*p.conn, now());
      }
    }
    const bool finished = p.shut && p.eof;
    if (finished || (p.closed_event && (p.error != TcpError::kNone || p.eof))) {
      p.released = true;
      p.host->tcp.close(*p.conn, now());
    }
  }

  void pump(Peer& p) {
    std::array<std::byte, kChunk>& buf = scratch_;
    while (p.sent < p.to_send) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, p.to_send - p.sent));
      p.out_stream.fill(p.sent, std::span(buf).first(want));
      const std::size_t n =
          p.host->tcp.send_copy(*p.conn, std::span<const std::byte>(buf).first(want), now());
      p.fnv_sent = fnv1a(p.fnv_sent, std::span<const std::byte>(buf).first(n));
      p.sent += n;
      if (n < want) break;  // wait for kTcpEvWritable
    }
  }

  void consume(Peer& p, std::span<const std::byte> got) {
    if (got.empty()) return;
    if (p.received + got.size() > p.to_recv) {
      fail(p, "received more than was sent: " + std::to_string(p.received + got.size()));
    }
    if (p.first_mismatch == UINT64_MAX) {
      std::array<std::byte, kChunk>& want = expect_;
      std::size_t off = 0;
      while (off < got.size()) {
        const std::size_t n = std::min(kChunk, got.size() - off);
        p.in_stream.fill(p.received + off, std::span(want).first(n));
        if (std::memcmp(want.data(), got.data() + off, n) != 0) {
          std::size_t i = 0;
          while (want[i] == got[off + i]) ++i;
          p.first_mismatch = p.received + off + i;
          break;
        }
        off += n;
      }
    }
    p.fnv_recv = fnv1a(p.fnv_recv, got);
    p.received += got.size();
  }

  void read_some(Peer& p) {
    if (p.conn == nullptr || p.released) return;
    std::uint32_t& budget = p.side == Side::kA ? budget_a_ : budget_b_;
    if (s_.zero_copy_recv && s_.read_per_tick == 0) {
      Mbuf m = p.host->tcp.recv(*p.conn, now());
      for (const rte_mbuf* seg = m.get(); seg != nullptr; seg = seg->next)
        consume(p, {rte_pktmbuf_mtod(seg, const std::byte*), seg->data_len});
    } else {
      for (;;) {
        std::size_t want = kChunk;
        if (s_.read_per_tick > 0) want = std::min<std::size_t>(want, budget);
        if (want == 0) return;  // more next tick; EOF not known yet
        const std::size_t n = p.host->tcp.read(*p.conn, std::span(read_buf_).first(want), now());
        if (n == 0) break;
        if (s_.read_per_tick > 0) budget -= static_cast<std::uint32_t>(n);
        consume(p, std::span<const std::byte>(read_buf_).first(n));
      }
    }
    if (p.peer_fin) p.eof = true;  // read everything queued before the FIN
  }

  const Scenario& s_;
  TcpSim& sim_;
  Peer a_, b_;
  Handler handler_a_, handler_b_;
  Listener* listener_ = nullptr;
  std::uint8_t pre_accept_ = 0;
  bool accept_pending_ = false;
  std::uint32_t extra_accepts_ = 0;
  std::uint32_t budget_ = 0, budget_a_ = 0, budget_b_ = 0;
  std::array<std::byte, kChunk> scratch_{}, expect_{}, read_buf_{};

 public:
  Listener* listener() const { return listener_; }
};

LinkParams without_corruption(LinkParams p) {
  p.corrupt = 0;
  return p;
}

std::string fmt_double(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string describe_link(const LinkParams& p) {
  std::string s = "rate=" + std::to_string(p.rate_bps / 1'000'000) +
                  "Mb/s delay=" + std::to_string(p.delay.count_ns() / 1000) +
                  "us queue=" + std::to_string(p.queue_limit_bytes);
  if (p.loss > 0) s += " loss=" + fmt_double(p.loss);
  if (p.reorder > 0)
    s += " reorder=" + fmt_double(p.reorder) + "/" + std::to_string(p.reorder_delay.count_ns() / 1000) + "us";
  if (p.duplicate > 0) s += " dup=" + fmt_double(p.duplicate);
  if (p.corrupt > 0) s += " corrupt=" + fmt_double(p.corrupt);
  return s;
}

std::string describe_host(const HostOptions& h) {
  const TcpConfig& c = h.tcp;
  return "mtu=" + std::to_string(h.mtu) + " mss_clamp=" + std::to_string(c.mss_clamp) +
         " rcv_buf=" + std::to_string(c.rcv_buf) + " snd_buf=" + std::to_string(c.snd_buf) +
         " ws=" + std::to_string(c.window_scaling) + " ts=" + std::to_string(c.timestamps) +
         " sack=" + std::to_string(c.sack) + " nodelay=" + std::to_string(c.nodelay) +
         " delack=" + std::to_string(c.delayed_ack.count_ms()) +
         "ms ofo_max=" + std::to_string(c.ofo_max_segments) +
         " rto_min=" + std::to_string(c.rto_min.count_ms()) + "ms dupthresh=" + std::to_string(c.dupthresh) +
         " tso=" + std::to_string(h.tso) + " keepalive=" +
         (c.keepalive ? std::to_string(c.keepalive_idle.count_ms()) + "/" +
                            std::to_string(c.keepalive_interval.count_ms()) + "ms"
                      : std::string("off"));
}

// "name=value" for every non-zero counter and drop reason.
std::string nonzero(const Counters& c) {
  std::string s;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (c.events[i] != 0)
      s += std::string(counter_name(static_cast<Counter>(i))) + "=" + std::to_string(c.events[i]) + " ";
  }
  for (std::size_t i = 0; i < kDropCount; ++i) {
    if (c.drops[i] != 0)
      s += "drop:" + std::string(drop_name(static_cast<Drop>(i))) + "=" + std::to_string(c.drops[i]) + " ";
  }
  return s;
}

}  // namespace

const char* to_string(CloseOrder c) noexcept {
  switch (c) {
    case CloseOrder::kTogether:
      return "together";
    case CloseOrder::kAFirst:
      return "A-first";
    case CloseOrder::kBFirst:
      return "B-first";
    case CloseOrder::kHalfClose:
      return "half-close";
  }
  return "?";
}

HostOptions sim_host_defaults() {
  HostOptions h;
  h.tcp.max_connections = 16;
  h.tcp.max_time_wait = 16;
  h.tcp.max_backlog = 16;
  h.tcp.syn_backlog = 16;
  return h;
}

std::string describe(const Scenario& s) {
  std::string d = "seed=" + std::to_string(s.seed) + " A>B " + std::to_string(s.bytes_ab) + " B, B>A " +
                  std::to_string(s.bytes_ba) + " B, close=" + to_string(s.close) +
                  " read_per_tick=" + std::to_string(s.read_per_tick) +
                  " zero_copy_recv=" + std::to_string(s.zero_copy_recv) +
                  " deferred_app=" + std::to_string(s.deferred_app) +
                  " send_before_connected=" + std::to_string(s.send_before_connected) +
                  " close_directly=" + std::to_string(s.close_directly) + (s.a.ipv6 ? " ipv6" : "");
  d += "\n  link A>B: " + describe_link(s.ab) + "\n  link B>A: " + describe_link(s.ba);
  d += "\n  host A: " + describe_host(s.a) + "\n  host B: " + describe_host(s.b);
  return d;
}

Scenario scenario_for_seed(std::uint64_t seed) {
  SimRng r(seed ^ 0x5EED5EED5EED5EEDull);
  Scenario s;
  s.seed = seed;
  s.a = s.b = sim_host_defaults();

  auto size = [&]() -> std::uint64_t {
    const std::uint64_t k = r.below(1000);
    if (k < 100) return 0;
    if (k < 700) return 1 + r.below(16 * 1024);
    if (k < 960) return 16 * 1024 + r.below(240 * 1024);
    if (k < 995) return 256 * 1024 + r.below(1792 * 1024);
    return 2'000'000 + r.below(8'000'000);  // a few large
  };
  s.bytes_ab = size();
  s.bytes_ba = size();
  const std::uint64_t biggest = std::max(s.bytes_ab, s.bytes_ba);

  constexpr std::uint64_t kRates[] = {10'000'000, 100'000'000, 1'000'000'000, 10'000'000'000};
  constexpr std::int64_t kDelaysUs[] = {0, 100, 1000, 5000, 20'000, 50'000, 100'000};
  LinkParams p;
  p.rate_bps = kRates[r.below(4)];
  if (p.rate_bps == 10'000'000 && biggest > 2'000'000) p.rate_bps = 100'000'000;
  p.delay = Duration::us(kDelaysUs[r.below(7)]);
  if (r.below(4) == 0) p.queue_limit_bytes = 16 * 1024 + r.below(128 * 1024);
  // Heavier impairments with smaller transfers keep the sweep's time in bounds.
  const double max_loss = biggest > 1'000'000 ? 0.02 : 0.10;
  if (r.below(2) == 0) p.loss = r.uniform() * max_loss;
  if (r.below(5) == 0) {
    p.reorder = r.uniform() * 0.1;
    p.reorder_delay = Duration::us(1 + static_cast<std::int64_t>(r.below(2000)));
  }
  if (r.below(5) == 0) p.duplicate = r.uniform() * 0.05;
  if (r.below(5) == 0) p.corrupt = r.uniform() * 0.05;
  s.ab = s.ba = p;
  if (r.below(4) == 0) {  // asymmetric: the reverse path differs
    s.ba.loss = r.below(2) == 0 ? 0 : r.uniform() * max_loss;
    s.ba.delay = Duration::us(kDelaysUs[r.below(7)]);
  }

  s.close = static_cast<CloseOrder>(r.below(4));
  for (HostOptions* h : {&s.a, &s.b}) {
    TcpConfig& c = h->tcp;
    if (r.below(8) == 0) c.window_scaling = false;
    if (r.below(8) == 0) c.timestamps = false;
    if (r.below(8) == 0) c.sack = false;
    if (r.below(4) == 0) c.nodelay = true;
    if (r.below(4) == 0) {
      constexpr std::uint32_t kBufs[] = {8 * 1024, 32 * 1024, 65535, 1 << 20};
      c.rcv_buf = kBufs[r.below(4)];
      c.snd_buf = kBufs[r.below(4)];
    }
    if (r.below(8) == 0) c.mss_clamp = static_cast<std::uint16_t>(536 + r.below(1000));
    if (r.below(8) == 0) c.delayed_ack = Duration::ms(1 + static_cast<std::int64_t>(r.below(200)));
  }
  if (r.below(10) == 0) s.a.mtu = s.b.mtu = 1280;
  if (r.below(6) == 0 && biggest <= 256 * 1024)
    s.read_per_tick = 1 + static_cast<std::uint32_t>(r.below(8192));
  s.zero_copy_recv = r.below(2) == 0;
  s.deferred_app = r.below(2) == 0;
  s.send_before_connected = r.below(4) == 0;
  s.close_directly = r.below(4) == 0;
  // Drawn last, so the parameters above stay what they were for every seed.
  for (HostOptions* h : {&s.a, &s.b}) {
    TcpConfig& c = h->tcp;
    if (r.below(8) == 0) c.ofo_max_segments = static_cast<std::uint16_t>(1 + r.below(8));
    if (r.below(8) == 0) c.rto_min = Duration::ms(10 + static_cast<std::int64_t>(r.below(190)));
    if (r.below(8) == 0) c.dupthresh = static_cast<std::uint32_t>(1 + r.below(6));
    if (r.below(8) == 0) {
      c.keepalive = true;
      c.keepalive_idle = Duration::ms(100 + static_cast<std::int64_t>(r.below(2000)));
      c.keepalive_interval = Duration::ms(100 + static_cast<std::int64_t>(r.below(1000)));
    }
  }
  // TSO, drawn after everything else for the same reason.
  for (HostOptions* h : {&s.a, &s.b}) h->tso = r.below(2) == 0;
  return s;
}

namespace {

// A side that gives up on its retransmissions (R2, RFC 9293 §3.8.3) after
// the link lost everything its peer sent it for at least as many timeouts
// in a row as an orphan is allowed ([tcp] orphan_retries, or retries if
// fewer) did what RFC 9293 and Linux do; its streams cannot complete, and
// that is the network's doing, not a failure. Seed 2963 of 100,000: 9 %
// loss each way, B an orphan, its last segment and A's ACKs of it lost
// nine timeouts in a row (the four retransmissions that reached A were
// ACKed, and each ACK was lost). Watched step by step from the counters
// and the link: a frame delivered to the side ends a series.
struct GiveUpWatch {
  std::uint64_t timeouts = 0;   // the side's TCPTimeouts at the last step
  std::uint64_t delivered = 0;  // frames delivered to it at the last step
  std::uint64_t lost = 0;       // frames to it lost at the last step
  std::uint64_t lost_in_series = 0;
  std::uint32_t series = 0;  // timeouts since it last heard anything
  bool aborted = false;
  bool unheard = false;  // its abort ended a series of at least `limit`, nothing heard

  void step(TcpSim& sim, Side side, std::uint32_t limit) {
    const Counters& c = sim.host(side).counters;
    const LinkCounts& in = sim.link().counts(other(side));
    if (in.delivered != delivered) {
      series = 0;
      lost_in_series = 0;
    }
    lost_in_series += in.lost - lost;
    series += static_cast<std::uint32_t>(c.get(Counter::kTCPTimeouts) - timeouts);
    timeouts = c.get(Counter::kTCPTimeouts);
    delivered = in.delivered;
    lost = in.lost;
    if (!aborted && c.get(Counter::kTCPAbortOnTimeout) > 0) {
      aborted = true;
      unheard = series >= limit && lost_in_series > 0;
    }
  }
};

std::uint32_t give_up_limit(const TcpConfig& c) noexcept {
  return std::min(c.retries, c.orphan_retries) + 1;  // the aborting timeout counts too
}

}  // namespace

Outcome run_scenario(const Scenario& s, const SimPools& pools, std::size_t trace_lines) {
  Outcome o;
  const unsigned base_a = rte_mempool_in_use_count(pools.a);
  const unsigned base_b = rte_mempool_in_use_count(pools.b);
  std::string f;
  {
    TcpSimOptions so;
    so.seed = s.seed;
    so.ab = without_corruption(s.ab);
    so.ba = without_corruption(s.ba);
    so.a = s.a;
    so.b = s.b;
    so.trace = trace_lines > 0;
    TcpSim sim(so, pools);
    {
      Apps apps(s, sim);
      std::array<GiveUpWatch, 2> watch{};
      sim.set_hook([&](Instant now) {
        if (s.link_schedule) s.link_schedule(now, sim.link());
        apps.on_step(now);
        if (s.observe) s.observe(sim, now);
        watch[0].step(sim, Side::kA, give_up_limit(s.a.tcp));
        watch[1].step(sim, Side::kB, give_up_limit(s.b.tcp));
      });
      const Instant limit = Instant{} + s.time_limit;
      if (apps.listen() && apps.connect()) {
        if (!sim.run_until([&] { return apps.done(); }, limit))
          f += "not finished after " + format_time(limit) + " s of virtual time\n";
      }
      for (std::size_t i = 0; i < watch.size(); ++i) {
        if (!watch[i].unheard) continue;
        o.gave_up = std::string(i == 0 ? "A" : "B") + " gave up after " + std::to_string(watch[i].series) +
                    " timeouts in a row, all " + std::to_string(watch[i].lost_in_series) +
                    " frames to it lost";
      }
      apps.report(f, !o.gave_up.empty());
      o.end = sim.now();
      // Let the last frames land (a TIME_WAIT ACK, duplicates) so the pools can settle.
      sim.set_hook(nullptr);
      sim.run_until([&] { return sim.link().in_flight() == 0; }, sim.now() + Duration::s(5));
      sim.a().tcp.set_handler(nullptr);
      sim.b().tcp.set_handler(nullptr);
    }
    for (Side side : {Side::kA, Side::kB}) {
      SimHost& h = sim.host(side);
      const char* n = side == Side::kA ? "A" : "B";
      if (h.tcp.connections() != 0)
        f +=
            std::string(n) + ": " + std::to_string(h.tcp.connections()) + " connections still in the table\n";
      h.tcp.for_each_connection(
          [&](const Tcb& c) { f += std::string(n) + ":   state " + std::string(to_string(c.state)) + "\n"; });
      if (f.empty() && h.tcp.tcbs_in_use() != 0)
        f += std::string(n) + ": " + std::to_string(h.tcp.tcbs_in_use()) + " TCBs in use after both closed\n";
    }
    if (f.empty()) {
      // Each stack's stash of reset header mbufs (at most
      // TcpStack::kHeaderMbufsKept) is out of its pool too.
      const unsigned sa = sim.a().tcp.header_mbufs_held(), sb = sim.b().tcp.header_mbufs_held();
      const unsigned ua = rte_mempool_in_use_count(pools.a) - sa, ub = rte_mempool_in_use_count(pools.b) - sb;
      if (ua != base_a || ub != base_b || sa > TcpStack::kHeaderMbufsKept || sb > TcpStack::kHeaderMbufsKept)
        f += "mbufs held after both connections closed: A " + std::to_string(ua - base_a) + ", B " +
             std::to_string(ub - base_b) + " (header stashes " + std::to_string(sa) + ", " +
             std::to_string(sb) + ")\n";
    }
    o.a = sim.a().counters;
    o.b = sim.b().counters;
    o.ab = sim.link().counts(Side::kA);
    o.ba = sim.link().counts(Side::kB);
    if (trace_lines > 0) o.trace = sim.trace_tail(trace_lines);
  }
  const unsigned ua = rte_mempool_in_use_count(pools.a), ub = rte_mempool_in_use_count(pools.b);
  if (ua != base_a || ub != base_b)
    f += "mbufs leaked after tear-down: A " + std::to_string(static_cast<int>(ua - base_a)) + ", B " +
         std::to_string(static_cast<int>(ub - base_b)) + "\n";
  o.failures = std::move(f);
  o.ok = o.failures.empty();
  return o;
}

std::string check_scenario(const Scenario& s, const SimPools& pools, std::size_t trace_lines) {
  return check_outcome(s, pools, run_scenario(s, pools), trace_lines);
}

std::string check_outcome(const Scenario& s, const SimPools& pools, const Outcome& first,
                          std::size_t trace_lines) {
  if (first.ok) return {};
  const Outcome again = run_scenario(s, pools, trace_lines);
  std::string r = "FAILED " + describe(s) + "\n" + first.failures;
  if (again.failures != first.failures)
    r += "NOT DETERMINISTIC: the traced re-run gave:\n" +
         (again.ok ? std::string("(pass)\n") : again.failures);
  r += "link A>B: sent " + std::to_string(first.ab.sent) + " lost " + std::to_string(first.ab.lost) +
       " corrupted " + std::to_string(first.ab.corrupted) + "; B>A: sent " + std::to_string(first.ba.sent) +
       " lost " + std::to_string(first.ba.lost) + " corrupted " + std::to_string(first.ba.corrupted) + "\n";
  r += "counters A: " + nonzero(first.a) + "\ncounters B: " + nonzero(first.b) + "\n";
  r += "trace (last " + std::to_string(trace_lines) + " frames):\n" + again.trace;
  return r;
}

// ---- SYN flood ----------------------------------------------------------------

namespace {

void put16(std::byte* p, std::uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}
void put32(std::byte* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}
// RFC 1071, written out here so a checksum bug in lib/wire cannot hide.
std::uint32_t sum16(const std::byte* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(p[i]) << 8 |
                                      std::to_integer<std::uint8_t>(p[i + 1]));
  if (n % 2 != 0) sum += static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(p[n - 1]) << 8);
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// A SYN from a spoofed off-link source (198.18.0.0/15, RFC 2544's benchmark
// range) with an MSS option, as if it had arrived through B's router.
Mbuf spoofed_syn(rte_mempool* pool, SimRng& r) {
  Mbuf m = Mbuf::alloc(pool);
  if (!m) return m;
  constexpr std::uint16_t kLen = 14 + 20 + 24;
  auto f = m.append(kLen);
  std::memset(f.data(), 0, kLen);
  std::byte* p = f.data();
  const std::uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x02};
  const std::uint8_t mac_r[6] = {0x02, 0, 0, 0, 0, 0xFE};
  for (int i = 0; i < 6; ++i) {
    p[i] = static_cast<std::byte>(mac_b[i]);
    p[6 + i] = static_cast<std::byte>(mac_r[i]);
  }
  put16(p + 12, 0x0800);
  std::byte* ip = p + 14;
  const std::uint32_t src = 0xC6120000u | static_cast<std::uint32_t>(r.below(1u << 17));
  ip[0] = std::byte{0x45};
  put16(ip + 2, 20 + 24);
  put16(ip + 4, static_cast<std::uint16_t>(r.next()));
  ip[8] = std::byte{64};
  ip[9] = std::byte{6};
  put32(ip + 12, src);
  put32(ip + 16, kAddrB);
  put16(ip + 10, fold(sum16(ip, 20)));
  std::byte* t = ip + 20;
  put16(t, static_cast<std::uint16_t>(1024 + r.below(64000)));
  put16(t + 2, kPort);
  put32(t + 4, static_cast<std::uint32_t>(r.next()));
  t[12] = std::byte{6 << 4};
  t[13] = std::byte{0x02};  // SYN
  put16(t + 14, 64240);
  t[20] = std::byte{2};
  t[21] = std::byte{4};
  put16(t + 22, 1460);
  std::byte pseudo[12] = {};
  put32(pseudo, src);
  put32(pseudo + 4, kAddrB);
  pseudo[9] = std::byte{6};
  put16(pseudo + 10, 24);
  put16(t + 16, fold(sum16(t, 24, sum16(pseudo, 12))));
  return m;
}

}  // namespace

SynFloodOutcome run_syn_flood(const SynFlood& fl, const SimPools& pools) {
  SynFloodOutcome o;
  const unsigned base_a = rte_mempool_in_use_count(pools.a);
  const unsigned base_b = rte_mempool_in_use_count(pools.b);
  std::string f;
  {
    Scenario s;
    s.seed = fl.seed;
    s.ab = s.ba = fl.link;
    s.bytes_ab = fl.bytes_ab;
    s.a = s.b = sim_host_defaults();
    s.b.tcp.max_connections = fl.syn_backlog * 2 + 64;
    s.b.tcp.syn_backlog = fl.syn_backlog;
    // B answers spoofed sources through its router, A (which drops them: not for it).
    s.b.gateway = kAddrA;

    TcpSimOptions so;
    so.seed = s.seed;
    so.ab = s.ab;
    so.ba = s.ba;
    so.a = s.a;
    so.b = s.b;
    so.trace = fl.trace_lines > 0;
    TcpSim sim(so, pools);
    SimRng rng(fl.seed ^ 0xF100Dull);
    {
      Apps apps(s, sim);
      bool started = false;
      std::uint32_t injected = 0;
      const std::int64_t ticks = std::max<std::int64_t>(1, fl.spread.count_ns() / kTick.count_ns());
      std::int64_t tick = 0;
      // B listens before the flood; A connects at connect_at.
      if (!apps.listen()) f += "listen() failed\n";
      sim.set_hook([&](Instant now) {
        apps.on_step(now);
        o.max_tcbs_b = std::max(o.max_tcbs_b, sim.b().tcp.tcbs_in_use());
        if (!started && now >= Instant{} + fl.connect_at) {
          started = true;
          if (!apps.connect()) f += "connect() failed\n";
        }
      });
      Instant next_tick_seen = Instant{};
      const Instant limit = Instant{} + Duration::s(30 * 60);
      while (!apps.released()) {
        if (!sim.step(limit)) {
          f += "not finished after 30 min of virtual time\n";
          break;
        }
        // Spread the SYNs evenly over the ticks of `spread`.
        if (sim.now() >= next_tick_seen && injected < fl.syns) {
          next_tick_seen = sim.now() + kTick;
          ++tick;
          const auto due =
              static_cast<std::uint32_t>(std::min<std::int64_t>(fl.syns, fl.syns * tick / ticks));
          for (; injected < due; ++injected) {
            Mbuf m = spoofed_syn(pools.b, rng);
            if (!m) {
              f += "pool exhausted building SYNs\n";
              break;
            }
            sim.inject(Side::kB, std::move(m));
          }
        }
      }
      o.transfer_done = sim.now();
      apps.report(f);
      // Let the half-open children time out (SYN-ACK retries) and the flood finish.
      sim.set_hook([&](Instant) { o.max_tcbs_b = std::max(o.max_tcbs_b, sim.b().tcp.tcbs_in_use()); });
      while (injected < fl.syns) {
        if (!sim.step(limit)) break;
        if (sim.now() >= next_tick_seen) {
          next_tick_seen = sim.now() + kTick;
          ++tick;
          const auto due =
              static_cast<std::uint32_t>(std::min<std::int64_t>(fl.syns, fl.syns * tick / ticks));
          for (; injected < due; ++injected) sim.inject(Side::kB, spoofed_syn(pools.b, rng));
        }
      }
      sim.run_until(
          [&] { return apps.done() && sim.b().tcp.tcbs_in_use() == 0 && sim.link().in_flight() == 0; },
          sim.now() + Duration::s(300));
      if (!apps.done()) f += "connections still in the tables 300 s after the flood\n";
      sim.a().tcp.set_handler(nullptr);
      sim.b().tcp.set_handler(nullptr);
      sim.set_hook(nullptr);
    }
    if (sim.b().tcp.tcbs_in_use() != 0)
      f += "B: " + std::to_string(sim.b().tcp.tcbs_in_use()) + " TCBs still in use after the flood\n";
    if (sim.a().tcp.tcbs_in_use() != 0)
      f += "A: " + std::to_string(sim.a().tcp.tcbs_in_use()) + " TCBs still in use\n";
    if (o.max_tcbs_b > fl.syn_backlog + 4)
      f += "B: TCB high-water mark " + std::to_string(o.max_tcbs_b) + " above syn_backlog + 4\n";
    o.a = sim.a().counters;
    o.b = sim.b().counters;
    if (o.b.get(Counter::kSyncookiesSent) == 0) f += "B: no SYN cookies sent\n";
    if (fl.trace_lines > 0) {
      std::vector<const std::string*> mine;
      for (const std::string& line : sim.trace()) {
        if (line.find(" > 198.18.") == std::string::npos) mine.push_back(&line);
      }
      const std::size_t first = mine.size() > fl.trace_lines ? mine.size() - fl.trace_lines : 0;
      for (std::size_t i = first; i < mine.size(); ++i) o.trace += *mine[i] + "\n";
    }
    // Each stack's header stash (at most TcpStack::kHeaderMbufsKept) is
    // out of its pool too.
    const unsigned sa = sim.a().tcp.header_mbufs_held(), sb = sim.b().tcp.header_mbufs_held();
    const unsigned ua = rte_mempool_in_use_count(pools.a) - sa, ub = rte_mempool_in_use_count(pools.b) - sb;
    if (ua != base_a || ub != base_b || sa > TcpStack::kHeaderMbufsKept || sb > TcpStack::kHeaderMbufsKept)
      f += "mbufs held after the flood: A " + std::to_string(static_cast<int>(ua - base_a)) + ", B " +
           std::to_string(static_cast<int>(ub - base_b)) + " (header stashes " + std::to_string(sa) + ", " +
           std::to_string(sb) + ")\n";
  }
  const unsigned ua = rte_mempool_in_use_count(pools.a), ub = rte_mempool_in_use_count(pools.b);
  if (ua != base_a || ub != base_b)
    f += "mbufs leaked after tear-down: A " + std::to_string(static_cast<int>(ua - base_a)) + ", B " +
         std::to_string(static_cast<int>(ub - base_b)) + "\n";
  o.failures = std::move(f);
  o.ok = o.failures.empty();
  return o;
}

}  // namespace tern::sim
