// Undoing a congestion response that proves spurious, and RFC 8985 §7.4's
// accounting of loss-probe episodes.
//
// An episode begins where the sender reduces its window for a loss: fast
// retransmit (SACK recovery, RFC 6675, or NewReno's, RFC 6582) or a
// retransmission timeout. It is remembered compactly in the Tcb, as Linux
// does (undo_marker, undo_retrans, retrans_stamp): SND.UNA and SND.MAX when
// it began, how many retransmissions it sent that no D-SACK has reported
// yet, and the TSval of its first retransmission; the controller keeps the
// window from before the reduction (Congestion::undo). Three detectors say
// the episode was spurious:
//
//  - D-SACK (RFC 3708 §3 with RFC 2883): every retransmission of the
//    episode came back reported as a duplicate, so none was needed. Still
//    allowed after the recovery ended, until the next episode (Linux's
//    tcp_try_undo_dsack): a D-SACK follows the ACK that ended it.
//  - Eifel (RFC 3522, timestamps per RFC 7323): the first ACK of the
//    retransmitted data echoes a TSval older than the retransmission's, so
//    the original arrived. Counted as Linux does: TCPFullUndo when that ACK
//    ends the recovery, TCPPartialUndo when it does not, TCPLossUndo and
//    TCPSpuriousRTOs after a timeout.
//  - F-RTO (RFC 5682), for a timeout when timestamps are not in use: the
//    SACK-enhanced algorithm (§4.1) where SACK was negotiated, else the
//    basic one (§2.1).
//
// The response (RFC 4015 §2, Linux's tcp_undo_cwnd_reduction): the window
// and ssthresh from before the episode (CUBIC's curve too, RFC 9438
// §4.9), recovery ends, and after a timeout the sender resumes with new
// data instead of going back to SND.UNA. RFC 4015's adaptation of the RTO
// is left out, as Linux leaves it: the next valid RTT sample ends the
// backoff (rto.h).
#include <algorithm>

#include "tcp/tcp_stack.h"

