#pragma once
// The transmission control block (RFC 9293 §3.3.1): everything one
// connection needs, in one object from the worker's pool. Fields used on
// every segment come first (after the wheel's node and the two queues, the
// bases of Tcb) so the common path touches the first cache lines.
//
// Timers follow DESIGN.md "Timers": the TCB is one node on the worker's wheel
// and keeps a deadline per timer; the node is armed for the earliest one, and
// when it fires the engine runs every timer whose deadline has passed.
#include <array>
#include <bit>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "base/instant.h"
#include "base/timer_wheel.h"
#include "ip/frame_prefix.h"
#include "tcp/cc/controller.h"
#include "tcp/min_rtt_filter.h"
#include "tcp/reassembly.h"
#include "tcp/recv_queue.h"
#include "tcp/rto.h"
#include "tcp/sack_scoreboard.h"
#include "tcp/send_queue.h"
#include "tcp/seq.h"
#include "tcp/time_wait.h"
#include "tcp/tx_log.h"

namespace tern {

// RFC 9293 §3.3.2, all eleven.
enum class TcpState : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};
std::string_view to_string(TcpState s) noexcept;

// RFC 9293 §3.3.2: the states in which the connection is synchronized.
constexpr bool synchronized(TcpState s) noexcept { return s >= TcpState::kEstablished; }

// Why a connection ended, as the socket API would say it.
enum class TcpError : std::uint8_t {
  kNone,
  kReset,        // ECONNRESET: the peer reset an established connection
  kRefused,      // ECONNREFUSED: RST in answer to our SYN
  kTimedOut,     // ETIMEDOUT: retransmissions or keepalive probes exhausted
  kAborted,      // the application aborted (linger 0) or closed with unread data
  kUnreachable,  // EHOSTUNREACH / ENETUNREACH: ICMP said the peer cannot be reached
};
std::string_view to_string(TcpError e) noexcept;

// Bits of Tcb::events, delivered to TcpHandler::on_event.
inline constexpr std::uint8_t kTcpEvConnected = 1;  // active open completed
inline constexpr std::uint8_t kTcpEvReadable = 2;   // new in-order data queued
inline constexpr std::uint8_t kTcpEvWritable = 4;   // queued bytes fell to snd_lowat after a refused send
inline constexpr std::uint8_t kTcpEvPeerFin = 8;    // the peer will send no more (after the data queued)
inline constexpr std::uint8_t kTcpEvClosed = 16;    // the connection is over; see Tcb::error

class Listener;
struct Tcb;

// The TCB's two mbuf queues: they own mbufs (not plain data), so they are
// built empty per TCB rather than copied. A base of Tcb ahead of TcbState, so
// that they sit right before the hot fields (they followed them before the
// split): the same span of cache lines (docs/fast_path.md "TCB layout").
struct TcbQueues {
  SendQueue sndq;  // SND.UNA onwards (FIN not included)
  RecvQueue rcvq;  // in order, not yet read
};

// What keeps an ACK of new data off fast_ack's short path (tcp_fast_ack.cc,
// plain_ack_state), or selects its body for our FIN: each false in the plain
// state. One 8-byte word without padding (a base of TcbState, so each is
// still the TCB's member by its name, at the start of its hot part), which
// the gate tests with one load and compare (ack_gate_word) where it tested
// six bytes and a bit-field byte apart, some 15 instructions per ACK (issue
// 16). A flag that belongs here is one plain_ack_state would otherwise test
// for false.
struct TcbAckGate {
  bool fin_sent = false;  // our FIN has been sent at least once
  // SACK loss recovery (tcp_sack.cc): in RFC 6675 recovery; RFC 6675 §5.1:
  // after an RTO no new recovery until SND.UNA reaches recovery_point (the
  // timeout already answered this loss event); head_rxt_seq / head_rxt_mark
  // are set (below).
  bool sack_recovery = false;
  bool recovery_hold = false;
  bool head_rxt_valid = false;
  bool rack_dsack_round_set = false;  // RACK.dsack_round is set (tcp_rack.cc)
  // Undo (tcp_undo.cc): an episode whose response may still be undone; RFC
  // 8985 §7.4 TLPRxtOut, the last probe was a retransmission.
  bool undo_valid = false;
  bool tlp_rxt_out = false;
  // Derived, kept by set_full_ack_path where either changes: SACK not
  // negotiated (the controller's NewReno recovery, RFC 6582, judges every
  // ACK), or a controller that samples the delivery rate on every ACK
  // (BBR: rate_on_ack). True until the handshake's options are known.
  bool full_ack_path = true;
};
static_assert(sizeof(TcbAckGate) == sizeof(std::uint64_t));

