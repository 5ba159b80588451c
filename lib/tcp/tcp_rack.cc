// RACK: time-based loss detection (RFC 8985 §6), on connections that
// negotiated SACK and hold a transmit log (tx_log.h). A segment is lost
// once a segment sent after it has been delivered and more than RACK.rtt +
// reo_wnd has passed since it was sent; the log gives every outstanding
// octet its latest send time, so a lost retransmission of any hole is found
// the same way as a first loss. RACK-lost octets are kTxLost records; they
// go first in recovery (NextSeg rule 1 with IsLost replaced), and are not in
// flight (pipe). Without a log (the pool was dry for this flight) RFC 6675's
// DupThresh / IsLost run instead (tcp_sack.cc).
//
// RACK.min_RTT is a windowed minimum (min_rtt_filter.h: about 300 s, as
// Linux's tcp_min_rtt_wlen), so a path whose RTT rose forgets its old one.
//
// Departures from RFC 8985, each for a reason given where it is made:
// step 2's timestamp check of a retransmission applies to octets the ACK
// delivers cumulatively, not to SACKed ones; after a timeout the SACK
// scoreboard is kept (Linux does the same) unless a second timeout
// follows; a batch of segments sent at one instant shares one record.
#include <algorithm>

#include "tcp/tcp_input_rules.h"
#include "tcp/tcp_rack_delivered.h"
#include "tcp/tcp_stack.h"

