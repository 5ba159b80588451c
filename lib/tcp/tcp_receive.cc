// Segment arrival's seventh and eighth steps (RFC 9293 §3.10.7.4: segment
// text, FIN), header prediction for in-order data, and what the receive
// queue admits (docs/architecture.md "Memory model"). The first to fifth
// steps are in tcp_input.cc.
#include <rte_mbuf.h>

#include <algorithm>

#include "tcp/tcp_input_rules.h"
#include "tcp/tcp_stack.h"

namespace tern {

namespace {

// Whether `truesize` more fits in c's receive queues without making room:
// within rcv_buf, which is rcv_limit below the high level. Inline, as every
// segment that meets a queue holding data asks (rcv_make_room asks first).
inline bool fits_rcv_buf(const Tcb& c, std::uint32_t truesize, MemAccount& mem) noexcept {
  return TcpStack::rcv_charged(c) + truesize <= c.rcv_buf && mem.level() != MemLevel::kHigh;
}

}  // namespace

// In-order data (SEG.SEQ = RCV.NXT), the seventh step's common case: the
// payload becomes its own mbuf chain, headers and any Ethernet padding
// trimmed, on the receive queue if its charge fits.
void TcpStack::take_in_order(Tcb& c, Segment& s, Instant now) noexcept {
  Mbuf& m = s.frame;
  if (!adopt_foreign(m)) {
    c.ack_now = true;
    return;
  }
  // An empty queue always takes the segment, so every connection makes
  // progress whatever the worker's level; beyond that the charge must
  // fit (docs/architecture.md "Memory model"): the common case decided
  // here, the rest by rcv_make_room.
  bool fits = c.rcvq.has_room_for(m->nb_segs);
  if (fits && !c.rcvq.empty()) {
    const std::uint32_t ts = mbuf_truesize(m.get());
    fits = fits_rcv_buf(c, ts, mem_) || rcv_make_room(c, ts, c.rcv_nxt);
  }
  if (!fits) {
    counters_.drop(rcv_refusal(c, mbuf_truesize(m.get()), Drop::kTcpRcvQueueFull));
    c.ack_now = true;
    return;
  }
  if (rte_pktmbuf_adj(m.get(), static_cast<std::uint16_t>(s.payload_off)) == nullptr) {
    rte_mbuf* head = mbuf_chain_trim_front(m.release(), s.payload_off);
    m.reset(head);
  }
  if (m.pkt_len() > s.len) mbuf_chain_trim_back(m.get(), m.pkt_len() - s.len);
  c.rcvq.push(std::move(m));
  c.rcv_nxt += s.len;
  c.bytes_received += s.len;
  if (!seq_lt(c.rcv_nxt, c.rcv_rtt_seq) || c.rcv_rtt_time == Instant{}) rcv_rtt_sample(c, now);
  bool filled_hole = false;
  if (c.ooo != nullptr) {
    if (!c.ooo->empty()) {
      c.bytes_received += c.ooo->pop_in_order(c.rcv_nxt, [&](Mbuf part) {
        // Bounded by the receive window, so nb_segs cannot run away; a
        // chain beyond kMaxSegments is still delivered (it was ACKed).
        c.rcvq.push(std::move(part));
      });
      filled_hole = true;
    }
    // Emptied by delivery, or by rcv_make_room's pruning: give it back.
    if (c.ooo->empty()) return_ooo(c);
  }
  post(c, kTcpEvReadable);
  if (c.ooo_fin && c.ooo_fin_seq == c.rcv_nxt) {
    c.ooo_fin = false;
    process_fin(c, now);
    return;
  }
  // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at least every second full
  // segment, at once when a hole was filled, otherwise within the
  // delayed-ACK timeout.
  // A segment GRO merged counts as the full segments it carries, so two or
  // more are ACKed at once as on the wire (Linux: more than one rcv_mss
  // unacknowledged, __tcp_ack_snd_check).
  if (s.len >= c.rcv_mss)
    c.unacked_segs =
        static_cast<std::uint8_t>(std::min<std::uint32_t>(255, c.unacked_segs + s.len / c.rcv_mss));
  ack_now_or_later(c, filled_hole, now);
}

// Header prediction (in the spirit of Van Jacobson's, RFC 1323 Appendix A
// of old), for the two common cases: a pure ACK of new data, and an
// in-order data segment. On an ESTABLISHED connection, with no SACK block,
// a timestamp that passes PAWS, no reassembly pending and nothing else to
// learn, an ACK that either changes nothing (SEG.ACK = SND.UNA, nothing of
// ours in flight, the same window) or acknowledges new data (SND.UNA <
// SEG.ACK =< SND.MAX: a bulk sender's ACK, or a request answering our last
// response) meets every check of RFC 9293 §3.10.7.4 with a known outcome:
// acceptable, no RST, no SYN, an acceptable ACK. So the fifth step's ACK
// processing (process_ack, as the full path runs it) and the seventh step
// follow at once. On any doubt the segment takes the full path
// (input_full), before anything has changed. Those exits are tail calls,
// and so is input_synchronized's call of this: a pure ACK's path from
// input to fast_ack saves no registers on the way (session 31).
void TcpStack::predicted_segment(Tcb& c, Segment& s, Instant now) noexcept {
  if (c.state != TcpState::kEstablished || s.flags.bits != (kTcpAck | (s.flags.bits & kTcpPsh)))
    return input_full(c, s, now);
  if (s.seq != c.rcv_nxt) return input_full(c, s, now);
  // SEG.ACK = SND.UNA with data in flight could be a duplicate ACK; without
  // data it is one, or a window update: both for the full path.
  const bool acks_new = seq_gt(s.ack, c.snd_una);
  if (s.len == 0 && !acks_new) return input_full(c, s, now);
  if (acks_new ? seq_gt(s.ack, c.snd_max) : s.ack != c.snd_una || c.snd_una != c.snd_max)
    return input_full(c, s, now);
  // A new window with new data acknowledged is process_ack's to take, as
  // on the full path; alone it takes the full path.
  if (s.opts.sack_count != 0 ||
      (!acks_new && (static_cast<std::uint32_t>(s.wnd_raw) << c.snd_wscale) != c.snd_wnd))
    return input_full(c, s, now);
  if (seq_gt(s.seq + s.len, c.rcv_adv) || c.app_closed || c.defer_accept_pending || c.tlp_rxt_out ||
      c.ooo_fin || (c.ooo != nullptr && !c.ooo->empty()))
    return input_full(c, s, now);
  if (c.ts_ok) {
    if (!s.opts.timestamps || ts_older(s.opts.timestamps->first, c.ts_recent)) return input_full(c, s, now);
    // RFC 7323 §4.3 (check_sequence): the segment covers the left edge.
    if (seq_leq(s.seq, c.last_ack_sent)) {
      c.ts_recent = s.opts.timestamps->first;
      c.ts_recent_stamp = now;
    }
  }
  counters_.inc(s.len > 0 ? Counter::kTCPHPHits : Counter::kTCPHPAcks);
  c.dsack_len = 0;
  if (acks_new) {
    // Moves SND.WL1/WL2 as well; the short path when nothing is lost,
    // SACKed or retransmitted (tcp_fast_ack.cc).
    if (!o_.fast_ack || !fast_ack(c, s, now)) process_ack(c, s, now);
    if (c.removed) return;
  } else {
    update_window(c, s);  // SND.WL1/WL2 only: the window is the same
  }
  if (s.len > 0) take_in_order(c, s, now);
  if (!c.removed) output_on_path(c, now);  // input_synchronized followed the path MTU
}

// Seventh step: segment text.
void TcpStack::process_data(Tcb& c, Segment& s, Instant now) noexcept {
  const bool fin = s.flags.fin();
  if (s.len == 0 && !fin) return;
  switch (c.state) {
    case TcpState::kSynReceived:  // established above unless the accept queue overflowed
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
      break;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent its FIN; ignore.
      if (s.len > 0) counters_.drop(Drop::kTcpAfterClose);
      return;
  }
  if (c.app_closed && s.len > 0) {
    // Nobody will read this: reset, as Linux does for data to an orphan (TCPAbortOnData).
    counters_.inc(Counter::kTCPAbortOnData);
    counters_.drop(Drop::kTcpAfterClose);
    send_rst_for(c, now);
    finish(c, TcpError::kAborted);
    return;
  }
  if (c.defer_accept_pending && c.listener != nullptr) {
    c.defer_accept_pending = false;
    enqueue_accept(*c.listener, c);
  }
  if (s.len > 0) {
    // RFC 2883 §4: data already held out of order, received again (unless
    // a duplicate before RCV.NXT, the first run, is already noted).
    Seq32 dup_left, dup_right;
    if (c.sack_ok && c.dsack_len == 0 && c.ooo != nullptr &&
        c.ooo->first_held(s.seq, s.seq + s.len, &dup_left, &dup_right)) {
      note_dsack(c, dup_left, dup_right);
    }
    if (s.seq == c.rcv_nxt) {
      take_in_order(c, s, now);
    } else {
      // Out of order (beyond RCV.NXT): hold it and send a duplicate ACK at
      // once (RFC 5681 §4.2), with SACK blocks when negotiated.
      Mbuf& m = s.frame;
      // At the high level only in-order data into an empty queue is still
      // taken (the one charge Linux forces): out-of-order data waits for
      // the peer to send it again, so thousands of holes cannot hold a
      // segment each.
      if (mem_.level() == MemLevel::kHigh) {
        counters_.drop(Drop::kTcpMemPressure);
        c.ack_now = true;
        return;
      }
      if (!adopt_foreign(m)) {
        c.ack_now = true;
        return;
      }
      if (!borrow_ooo(c)) {
        counters_.drop(Drop::kTcpOfoOverLimit);
        c.ack_now = true;
        return;
      }
      m.reset(mbuf_chain_trim_front(m.release(), s.payload_off));
      if (m.pkt_len() > s.len) mbuf_chain_trim_back(m.get(), m.pkt_len() - s.len);
      // Room is made by pruning only data beyond this segment: what lies
      // closer to RCV.NXT is worth more (it fills the hole sooner).
      const std::uint32_t ts = mbuf_truesize(m.get());
      if (!fits_rcv_buf(c, ts, mem_) && !rcv_make_room(c, ts, s.seq)) {
        counters_.drop(rcv_refusal(c, ts, Drop::kTcpOfoOverLimit));
        if (c.ooo->empty()) return_ooo(c);
        c.ack_now = true;
        return;
      }
      switch (c.ooo->insert(s.seq, std::move(m), c.rcv_nxt)) {
        case ReassemblyQueue::Insert::kQueued:
          counters_.inc(Counter::kTCPOFOQueue);
          break;
        case ReassemblyQueue::Insert::kDuplicate:
          counters_.inc(Counter::kTCPDSACKDupData);
          counters_.drop(Drop::kTcpDuplicate);
          break;
        case ReassemblyQueue::Insert::kOverLimit:
          counters_.drop(Drop::kTcpOfoOverLimit);
          break;
      }
      if (c.ooo->empty()) return_ooo(c);
      if (fin) {
        c.ooo_fin = true;
        c.ooo_fin_seq = s.seq + s.len;
      }
      c.quickacks = std::max<std::uint8_t>(c.quickacks, 8);
      c.acks_after_hole = kAcksAfterHole;  // counted down once the hole fills
      c.ack_now = true;
      return;
    }
  }
  if (fin) {
    if (s.seq + s.len == c.rcv_nxt) {
      process_fin(c, now);
    } else {  // a FIN beyond a hole: act on it once the hole fills
      c.ooo_fin = true;
      c.ooo_fin_seq = s.seq + s.len;
      c.ack_now = true;
    }
  }
}

// A frame a sibling worker steered here (software steering) lives in the
// sibling's pool: queued, it would drain a pool whose account cannot see
// it. Data about to be queued is copied into this worker's pool first, so
// every queue holds only its own worker's mbufs. False (the segment is
// dropped, MbufExhausted) when this pool has no room for the copy.
bool TcpStack::adopt_foreign(Mbuf& m) noexcept {
  if (!o_.adopt_foreign_frames || m->pool == pool_mp_) [[likely]]
    return true;
  rte_mbuf* copy = rte_pktmbuf_copy(m.get(), pool_mp_, 0, UINT32_MAX);
  if (copy == nullptr) {
    note_mbuf_exhausted();
    return false;
  }
  m.reset(copy);
  counters_.inc(Counter::kTCPRcvForeignCopied);
  return true;
}

// Room for `truesize` more in c's receive queues, made if need be the way
// Linux's tcp_prune_queue does: first collapse runs of small in-order
// segments into full mbufs, then free out-of-order data starting after
// `floor`, newest (highest) first.
bool TcpStack::rcv_make_room(Tcb& c, std::uint32_t truesize, Seq32 floor) noexcept {
  if (fits_rcv_buf(c, truesize, mem_)) return true;  // the common case, cheaply
  if (rcv_charged(c) + truesize <= rcv_limit(c)) return true;
  const std::uint32_t limit = rcv_admit_limit(c);
  if (rcv_charged(c) + truesize <= limit) return true;
  if (c.rcvq.collapsible()) counters_.inc(Counter::kTCPRcvCollapsed, c.rcvq.collapse(pool_mp_));
  if (rcv_charged(c) + truesize <= limit) return true;
  if (c.ooo != nullptr) {
    const std::uint32_t n = c.ooo->prune_above(floor, rcv_charged(c) + truesize - limit);
    if (n > 0) {
      counters_.inc(Counter::kOfoPruned);
      counters_.drop(Drop::kTcpOfoPruned, n);
    }
  }
  return rcv_charged(c) + truesize <= limit;
}

// What c's receive queues may hold before data is refused: rcv_limit, or
// more when a window offered earlier (under a larger rcv_buf, or before
// pressure) promised room for more, counted at full-segment truesize: the
// right edge never moves left (RFC 9293 §3.8.6), so data a well-behaved
// peer sends into it is taken. Not at the high level, where the worker's
// pool comes first.
std::uint32_t TcpStack::rcv_admit_limit(const Tcb& c) noexcept {
  const std::uint32_t limit = rcv_limit(c);
  if (mem_.level() == MemLevel::kHigh) return limit;
  const std::int32_t open = c.rcv_adv - c.rcv_nxt;
  const std::uint64_t promised =
      std::uint64_t{c.rcvq.bytes()} + (open > 0 ? static_cast<std::uint32_t>(open) : 0);
  const std::uint64_t need = (promised + c.rcv_mss - 1) / c.rcv_mss * full_seg_truesize_;
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(need, limit, UINT32_MAX));
}