// The gate's flags as one word: zero when every one is false.
inline std::uint64_t ack_gate_word(const TcbAckGate& g) noexcept { return std::bit_cast<std::uint64_t>(g); }
// The word with fin_sent alone set, for a test that leaves fin_sent out.
inline constexpr std::uint64_t kAckGateFinSent =
    std::bit_cast<std::uint64_t>(TcbAckGate{.fin_sent = true, .full_ack_path = false});
static_assert(std::has_single_bit(kAckGateFinSent));

// Everything else in a TCB: plain data (trivially copyable, checked below),
// so that a new TCB is one copy of the stack's prototype
// (TcpStack::tcb_proto_: these defaults, the config's buffers and
// keepalive, a fresh estimator and controller) instead of some 250 stores
// of member initialisers and a controller built only to be rebuilt once
// the SYN's options are known (apply_syn_options). Issue 16.
struct TcbState : TcbAckGate {
  // ---- hot: every segment ----
  FourTuple tuple;  // local/remote, either family
  TcpState state = TcpState::kClosed;
  std::uint8_t snd_wscale = 0;  // shift applied to the peer's window field (RFC 7323 §2.3)
  std::uint8_t rcv_wscale = 0;  // shift we apply to our own window field
  bool ws_ok = false;           // window scaling negotiated (RFC 7323 §2.2)
  bool ts_ok = false;           // timestamps negotiated (RFC 7323 §3.2)
  bool sack_ok = false;         // SACK-permitted negotiated (RFC 2018 §2)
  bool nodelay = false;         // Nagle off (TCP_NODELAY)
  bool cork = false;            // only full segments until uncorked (TCP_CORK)
  bool keepalive = false;