namespace tern {

namespace {

using rack_detail::segs_of;

constexpr std::uint8_t kReoWndPersist = 16;  // RFC 8985 §6.2 step 4
constexpr std::uint8_t kMaxReoWndMult = 64;  // beyond it the SRTT cap decides anyway

}  // namespace

// §6.2 steps 2 and 3 for one record the ACK delivered (in time order):
// the body is tcp_rack_delivered.h's, which fast_ack inlines too.
void TcpStack::rack_on_delivered(Tcb& c, const TxRecord& r, std::uint32_t now_us, const Seq32* fack_before,
                                 std::optional<std::uint32_t> tsecr, Instant now) noexcept {
  rack_delivered<false>(c, r, now_us, fack_before, tsecr, now);
}

// §6.2 step 4: RACK_update_reo_wnd's value. Zero while no reordering has
// been seen, in recovery or once DupThresh segments are SACKed (so RACK
// then behaves as three duplicate ACKs would); else a quarter of min_RTT
// per D-SACK round, at most SRTT.
std::uint32_t TcpStack::rack_reo_wnd_us(const Tcb& c) const noexcept {
  if (!c.rack_reordering_seen) {
    if (c.sack_recovery || c.recovery_hold) return 0;
    if (c.sb.sacked_bytes() >= std::uint64_t{std::max<std::uint32_t>(o_.cfg.dupthresh, 1)} * c.mss) return 0;
  }
  const std::uint64_t w = std::uint64_t{c.rack_reo_wnd_mult} * c.rack_min_rtt.us() / 4;
  const std::uint64_t srtt = static_cast<std::uint64_t>(c.rto.srtt().count_ns() / 1000);
  return static_cast<std::uint32_t>(std::min(w, srtt));
}

// Every ACK of a RACK connection, after the log's walk: step 4's D-SACK
// rounds, then step 5 and the reordering timer. Returns the octets step 5
// marked lost (BBR's per-ACK loss input, tcp_pacing.cc).
std::uint32_t TcpStack::rack_on_ack(Tcb& c, bool dsack, Instant now) noexcept {
  if (c.rack_dsack_round_set && seq_geq(c.snd_una, c.rack_dsack_round)) c.rack_dsack_round_set = false;
  if (!c.rack_dsack_round_set && dsack) {
    // A D-SACK: our retransmission was spurious (or the network duplicated
    // a segment); widen the window for the next 16 recoveries.
    c.rack_dsack_round = c.snd_nxt;
    c.rack_dsack_round_set = true;
    if (c.rack_reo_wnd_mult < kMaxReoWndMult) ++c.rack_reo_wnd_mult;
    c.rack_reo_wnd_persist = kReoWndPersist;
  }
  if (!rack_active(c)) return 0;
  return rack_detect_loss(c, now);
}

// §6.2 step 4, on leaving fast or RTO recovery.
void TcpStack::rack_recovery_ended(Tcb& c) noexcept {
  if (c.rack_reo_wnd_persist > 0) --c.rack_reo_wnd_persist;
  if (c.rack_reo_wnd_persist == 0) c.rack_reo_wnd_mult = 1;
}

// §6.2 step 5 RACK_detect_loss over the log, oldest first: records sent
// before RACK's segment are lost once RACK.rtt + reo_wnd has passed since
// they left; the soonest of the others arms the reordering timer (§6.3).
// Returns the octets it marked lost (not yet delivered), as Linux's
// tp->lost grows: a lost retransmission counts again.
std::uint32_t TcpStack::rack_detect_loss(Tcb& c, Instant now) noexcept {
  std::uint32_t timeout = 0;
  std::uint32_t marked = 0;
  // With nothing SACKed and no retransmission logged, every octet sent
  // before RACK's segment is below SND.UNA (the log is in sequence order):
  // nothing can be lost and nothing waits for the reordering window.
  const bool nothing_to_find = c.txlog != nullptr && c.txlog->seq_ordered() && c.sb.empty();
  if (rack_active(c) && c.rack_valid && !nothing_to_find) {
    const std::uint32_t now_us = clock_us(now);
    const std::int64_t wait = std::int64_t{c.rack_rtt_us} + rack_reo_wnd_us(c);
    TxLog& l = *c.txlog;
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (l.at(i).fully_acked() || (l.at(i).flags & kTxLost) != 0) continue;
      if (order_after(l.at(i).order, c.rack_xmit_order)) break;  // log order: so are all after it
      if (l.at(i).order == c.rack_xmit_order) {
        // RACK's own batch: its octets below RACK.end_seq were sent before
        // it (RACK_sent_after's sequence tie-break); split them off.
        if (seq_geq(l.at(i).start, c.rack_end_seq)) continue;
        if (seq_gt(l.at(i).end, c.rack_end_seq) && !l.split(i, c.rack_end_seq, c.snd_una, c.sb.ranges()))
          continue;
        if (l.at(i).fully_acked()) continue;
      }
      TxRecord& r = l.at(i);
      const std::int64_t elapsed = static_cast<std::int32_t>(now_us - r.sent_us);
      const std::int64_t remaining = wait - elapsed;
      if (remaining <= 0) {
        r.flags |= kTxLost;
        l.note_lost();
        marked += r.len() - r.acked;
        c.lost_segs += segs_of(r.len() - r.acked, c.mss);
        if ((r.flags & kTxRetransmit) != 0) counters_.inc(Counter::kTCPLostRetransmit);
      } else {
        timeout = std::max(timeout, static_cast<std::uint32_t>(remaining));
      }
    }
  }
  c.rack_deadline = timeout > 0 ? now + Duration::us(timeout) : Instant::max();
  arm_timer(c);
  return marked;
}

// §6.3: the reordering timer fired; what it waited for is lost now.
void TcpStack::rack_on_timer(Tcb& c, Instant now) noexcept {
  if (!rack_active(c) || !synchronized(c.state)) return;
  rack_detect_loss(c, now);
  if (rack_next_seg(c, 0).kind != SackNext::Kind::kRetransmit) return;
  if (c.sack_recovery || c.recovery_hold) {
    sack_send(c, now);
  } else {
    sack_enter_recovery(c, 0, now);
  }
}