// Why data was refused: the connection's own buffer, or only the worker's
// memory level (it would have fitted in rcv_buf).
Drop TcpStack::rcv_refusal(const Tcb& c, std::uint32_t truesize, Drop own) const noexcept {
  return rcv_charged(c) + truesize <= c.rcv_buf ? Drop::kTcpMemPressure : own;
}

// Receive-buffer autotuning, as Linux's dynamic right-sizing
// (tcp_rcv_space_adjust): a fixed buffer either caps a fast path's rate at
// rcv_buf / RTT or holds memory a slow one never uses. Each connection
// starts at [tcp] rcv_buf and grows towards [tcp] rcv_buf_max to twice
// what its application takes in a round trip, so that the sender is never
// held by the window while the application keeps up. Only reading grows
// it: a peer cannot make a connection whose application does not read hold
// more (docs/architecture.md "Memory model"), and the worker's memory level
// stops all growth once it leaves normal.

// The receiver has no RTT of its own while it sends no data, so it times
// the peer (Linux's per-window rcv_rtt_est): data beyond the right edge we
// offered when timing began can only be sent after the peer has seen a
// later ACK, so the time until RCV.NXT passes that edge is at least one
// round trip, and close to one when the window is what paces the peer.
// The estimate takes a lower sample at once and a higher one slowly (1/8),
// as a sample is an upper bound.
void TcpStack::rcv_rtt_sample(Tcb& c, Instant now) noexcept {
  if (c.rcv_rtt_time != Instant{}) {
    const Duration sample = now - c.rcv_rtt_time;
    if (sample > Duration{}) {
      c.rcv_rtt =
          (c.rcv_rtt == Duration{} || sample < c.rcv_rtt) ? sample : c.rcv_rtt + (sample - c.rcv_rtt) / 8;
    }
  }
  c.rcv_rtt_time = now;
  c.rcv_rtt_seq = seq_gt(c.rcv_adv, c.rcv_nxt) ? c.rcv_adv : c.rcv_nxt + c.rcv_mss;
}