  Seq32 snd_una;  // RFC 9293 §3.3.1 send sequence variables
  Seq32 snd_nxt;
  Seq32 snd_max;                  // one past the highest sequence number ever sent
  std::uint32_t snd_wnd = 0;      // scaled
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 9293 §3.8.6.2.1)
  Seq32 snd_wl1;
  Seq32 snd_wl2;
  Seq32 iss;

  Seq32 rcv_nxt;  // receive sequence variables
  Seq32 rcv_adv;  // right edge of the window we last advertised: never moves left (RFC 9293 §3.8.6)
  Seq32 irs;
  std::uint16_t mss = 536;        // effective send MSS (payload bytes per segment)
  std::uint16_t rcv_mss = 536;    // the MSS we announced; for delayed-ACK "full segment" counting
  std::uint8_t unacked_segs = 0;  // full-size segments received since our last ACK
  std::uint8_t quickacks = 0;     // ACKs still to send at once (quick-ACK mode)

  // RFC 7323 §4.3 timestamps.
  std::uint32_t ts_recent = 0;
  Instant ts_recent_stamp;      // when ts_recent was set (PAWS §5.5 24-day rule)
  std::uint32_t ts_offset = 0;  // added to our clock for TSval (RFC 7323 §5.4)
  Seq32 last_ack_sent;

  // RTT timing without timestamps (Karn): one segment at a time.
  Seq32 rtt_seq;
  Instant rtt_start;
  bool rtt_timing = false;

  bool fin_queued = false;    // the application shut down writing: a FIN follows the data
  bool fin_received = false;  // the peer's FIN was processed (RCV.NXT advanced over it)
  bool app_closed = false;    // the application let go: the engine frees the TCB when done
  bool in_ready_list = false;
  bool in_pace_list = false;       // on the worker's pacing list (pace_link)
  bool in_ack_list = false;        // its ACK waits for the end of the burst (ack_link)
  bool syn_retransmitted = false;  // RFC 6298 §5.7
  bool writable_wanted = false;    // send() was refused for lack of space
  bool defer_accept_pending = false;
  bool ack_now = false;     // an ACK must go out at the end of this input / timer
  bool app_owned = false;   // the application holds this Tcb* (connect() or accept())
  bool removed = false;     // out of the connection table, waiting to be freed or closed
  bool orphan = false;      // closed by the application before the engine was done: counted in orphans
  std::uint8_t events = 0;  // kTcpEv* waiting for dispatch
  TcpError error = TcpError::kNone;
  bool ack_at_once = false;          // the ACK owed may not wait for the end of a burst (it filled a hole)
  std::uint8_t acks_after_hole = 0;  // in-order arrivals still ACKed at once, burst or not, after a hole

  // ---- timers: deadlines; Instant::max() = off ----
  Instant rtx_deadline = Instant::max();     // retransmission, SYN/SYN-ACK, persist and keepalive share it
  Instant delack_deadline = Instant::max();  // delayed ACK
  Instant linger_deadline = Instant::max();  // FIN_WAIT_2 orphan timeout
  Instant tlp_deadline = Instant::max();     // tail loss probe (RFC 8985 §7), ahead of the RTO
  bool tlp_outstanding = false;              // a probe is out and no ACK has reported progress since
  enum class RtxKind : std::uint8_t { kNone, kRetransmit, kPersist, kKeepalive } rtx_kind = RtxKind::kNone;
  std::uint8_t retries = 0;          // consecutive timeouts of the current kind
  std::uint8_t persist_backoff = 0;  // zero-window probes sent since the window last moved
  bool oow_acked = false;            // last_oow_ack is set
  Instant persist_since;             // when the current zero-window episode began
  Instant unacked_since;             // since when unacked data has waited: the user timeout's clock
  Instant last_oow_ack;              // our last ACK to an unacceptable segment ([tcp] invalid_ratelimit_ms)
  Instant last_send;                 // for RFC 5681 §4.1 idle restart
  Instant last_recv;                 // for keepalive idleness
  Instant last_confirm;              // IPv6: ACK progress last confirmed the first hop (RFC 4861 §7.3.1)

  // ---- buffers (the send and receive queues: TcbQueues) ----
  ReassemblyQueue* ooo = nullptr;  // lent by the stack while out-of-order data is held
  Seq32 ooo_fin_seq;               // a FIN that arrived beyond a hole
  // RFC 2883 §4: the duplicate the last segment carried, for the first SACK
  // block of the ACK that answers it (tcp_output.cc); dsack_len 0 = none.
  // One segment's payload fits 16 bits (an IPv4 datagram's length does).
  Seq32 dsack_left;
  std::uint16_t dsack_len = 0;
  bool ooo_fin = false;
  std::uint8_t psh_count = 0;   // write ends in psh_marks (below), checked per data segment
  std::uint32_t snd_buf = 0;    // the send queue's limit in truesize (SO_SNDBUF; the high watermark)
  std::uint32_t snd_lowat = 0;  // kTcpEvWritable fires once its truesize falls to this
  std::uint32_t rcv_buf = 0;
  // Receive-buffer autotuning (tcp_receive.cc, rcv_space_adjust): rcv_buf
  // grows, up to [tcp] rcv_buf_max, to twice what the application takes in
  // a round trip. rcv_space is the most it has taken in one measured round
  // trip, counted from rcv_space_seq since rcv_space_time. The round trip is
  // the receiver's own estimate (rcv_rtt; zero: none yet): the time the peer
  // took to fill a window offered at rcv_rtt_time, which ended at rcv_rtt_seq.
  // set_receive_buffer (SO_RCVBUF) and set_send_buffer (SO_SNDBUF) fix a
  // buffer: no autotuning of it (snd_buf_expand, tcp_stack.cc) after them.
  bool rcv_buf_locked = false;
  bool snd_buf_locked = false;
  std::uint32_t rcv_space = 0;
  Seq32 rcv_space_seq;
  Seq32 rcv_rtt_seq;
  Instant rcv_space_time;
  Instant rcv_rtt_time;
  Duration rcv_rtt;
  // Event dispatch (tcp_stack.cc) and the application's pointer.
  Tcb* ready_next = nullptr;  // pending-events list link
  void* user = nullptr;       // the application's
  // ---- statistics: ConnectionInfo (tcp_info.cc) ----
  std::uint64_t bytes_acked = 0;     // data bytes the peer acknowledged
  std::uint64_t bytes_received = 0;  // data bytes RCV.NXT advanced over
  std::uint32_t segs_in = 0;         // segments received
  std::uint32_t segs_out = 0;        // segments sent

  // ---- every ACK: the estimator, the controller, the transmit log and RACK ----
  RtoEstimator rto;
  Congestion cc;
  // The transmit log (tx_log.h), lent by the stack while data is in flight
  // (nullptr: none, or the pool was dry when this flight began), and the
  // delivery state it snapshots (draft-cheng-iccrg-delivery-rate-estimation
  // §3: C.delivered, C.delivered_time, C.first_sent_time, C.app_limited).
  // Times are microseconds of the worker clock, wrapping mod 2^32.
  TxLog* txlog = nullptr;
  std::uint32_t delivered = 0;      // octets cumulatively ACKed or SACKed, ever (wraps)
  std::uint32_t delivered_us = 0;   // when `delivered` last grew
  std::uint32_t first_sent_us = 0;  // send time of the record most recently delivered
  std::uint32_t app_limited = 0;    // 0, or the `delivered` value at which app-limited ends (BBR's rule)

  // RACK (RFC 8985 §6, tcp_rack.cc), on SACK connections with a transmit
  // log: the most recently sent segment delivered, and the reordering window.
  Instant rack_deadline = Instant::max();  // §6.3 reordering timer
  std::uint32_t rack_xmit_us = 0;          // RACK.xmit_ts
  std::uint32_t rack_xmit_order = 0;       // its TxRecord::order: ties in xmit_ts
  std::uint32_t tx_order = 0;              // the next TxRecord::order
  Seq32 rack_end_seq;                      // RACK.end_seq
  std::uint32_t rack_rtt_us = 0;           // RACK.rtt
  MinRttFilter rack_min_rtt;               // RACK.min_RTT, windowed (min_rtt_filter.h)
  Seq32 rack_fack;                         // RACK.fack: highest end delivered
  Seq32 rack_dsack_round;                  // RACK.dsack_round (when rack_dsack_round_set, TcbAckGate)
  // Figures for the application: the largest reordering seen, in segments
  // (Linux's tcpi_reordering, starting at dupthresh), and segments marked
  // lost so far (RACK, or RFC 6675 entries and timeouts without a log).
  std::uint32_t reordering = 3;
  std::uint32_t lost_segs = 0;
  std::uint8_t rack_reo_wnd_mult = 1;     // RACK.reo_wnd_mult
  std::uint8_t rack_reo_wnd_persist = 0;  // RACK.reo_wnd_persist
  bool rack_valid = false;                // RACK.xmit_ts / end_seq / rtt set
  bool rack_reordering_seen = false;      // RACK.reordering_seen
  // Pacing (tcp_pacing.cc), when the controller paces: the earliest time
  // the next data segment may leave, and the link in the worker's list of
  // connections waiting for it.
  Instant pace_next;
  Tcb* pace_link = nullptr;
  // The stack's list of connections whose ACK waits for the end of the
  // receive burst (TcpStack::end_burst).
  Tcb* ack_link = nullptr;
  // Every segment sent: its Ethernet and IP headers, built once by the IP
  // layer (SegmentSink::frame_prefix; TcpStack::prefix_fresh).
  FramePrefix prefix;

  // ---- cold: recovery, undo, keepalive, the accept queue ----
  // SACK loss recovery (RFC 6675 §5 with PRR, RFC 6937; tcp_sack.cc), only
  // where SACK was negotiated. Without SACK the controller's NewReno
  // recovery (RFC 6582) runs instead. The scoreboard itself is Tcb::sb.
  Seq32 recovery_point;             // RFC 6675 RecoveryPoint: SND.MAX when recovery (or an RTO) began
  std::uint32_t sack_dupacks = 0;   // RFC 6675 DupAcks
  std::uint32_t prr_delivered = 0;  // RFC 6937 §3: bytes delivered since recovery began
  std::uint32_t prr_out = 0;        // bytes sent since recovery began
  std::uint32_t recover_fs = 0;     // RecoverFS: bytes in flight when recovery began
  Seq32 hold_rexmit_una;            // the hole last resent on SACK evidence while recovery_hold
  // The last retransmission of the segment at SND.UNA in recovery, and
  // SND.MAX when it left: data sent after it SACKed while SND.UNA stays
  // means that retransmission was lost too (tcp_sack.cc). The recovery's
  // flags (sack_recovery, recovery_hold, head_rxt_valid) are TcbAckGate's.
  Seq32 head_rxt_seq;
  Seq32 head_rxt_mark;
  bool hold_rexmit_valid = false;
  // Whether cwnd limited the sender (AckSample::cwnd_limited): the most
  // bytes outstanding when an ACK arrived, over the window that ends when
  // SND.UNA passes cwnd_window_end.
  std::uint32_t cwnd_window_flight = 0;
  Seq32 cwnd_window_end;

  // Undo of a congestion response that proves spurious (tcp_undo.cc): one
  // episode from a fast retransmit (SACK or NewReno recovery) or an RTO
  // until the next; the controller keeps the window to restore (Congestion::undo).
  enum class Frto : std::uint8_t { kOff, kAwaitFirst, kAwaitSecond };  // RFC 5682 steps 2 and 3
  Seq32 undo_marker;             // SND.UNA when the episode began (Linux's undo_marker)
  Seq32 undo_end;                // SND.MAX then ("recover"; extended by an RTO within the episode)
  std::uint32_t undo_tsval = 0;  // TSval of the episode's first retransmission (RFC 3522 §2)
  Seq32 tlp_high;                // SND.MAX when a retransmitted loss probe left (RFC 8985 §7.4 TLPHighRxt)
  std::uint32_t retransmitted_segs = 0;  // data segments retransmitted, every cause, whole connection
  std::uint32_t frto_sacked = 0;         // F-RTO step 3 (SACK): octets below undo_end SACKed at step 2
  std::uint16_t undo_retrans = 0;        // retransmissions of the episode no D-SACK has reported yet
  Frto frto = Frto::kOff;
  // undo_valid and tlp_rxt_out: TcbAckGate.
  bool undo_active : 1 = false;  // its recovery / RTO phase: SND.UNA below undo_end
  bool undo_rto : 1 = false;     // the episode includes a retransmission timeout
  bool undo_rexmit : 1 = false;  // it retransmitted (undo_tsval is set)
  bool undo_eifel : 1 = false;   // RFC 3522: the first ACK of the retransmitted data is still to come

  // Keepalive (RFC 1122 §4.2.3.6), per connection like TCP_KEEPIDLE /
  // TCP_KEEPINTVL / TCP_KEEPCNT; from [tcp] unless the application sets them.
  Duration ka_idle;
  Duration ka_interval;
  std::uint32_t ka_probes = 0;
  // Ownership's two flags (below), in the padding after ka_probes: so
  // sizeof(Tcb) stays 1,504 with TcbAckGate's word ahead of the hot part.
  bool in_accept_queue = false;
  bool cookie_born = false;  // created from a SYN cookie: no SYN-ACK retransmission state
  // TCP_USER_TIMEOUT (RFC 5482; RFC 9293 §3.8.3): the longest sent data may
  // stay unacknowledged, or a zero window stay shut, before the connection
  // is aborted; zero: off (retries / persist_probes decide). [tcp]
  // user_timeout_ms unless the application sets it (tcp_timers.cc).
  Duration user_timeout;
  // TCP_WINDOW_CLAMP: the most the window we advertise may offer, in bytes
  // (0: no clamp); it bounds receive autotuning and, before the SYN or
  // SYN-ACK announces it, the window scale (TcpStack::set_window_clamp).
  std::uint32_t window_clamp = 0;

  // Path MTU Discovery (RFC 1191, RFC 8201; tcp_icmp.cc): the MSS the peer
  // announced (or its default, at least 88) and the path MTU, the link's
  // until a Fragmentation Needed / Packet Too Big lowers it. mss above is
  // path_mss() of the two.
  std::uint16_t peer_mss = 536;
  std::uint16_t pmtu = 1500;
  // The destination's estimate as c last read it (RFC 8201 §5.2;
  // TcpStack::follow_path_mtu): the sink's generation then, and when a
  // learned pmtu expires (RFC 8201 §4; Instant::max() at the link MTU).
  std::uint32_t pmtu_generation = 0;
  // The pseudo-header sum of the tuple's addresses and protocol, length 0
  // (RFC 9293 §3.1, RFC 8200 §8.1; tcp_pseudo_header_sum): fixed for the
  // connection's life, so every segment sent without a frame prefix adds
  // its length instead of summing the addresses again. In the padding
  // before pmtu_expires: sizeof(Tcb) is unchanged.
  std::uint32_t l4_pseudo_sum = 0;
  Instant pmtu_expires = Instant::max();

  // PSH (RFC 1122 §4.2.2.2; Linux's tcp_mark_push): the ends of application
  // writes not yet sent, oldest first (psh_count of them). A segment that
  // carries one, or that empties the send queue, has PSH. Past four the
  // newest replaces the last.
  std::array<Seq32, 4> psh_marks{};

  // ---- ownership ----
  Listener* listener = nullptr;  // SYN_RECEIVED children and accept-queue members
  Tcb* accept_next = nullptr;    // accept-queue link
  // (in_accept_queue and cookie_born: after ka_probes, above.)
  // The connection and TIME_WAIT tables' hash of `tuple` (TcpStack::tuple_hash),
  // kept for the erase and the TIME_WAIT insert at the end: cold.
  std::uint64_t tuple_hash = 0;

  // `fresh_rto`: an estimator before its first sample, `cc` a controller
  // before its first ACK; the rest the defaults above. For the stack's
  // prototype (TcpStack::tcb_proto_), built once: the estimator's
  // constructor checks and clamps the config.
  TcbState(const RtoEstimator& fresh_rto, CongestionAlgorithm ca, const NewRenoConfig& nc) noexcept
      : rto(fresh_rto), cc(ca, nc) {}

  // Bytes of data in flight (sent, unacknowledged), SYN and FIN included.
  std::uint32_t flight() const noexcept { return static_cast<std::uint32_t>(snd_nxt - snd_una); }
};
// A copy of the prototype must be a plain copy: no pointer into itself,
// nothing owned.
static_assert(std::is_trivially_copyable_v<TcbState>);