// A retransmission timeout on a RACK connection. RFC 6675 §5.1 as without
// RACK: recovery ends, RecoveryPoint = SND.MAX, no new recovery until
// SND.UNA reaches it. Then §6.3 RACK_mark_losses_on_RTO: the segment at
// SND.UNA and everything sent more than RACK.rtt + reo_wnd ago is lost; the
// rest is still in flight and is not sent again (no go-back-N). The lost
// segments go in order as cwnd (slow start from the loss window) allows,
// the first at once.
//
// The scoreboard is kept: RFC 2018 §8 asks to ignore SACK information
// after a timeout in case the receiver reneged, and resending all SACKed
// data is what made timeouts costly. Like Linux, Tern keeps it, since a
// reneging receiver is caught when its cumulative ACK stops inside a SACKed
// range (the scoreboard then empties), and clears it on a second
// consecutive timeout, the RFC's case of a receiver that holds nothing.
void TcpStack::rack_on_rto(Tcb& c, Instant now) noexcept {
  if (c.retries > 1) c.sb.clear();
  c.txlog->recount_all(c.snd_una, c.sb.ranges());  // what a reneging receiver dropped counts again
  if (c.sack_recovery) rack_recovery_ended(c);
  c.sack_recovery = false;
  c.sack_dupacks = 0;
  c.recovery_point = c.snd_max;
  c.recovery_hold = true;
  c.hold_rexmit_valid = false;
  c.head_rxt_valid = false;
  c.rtt_timing = false;
  const std::uint32_t now_us = clock_us(now);
  const std::int64_t wait = std::int64_t{c.rack_rtt_us} + rack_reo_wnd_us(c);
  TxLog& l = *c.txlog;
  bool head_recorded = false;
  Seq32 above_head = c.snd_max;  // the lowest recorded octet above SND.UNA
  for (std::size_t i = 0; i < l.size(); ++i) {
    TxRecord& r = l.at(i);
    const bool head = seq_leq(r.start, c.snd_una) && seq_lt(c.snd_una, r.end);
    head_recorded |= head;
    if (seq_gt(r.start, c.snd_una) && seq_lt(r.start, above_head)) above_head = r.start;
    if (r.fully_acked() || (r.flags & kTxLost) != 0) continue;
    const std::int64_t elapsed = static_cast<std::int32_t>(now_us - r.sent_us);
    if (head || !c.rack_valid || elapsed >= wait) {
      r.flags |= kTxLost;
      l.note_lost();
      c.lost_segs += segs_of(r.len() - r.acked, c.mss);
    }
  }
  c.rack_deadline = Instant::max();
  if (!head_recorded && c.snd_una != c.snd_max) {
    // A full log forgets its oldest record when no neighbour can absorb it
    // (TxLog::free_one), so the octets at SND.UNA may have no send time.
    // RFC 6298 §5.4 still sends the earliest unacknowledged segment first:
    // they go back into the log as lost, and are resent from there on.
    l.restore_forgotten(c.snd_una, above_head, now_us, c.snd_una, c.sb.ranges());
    if (!l.empty() && l.at(0).start == c.snd_una)
      c.lost_segs += segs_of(l.at(0).len() - l.at(0).acked, c.mss);
  }
  rack_retransmit_first_lost(c, now);
  sack_send(c, now);
}