// After the application took data: once a round trip has passed since the
// last measure, what it took in that round trip (RCV.NXT less what is still
// queued, from where the measure began) is compared with the most it took
// in one before; more means the buffer may be what holds the sender back.
// rcv_space_adjust (tcp_stack.h) calls this unless it could tell that less
// than a round trip has passed.
void TcpStack::rcv_space_measure(Tcb& c, Instant now) noexcept {
  if (c.rcv_buf_locked || c.fin_received || !synchronized(c.state)) return;
  const Seq32 taken_to = c.rcv_nxt - c.rcvq.bytes();
  if (c.rcv_space == 0) {  // the first read starts the first measure
    c.rcv_space = std::min<std::uint32_t>(win_from_space(c, c.rcv_buf), 10 * c.rcv_mss);
    c.rcv_space_seq = taken_to;
    c.rcv_space_time = now;
    return;
  }
  const Duration rtt = c.rcv_rtt != Duration{} ? c.rcv_rtt : c.rto.srtt();
  if (rtt <= Duration{} || now - c.rcv_space_time < rtt) return;
  const std::uint32_t taken = taken_to - c.rcv_space_seq;
  c.rcv_space_seq = taken_to;
  c.rcv_space_time = now;
  if (taken <= c.rcv_space) return;
  const std::uint32_t before = c.rcv_space;
  c.rcv_space = taken;
  std::uint32_t ceiling = rcv_ceiling(c);
  // TCP_WINDOW_CLAMP: no more buffer than a clamped window can fill, in
  // full segments' truesize (win_from_space's inverse).
  if (c.window_clamp != 0) {
    const std::uint64_t clamp_truesize =
        std::uint64_t{(c.window_clamp + c.rcv_mss - 1) / c.rcv_mss} * full_seg_truesize_;
    ceiling = static_cast<std::uint32_t>(std::min<std::uint64_t>(ceiling, clamp_truesize));
  }
  if (c.rcv_buf >= ceiling || mem_.level() != MemLevel::kNormal || before == 0) return;
  // Twice a round trip's data (the ACKs take a round trip to open the
  // window again) and 16 segments of slack; if the rate is still rising,
  // as in slow start, room for the same rise again, at most doubling.
  std::uint64_t win = 2ull * taken + 16ull * c.rcv_mss;
  win += std::min<std::uint64_t>(win, win * (taken - before) / before);
  const std::uint64_t truesize = (win + c.rcv_mss - 1) / c.rcv_mss * full_seg_truesize_;
  const auto grown = static_cast<std::uint32_t>(std::min<std::uint64_t>(truesize, ceiling));
  if (grown > c.rcv_buf) {
    c.rcv_buf = grown;
    counters_.inc(Counter::kTCPRcvBufGrown);
  }
}

// Eighth step: the FIN, once RCV.NXT has reached it.
void TcpStack::process_fin(Tcb& c, Instant now) noexcept {
  c.rcv_nxt += 1;
  c.fin_received = true;
  c.ack_now = true;
  if (c.defer_accept_pending && c.listener != nullptr) {
    c.defer_accept_pending = false;
    enqueue_accept(*c.listener, c);
  }
  post(c, kTcpEvPeerFin);
  switch (c.state) {
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
      to_state(c, TcpState::kCloseWait);
      break;
    case TcpState::kFinWait1:
      // Our FIN was not acknowledged by this segment (else we would be in
      // FIN-WAIT-2): simultaneous close.
      to_state(c, TcpState::kClosing);
      break;
    case TcpState::kFinWait2:
      output(c, now);  // the ACK of the FIN goes out before the TCB becomes a record
      enter_time_wait(c, now);
      break;
    default:
      break;
  }
}

}  // namespace tern
