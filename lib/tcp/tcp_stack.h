#pragma once
// One worker's TCP: connection table, TCB pool, listeners with their SYN and
// accept queues, SYN cookies, ISNs, the TIME_WAIT table and the timer wheel
// (DESIGN.md "TCP engine"). I/O-free and clock-free: segments come in through
// on_segment() with `now`, time through on_timer(), and every segment to send
// goes to the SegmentSink.
//
// Segment arrival follows RFC 9293 §3.10.7 (tcp_input.cc), building segments
// tcp_output.cc, timers tcp_timers.cc, listeners tcp_listen.cc, and the
// application calls tcp_stack.cc.
//
// Application model (the public API of issue 4 wraps this): a Tcb* handed
// out by connect() or accept() stays valid until the application calls
// close() or abort(); after that the engine owns it (FIN_WAIT_*, LAST_ACK ...)
// and frees it itself. Events reach the TcpHandler after the call that caused
// them returns, never from inside a half-processed segment.
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/counters.h"
#include "base/instant.h"
#include "base/mbuf.h"
#include "base/timer_wheel.h"
#include "config/config.h"
#include "ip/pmtu_cache.h"
#include "tcp/conn_table.h"
#include "tcp/isn.h"
#include "tcp/segment.h"
#include "tcp/segment_sink.h"
#include "tcp/syn_cookie.h"
#include "tcp/tcb.h"
#include "tcp/time_wait.h"
#include "tern/connection_info.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern {

struct IcmpUnreachable;  // ip/ip_layer.h

// In-order arrivals ACKed at once, each, once a hole has filled (Linux's
// quick-ACK mode after out-of-order data, TCP_MAX_QUICKACKS):
// TcpStack::ack_now_or_later.
inline constexpr std::uint8_t kAcksAfterHole = 16;

// Which families a listener takes. A listener on a port takes both unless
// told otherwise, like Linux's [::] socket with IPV6_V6ONLY off.
enum class ListenFamily : std::uint8_t { kBoth, kV4Only, kV6Only };

class TcpHandler {
 public:
  virtual ~TcpHandler() = default;
  // `events` is a set of kTcpEv* bits.
  virtual void on_event(Tcb& c, std::uint8_t events) = 0;
  // The listener's accept queue is no longer empty.
  virtual void on_acceptable(Listener& l) = 0;
};

class Listener {
 public:
  std::uint16_t port() const noexcept { return port_; }
  ListenFamily family() const noexcept { return family_; }
  // Whether a SYN from this family is for this listener.
  bool takes(bool v4) const noexcept {
    return family_ == ListenFamily::kBoth || (family_ == ListenFamily::kV4Only) == v4;
  }
  std::uint32_t backlog() const noexcept { return backlog_; }
  std::uint32_t accept_queue_size() const noexcept { return accepted_; }
  std::uint32_t syn_queue_size() const noexcept { return half_open_; }
  void* user = nullptr;

 private:
  friend class TcpStack;
  std::uint16_t port_ = 0;
  ListenFamily family_ = ListenFamily::kBoth;
  std::uint32_t backlog_ = 0;
  std::uint32_t half_open_ = 0;  // children in SYN_RECEIVED (the SYN queue)
  std::uint32_t accepted_ = 0;   // established children waiting for accept()
  Tcb* accept_head_ = nullptr;
  Tcb* accept_tail_ = nullptr;
  bool ready_pending_ = false;
  bool defer_accept_ = false;
  std::uint32_t window_clamp_ = 0;  // TCP_WINDOW_CLAMP its children inherit (0: none)
  // When this listener last answered a SYN with a cookie, if ever. An ACK is
  // checked as a cookie only while one it sent could still be valid (Linux's
  // tcp_synq_no_recent_overflow); otherwise it is a stray ACK, answered with
  // RST as at any port without a connection.
  std::optional<Instant> cookie_sent_at_;
};

enum class ConnectError : std::uint8_t {
  kNone,
  kNoPorts,     // EADDRNOTAVAIL: every ephemeral port is in use for this destination
  kNoMemory,    // ENOBUFS: TCB pool exhausted
  kBadAddress,  // EINVAL: zero address or port, or connecting to ourselves
  kInUse,       // EADDRINUSE: the explicit local port is taken for this destination
  kNoSource,    // EADDRNOTAVAIL: no usable source address (IPv6: duplicate address detection running)
};

struct TcpStackOptions {
  std::uint32_t local_addr = 0;  // host order; 0: no IPv4 (connect to IPv4 refused)
  // The source for connections to IPv6 peers; "::" (unset): IPv6 connect is
  // refused with kNoSource. Passive opens answer from the address the SYN
  // was sent to, either family.
  IpAddr local_addr6;
  // The link MTU: MSS = MTU - 40 over IPv4, MTU - 60 over IPv6 (RFC 9293
  // §3.7.1, RFC 8200 §8.3; IPv6 never below 1220, RFC 8200 §5's 1280).
  std::uint16_t mtu = 1500;
  TcpConfig cfg;
  std::array<std::uint8_t, 16> isn_key{};
  std::array<std::uint8_t, 16> cookie_key{};
  std::uint64_t hash_seed = 0;  // connection / TIME_WAIT tables
  std::uint64_t port_seed = 0;  // RFC 6056 ephemeral port choice
  Duration timer_tick = Duration::ms(1);
  // Frames may arrive in a sibling worker's pool (software steering with
  // several workers): data about to be queued is copied into this
  // worker's pool first (adopt_foreign).
  bool adopt_foreign_frames = false;
  // The port sums TCP checksums (RTE_MBUF_F_TX_TCP_CKSUM): segments leave
  // with the pseudo-header sum in the field and the NIC does the rest.
  bool tx_checksum_offload = false;
  // Payloads up to this many bytes are copied into the segment's header
  // mbuf; longer ones go as indirect slices of the send queue. An attach and
  // its detach cost an indirect mbuf and two atomic reference-count updates
  // on the queue's mbuf, more than copying a few hundred bytes; a port that
  // copies every frame anyway (PortInfo::tx_gathers_by_dma false) makes
  // copying the whole payload cheapest (bench/fast_path/README.md).
  std::uint32_t tx_copy_max = kTxCopyMaxGather;
  static constexpr std::uint32_t kTxCopyMaxGather = 512;
  static constexpr std::uint32_t kTxCopyMaxAlways = 65535;
  // The port cuts TCP/IPv4 segments itself (PortInfo::tx_tso, [port] tso):
  // new data then leaves as super-segments of up to this many payload
  // bytes, a whole number of MSS, which the port cuts into wire segments
  // (RTE_MBUF_F_TX_TCP_SEG, tso_segsz = MSS). 0: every wire segment is
  // built here. Needs tx_checksum_offload (TSO implies it).
  std::uint32_t tso_max = 0;
  // The most one IPv4 datagram holds (65,535 bytes) less the IP header and
  // a TCP header with the most options.
  static constexpr std::uint32_t kTsoMaxPayload = 65535 - 20 - 60;
  // Transmit logs (tx_log.h) in the worker's pool; unset: one per eight
  // connections, at least 16. Tests set it to run a pool dry.
  std::optional<std::uint32_t> tx_logs;
  // Header prediction's ACK of new data, and the ACK of our SYN or FIN,
  // take the short path (fast_ack, tcp_fast_ack.cc) when the connection's
  // loss-recovery state allows it.
  // Tests clear it to compare the short path's results with the full one's.
  bool fast_ack = true;
};

// TCP_WINDOW_CLAMP's floor: Linux raises smaller values to SOCK_MIN_RCVBUF / 2
// (2304 bytes on 64-bit), so a clamped window still takes a segment.
inline constexpr std::uint32_t kMinWindowClamp = 2304;

// The window shift we announce: the smallest that lets `rcv_buf` be
// advertised, at most 14 (RFC 7323 §2.3).
constexpr std::uint8_t rcv_wscale_for(std::uint32_t rcv_buf) noexcept {
  std::uint8_t s = 0;
  while (s < 14 && (rcv_buf >> s) > 65535) ++s;
  return s;
}