// RACK's NextSeg: the lowest RACK-lost octet not SACKed (rule 1 with
// IsLost replaced: a retransmission takes octets out of their lost record,
// so nothing is sent twice without being found lost again), else new data
// (rule 2). Rules 3 and 4 (holes not known lost, the rescue) are left out:
// RACK's timer and the tail loss probe cover what they guess at.
SackNext TcpStack::rack_next_seg(const Tcb& c, std::uint32_t new_data) const noexcept {
  SackNext nx;
  if (c.txlog != nullptr && c.txlog->may_hold_lost()) {
    const TxLog& l = *c.txlog;
    const std::span<const SackRange> sacked = c.sb.ranges();
    for (std::size_t i = 0; i < l.size(); ++i) {
      const TxRecord& r = l.at(i);
      // Not r.fully_acked(): the scoreboard decides what is SACKed now.
      if ((r.flags & kTxLost) == 0 || seq_leq(r.end, c.snd_una)) continue;
      Seq32 p = seq_lt(r.start, c.snd_una) ? c.snd_una : r.start;
      Seq32 lim = r.end;
      for (const SackRange& s : sacked) {
        if (seq_leq(s.right, p)) continue;
        if (seq_leq(s.left, p)) {
          p = s.right;
          continue;
        }
        if (seq_lt(s.left, lim)) lim = s.left;
        break;
      }
      if (seq_geq(p, lim)) continue;
      if (nx.kind == SackNext::Kind::kRetransmit && seq_geq(p, nx.seq)) continue;
      nx.kind = SackNext::Kind::kRetransmit;
      nx.seq = p;
      nx.len = std::min<std::uint32_t>(static_cast<std::uint32_t>(lim - p), c.mss);
      nx.rule = 1;
    }
  }
  if (nx.kind == SackNext::Kind::kNone && new_data > 0) {
    nx.kind = SackNext::Kind::kNew;
    nx.seq = c.snd_max;
    nx.len = std::min<std::uint32_t>(new_data, c.mss);
    nx.rule = 2;
  }
  return nx;
}

// Octets in flight: sent, neither delivered nor RACK-lost (a retransmission
// is a record of its own, in flight until delivered or lost again).
std::uint32_t TcpStack::rack_pipe(const Tcb& c) const noexcept {
  std::uint32_t pipe = 0;
  const TxLog& l = *c.txlog;
  for (std::size_t i = 0; i < l.size(); ++i) {
    const TxRecord& r = l.at(i);
    if ((r.flags & kTxLost) == 0 && !r.fully_acked()) pipe += r.len() - r.acked;
  }
  return pipe;
}

std::uint32_t TcpStack::rack_lost_bytes(const Tcb& c) noexcept {
  std::uint32_t lost = 0;
  if (c.txlog == nullptr) return 0;
  for (std::size_t i = 0; i < c.txlog->size(); ++i) {
    const TxRecord& r = c.txlog->at(i);
    if ((r.flags & kTxLost) != 0 && !r.fully_acked()) lost += r.len() - r.acked;
  }
  return lost;
}

void TcpStack::rack_clear_lost(Tcb& c) noexcept {
  if (c.txlog == nullptr) return;
  for (std::size_t i = 0; i < c.txlog->size(); ++i) {
    TxRecord& r = c.txlog->at(i);
    r.flags = static_cast<std::uint8_t>(r.flags & ~kTxLost);
  }
}

bool TcpStack::rack_rxt_out(const Tcb& c) noexcept {
  if (c.txlog == nullptr) return false;
  for (std::size_t i = 0; i < c.txlog->size(); ++i) {
    const TxRecord& r = c.txlog->at(i);
    if ((r.flags & kTxRetransmit) != 0 && !r.fully_acked()) return true;
  }
  return false;
}

// The first RACK-lost segment, whatever cwnd allows (RFC 6675 §5 (4.3),
// RFC 6298 §5.4); its length, 0 if none was sent.
std::uint32_t TcpStack::rack_retransmit_first_lost(Tcb& c, Instant now) noexcept {
  const SackNext nx = rack_next_seg(c, 0);
  if (nx.kind != SackNext::Kind::kRetransmit) return 0;
  return send_retransmission(c, nx, now) ? nx.len : 0;
}

// A retransmission may reach our FIN (one sequence number past the data):
// it goes as a FIN on the last bytes, or alone.
bool TcpStack::send_retransmission(Tcb& c, const SackNext& nx, Instant now) noexcept {
  const Seq32 data_end = c.snd_una + c.sndq.bytes();
  std::uint32_t len = nx.len;
  bool fin = false;
  if (seq_gt(nx.seq + len, data_end)) {
    len = seq_gt(data_end, nx.seq) ? static_cast<std::uint32_t>(data_end - nx.seq) : 0;
    fin = c.fin_sent;
    if (len == 0 && !fin) return false;
  }
  return send_data_segment(c, nx.seq, len, fin, now);
}

}  // namespace tern