namespace tern {

namespace {

// Octets the scoreboard holds SACKed below `end`.
std::uint32_t sacked_below(const SackScoreboard& sb, Seq32 end) noexcept {
  std::uint32_t n = 0;
  for (const SackRange& r : sb.ranges()) {
    if (!seq_lt(r.left, end)) break;
    n += static_cast<std::uint32_t>((seq_lt(r.right, end) ? r.right : end) - r.left);
  }
  return n;
}

}  // namespace

void TcpStack::undo_begin(Tcb& c, bool rto) noexcept {
  if (!o_.cfg.undo) return;
  c.undo_marker = c.snd_una;
  c.undo_end = c.snd_max;
  c.undo_retrans = 0;
  c.undo_valid = true;
  c.undo_active = true;
  c.undo_rto = rto;
  c.undo_rexmit = false;
  c.undo_eifel = false;
  c.frto = Tcb::Frto::kOff;
}

// Before the controller hears of the timeout. A new episode unless the
// timeout continues one: it fired during recovery (Linux's tcp_enter_loss
// keeps the undo state of the recovery) or is a backed-off repeat with no
// ACK since; RenoRecovery::on_rto keeps its saved window in the same cases.
void TcpStack::undo_on_rto(Tcb& c) noexcept {
  if (!o_.cfg.undo) return;
  const bool in_recovery = c.sack_recovery || c.cc.in_recovery();
  if (!in_recovery && (c.retries == 1 || !c.undo_valid)) {
    undo_begin(c, true);
  } else {
    // The go-back-N that follows resends data up to SND.MAX: D-SACKs for
    // it belong to the episode.
    c.undo_end = c.snd_max;
    c.undo_active = true;
    c.undo_rto = true;
  }
  // RFC 5682 §2.1 / §4.1 step 1: F-RTO watches the ACKs after this
  // retransmission; again after a backed-off timeout (§4.1 step 2: "If the
  // retransmission timeout expires again, go to step 1"), never during fast
  // recovery (Linux's rule: the timeout then only adds to a known loss).
  // With timestamps Eifel decides instead, on the first of those ACKs.
  c.frto = o_.cfg.frto && !in_recovery && !c.ts_ok ? Tcb::Frto::kAwaitFirst : Tcb::Frto::kOff;
}

// Every data segment sent below SND.MAX (send_data_segment).
void TcpStack::undo_note_retransmit(Tcb& c, Instant now) noexcept {
  if (c.retransmitted_segs != ~std::uint32_t{0}) ++c.retransmitted_segs;
  // A loss probe outside recovery is no part of an episode (§7.4 accounts
  // for it instead).
  if (!c.undo_active) return;
  if (c.undo_retrans != 0xffff) ++c.undo_retrans;  // saturated: D-SACKs can no longer undo
  if (!c.undo_rexmit) {
    c.undo_rexmit = true;
    c.undo_tsval = ts_val(c, now);
    c.undo_eifel = c.ts_ok;  // RFC 3522 §2: remember the retransmission's timestamp
  }
}

void TcpStack::undo_spurious(Tcb& c, Counter why) noexcept {
  // The controller may have nothing to give back (another one took over
  // mid-episode, set_congestion): the verdict stands, nothing is counted.
  if (c.cc.undo()) counters_.inc(why);
  if (c.sack_recovery) {
    c.sack_recovery = false;
    c.sack_dupacks = 0;
  }
  c.head_rxt_valid = false;
  c.recovery_hold = false;  // RFC 6675 §5.1's hold answered a loss that did not happen
  c.hold_rexmit_valid = false;
  // RFC 4015 §2 step (5): "resume transmission with previously unsent data"
  // rather than going back to SND.UNA; what is still missing the SACK or
  // duplicate-ACK machinery will find.
  if (seq_lt(c.snd_nxt, c.snd_max)) c.snd_nxt = c.snd_max;
  c.undo_valid = false;
  c.undo_active = false;
  c.undo_eifel = false;
  c.frto = Tcb::Frto::kOff;
}

// RFC 3708 §3: a D-SACK for data the episode may have retransmitted, at or
// above where it began and below SND.MAX then ("the highest sequence number
// transmitted when loss recovery began"), accounts for one retransmission
// per segment it covers. Without a per-segment record of what was resent,
// a duplicate the network made of an original in that range counts too
// (RFC 3708 §4 discusses the risk).
bool TcpStack::undo_dsack(Tcb& c, const SackUpdate& u) noexcept {
  if (!u.dsack || !c.undo_rexmit || c.undo_retrans == 0 || c.undo_retrans == 0xffff) return false;
  const SackRange& r = u.dsack_range;
  if (seq_lt(r.left, c.undo_marker) || seq_gt(r.right, c.undo_end)) return false;
  const std::uint32_t segs = (r.len() + c.mss - 1) / std::max<std::uint32_t>(c.mss, 1);
  c.undo_retrans = static_cast<std::uint16_t>(segs >= c.undo_retrans ? 0 : c.undo_retrans - segs);
  if (c.undo_retrans != 0) return false;
  // A timeout whose go-back-N is still under way was spurious as well.
  if (c.undo_rto && c.undo_active) counters_.inc(Counter::kTCPSpuriousRTOs);
  undo_spurious(c, Counter::kTCPDSACKUndo);
  return true;
}

// RFC 8985 §7.4: a probe that was a retransmission either repaired a loss
// (a congestion response is due, as if fast recovery had run) or was not
// needed (its D-SACK, or a duplicate ACK that reports nothing new, shows
// the original arrived too). Decided, as Linux's tcp_process_tlp_ack does,
// once SND.UNA has reached SND.MAX at the time of the probe.
// Returns true when the ACK's D-SACK was the probe's.
bool TcpStack::undo_tlp_ack(Tcb& c, const Segment& s, std::uint32_t acked, const SackUpdate& u,
                            bool strict_dup) noexcept {
  if (!c.tlp_rxt_out || seq_lt(s.ack, c.tlp_high)) return false;
  // The probe is the last segment (and FIN) below tlp_high.
  const bool probe_dsacked = u.dsack && seq_leq(u.dsack_range.right, c.tlp_high) &&
                             seq_geq(u.dsack_range.right + c.mss + 1, c.tlp_high);
  if (probe_dsacked) {
    c.tlp_rxt_out = false;
    return true;
  }
  if (seq_gt(s.ack, c.tlp_high)) {
    // Data sent after the probe is acknowledged and no D-SACK came for it:
    // the probe filled a hole.
    c.tlp_rxt_out = false;
    if (c.sack_recovery || c.recovery_hold) return false;  // recovery already answered the loss
    counters_.inc(Counter::kTCPLossProbeRecovery);
    // §7.4.2: "invoke the congestion control response equivalent to fast
    // recovery": the reduction of entering recovery, then its end (cwnd =
    // ssthresh, RFC 6937). From cwnd, as Linux's tcp_init_cwnd_reduction:
    // FlightSize at this ACK is the tail, not the window that lost.
    c.cc.enter_sack_recovery(c.cc.cwnd(), c.snd_max);
    c.cc.exit_sack_recovery();
    c.undo_valid = false;  // an earlier episode's window is no longer the one to go back to
    c.undo_active = false;
    return false;
  }
  if (acked == 0 && strict_dup && u.newly_sacked == 0) c.tlp_rxt_out = false;
  return false;
}

// RFC 5682 §2.1 step 2b: "transmit up to two new (previously unsent)
// segments", beyond cwnd (which is one segment after the timeout) but
// within the peer's window. False when none could go: step 2b then falls
// back to the conventional recovery.
bool TcpStack::frto_send_new(Tcb& c, Instant now) noexcept {
  if (c.fin_sent) return false;
  const std::uint32_t outstanding = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
  const std::uint32_t queued = c.sndq.bytes();
  std::uint32_t unsent = queued > outstanding ? queued - outstanding : 0;
  std::uint32_t room = c.snd_wnd > outstanding ? c.snd_wnd - outstanding : 0;
  bool sent = false;
  for (int i = 0; i < 2; ++i) {
    const std::uint32_t len = std::min({unsent, room, static_cast<std::uint32_t>(c.mss)});
    // Sender SWS (RFC 9293 §3.8.6.2.1): a short segment only when it empties the queue.
    if (len == 0 || (len < c.mss && len < unsent)) break;
    if (!send_data_segment(c, c.snd_max, len, false, now)) break;
    c.snd_max += len;
    c.snd_nxt = c.snd_max;
    unsent -= len;
    room -= len;
    sent = true;
  }
  return sent;
}

void TcpStack::undo_on_ack(Tcb& c, const Segment& s, std::uint32_t acked, const SackUpdate* u,
                           bool strict_dup, bool partial, Instant now) noexcept {
  const bool probe_dsack = u != nullptr && undo_tlp_ack(c, s, acked, *u, strict_dup);
  if (!c.undo_valid) return;
  if (u != nullptr && !probe_dsack && undo_dsack(c, *u)) return;
  const bool dup = acked == 0 && (strict_dup || (u != nullptr && u->newly_sacked > 0));

  if (acked > 0 && c.undo_eifel) {
    // RFC 3522 §3.2: the first ACK that acknowledges the retransmitted
    // data decides; later ones may echo originals sent after it. A NewReno
    // partial ACK is left alone (the controller has already resent the next
    // hole for it).
    c.undo_eifel = false;
    const auto& ts = s.opts.timestamps;
    const bool delayed =
        !partial && ts && ts->second != 0 && static_cast<std::int32_t>(ts->second - c.undo_tsval) < 0;
    // Linux's tcp_try_undo_partial: with other retransmissions still out
    // (SACK recovery's HighRxt above SND.UNA, or a go-back-N under way) the
    // loss of those is not disproved.
    const bool rxt_out =
        c.sack_recovery ? c.sb.high_rxt().has_value() : c.undo_rto && seq_lt(c.snd_una, c.snd_nxt);
    if (delayed && !rxt_out) {
      if (c.undo_rto) {
        counters_.inc(Counter::kTCPSpuriousRTOs);
        undo_spurious(c, Counter::kTCPLossUndo);
      } else {
        undo_spurious(c, seq_geq(c.snd_una, c.undo_end) ? Counter::kTCPFullUndo : Counter::kTCPPartialUndo);
      }
      return;
    }
  }

  if (c.frto == Tcb::Frto::kAwaitFirst) {
    if (acked == 0) {
      // §2.1 step 2a: a duplicate ACK means conventional recovery; §4.1
      // step 2: with SACK, duplicates only update the scoreboard.
      if (u == nullptr && dup) c.frto = Tcb::Frto::kOff;
    } else if (seq_geq(c.snd_una, c.undo_end)) {
      c.frto = Tcb::Frto::kOff;  // step 2a: the ACK covers "recover"
    } else {
      // Step 2b: the retransmission is acknowledged and data sent before
      // the timeout is still outstanding: new data, not more of the old.
      c.frto = frto_send_new(c, now) ? Tcb::Frto::kAwaitSecond : Tcb::Frto::kOff;
      c.frto_sacked = sacked_below(c.sb, c.undo_end);
    }
  } else if (c.frto == Tcb::Frto::kAwaitSecond && (acked > 0 || dup)) {
    // Step 3 (other ACKs, such as window updates, are ignored): spurious
    // when the ACK acknowledges data sent before the timeout and never
    // retransmitted (only the first segment was). Basic (§2.1 3b): SND.UNA
    // advances. SACK (§4.1; RFC 4138 appendix B: "an acknowledgment for
    // non-retransmitted segment between SND.UNA and RecoveryPoint"; Linux's
    // FLAG_ORIG_SACK_ACKED): or this ACK SACKs more of it than the board held
    // at step 2. Blocks repeated from before the timeout prove nothing new,
    // and blocks that cover only the new segments mean the old were lost.
    bool spurious = acked > 0;
    if (u != nullptr && !spurious) spurious = sacked_below(c.sb, c.undo_end) > c.frto_sacked;
    if (spurious) {
      counters_.inc(Counter::kTCPSpuriousRTOs);
      undo_spurious(c, Counter::kTCPLossUndo);
      return;
    }
    // §2.1 step 3a / §4.1 step 3b: the timeout was genuine; conventional
    // recovery goes back to SND.UNA (skipping what is SACKed, sack_skip).
    c.frto = Tcb::Frto::kOff;
    c.snd_nxt = c.snd_una;
  }

  if (c.undo_active && seq_geq(c.snd_una, c.undo_end)) {
    // The recovery (or the go-back-N) is over; D-SACKs may still undo it.
    c.undo_active = false;
    c.undo_eifel = false;
    c.frto = Tcb::Frto::kOff;
  }
}

// An ACK at SND.UNA = SND.MAX can still carry a D-SACK: the duplicate of
// the last segment (a retransmission, or a loss probe) arrives after the
// original has been acknowledged. `pure`: no data, no FIN, the same window
// (RFC 5681 §2's duplicate but for the data outstanding).
void TcpStack::undo_on_idle_ack(Tcb& c, const Segment& s, bool pure, Instant now) noexcept {
  const SackUpdate u = c.sb.update(c.snd_una, c.snd_max, s.opts.sack_blocks());
  count_sack_update(u);
  if (u.dsack || (pure && c.tlp_rxt_out)) undo_on_ack(c, s, 0, &u, pure, false, now);
}

}  // namespace tern