class TcpStack {
 public:
  // `pool` supplies header mbufs and copies; `clone_pool` the indirect mbufs
  // that reference send-queue data (may be the same pool).
  TcpStack(const TcpStackOptions& o, Counters& counters, SegmentSink& sink, rte_mempool* pool,
           rte_mempool* clone_pool, Instant start);
  ~TcpStack();
  TcpStack(const TcpStack&) = delete;
  TcpStack& operator=(const TcpStack&) = delete;

  void set_handler(TcpHandler* h) noexcept { handler_ = h; }
  TcpHandler* handler() const noexcept { return handler_; }

  // Active open only picks local ports the filter accepts. The runtime uses
  // it so that a connection's replies are steered to the connecting worker
  // (DESIGN.md "Cores, queues and steering").
  using PortFilter = bool (*)(void* ctx, const FourTuple& t);
  void set_port_filter(PortFilter fn, void* ctx) noexcept {
    port_filter_ = fn;
    port_filter_ctx_ = ctx;
  }
  // The source address for an active open to an IPv6 peer: the IP layer's
  // choice (RFC 6724), so that segments leave from the address their
  // checksum covers. Unset: TcpStackOptions::local_addr6. "::" from the
  // selector: no address is usable yet (tentative), connect() fails kNoSource.
  using SourceSelector = IpAddr (*)(void* ctx, const IpAddr& dst);
  void set_source_selector(SourceSelector fn, void* ctx) noexcept {
    source_for_ = fn;
    source_ctx_ = ctx;
  }

  // ---- network side ----
  // A TCP segment addressed to us: `frame` holds it at l4_offset, l4_len
  // bytes long (IPv4 delivered it; host-order addresses). The stack takes
  // ownership.
  void on_segment(std::uint32_t src, std::uint32_t dst, Mbuf frame, std::uint16_t l4_offset,
                  std::uint16_t l4_len, Instant now) noexcept {
    receive(IpAddr::v4(src), IpAddr::v4(dst), std::move(frame), l4_offset, l4_len, now);
  }
  // The same, delivered by IPv6: `src` and `dst` are IPv6 addresses (the IP
  // layer drops IPv4-mapped ones, RFC 4291 §2.5.5.2); l4_offset is past the
  // extension headers, the checksum is over the IPv6 pseudo-header (RFC 8200 §8.1).
  void on_segment6(const IpAddr& src, const IpAddr& dst, Mbuf frame, std::uint16_t l4_offset,
                   std::uint16_t l4_len, Instant now) noexcept {
    receive(src, dst, std::move(frame), l4_offset, l4_len, now);
  }
  // An ICMP Destination Unreachable quoting one of our segments (tcp_icmp.cc).
  void on_icmp_unreachable(const IcmpUnreachable& u, Instant now) noexcept;
  // An ICMPv6 error (RFC 4443) quoting one of our segments: `src` and `dst`
  // its addresses (ours, the peer's), `quote` its TCP header (8 bytes at
  // least), `param` the message's four-byte parameter (Packet Too Big: the
  // MTU). Destination Unreachable as above; Packet Too Big lowers the
  // connection's path MTU (RFC 8201); the rest ignored (tcp_icmp.cc).
  void on_icmpv6_error(std::uint8_t type, std::uint8_t code, std::uint32_t param, const IpAddr& src,
                       const IpAddr& dst, std::span<const std::byte> quote, Instant now) noexcept;
  // Fires due timers and expires TIME_WAIT records. Call at least once per tick.
  // Runs on_pacing first, so a worker polling in a loop paces to its poll.
  void on_timer(Instant now) noexcept;
  // Sends for the paced connections whose next-send time has come
  // (tcp_pacing.cc); pacing_deadline() is the earliest such time, or
  // Instant::max(). A worker calls it on every poll (through on_timer).
  void on_pacing(Instant now) noexcept;
  Instant pacing_deadline() const noexcept { return pace_earliest_; }
  // A receive burst (tcp_output.cc): between begin_burst() and end_burst(),
  // a pure ACK the stack would send waits for end_burst, so that data
  // the application sends in answer (its callbacks run in between) carries
  // it, and a connection that received several segments in the burst
  // answers them with one ACK. A worker brackets each poll with them; the
  // simulator and the scripted tests ACK at once unless they ask for this.
  void begin_burst() noexcept { burst_ = true; }
  void end_burst(Instant now) noexcept {
    burst_ = false;
    if (ack_head_ != nullptr) send_deferred_acks(now);
  }

  // ---- application side ----
  // nullptr if the port already has a listener or backlog is 0. backlog is
  // capped at cfg.max_backlog (somaxconn). One listener per port, taking
  // the families `family` names (both by default); a SYN of another family
  // is answered as at a closed port.
  Listener* listen(std::uint16_t port, std::uint32_t backlog, ListenFamily family = ListenFamily::kBoth);
  void unlisten(Listener* l, Instant now) noexcept;  // resets its unaccepted children
  // Only wake the application when the first data arrives (TCP_DEFER_ACCEPT).
  void set_defer_accept(Listener& l, bool on) noexcept { l.defer_accept_ = on; }
  // TCP_WINDOW_CLAMP on a listener: its children inherit it, and the
  // SYN-ACK's window scale and window are chosen within it (Linux's
  // tcp_openreq_init_rwin). 0 clears it; others are raised to
  // kMinWindowClamp, as in set_window_clamp(Tcb&).
  void set_window_clamp(Listener& l, std::uint32_t bytes) noexcept {
    l.window_clamp_ = bytes == 0 ? 0 : std::max(bytes, kMinWindowClamp);
  }
  // The oldest established child, or nullptr.
  Tcb* accept(Listener& l) noexcept;

  // Active open (RFC 9293 §3.10.1). lport 0 picks an ephemeral port (RFC 6056).
  // `raddr` in host order (IPv4), from local_addr.
  Tcb* connect(std::uint32_t raddr, std::uint16_t rport, Instant now, ConnectError* err = nullptr,
               std::uint16_t lport = 0) noexcept {
    return connect(IpAddr::v4(raddr), rport, now, err, lport);
  }
  // Either family: IPv4 from local_addr, IPv6 from local_addr6.
  Tcb* connect(const IpAddr& raddr, std::uint16_t rport, Instant now, ConnectError* err = nullptr,
               std::uint16_t lport = 0) noexcept;