// TcbAckGate::full_ack_path from what it stands for: wherever sack_ok or
// the controller changes (apply_syn_options, set_congestion).
inline bool full_ack_path_due(const TcbState& s) noexcept { return !s.sack_ok || s.cc.wants_rate_samples(); }
inline void set_full_ack_path(TcbState& s) noexcept { s.full_ack_path = full_ack_path_due(s); }

// Whether `s` owns nothing and is on no list: what the stack's prototype
// must be, since every new TCB is a bytewise copy of it (TcpStack::new_tcb)
// and a pointer in it would be shared by every connection. The fields a
// connection later points at what it owns or links through: the transmit
// log, the out-of-order queue, the frame prefix's generation counter, the
// ready, pacing, ACK and accept lists, the listener and the application's
// pointer (the scoreboard, which may point at a log's room, is built empty
// per TCB: Tcb::sb). A new such field belongs here (tcb_test.cc's cases
// check each one).
inline bool owns_nothing(const TcbState& s) noexcept {
  return s.txlog == nullptr && s.ooo == nullptr && s.prefix.len == 0 && s.prefix.generation_of == nullptr &&
         s.ready_next == nullptr && !s.in_ready_list && s.pace_link == nullptr && !s.in_pace_list &&
         s.ack_link == nullptr && !s.in_ack_list && s.accept_next == nullptr && !s.in_accept_queue &&
         s.listener == nullptr && s.user == nullptr;
}

struct Tcb : TimerNode, TcbQueues, TcbState {
  // A new connection's TCB: `proto` copied, the queues and the scoreboard
  // empty, off the wheel.
  explicit Tcb(const TcbState& proto) noexcept : TcbState(proto) {}

  // The sender's SACK scoreboard (RFC 6675; tcp_sack.cc), cold: used only
  // where SACK was negotiated and something was SACKed, in recovery, and
  // when a transmit log is lent or returned (attach, detach). Out of
  // TcbState so that a new TCB builds it empty (a few stores) instead of
  // copying its 296 bytes from the prototype: its 256 bytes of inline
  // ranges need no value before use. Last in the TCB, after TcbState's
  // cold part, where it sat at that part's start before (issue 16,
  // docs/fast_path.md "TCB layout").
  SackScoreboard sb;
};

}  // namespace tern
