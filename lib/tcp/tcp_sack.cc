// SACK-based loss recovery, for connections that negotiated SACK (RFC 2018):
// RFC 6675 §5 decides when recovery starts and what each transmission is
// (the scoreboard, sack_scoreboard.h: IsLost, SetPipe, NextSeg), and
// Proportional Rate Reduction (RFC 6937 §3) how much may go out on each ACK
// during recovery. The controller (Tcb::cc) only sets ssthresh on entry and
// grows cwnd outside recovery. Without SACK, NewReno's own recovery (RFC
// 6582, cc/newreno.cc) runs instead, as before.
//
// Why not NewReno with SACK hints: a receiver with data beyond a hole (Linux
// among them) shrinks the window it advertises as its out-of-order queue
// fills, so its duplicate ACKs change the window and are not duplicates in
// RFC 5681 §2's sense; loss was then found only by the retransmission
// timer. RFC 6675 §2 counts an ACK as a duplicate when its SACK blocks
// report new data, whatever the window says, and IsLost() needs no count at
// all once enough data above the hole is SACKed.
#include <algorithm>

#include "tcp/tcp_stack.h"

namespace tern {

namespace {

std::uint32_t dupthresh_of(const TcpConfig& cfg) noexcept {
  return std::max<std::uint32_t>(cfg.dupthresh, 1);
}

}  // namespace

// Every acceptable ACK (SEG.ACK >= SND.UNA) of a SACK connection with data
// outstanding or just acknowledged, after SND.UNA and the window moved.
// `acked`: bytes SND.UNA advanced (0 for a duplicate). `strict_dup`: a
// duplicate in RFC 5681 §2's sense (no data, same window) carrying no SACK
// block, which counts as one as well: a peer (or a middlebox stripping the
// option) that negotiated SACK but sends no blocks must not be left to the
// retransmission timer.
void TcpStack::sack_on_ack(Tcb& c, const Segment& s, std::uint32_t acked, const AckSample& sample,
                           bool strict_dup, Instant now) noexcept {
  const std::uint32_t sacked_before = c.sb.sacked_bytes();
  const std::uint32_t dupthresh = dupthresh_of(o_.cfg);
  // BBR without RACK (no transmit log): RFC 6675's lost set and pipe
  // before this ACK's blocks, for what it newly marks lost and the pipe
  // it found (rate_on_ack). With RACK the log's walk and step 5 tell both.
  const bool bbr = c.cc.wants_rate_samples();
  const bool board_losses = bbr && !rack_active(c);
  Seq32 lost_edge_before = c.snd_una;
  std::uint32_t pipe_before = 0;
  if (board_losses) {
    const Seq32 una_before = c.snd_una - acked;
    lost_edge_before = c.sb.lost_edge(una_before, dupthresh, c.mss);
    pipe_before = c.sb.pipe(una_before, c.snd_max, dupthresh, c.mss);
  }
  // The common ACK (no blocks, nothing SACKed) skips the scoreboard's pass.
  SackUpdate u;
  if (s.opts.sack_count != 0 || !c.sb.idle()) {
    u = c.sb.update(c.snd_una, c.snd_max, s.opts.sack_blocks());
    count_sack_update(u);
  }
  if (u.reneged && c.txlog != nullptr) c.txlog->recount_all(c.snd_una, c.sb.ranges());  // RFC 2018 §8
  // RFC 6937's DeliveredData: SND.UNA's advance plus the signed change in
  // SACKed octets (octets SACKed before and now cumulatively ACKed count once).
  const std::int64_t newly = std::int64_t{acked} + c.sb.sacked_bytes() - sacked_before;
  const std::uint32_t newly_delivered = newly > 0 ? static_cast<std::uint32_t>(newly) : 0;
  // What left the pipe delivered (BBR's prior_inflight, below).
  const std::uint32_t from_pipe =
      tx_log_on_ack(c, newly_delivered, s.opts.sack_blocks(), ack_tsecr(c, s), now);
  undo_on_ack(c, s, acked, &u, strict_dup, false, now);    // tcp_undo.cc: may end recovery
  const std::uint32_t delivered = acked + u.newly_sacked;  // RFC 6937 DeliveredData
  // BBR's input once loss detection has run and before anything is sent
  // (so what follows sends with its cwnd), as Linux calls cong_control
  // after marking losses: `lost` from RACK's step 5 or RFC 6675's IsLost.
  const auto bbr_on_ack = [&](std::uint32_t rack_lost) {
    const std::uint32_t pipe = sack_pipe(c);
    if (board_losses) {
      const Seq32 edge = c.sb.lost_edge(c.snd_una, dupthresh, c.mss);
      const std::uint32_t lost = c.sb.unsacked(seq_max(lost_edge_before, c.snd_una), edge);
      rate_on_ack(c, newly_delivered, lost, pipe, pipe_before, sample.rtt, now);
    } else {
      // The pipe before: what stayed, what left it delivered, what left it lost.
      rate_on_ack(c, newly_delivered, rack_lost, pipe, pipe + from_pipe + rack_lost, sample.rtt, now);
    }
  };
  if (acked == 0 && u.newly_sacked > 0 && c.rtx_kind == Tcb::RtxKind::kRetransmit) {
    // RFC 8985 §7.2: an ACK that selectively acknowledges new data also
    // ends a probe episode and re-arms the PTO (restart_rtx does it for
    // cumulative ACKs).
    c.tlp_outstanding = false;
    schedule_probe(c, now);
    arm_timer(c);
  }
  if (c.recovery_hold && seq_geq(c.snd_una, c.recovery_point)) {
    c.recovery_hold = false;
    c.hold_rexmit_valid = false;
    rack_recovery_ended(c);
  }
  if (c.head_rxt_valid && c.head_rxt_seq != c.snd_una) c.head_rxt_valid = false;
  if (c.sack_recovery && seq_geq(c.snd_una, c.recovery_point)) {
    // RFC 6675 §5 (A): a cumulative ACK covering RecoveryPoint ends
    // recovery; RFC 6937: cwnd = ssthresh.
    c.sack_recovery = false;
    c.sack_dupacks = 0;
    c.cc.exit_sack_recovery();
    rack_recovery_ended(c);
    const std::uint32_t rack_lost = rack_on_ack(c, u.dsack, now);
    if (bbr) bbr_on_ack(rack_lost);
    // RACK may find data sent after RecoveryPoint lost on this very ACK: a
    // new recovery at once, rather than at the next ACK (if any comes).
    if (rack_active(c) && rack_next_seg(c, 0).kind == SackNext::Kind::kRetransmit)
      sack_enter_recovery(c, delivered, now);
    return;
  }
  // RFC 8985 §6.2 steps 4 and 5 (step 2 and 3 ran in the log's walk).
  const std::uint32_t rack_lost = rack_on_ack(c, u.dsack, now);
  if (bbr) bbr_on_ack(rack_lost);
  if (c.sack_recovery) {
    prr_update(c, delivered);
    const std::optional<Seq32> high = c.sb.high_sacked();
    if (!rack_active(c) && c.head_rxt_valid && high && seq_gt(*high, c.head_rxt_mark)) {
      // Data sent after our last retransmission of the segment at SND.UNA
      // has arrived, and that retransmission has not: it was lost as well.
      // NextSeg would not send it again (HighRxt covers it) and only the
      // timer would, so resend it now, outside PRR's budget as the first
      // fast retransmit is (Linux's lost-retransmit detection; RACK, RFC
      // 8985 §6.2, finds the same by send times).
      counters_.inc(Counter::kTCPLostRetransmit);
      c.prr_out += sack_retransmit_head(c, now);
    }
    sack_send(c, now);
    return;
  }
  if (acked > 0) {
    c.sack_dupacks = 0;  // RFC 6675 §5: a cumulative ACK resets DupAcks
    c.cc.on_ack(sample);
  }
  // RFC 6675 §2 / §5: an ACK whose SACK blocks report data not SACKed
  // before is a duplicate acknowledgment, cumulative or not.
  const bool dup = u.newly_sacked > 0 || (strict_dup && s.opts.sack_count == 0);
  if (rack_active(c)) {
    // RFC 8985: RACK decides what is lost, DupThresh no longer. After a
    // timeout output() sends what it marked (§6.3); else a loss starts
    // recovery (with PRR as RFC 6675's would), and a duplicate without
    // one lets limited transmit send new data.
    if (c.recovery_hold) return;
    if (rack_next_seg(c, 0).kind == SackNext::Kind::kRetransmit) {
      sack_enter_recovery(c, delivered, now);
    } else if (dup && c.snd_una != c.snd_max) {
      ++c.sack_dupacks;
      limited_transmit(c, now);
    }
    return;
  }
  if (!dup || c.snd_una == c.snd_max) return;
  if (lone_fin_unlogged(c)) [[unlikely]] {
    // What RACK's branch above did while a bare FIN took a log record:
    // nothing sent after the FIN can be delivered, so RACK never found it
    // lost, and duplicates do not either (a duplicated pure ACK from the
    // peer, with DupThresh 1, would start a recovery); the probe and the
    // RTO resend it (tcp_fin_loss_test.cc).
    if (!c.recovery_hold) ++c.sack_dupacks;
    return;
  }
  ++c.sack_dupacks;
  const bool lost = c.sack_dupacks >= dupthresh || c.sb.is_lost(c.snd_una, dupthresh, c.mss);
  if (c.recovery_hold) {
    // §5.1: the timeout answered this loss event; no new recovery yet. But a
    // go-back-N retransmission can be lost too: when SACK blocks gathered
    // since the timeout show the hole at SND.UNA lost after it was resent,
    // resend it once per hole, cwnd untouched, instead of waiting for
    // another timeout (NewReno's rule for the same case, cc/newreno.cc).
    if (lost && seq_gt(c.snd_nxt, c.snd_una) && !(c.hold_rexmit_valid && c.hold_rexmit_una == c.snd_una)) {
      c.hold_rexmit_una = c.snd_una;
      c.hold_rexmit_valid = true;
      counters_.inc(Counter::kTCPLostRetransmit);
      counters_.inc(Counter::kTCPFastRetrans);
      sack_retransmit_head(c, now);
    }
    return;
  }
  if (!lost) {
    limited_transmit(c, now);  // RFC 6675 §5 step (3), RFC 3042
    return;
  }
  sack_enter_recovery(c, delivered, now);
}

// RFC 6675 §5 (4): fast retransmit and loss recovery.
void TcpStack::sack_enter_recovery(Tcb& c, std::uint32_t delivered, Instant now) noexcept {
  counters_.inc(Counter::kTCPSackRecovery);
  counters_.inc(Counter::kTCPFastRetrans);
  undo_begin(c, false);
  const std::uint32_t flight = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
  c.recovery_point = c.snd_max;  // (4.1)
  c.sack_recovery = true;
  // (4.2): ssthresh; BBR takes the pipe instead (packet conservation).
  c.cc.enter_sack_recovery(flight, c.snd_max, c.cc.wants_rate_samples() ? sack_pipe(c) : 0, delivered);
  // RFC 6937 §3, on entering recovery.
  c.prr_delivered = 0;
  c.prr_out = 0;
  c.recover_fs = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  prr_update(c, delivered);
  // (4.3): the first segment presumed lost goes now, whatever PRR allows
  // (Linux forces it too), and HighRxt / RescueRxt cover it. With RACK,
  // the lowest segment it marked lost.
  if (!rack_active(c)) ++c.lost_segs;  // RACK counted its own when it marked them
  const std::uint32_t len =
      rack_active(c) ? rack_retransmit_first_lost(c, now) : sack_retransmit_head(c, now);
  c.sb.start_recovery(c.snd_una + len);
  c.prr_out += len;
  sack_send(c, now);  // (4.5): then what cwnd still allows, step (C)
}

// Resends the segment at SND.UNA, up to the first SACKed range; returns its
// length (0 if nothing could be sent).
std::uint32_t TcpStack::sack_retransmit_head(Tcb& c, Instant now) noexcept {
  std::uint32_t len = std::min<std::uint32_t>(c.mss, c.sndq.bytes());
  for (const SackRange& r : c.sb.ranges()) {
    if (seq_gt(r.left, c.snd_una)) {
      len = std::min(len, static_cast<std::uint32_t>(r.left - c.snd_una));
      break;
    }
  }
  if (len == 0) return 0;
  c.rtt_timing = false;
  if (!send_data_segment(c, c.snd_una, len, false, now)) return 0;
  note_head_retransmit(c);
  return len;
}

void TcpStack::note_head_retransmit(Tcb& c) noexcept {
  c.head_rxt_seq = c.snd_una;
  c.head_rxt_mark = c.snd_max;
  c.head_rxt_valid = true;
}

// RFC 6937 §3, on every ACK in recovery: cwnd becomes pipe + sndcnt, so
// that what leaves in the whole recovery tracks ssthresh / RecoverFS of
// what was delivered (proportional part) and, once pipe has fallen to
// ssthresh, rebuilds towards it no faster than slow start (PRR-SSRB).
void TcpStack::prr_update(Tcb& c, std::uint32_t delivered) noexcept {
  c.prr_delivered += delivered;
  const std::uint32_t pipe = sack_pipe(c);
  const std::uint64_t ssthresh = c.cc.ssthresh();
  std::int64_t sndcnt;
  if (pipe > ssthresh) {
    const std::uint64_t fs = std::max<std::uint32_t>(c.recover_fs, 1);
    const std::uint64_t due = (std::uint64_t{c.prr_delivered} * ssthresh + fs - 1) / fs;  // CEIL
    sndcnt = static_cast<std::int64_t>(due) - c.prr_out;
  } else {
    const std::int64_t owed = static_cast<std::int64_t>(c.prr_delivered) - c.prr_out;
    const std::int64_t limit = std::max<std::int64_t>(owed, delivered) + c.mss;
    sndcnt = std::min<std::int64_t>(static_cast<std::int64_t>(ssthresh - pipe), limit);
  }
  sndcnt = std::max<std::int64_t>(sndcnt, 0);
  c.cc.set_recovery_cwnd(static_cast<std::uint32_t>(std::min<std::int64_t>(pipe + sndcnt, kCcMaxCwnd)));
}

// Octets in flight: RFC 6675 SetPipe, or with RACK sent octets neither
// delivered nor RACK-lost (tcp_rack.cc).
std::uint32_t TcpStack::sack_pipe(const Tcb& c) const noexcept {
  if (rack_active(c)) return rack_pipe(c);
  return c.sb.pipe(c.snd_una, c.snd_max, dupthresh_of(o_.cfg), c.mss);
}

// RFC 6675 §5 (C): while cwnd - pipe leaves room, NextSeg and send it.
void TcpStack::sack_send(Tcb& c, Instant now) noexcept {
  const std::uint32_t dupthresh = dupthresh_of(o_.cfg);
  // Each pass sends one segment or stops; the bound only guards against a
  // scoreboard that keeps offering what cannot be sent.
  for (int n = 0; n < 256; ++n) {
    const std::uint32_t pipe = sack_pipe(c);
    const std::uint32_t cwnd = c.cc.cwnd();
    if (cwnd <= pipe) return;
    const std::uint32_t room = cwnd - pipe;
    const std::uint32_t outstanding = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
    const std::uint32_t queued = c.sndq.bytes();
    const std::uint32_t unsent = queued > outstanding ? queued - outstanding : 0;
    const std::uint32_t wnd_room = c.snd_wnd > outstanding ? c.snd_wnd - outstanding : 0;
    // New data only while no FIN is out (snd_max past the data) and SND.NXT
    // is at SND.MAX (no go-back-N in progress).
    const bool can_new = c.snd_nxt == c.snd_max && !(c.fin_sent && outstanding > queued);
    const std::uint32_t new_data = can_new ? std::min(unsent, wnd_room) : 0;
    const SackNext nx = rack_active(c) ? rack_next_seg(c, new_data)
                                       : c.sb.next_seg(c.snd_una, c.snd_max, new_data, dupthresh, c.mss);
    if (nx.kind == SackNext::Kind::kNone || nx.len > room) return;
    if (may_pace(c) && pace_hold(c, now, n == 0)) return;  // tcp_pacing.cc
    if (nx.kind == SackNext::Kind::kNew) {
      // Sender SWS (RFC 9293 §3.8.6.2.1): short only when it empties the queue.
      if (nx.len < c.mss && nx.len < unsent) return;
      if (!send_data_segment(c, c.snd_max, nx.len, false, now)) return;
      c.snd_nxt = c.snd_max + nx.len;
      c.snd_max = c.snd_nxt;
    } else {
      if (nx.kind == SackNext::Kind::kRescue) counters_.inc(Counter::kTCPSACKRescue);
      if (!send_retransmission(c, nx, now)) return;
      if (nx.seq == c.snd_una) note_head_retransmit(c);
    }
    c.sb.on_sent(nx, c.recovery_point);
    c.prr_out += nx.len;
  }
}

// After an RTO rewound SND.NXT (go-back-N, RFC 5681 §3.1), data the peer has
// SACKed since need not go again: returns how much of [SND.NXT, SND.NXT +
// len) to send, after moving SND.NXT past a SACKed range it sits in.
std::uint32_t TcpStack::sack_skip(Tcb& c, std::uint32_t len) noexcept {
  for (const SackRange& r : c.sb.ranges()) {
    if (seq_leq(r.right, c.snd_nxt)) continue;
    if (seq_leq(r.left, c.snd_nxt)) {
      c.snd_nxt = seq_lt(r.right, c.snd_max) ? r.right : c.snd_max;
      return 0;  // the caller recomputes from the new SND.NXT
    }
    return std::min(len, static_cast<std::uint32_t>(r.left - c.snd_nxt));
  }
  return len;
}

void TcpStack::count_sack_update(const SackUpdate& u) noexcept {
  std::uint32_t rejected = 0;
  for (std::uint8_t n : u.rejected) rejected += n;
  if (rejected > 0) counters_.inc(Counter::kTCPSACKDiscard, rejected);
  if (u.dsack) counters_.inc(Counter::kTCPDSACKRecv);
  if (u.reneged) counters_.inc(Counter::kTCPSACKReneging);
  if (u.overflow > 0) counters_.inc(Counter::kTCPSACKOverflow, u.overflow);
}

}  // namespace tern