  // Zero-copy send: queues the whole chain or nothing (false: its truesize
  // exceeds send_space, or the connection can no longer send). Taken, the engine owns
  // the mbufs and frees them once acknowledged; refused, `data` is left with
  // the caller untouched (to retry on kTcpEvWritable).
  bool send(Tcb& c, Mbuf&& data, Instant now) noexcept;
  // Copying send: queues as much of `data` as fits in send_space (filling
  // the last copied mbuf first); returns the bytes taken.
  std::size_t send_copy(Tcb& c, std::span<const std::byte> data, Instant now) noexcept;
  // What c's send queue may hold now, in truesize (docs/architecture.md
  // "Memory model"): snd_buf (SO_SNDBUF, counted as Linux counts
  // sk_wmem_queued); under pressure at most kSendCapPressure, as Linux's
  // sk_stream_moderate_sndbuf stops send buffers growing; at the high level
  // a queue that holds data takes no more and an empty one one full
  // segment, so each connection keeps moving while thousands of
  // non-readers cannot pile up more (the send side of rcv_limit).
  static constexpr std::uint32_t kSendCapPressure = 64 * 1024;
  std::uint32_t snd_limit(const Tcb& c) noexcept {
    switch (mem_.level()) {
      case MemLevel::kNormal:
        break;
      case MemLevel::kPressure:
        return std::min(c.snd_buf, kSendCapPressure);
      case MemLevel::kHigh:
        return c.sndq.empty() ? std::min(c.snd_buf, full_seg_truesize_) : 0;
    }
    return c.snd_buf;
  }
  // Truesize the application may still queue on c now: 0 unless at least
  // one of the pool's mbufs fits, so that space means progress.
  std::uint32_t send_space(const Tcb& c) noexcept {
    const std::uint32_t limit = snd_limit(c), queued = c.sndq.truesize();
    return queued + mbuf_truesize_ > limit ? 0 : limit - queued;
  }
  // A refused writer is told once the queue is down to snd_lowat and may
  // take something again.
  bool writable_due(const Tcb& c) noexcept {
    return c.writable_wanted && c.sndq.truesize() <= c.snd_lowat && send_space(c) > 0;
  }
  // Zero-copy receive: all in-order data queued, or an empty Mbuf.
  Mbuf recv(Tcb& c, Instant now) noexcept;
  // The same for the application (the API): the chain leaves the queue's
  // charge for the Buffer's, so the worker's account counts it until the
  // application frees, releases or sends it (tern/buffer.h).
  Buffer recv_charged(Tcb& c, Instant now) noexcept {
    // Nothing queued: the call that ends an application's read loop (once
    // per on_data, so once per request/response segment). What recv() then
    // does, its dispatch, without the call.
    if (!c.rcvq.holds_chain()) {
      dispatch();
      return Buffer{};
    }
    const std::uint32_t held = c.rcvq.truesize();
    Buffer b{recv(c, now)};
    if (b) b.charge_to(mem_, held);
    return b;
  }
  // Copying receive.
  std::size_t read(Tcb& c, std::span<std::byte> out, Instant now) noexcept;
  // shutdown(SHUT_WR): a FIN follows the queued data (RFC 9293 §3.10.4).
  void shutdown_write(Tcb& c, Instant now) noexcept;
  // close(): graceful, like shutdown_write plus letting go; with unread data
  // it resets instead (RFC 9293 §3.10.4 / Linux). The Tcb* is invalid after.
  void close(Tcb& c, Instant now) noexcept;
  // SO_LINGER 0: RST now (when synchronized) and free now. Invalid after.
  void abort(Tcb& c, Instant now) noexcept;
  void set_nodelay(Tcb& c, bool on, Instant now) noexcept;
  void set_cork(Tcb& c, bool on, Instant now) noexcept;
  void set_keepalive(Tcb& c, bool on, Instant now) noexcept;
  // TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT for this connection.
  void set_keepalive_params(Tcb& c, Duration idle, Duration interval, std::uint32_t probes,
                            Instant now) noexcept;
  // TCP_USER_TIMEOUT (RFC 5482; tcp_timers.cc): sent data unacknowledged,
  // or a zero window shut, for `timeout` aborts the connection (RST,
  // kTimedOut, TCPAbortOnTimeout); with keepalive on, it replaces the probe
  // count. Zero turns it off. A timer already running falls due by then.
  void set_user_timeout(Tcb& c, Duration timeout, Instant now) noexcept;
  // TCP_WINDOW_CLAMP: the window we advertise offers at most `bytes`
  // (raised to kMinWindowClamp), and receive autotuning stops at the
  // buffer that fills it. An edge already advertised stays (RFC 9293
  // §3.8.6). Before our SYN leaves the window scale is chosen within it
  // too; after, the scale announced stays. 0 is refused by the API.
  void set_window_clamp(Tcb& c, std::uint32_t bytes, Instant now) noexcept;
  // SO_SNDBUF and SO_SNDLOWAT, in truesize: send() is refused past `bytes`
  // of queued buffer (raised to two of the pool's mbufs at least, as Linux
  // raises it to SOCK_MIN_SNDBUF), and kTcpEvWritable fires once the queue
  // falls to `lowat` (capped at the buffer).
  void set_send_buffer(Tcb& c, std::uint32_t bytes, std::uint32_t lowat, Instant now) noexcept;
  // Asks for kTcpEvWritable as a refused send would, without one: once the
  // queue is down to snd_lowat and send_space() is not 0; posted now if that
  // is already so. For a writer that found no space and has nothing it can
  // offer (a copying write could still be taken by the tail mbuf's unused
  // room, so offering a byte is not a safe way to ask).
  void want_writable(Tcb& c) noexcept;
  // Send-buffer autotuning (tcp_stack.cc): room for two congestion windows,
  // up to [tcp] snd_buf_max, when a write does not fit.
  void snd_buf_expand(Tcb& c) noexcept;
  // SO_RCVBUF: fixes the buffer, which autotuning then leaves alone (as
  // Linux's SOCK_RCVBUF_LOCK). The window scale was fixed at the handshake
  // (rcv_ceiling), so the advertised window cannot exceed 65535 << rcv_wscale.
  void set_receive_buffer(Tcb& c, std::uint32_t bytes, Instant now) noexcept;
  // Autotuning's ceiling for one connection's buffer: the configured one,
  // but at most an eighth of the worker's buffer budget, so that a few fast
  // connections cannot take the worker to pressure, which would clamp every
  // connection's window and send buffer (docs/architecture.md "Memory model").
  std::uint32_t autotune_cap(std::uint32_t configured) const noexcept {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(configured, mem_.limits().high / 8));
  }
  // The most c's receive buffer may become, which sizes the window scale we
  // announce: rcv_buf_max (capped) while autotuning may grow it, else rcv_buf.
  std::uint32_t rcv_ceiling(const Tcb& c) const noexcept {
    return c.rcv_buf_locked ? c.rcv_buf : std::max(c.rcv_buf, autotune_cap(o_.cfg.rcv_buf_max));
  }
  // The window shift to announce in c's SYN or SYN-ACK: room for the
  // ceiling, or for the window clamp where that is smaller (Linux's
  // tcp_select_initial_window).
  std::uint8_t wscale_to_announce(const Tcb& c) const noexcept {
    const std::uint32_t ceiling = rcv_ceiling(c);
    return rcv_wscale_for(c.window_clamp != 0 ? std::min(ceiling, c.window_clamp) : ceiling);
  }
  // The most a window field may offer: what the scale can express, within
  // the window clamp.
  static std::uint32_t max_window(const Tcb& c) noexcept {
    const std::uint32_t scaled = 65535u << c.rcv_wscale;
    return c.window_clamp != 0 ? std::min(scaled, c.window_clamp) : scaled;
  }
  // TCP_CONGESTION: another controller for this connection; it takes over
  // the window (Linux's tcp_reinit_congestion_control).
  void set_congestion(Tcb& c, CongestionAlgorithm a) noexcept;

  // ---- observation ----
  std::uint32_t tcbs_in_use() const noexcept { return pool_.in_use(); }
  // Connections the application closed that the engine still finishes.
  std::uint32_t orphans() const noexcept { return orphans_; }
  std::size_t connections() const noexcept { return table_.size(); }
  // Header mbufs the stack holds reset between calls (at most
  // kHeaderMbufsKept; out of the pool, charged to no queue), and their
  // return to the pool: the worker calls it when it stops, tests before
  // they count the pool's mbufs; the stack itself when it goes, when the
  // worker leaves its normal level and when the pool runs low (under its
  // floor plus a batch: relieve_memory).
  static constexpr std::uint32_t kHeaderMbufsKept = 16;
  std::uint32_t header_mbufs_held() const noexcept { return hdr_count_ - hdr_next_; }
  void flush_header_mbufs() noexcept;
  const TimeWaitTable& time_wait() const noexcept { return tw_; }
  const TcpConfig& config() const noexcept { return o_.cfg; }
  // The pool of data-room-less mbufs that slices take (WorkerContext::wrap's).
  rte_mempool* clone_pool() const noexcept { return clone_mp_; }
  Counters& counters() noexcept { return counters_; }
  // The worker's packet-buffer account (base/mem_account.h): every TCP queue
  // charges it; the runtime sets its limits from the pool size.
  MemAccount& mem() noexcept { return mem_; }
  // What one connection's receive queues hold now, in truesize.
  static std::uint32_t rcv_charged(const Tcb& c) noexcept {
    return c.rcvq.truesize() + (c.ooo != nullptr ? c.ooo->truesize() : 0);
  }
  // Everything the connection holds, in truesize.
  static std::uint32_t held_truesize(const Tcb& c) noexcept { return rcv_charged(c) + c.sndq.truesize(); }
  // The figures of one connection (tcp_info.cc), as Linux's TCP_INFO.
  ConnectionInfo info(const Tcb& c) const noexcept;
  // Calls fn(const Tcb&) for every connection in the table.
  template <class Fn>
  void for_each_connection(Fn&& fn) const {
    table_.for_each([&](const FourTuple&, Tcb* t) { fn(static_cast<const Tcb&>(*t)); });
  }
  // As for_each_connection, until fn returns false.
  template <class Fn>
  void for_each_connection_while(Fn&& fn) const {
    table_.for_each_while([&](const FourTuple&, Tcb* t) { return fn(static_cast<const Tcb&>(*t)); });
  }
  // Our TSval clock (ms ticks; RFC 7323 §5.4 suggests 1 ms to 1 s).
  static std::uint32_t ts_clock(Instant now) noexcept {
    return static_cast<std::uint32_t>(now.ns_since_epoch() / 1'000'000);
  }

 private:
  friend struct TcpInput;  // tcp_input.cc: the §3.10.7 steps

  // tcp_icmp.cc: an unreachable for c, past the window checks
  void unreachable(Tcb& c, TcpError e) noexcept;
  // tcp_icmp.cc: Fragmentation Needed / Packet Too Big for c, past the
  // window checks: `mtu` as reported (Path MTU Discovery, RFC 1191, RFC 8201).
  void path_mtu_report(Tcb& c, std::uint32_t mtu, Instant now) noexcept;
  void retransmit_too_big(Tcb& c, Instant now) noexcept;
  // RFC 8201 §5.2, RFC 1191 §6.3: c follows its destination's path MTU
  // (tcp_icmp.cc). Called where a connection may send (output(), a
  // received segment, its timers): one comparison of the sink's generation
  // and one of c's estimate's expiry, the lookup only when either moved.
  void follow_path_mtu(Tcb& c, Instant now) noexcept {
    if (path_mtu_moved(c, now)) [[unlikely]]
      adopt_path_mtu(c, now);
  }
  bool path_mtu_moved(const Tcb& c, Instant now) const noexcept {
    return *pmtu_generation_ != c.pmtu_generation || c.pmtu_expires <= now;
  }
  void adopt_path_mtu(Tcb& c, Instant now) noexcept;
  // The send MSS for c's peer MSS and path MTU (RFC 9293 §3.7.1, RFC 6691):
  // timestamps taken off as the handshake does.
  std::uint16_t path_mss(const Tcb& c) const noexcept;

  // tcp_input.cc
  void receive(const IpAddr& src, const IpAddr& dst, Mbuf frame, std::uint16_t l4_offset,
               std::uint16_t l4_len, Instant now) noexcept;
  void input(Segment& s, Instant now) noexcept;
  void input_lookup(Segment& s, Instant now) noexcept;              // input() past the one-entry cache
  inline void input_tcb(Tcb& c, Segment& s, Instant now) noexcept;  // tcp_input.cc only
  void input_closed(Segment& s, Instant now) noexcept;
  void input_listen(Listener& l, Segment& s, Instant now) noexcept;
  void input_syn_sent(Tcb& c, Segment& s, Instant now) noexcept;
  void hold_syn_text(Tcb& c, Segment& s) noexcept;      // simultaneous open: a SYN's text waits ...
  void release_syn_text(Tcb& c, Instant now) noexcept;  // ... for ESTABLISHED
  void input_synchronized(Tcb& c, Segment& s, Instant now) noexcept;
  void input_new_path_mtu(Tcb& c, Segment& s, Instant now) noexcept;  // follow_path_mtu's call, then on
  void input_full(Tcb& c, Segment& s, Instant now) noexcept;  // input_synchronized without the prediction
  void input_time_wait(const TimeWaitRecord& r, Segment& s, Instant now) noexcept;
  bool check_sequence(Tcb& c, Segment& s, Instant now) noexcept;
  void ack_unacceptable(Tcb& c, Instant now, bool duplicate = false) noexcept;
  bool oow_ack_allowed(Tcb& c, Instant now) noexcept;
  bool check_rst(Tcb& c, Segment& s, Instant now) noexcept;
  bool check_syn(Tcb& c, Segment& s, Instant now) noexcept;
  bool check_ack(Tcb& c, Segment& s, Instant now) noexcept;
  void process_ack(Tcb& c, Segment& s, Instant now) noexcept;
  // Our FIN is out and not yet acknowledged by the state (process_ack, fast_ack).
  static bool fin_outstanding(const Tcb& c) noexcept {
    return c.fin_sent &&
           (c.state == TcpState::kFinWait1 || c.state == TcpState::kClosing || c.state == TcpState::kLastAck);
  }
  void on_fin_acked(Tcb& c, Instant now) noexcept;  // FIN-WAIT-1, CLOSING or LAST-ACK moves on
  // RFC 9293 §3.10.7.4 fifth step: update the send window from the newest
  // segment only. Inline: every ACK of header prediction's and fast_ack's
  // asks, and the window rarely reopens from a persist state.
  void update_window(Tcb& c, const Segment& s) noexcept {
    if (seq_lt(c.snd_wl1, s.seq) || (c.snd_wl1 == s.seq && seq_leq(c.snd_wl2, s.ack))) {
      const std::uint32_t old = c.snd_wnd;
      c.snd_wnd = static_cast<std::uint32_t>(s.wnd_raw) << c.snd_wscale;
      c.max_snd_wnd = std::max(c.max_snd_wnd, c.snd_wnd);
      c.snd_wl1 = s.seq;
      c.snd_wl2 = s.ack;
      if (c.snd_wnd > old && c.rtx_kind == Tcb::RtxKind::kPersist) [[unlikely]]
        stop_persist(c);
    }
  }
  void stop_persist(Tcb& c) noexcept;  // the window reopened: no more probes (tcp_input.cc)
  void process_data(Tcb& c, Segment& s, Instant now) noexcept;
  void take_in_order(Tcb& c, Segment& s, Instant now) noexcept;
  // Receive-buffer autotuning (tcp_receive.cc): the receiver's round-trip
  // estimate, advanced as RCV.NXT passes the edge being timed, and the
  // buffer's growth, checked as the application takes data.
  void rcv_rtt_sample(Tcb& c, Instant now) noexcept;
  // Every read asks; inline, the common case (within a round trip of the
  // last measure, the receiver's own RTT known) returns without a call, as
  // rcv_space_measure would return at once there.
  void rcv_space_adjust(Tcb& c, Instant now) noexcept {
    if (c.rcv_space != 0 && c.rcv_rtt > Duration{} && now - c.rcv_space_time < c.rcv_rtt) return;
    rcv_space_measure(c, now);
  }
  void rcv_space_measure(Tcb& c, Instant now) noexcept;
  void predicted_segment(Tcb& c, Segment& s, Instant now) noexcept;  // header prediction, else input_full
  void reserve_header_mbufs(std::uint32_t segments) noexcept;
  void grow_header_mbufs(std::uint32_t segments) noexcept;
  void release_header_mbufs() noexcept;
  // Whether the stash may take a batch and keep mbufs between calls: the
  // worker surely at its normal level (its charges) and the pool not near
  // its floor at the last timer pass (what nothing charges: the TX ring,
  // clones, parked frames).
  bool header_stash_open() const noexcept { return mem_.surely_normal() && !pool_low_; }
  void set_header_mbufs_held() noexcept {
    counters_.events[static_cast<std::size_t>(Counter::kTCPHeaderMbufsHeld)] = hdr_count_ - hdr_next_;
  }
  void process_fin(Tcb& c, Instant now) noexcept;
  Duration rtt_sample(Tcb& c, const Segment& s, Instant now) noexcept;  // the sample taken, or zero
  // What the transmit log says about an ACK's round trip: `rtt` when the
  // newest batch it delivers can be timed; `withheld` when that batch is a
  // retransmission, sent at `rxt_sent_us` (Karn: no sample unless the ACK's
  // TSecr proves it answers the retransmission, tcp_input.cc).
  struct LoggedRtt {
    std::optional<Duration> rtt;
    bool withheld = false;
    std::uint32_t rxt_sent_us = 0;
  };
  LoggedRtt logged_rtt(const Tcb& c, Seq32 ack, Instant now) const noexcept;
  // logged_rtt's verdict on the newest record an ACK delivers (inline:
  // fast_ack asks it for every record its walk visits).
  static LoggedRtt record_rtt(const TxRecord& newest, Instant now) noexcept {
    if ((newest.flags & kTxRetransmit) != 0) return {.withheld = true, .rxt_sent_us = newest.sent_us};
    if ((newest.flags & kTxMerged) != 0) return {};
    const std::int32_t us = static_cast<std::int32_t>(clock_us(now) - newest.sent_us);
    if (us < 0) return {};
    return {.rtt = Duration::us(us)};
  }
  // RFC 6582 §4.2: an ACK of new data echoes the TSval of the last segment
  // it acknowledges (from the transmit log; false without one).
  bool echoes_last_acked(const Tcb& c, const Segment& s, Instant now) const noexcept;
  // The sample an ACK of new data gives, from the log's verdict or the
  // other clocks (tcp_input.cc). The log's sample, every timed ACK's, inline.
  Duration take_rtt_sample(Tcb& c, const Segment& s, const LoggedRtt& logged, Instant now) noexcept {
    if (logged.rtt) {
      c.rtt_timing = false;
      c.rto.on_rtt_sample(*logged.rtt);
      return *logged.rtt;
    }
    return take_rtt_sample_unlogged(c, s, logged, now);
  }
  Duration take_rtt_sample_unlogged(Tcb& c, const Segment& s, const LoggedRtt& logged, Instant now) noexcept;
  // RFC 4861 §7.3.1: new data acknowledged proves the first hop forwards
  // our packets, which keeps its neighbour entry REACHABLE without a probe.
  // At most once a second per connection (ReachableTime is 15 to 45 s);
  // IPv4 has no such hint (ARP).
  void confirm_first_hop(Tcb& c, Instant now) noexcept {
    if (!c.tuple.is_v4() && now - c.last_confirm >= kNeighbourConfirmInterval) [[unlikely]] {
      c.last_confirm = now;
      sink_.confirm_reachable6(c.tuple.raddr, now);
    }
  }
  // tcp_fast_ack.cc: header prediction's ACK of new data, or the ACK of our
  // SYN or FIN, while nothing is SACKed, lost, retransmitted or to be
  // undone; false (nothing done) otherwise. Never inline: under -O3 with
  // link-time optimisation GCC inlined it into predicted_segment and made
  // its body a clone that read c, s and now through the lambda's closure
  // (the release build's pure ACK 955 -> 921 instructions with the options
  // parse inline too: bench/fast_path/session32_ack10.md).
  [[gnu::noinline]] bool fast_ack(Tcb& c, Segment& s, Instant now) noexcept;
  void limited_transmit(Tcb& c, Instant now) noexcept;  // RFC 3042: one new segment beyond cwnd

  // tcp_sack.cc: RFC 6675 loss recovery with PRR (RFC 6937) where SACK was negotiated
  void sack_on_ack(Tcb& c, const Segment& s, std::uint32_t acked, const AckSample& sample, bool strict_dup,
                   Instant now) noexcept;
  void sack_enter_recovery(Tcb& c, std::uint32_t delivered, Instant now) noexcept;
  std::uint32_t sack_retransmit_head(Tcb& c, Instant now) noexcept;
  void note_head_retransmit(Tcb& c) noexcept;
  void prr_update(Tcb& c, std::uint32_t delivered) noexcept;
  void sack_send(Tcb& c, Instant now) noexcept;
  std::uint32_t sack_pipe(const Tcb& c) const noexcept;
  std::uint32_t sack_skip(Tcb& c, std::uint32_t len) noexcept;
  void count_sack_update(const SackUpdate& u) noexcept;

  // tcp_tx_log.cc: the transmit log (tx_log.h) and the delivery state it snapshots
  static std::uint32_t clock_us(Instant now) noexcept {
    return static_cast<std::uint32_t>(now.ns_since_epoch() / 1000);
  }
  // Every data / FIN transmission (from send_data_segment), before SND.MAX moves.
  void tx_log_on_send(Tcb& c, Seq32 seq, std::uint32_t seq_len, Instant now) noexcept;
  // Every acceptable ACK, after SND.UNA and the scoreboard moved: `newly`
  // octets delivered (cumulative + newly SACKed), `blocks` the ACK's SACK
  // blocks. For a controller that takes rate samples (BBR) returns the
  // octets delivered from records not RACK-lost, i.e. those that were in
  // flight (pipe); 0 otherwise.
  // `tsecr` is the ACK's timestamp echo (ack_tsecr).
  std::uint32_t tx_log_on_ack(Tcb& c, std::uint32_t newly, std::span<const SackBlock> blocks,
                              std::optional<std::uint32_t> tsecr, Instant now) noexcept;
  // The ACK's TSecr where timestamps are in use (RFC 7323 §3.2).
  static std::optional<std::uint32_t> ack_tsecr(const Tcb& c, const Segment& s) noexcept {
    if (!c.ts_ok || !s.opts.timestamps) return std::nullopt;
    return s.opts.timestamps->second;
  }
  // The TSval a transmission logged at `sent_us` carried: ours is our
  // millisecond clock plus the connection's offset at the send (ts_val),
  // and each millisecond tick begins on a microsecond, so the logged time
  // gives the tick exactly; no record needs a TSval of its own. `now`
  // places sent_us (microseconds mod 2^32) in time; it must be within
  // 2^31 us (35 minutes) after the send.
  std::uint32_t logged_tsval(const Tcb& c, std::uint32_t sent_us, Instant now) const noexcept {
    return ts_val(c, now - Duration::us(clock_us(now) - sent_us));
  }
  bool borrow_tx_log(Tcb& c) noexcept;
  // tcp_rack.cc: RACK (RFC 8985 §6) where SACK was negotiated and a log is lent
  static bool rack_active(const Tcb& c) noexcept { return c.sack_ok && c.txlog != nullptr; }
  // Our FIN alone in flight without a log (tx_log_on_send lends none to a
  // bare FIN): the data before it all acknowledged, nothing queued.
  static bool lone_fin_unlogged(const Tcb& c) noexcept {
    return c.txlog == nullptr && c.fin_sent && c.snd_max == c.snd_una + 1 && c.sndq.bytes() == 0;
  }
  // ... and sent bare, so that rtt_start holds its latest transmission, as
  // its log record would (tx_log_on_send; rtt_seq is the FIN's).
  static bool lone_fin_timed(const Tcb& c) noexcept { return lone_fin_unlogged(c) && c.rtt_seq == c.snd_una; }
  // `tsecr`: the ACK's timestamp echo, where timestamps are in use (step
  // 2's check of a retransmission; fast_ack never delivers one).
  void rack_on_delivered(Tcb& c, const TxRecord& r, std::uint32_t now_us, const Seq32* fack_before,
                         std::optional<std::uint32_t> tsecr, Instant now) noexcept;
  template <bool kInOrder>  // its body (tcp_rack_delivered.h), inline; fast_ack's with kInOrder
  void rack_delivered(Tcb& c, const TxRecord& r, std::uint32_t now_us, const Seq32* fack_before,
                      std::optional<std::uint32_t> tsecr, Instant now) noexcept;
  std::uint32_t rack_on_ack(Tcb& c, bool dsack, Instant now) noexcept;  // §6.2 steps 4, 5: octets marked lost
  std::uint32_t rack_reo_wnd_us(const Tcb& c) const noexcept;
  std::uint32_t rack_detect_loss(Tcb& c, Instant now) noexcept;  // §6.2 step 5: octets newly marked lost
  void rack_arm_timer(Tcb& c, Instant now) noexcept;
  void rack_on_timer(Tcb& c, Instant now) noexcept;  // §6.3
  void rack_on_rto(Tcb& c, Instant now) noexcept;    // §6.3 RACK_mark_losses_on_RTO
  void rack_recovery_ended(Tcb& c) noexcept;         // §6.2 step 4: reo_wnd_persist
  SackNext rack_next_seg(const Tcb& c, std::uint32_t new_data) const noexcept;
  std::uint32_t rack_pipe(const Tcb& c) const noexcept;
  static std::uint32_t rack_lost_bytes(const Tcb& c) noexcept;  // RACK-lost, not yet resent
  static void rack_clear_lost(Tcb& c) noexcept;                 // the loss proved spurious (undo)
  static bool rack_rxt_out(const Tcb& c) noexcept;              // a retransmission not yet delivered
  std::uint32_t rack_retransmit_first_lost(Tcb& c, Instant now) noexcept;
  bool send_retransmission(Tcb& c, const SackNext& nx, Instant now) noexcept;
  // Gives the connection's log back (its flight emptied, or the TCB goes):
  // inline, as a flight's end in request/response returns it twice per
  // transaction, nearly always with an idle scoreboard whose detach moves
  // nothing and drops nothing. The log goes back cleared, so that
  // borrow_tx_log hands it out as it is (every log in txlog_free_ is clear).
  void return_tx_log(Tcb& c) noexcept {
    if (c.txlog == nullptr) return;
    if (!c.sb.empty()) [[unlikely]] {
      return_tx_log_sacked(c);
      return;
    }
    c.sb.detach();
    c.txlog->clear();
    txlog_free_.push_back(c.txlog);
    c.txlog = nullptr;
    c.rack_deadline = Instant::max();  // nothing left to time
  }
  void return_tx_log_sacked(Tcb& c) noexcept;  // with SACKed ranges to move back (and maybe drop)

  // tcp_undo.cc: undoing a congestion response found spurious (RFC 3708
  // D-SACK, RFC 3522 Eifel with RFC 4015's response, RFC 5682 F-RTO) and
  // RFC 8985 §7.4's loss-probe episodes
  void undo_begin(Tcb& c, bool rto) noexcept;
  void undo_on_rto(Tcb& c) noexcept;  // before the controller's on_rto
  void undo_note_retransmit(Tcb& c, Instant now) noexcept;
  // Every acceptable ACK at SND.UNA or beyond, once SND.UNA has moved: `u`
  // from the scoreboard (null without SACK), `strict_dup` a duplicate in
  // RFC 5681 §2's sense, `partial` a NewReno partial ACK.
  void undo_on_ack(Tcb& c, const Segment& s, std::uint32_t acked, const SackUpdate* u, bool strict_dup,
                   bool partial, Instant now) noexcept;
  void undo_on_idle_ack(Tcb& c, const Segment& s, bool pure, Instant now) noexcept;  // nothing outstanding
  void undo_spurious(Tcb& c, Counter why) noexcept;
  bool undo_dsack(Tcb& c, const SackUpdate& u) noexcept;
  bool undo_tlp_ack(Tcb& c, const Segment& s, std::uint32_t acked, const SackUpdate& u,
                    bool strict_dup) noexcept;
  bool frto_send_new(Tcb& c, Instant now) noexcept;
  void apply_syn_options(Tcb& c, const TcpOptions& o, Instant now) noexcept;

  // tcp_pacing.cc: pacing and the rate-based controller's input
  // true: not yet (c waits on the pacing list); `starting`: the first data
  // segment of this send pass (a burst starts), else one within a burst.
  bool pace_hold(Tcb& c, Instant now, bool starting) noexcept;
  std::uint64_t pacing_rate(const Tcb& c) const noexcept;     // bytes/s, 0: not paced
  std::uint32_t pacing_quantum(const Tcb& c) const noexcept;  // bytes a burst may carry
  Duration pace_horizon(const Tcb& c, std::uint64_t rate) const noexcept;
  void pace_sent(Tcb& c, std::uint32_t bytes, Instant now) noexcept;  // moves pace_next on
  // Whether pacing_rate(c) can be non-zero: only a controller that paces
  // (BBR) or [tcp] pacing makes it so. The send path asks this inline
  // before the out-of-line pace_hold / pace_sent, which for an unpaced
  // connection (CUBIC without [tcp] pacing, the default) would compute a
  // rate of 0 and do nothing: ~60 instructions a segment saved.
  bool may_pace(const Tcb& c) const noexcept { return o_.cfg.pacing || c.cc.paces(); }
  void pace_unlink(Tcb& c) noexcept { unlink_from<&Tcb::pace_link, &Tcb::in_pace_list>(pace_head_, c); }
  // The pure ACK output() sends, or in a burst, a place on the list of
  // ACKs end_burst sends (tcp_output.cc).
  void send_or_defer_ack(Tcb& c, Instant now) noexcept;
  // AckSample::cwnd_limited, called with SND.UNA not yet moved. cwnd
  // limited the sender when, over the last window of data, the flight an
  // ACK found reached cwnd less a segment (Nagle and SWS leave up to one
  // short); in slow start, when cwnd is below twice the largest flight
  // (Linux's tcp_is_cwnd_limited: slow start may double what was used, no
  // more). Inline: every ACK of new data asks.
  bool note_cwnd_use(Tcb& c) noexcept {
    const std::uint32_t prior = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
    if (c.cwnd_window_flight == 0 || seq_geq(c.snd_una, c.cwnd_window_end)) {
      c.cwnd_window_end = c.snd_max;
      c.cwnd_window_flight = prior;
    } else if (prior > c.cwnd_window_flight) {
      c.cwnd_window_flight = prior;
    }
    const std::uint64_t cwnd = c.cc.cwnd();
    if (cwnd < c.cc.ssthresh()) return cwnd < 2ull * c.cwnd_window_flight;
    return c.cwnd_window_flight + c.mss >= cwnd;
  }
  void send_deferred_acks(Instant now) noexcept;
  void ack_unlink(Tcb& c) noexcept { unlink_from<&Tcb::ack_link, &Tcb::in_ack_list>(ack_head_, c); }
  // Takes c off the worker's intrusive list at `head` (the pacing list, the
  // deferred ACKs), if it is on it.
  template <Tcb* TcbState::*Link, bool TcbState::*On>
  static void unlink_from(Tcb*& head, Tcb& c) noexcept {
    if (!(c.*On)) return;
    for (Tcb** p = &head; *p != nullptr; p = &((*p)->*Link)) {
      if (*p == &c) {
        *p = c.*Link;
        break;
      }
    }
    c.*Link = nullptr;
    c.*On = false;
  }
  void rate_on_ack(Tcb& c, std::uint32_t delivered, std::uint32_t lost, std::uint32_t inflight,
                   std::uint32_t prior_inflight, Duration rtt, Instant now) noexcept;
  void rate_note_app_limited(Tcb& c) noexcept;  // draft-cheng §3.4, when the send loop runs dry

  // tcp_listen.cc
  Listener* find_listener(const FourTuple& t) noexcept;  // the listener of t's port, if it takes t's family
  // `iss` overrides the ISN (RFC 6191 reuse of a TIME_WAIT tuple).
  void listen_syn(Listener& l, Segment& s, Instant now, std::optional<Seq32> iss = std::nullopt) noexcept;
  void listen_ack(Listener& l, Segment& s, Instant now) noexcept;
  void send_cookie_synack(const Listener& l, Segment& s, Instant now) noexcept;
  bool child_established(Tcb& c, Instant now) noexcept;
  void enqueue_accept(Listener& l, Tcb& c) noexcept;
  void unlink_child(Tcb& c) noexcept;

  // tcp_output.cc
  void output(Tcb& c, Instant now) noexcept;          // data / FIN the windows allow, else a pending ACK
  void output_on_path(Tcb& c, Instant now) noexcept;  // output() without its path MTU check
  [[gnu::noinline]] void output_pass(Tcb& c, bool can_send_data, Instant now) noexcept;
  // arm_rtx false: a retransmission timer this segment starts is set but
  // not put on the wheel; the caller arms it (output_pass, once per pass).
  bool send_data_segment(Tcb& c, Seq32 seq, std::uint32_t len, bool fin, Instant now,
                         bool arm_rtx = true) noexcept;
  // Its body, inline in tcp_output.cc only (send_data_segment, send_ack).
  bool send_segment_inline(Tcb& c, Seq32 seq, std::uint32_t len, bool fin, Instant now,
                           bool arm_rtx) noexcept;
  // The most new data output() puts in one segment: the MSS, or with TSO a
  // super-segment of whole MSS (tcp_output.cc).
  std::uint32_t send_size(const Tcb& c, bool fin_pending) const noexcept;
  // Attaches `len` payload bytes of c's send queue from `off` to m: copied
  // (into m, then into one mbuf per further MSS for a super-segment) or as
  // indirect slices. False when mbufs ran out (counted).
  bool attach_payload(Tcb& c, rte_mbuf* m, std::uint32_t off, std::uint32_t len) noexcept;
  static bool take_psh_marks(Tcb& c, Seq32 seq, Seq32 end) noexcept;  // PSH for a write's end
  std::uint8_t sack_option(Tcb& c, std::array<SackBlock, kTcpMaxSackBlocks>& out,
                           std::size_t max_blocks) noexcept;
  void send_syn(Tcb& c, Instant now) noexcept;  // SYN or SYN-ACK per state
  void send_ack(Tcb& c, Instant now) noexcept;
  void send_rst_for(Tcb& c, Instant now) noexcept;  // <SEQ=SND.NXT><CTL=RST>
  void send_challenge_ack(Tcb& c, Instant now) noexcept;
  // A segment from no TCB (RST for closed ports, TIME_WAIT ACKs, cookie SYN-ACKs).
  void send_raw(const FourTuple& t, Seq32 seq, Seq32 ack, std::uint8_t flags, std::uint16_t window,
                const TcpOptions* opts, Instant now) noexcept;
  void reset_reply(const Segment& s, Instant now) noexcept;  // RFC 9293 §3.10.7.1 RST
  std::uint32_t rcv_limit(const Tcb& c) noexcept;            // truesize the receive queues may take now
  std::uint32_t rcv_window_limit(const Tcb& c) noexcept;     // truesize the window may offer room for
  std::uint32_t win_from_space(const Tcb& c, std::uint32_t space) const noexcept;
  std::uint32_t full_segments_in(std::uint32_t space) const noexcept;
  // The window a SYN or SYN-ACK offers, within a window clamp (0: none).
  std::uint16_t syn_window(std::uint32_t rcv_buf, std::uint32_t clamp = 0) const noexcept;
  std::uint32_t rcv_admit_limit(const Tcb& c) noexcept;  // truesize before data is refused
  bool rcv_make_room(Tcb& c, std::uint32_t truesize, Seq32 floor) noexcept;
  bool adopt_foreign(Mbuf& m) noexcept;  // a steered frame copied into pool_mp_
  Drop rcv_refusal(const Tcb& c, std::uint32_t truesize, Drop own) const noexcept;
  std::uint32_t receive_window(Tcb& c) noexcept;
  std::uint16_t window_field(Tcb& c) noexcept;         // advances rcv_adv
  std::uint16_t window_field_inline(Tcb& c) noexcept;  // the same, inline in tcp_output.cc only
  // After the application read: worth an ACK to open the window now
  // (tcp_output.cc)? Inline, the usual case of a bulk transfer (the window
  // the peer sees is still more than half of what it can be) is decided
  // without a call: every read asks.
  bool window_update_due(Tcb& c) noexcept {
    // With a hole open the window does not move (window_field), and an ACK
    // would only be a false duplicate to the sender.
    if (!synchronized(c.state) || c.fin_received || c.ooo != nullptr) return false;
    const std::int32_t cur_i = c.rcv_adv - c.rcv_nxt;
    const std::uint32_t cur = cur_i > 0 ? static_cast<std::uint32_t>(cur_i) : 0;
    // Only what the window field can express counts (65535 << scale, within
    // the window clamp).
    const std::uint32_t max_field = max_window(c);
    // Decided on an upper bound of the limit window_update_open computes:
    // the window never offers more than rcv_buf, as a full segment's
    // truesize exceeds its MSS.
    if (c.rcv_mss <= full_seg_truesize_ && 2ull * cur > std::min(c.rcv_buf, max_field)) return false;
    return window_update_open(c, cur, max_field);
  }
  bool window_update_open(Tcb& c, std::uint32_t cur, std::uint32_t max_field) noexcept;
  void ack_now_or_later(Tcb& c, bool force, Instant now) noexcept;
  std::uint32_t ts_val(const Tcb& c, Instant now) const noexcept { return ts_clock(now) + c.ts_offset; }
  // A reset header mbuf: from the stash when it holds one (the common case,
  // inline: two loads, a store and a gauge's decrement), else
  // refill_header_mbufs takes a batch from the pool.
  Mbuf new_header_mbuf() noexcept {
    if (hdr_next_ < hdr_count_) [[likely]] {
      --counters_.events[static_cast<std::size_t>(Counter::kTCPHeaderMbufsHeld)];
      return Mbuf{hdr_stash_[hdr_next_++]};
    }
    return refill_header_mbufs();
  }
  Mbuf refill_header_mbufs() noexcept;
  bool alloc_header_mbufs(rte_mbuf** out, std::uint32_t n) noexcept;
  // Whether c.prefix may head c's next segment (valid under the sink's
  // generation, its neighbour entry still fresh), rebuilt if it went stale.
  bool prefix_fresh(Tcb& c, Instant now) noexcept {
    if (c.prefix.len != 0 && c.prefix.generation == *c.prefix.generation_of && now < c.prefix.valid_until)
      return true;
    // A sink that builds no prefixes (prefix_gen_ null) never has one to
    // refresh: decided here, not in a call per segment sent.
    return prefix_gen_ != nullptr && refresh_prefix(c, now);
  }
  bool refresh_prefix(Tcb& c, Instant now) noexcept;

  // tcp_timers.cc
  void arm_timer(Tcb& c) noexcept;  // the wheel node at the earliest deadline
  void on_tcb_timer(Tcb& c, Instant now) noexcept;
  void on_rtx_timeout(Tcb& c, Instant now) noexcept;
  void go_back_on_rto(Tcb& c, Instant now) noexcept;
  void on_persist_timeout(Tcb& c, Instant now) noexcept;
  void schedule_probe(Tcb& c, Instant now) noexcept;      // RFC 8985 §7.2 PTO
  void set_probe_deadline(Tcb& c, Instant now) noexcept;  // its PTO, once it may probe
  void on_probe_timeout(Tcb& c, Instant now) noexcept;    // RFC 8985 §7.3 loss probe
  // RFC 8985 §7.2 WCDelAckT: the longest a peer may hold an ACK back.
  static constexpr Duration kWorstDelayedAck = Duration::ms(200);
  static constexpr Duration kNeighbourConfirmInterval = Duration::ms(1000);  // process_ack (RFC 4861 §7.3.1)
  void on_keepalive_timeout(Tcb& c, Instant now) noexcept;
  void restart_rtx(Tcb& c, Instant now) noexcept;  // after sending or on a new ACK
  // fast_ack's, with SACK in use, no timeout's hold and RACK's deadline cleared.
  void restart_rtx_plain(Tcb& c, Instant now) noexcept;
  // RFC 6298 §5.1: sending data starts the timer unless it is running
  // already; the running case (every segment of a flight but the first)
  // pays no call.
  void start_rtx_if_stopped(Tcb& c, Instant now, bool arm = true) noexcept {
    if (c.rtx_kind != Tcb::RtxKind::kRetransmit) start_rtx(c, now, arm);
  }
  void start_rtx(Tcb& c, Instant now, bool arm = true) noexcept;      // arm false: the caller arms
  Instant rtx_deadline_at(const Tcb& c, Instant now) const noexcept;  // RTO, clamped to the user timeout
  void set_idle_timer(Tcb& c, Instant now) noexcept;                  // persist / keepalive / off

  // tcp_stack.cc
  // The sequence number after the last byte queued: the queue starts at
  // SND.UNA, or at ISS + 1 while our SYN is unacknowledged.
  static Seq32 queue_end(const Tcb& c) noexcept {
    return c.snd_una + ((c.snd_una == c.iss ? 1U : 0U) + c.sndq.bytes());
  }
  void mark_write_end(Tcb& c, Seq32 end) noexcept;
  // An empty pool counts once per timer pass (once per worker poll), not
  // once per attempt, so a dry pool shows as a rate, not a flood.
  void note_mbuf_exhausted() noexcept {
    if (mbuf_exhausted_noted_) return;
    mbuf_exhausted_noted_ = true;
    counters_.drop(Drop::kMbufExhausted);
  }
  void relieve_memory(Instant now) noexcept;       // the last resort (tcp_timers.cc)
  static constexpr std::size_t kReliefBatch = 64;  // most connections one relief pass aborts
  bool abort_if_out_of_memory(Tcb& c, Instant now) noexcept;
  void abort_on_memory(Tcb& c, Instant now, const char* why) noexcept;
  // `hash`: tuple_hash(t), which the caller has already computed for its
  // lookups.
  Tcb* new_tcb(const FourTuple& t, std::uint64_t hash, Instant now) noexcept;
  void build_tcb_proto() noexcept;
  void init_tcb_from_config(Tcb& c, Instant now) noexcept;
  void to_state(Tcb& c, TcpState s) noexcept;
  void post(Tcb& c, std::uint8_t ev) noexcept;
  void post_listener(Listener& l) noexcept;
  // Frees c at the end of the next dispatch (closing_free_).
  void defer_free(Tcb& c) noexcept {
    closing_free_.push_back(&c);
    posted_ = true;
  }
  // Runs after every segment, send and read: inline, it returns at once
  // when no event is posted and nothing waits to be freed (nearly always).
  // One flag (posted_) for the three lists: each was two or three loads
  // and a compare at every call, some ten calls per request/response
  // transaction.
  void dispatch() noexcept {
    if (posted_) dispatch_posted();
  }
  void dispatch_posted() noexcept;
  // The connection is over: error recorded, TCB removed from the table and
  // freed if the application has let go, else kept CLOSED until close().
  void finish(Tcb& c, TcpError e) noexcept;
  void enter_time_wait(Tcb& c, Instant now) noexcept;
  void free_tcb(Tcb& c) noexcept;
  // Gives the connection's out-of-order queue back, if it holds one. The
  // test inline: a connection's end (finish, free_tcb) nearly never holds
  // one, and return_held_ooo's prologue comes before any test of its own.
  void return_ooo(Tcb& c) noexcept {
    if (c.ooo != nullptr) return_held_ooo(c);
  }
  void return_held_ooo(Tcb& c) noexcept;  // c.ooo != nullptr
  bool borrow_ooo(Tcb& c) noexcept;
  // Our MSS for the interface MTU (and [tcp] mss_clamp), by family: fixed
  // at construction (mss_for_mtu_of), read for every SYN, SYN-ACK and
  // window, some ten times per connection.
  std::uint16_t mss_for_mtu(bool v6 = false) const noexcept { return v6 ? mss6_ : mss4_; }
  static std::uint16_t mss_for_mtu_of(const TcpStackOptions& o, bool v6) noexcept;
  std::uint16_t mss_for(const FourTuple& t) const noexcept { return mss_for_mtu(!t.is_v4()); }
  void send_to_sink(Mbuf m, const FourTuple& t, Instant now) noexcept;  // by t's family
  // One hash of a tuple serves the connection table and the TIME_WAIT
  // table (both keyed with hash_seed): a SYN looks it up in both and then
  // inserts it, a connect() checks both for each port it tries.
  std::uint64_t tuple_hash(const FourTuple& t) const noexcept { return table_.hash(t); }
  bool tuple_in_use(const FourTuple& t, std::uint64_t hash) const noexcept;
  bool challenge_ack_allowed(Tcb& c, Instant now) noexcept;

  TcpStackOptions o_;
  std::uint16_t mss4_;  // mss_for_mtu(false), mss_for_mtu(true)
  std::uint16_t mss6_;
  Counters& counters_;
  SegmentSink& sink_;
  const std::uint32_t* pmtu_generation_;  // the sink's, or a constant 0
  const std::uint32_t* prefix_gen_;       // sink_.prefix_generation(); nullptr: no frame prefixes
  rte_mempool* pool_mp_;
  rte_mempool* clone_mp_;
  TcpHandler* handler_ = nullptr;
  MemAccount mem_;
  std::uint32_t mbuf_truesize_;      // what one of the pool's mbufs costs
  std::uint32_t full_seg_truesize_;  // what one full-sized received segment costs
  std::uint64_t full_seg_recip_;     // floor(2^32 / full_seg_truesize_)
  ObjectPool<Tcb> pool_;
  ConnTable<Tcb> table_;
  TimeWaitTable tw_;
  TimerWheel wheel_;
  IsnGenerator isn_;
  SynCookies cookies_;
  RtoConfig rto_cfg_;
  NewRenoConfig cc_cfg_;
  // What every new TCB starts as, built once in the constructor (the config
  // never changes) and copied by new_tcb: TcbState's defaults, an estimator
  // from rto_cfg_, a controller from cc_cfg_, and the parts of
  // init_tcb_from_config that do not depend on the tuple.
  TcbState tcb_proto_{RtoEstimator{RtoConfig{}}, CongestionAlgorithm::kNewReno, NewRenoConfig{}};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<Listener*> by_port_;  // 65536 entries: O(1) listener lookup
  std::vector<ReassemblyQueue> ooo_store_;
  std::vector<ReassemblyQueue*> ooo_free_;        // ofo_max_segments each
  std::vector<ReassemblyQueue*> ooo_large_free_;  // for grown buffers (borrow_ooo)
  static constexpr std::uint32_t kOooLargeMaxSegments = 4096;
  std::vector<TxLog> txlog_store_;
  std::vector<TxLog*> txlog_free_;
  Tcb* ready_head_ = nullptr;
  Tcb* ready_tail_ = nullptr;
  RateSampler rate_sampler_;                // one ACK's newest delivered transmission (tcp_pacing.cc)
  Tcb* pace_head_ = nullptr;                // connections waiting for their next-send time
  Instant pace_earliest_ = Instant::max();  // the earliest of their times
  Tcb* ack_head_ = nullptr;                 // connections whose ACK waits for end_burst
  bool burst_ = false;                      // between begin_burst and end_burst
  std::vector<Listener*> ready_listeners_;
  std::vector<Tcb*> closing_free_;  // TCBs to free after dispatch
  // Set whenever ready_head_, ready_listeners_ or closing_free_ gains an
  // entry (post, post_listener, defer_free); dispatch_posted sets it again
  // to whether any of them holds one when it is done. While all three are
  // empty it may still be set (an entry taken off elsewhere): dispatch_posted
  // then finds nothing to do and clears it.
  bool posted_ = false;
  std::uint32_t port_offset_ = 0;  // RFC 6056 algorithm 3 style counter
  Instant challenge_window_;
  std::uint32_t challenge_count_ = 0;  // challenge ACKs left in this second
  std::uint64_t challenge_rng_;        // xorshift state for the per-second budget
  bool in_dispatch_ = false;
  bool mbuf_exhausted_noted_ = false;
  // The pool was short at the last timer pass: fewer than its floor plus a
  // batch free once the stash was given back (relieve_memory). While set,
  // the stash neither takes a batch nor keeps mbufs between calls, as while
  // the worker is out of its normal level: each segment takes one mbuf.
  bool pool_low_ = false;
  // Reset header mbufs, taken from the pool in bulk (tcp_output.cc): a
  // burst's reservation inside output(), and between calls at most
  // kHeaderMbufsKept of them, the batch a lone segment's refill took
  // (docs/architecture.md "Memory model": not charged, flushed when the
  // worker leaves its normal level, when the pool runs low and when the
  // stack goes). [hdr_next_, hdr_count_) are held; the gauge
  // TCPHeaderMbufsHeld says how many. pool_low_ above.
  std::array<rte_mbuf*, 64> hdr_stash_{};
  std::uint32_t hdr_count_ = 0;
  std::uint32_t hdr_next_ = 0;
  std::uint64_t hdr_rearm_ = 0;  // mbuf_rearm_template(pool_mp_)
  std::uint32_t orphans_ = 0;
  Instant next_relief_check_;
  Instant last_relief_log_;
  PortFilter port_filter_ = nullptr;
  void* port_filter_ctx_ = nullptr;
  SourceSelector source_for_ = nullptr;
  void* source_ctx_ = nullptr;
};

}  // namespace tern
